//! The tokeniser's option ablations (paper Appendix B, Section 2.5): each architectural
//! choice switched away from the quick preset's, one tokeniser pretraining per row and seed
//! on the in-domain (Euler) data, scored by the reconstruction VRMSE at the validation
//! compression; plus the rollout-training compression (fixed vs sampled per forward pass),
//! scored by the next-frame VRMSE of a short rollout training from the baseline row's
//! pretrained tokeniser.
//!
//! It reuses the pretraining study's code paths (`ExperimentConfig`'s pretraining and
//! rollout runs), so a row trains exactly as the corresponding arm of the main study would.
//!
//! ```no_run
//! use phystok::experiment::AblationConfig;
//!
//! let results = AblationConfig::quick().run("data/generated", "out/ablations")?;
//! println!("{results}");
//! # Ok::<(), phystok::Error>(())
//! ```

use std::fmt;
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::config::{Arm, DataPolicy, ExperimentConfig, Pretraining};
use super::provenance::Provenance;
use super::results::SeedStat;
use super::run::{HORIZON_STEPS, check_data_root, check_writable, ensure_data};
use crate::data::{FieldVocabulary, Split, WellDataset, WindowSpec};
use crate::freeze::FreezeStrategy;
use crate::model::TrainingCompression;
use crate::nn::{KernelResize, ResidualNorm};
use crate::report::{Align, Table};
use crate::tokeniser::{HeadScaling, TokeniserConfig, Upsampling};
use crate::train::Progress;
use crate::{ConfigError, Error, Result};

/// What a row changes relative to the study's base model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AblationChange {
    /// Pretrain this tokeniser; score its reconstruction VRMSE at the validation compression.
    Tokeniser(TokeniserConfig),
    /// Train a rollout model from the baseline row's pretrained tokeniser with this
    /// training compression; score its next-frame VRMSE.
    Rollout(TrainingCompression),
}

/// One row of the ablation table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRow {
    /// Short name (`baseline`, `transposed_upsampling`, …), also the checkpoint folder's.
    pub key: String,
    /// What the row switches, for the table.
    pub description: String,
    /// The change.
    pub change: AblationChange,
}

/// The ablation study: the base study (sizes, data, trainers, seeds) and its rows. The first
/// row is the baseline; rollout rows start from its pretrained tokeniser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationConfig {
    /// Model, trainers, seeds, data and evaluation settings (the pretraining study's
    /// preset, its steps shrunk).
    pub experiment: ExperimentConfig,
    /// The rows, baseline first.
    pub rows: Vec<AblationRow>,
}

/// Pretraining steps of the quick ablation (the pretraining study's quick preset: 1,500).
pub const QUICK_ABLATION_PRETRAIN_STEPS: usize = 600;
/// Rollout steps of the quick ablation's rollout rows (the quick preset: 400).
pub const QUICK_ABLATION_ROLLOUT_STEPS: usize = 200;
/// Norm groups of the quick ablation's norm row (widths 8 and 16; the paper preset's 8
/// would leave one channel per group at width 8).
pub const QUICK_ABLATION_NORM_GROUPS: usize = 4;

impl AblationConfig {
    /// The rows for a base tokeniser `t`: baseline, transposed upsampling, both-head
    /// scaling (or encoder-only when the base scales both), PI-resize (or adjoint), one
    /// residual block per level without and with the per-frame group norm (the quick
    /// tokeniser has no residual blocks, so the norm needs blocks to act on, and the
    /// block-only row separates the blocks' effect from the norm's), and the rollout
    /// training compression fixed vs sampled.
    pub fn rows_for(t: &TokeniserConfig, norm_groups: usize) -> Vec<AblationRow> {
        let row = |key: &str, description: String, change| AblationRow {
            key: key.into(),
            description,
            change,
        };
        let (heads, heads_key) = match t.head_scaling {
            HeadScaling::EncoderOnly => (HeadScaling::BothHeads, "both_heads_scaled"),
            HeadScaling::BothHeads => (HeadScaling::EncoderOnly, "encoder_head_scaled"),
        };
        let (resize, resize_key) = match t.kernel_resize {
            KernelResize::Adjoint => (KernelResize::PseudoInverse, "pi_resize"),
            KernelResize::PseudoInverse => (KernelResize::Adjoint, "adjoint_resize"),
        };
        let (up, up_key) = match t.upsampling {
            Upsampling::DepthToSpace => (Upsampling::Transposed, "transposed_upsampling"),
            Upsampling::Transposed => (Upsampling::DepthToSpace, "depth_to_space_upsampling"),
        };
        let blocks = t.res_blocks.max(1);
        let norm = ResidualNorm::GroupPerFrame {
            groups: norm_groups,
        };
        let mut rows = vec![
            row(
                "baseline",
                format!(
                    "{} upsampling, {} resize, {:?} head scaling, {} residual blocks, norm {}",
                    t.upsampling.key(),
                    t.kernel_resize.key(),
                    t.head_scaling,
                    t.res_blocks,
                    t.residual_norm.key()
                ),
                AblationChange::Tokeniser(t.clone()),
            ),
            row(
                up_key,
                format!("{} upsampling", up.key()),
                AblationChange::Tokeniser(t.clone().with_upsampling(up)),
            ),
            row(
                heads_key,
                format!("{heads:?} head scaling"),
                AblationChange::Tokeniser(t.clone().with_head_scaling(heads)),
            ),
            row(
                resize_key,
                format!("{} kernel resize", resize.key()),
                AblationChange::Tokeniser(t.clone().with_kernel_resize(resize)),
            ),
        ];
        if t.res_blocks == 0 {
            rows.push(row(
                "residual_blocks",
                format!("{blocks} residual block per level, no norm"),
                AblationChange::Tokeniser(t.clone().with_res_blocks(blocks)),
            ));
        }
        rows.push(row(
            "group_norm_per_frame",
            format!(
                "{blocks} residual block(s) per level with per-frame group norm ({norm_groups} groups)"
            ),
            AblationChange::Tokeniser(
                t.clone()
                    .with_res_blocks(blocks)
                    .with_residual_norm(norm),
            ),
        ));
        rows.push(row(
            "rollout_fixed_compression",
            "rollout training at the validation compression (fixed)".into(),
            AblationChange::Rollout(TrainingCompression::Fixed),
        ));
        rows.push(row(
            "rollout_sampled_compression",
            "rollout training with a compression sampled per forward pass".into(),
            AblationChange::Rollout(TrainingCompression::Sampled),
        ));
        rows
    }

    /// The quick ablation: the pretraining study's quick preset (its tokeniser, processor,
    /// Euler data and 3 seeds) with shorter trainings to fit about 10 minutes on 2 idle
    /// cores: [`QUICK_ABLATION_PRETRAIN_STEPS`] pretraining steps per row and seed (the main
    /// study: 1,500) and [`QUICK_ABLATION_ROLLOUT_STEPS`] rollout steps (the main study: 400).
    pub fn quick() -> Self {
        let experiment = ExperimentConfig::quick()
            .with_steps(QUICK_ABLATION_PRETRAIN_STEPS, QUICK_ABLATION_ROLLOUT_STEPS)
            .with_eval_points(1)
            .with_arms(vec![Arm::new(
                Pretraining::InDomain,
                FreezeStrategy::FullyTrainable,
            )]);
        let rows = Self::rows_for(&experiment.model.tokeniser, QUICK_ABLATION_NORM_GROUPS);
        AblationConfig { experiment, rows }
    }

    /// The paper's sizes and budgets (for a GPU and The Well's data): the rows around
    /// `TokeniserConfig::paper()` (which already has residual blocks and the norm, so its
    /// norm row switches the norm off), the pretraining study's paper preset's steps.
    pub fn paper() -> Self {
        let experiment = ExperimentConfig::paper().with_arms(vec![Arm::new(
            Pretraining::InDomain,
            FreezeStrategy::FullyTrainable,
        )]);
        let t = experiment.model.tokeniser.clone();
        let mut rows = Self::rows_for(&t, crate::tokeniser::PAPER_NORM_GROUPS);
        for r in &mut rows {
            if r.key == "group_norm_per_frame" {
                r.key = "no_residual_norm".into();
                r.description = "residual blocks without norm".into();
                r.change =
                    AblationChange::Tokeniser(t.clone().with_residual_norm(ResidualNorm::None));
            }
        }
        AblationConfig { experiment, rows }
    }

    /// A preset by name: `quick` or `paper`.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(ConfigError::Unknown {
                kind: "ablation preset",
                name: other.into(),
                known: "quick, paper".into(),
            }
            .into()),
        }
    }

    /// Sets the seeds.
    pub fn with_seeds(mut self, seeds: impl Into<Vec<u64>>) -> Self {
        self.experiment = self.experiment.with_seeds(seeds);
        self
    }

    /// Sets the pretraining steps (tokeniser rows) and rollout steps (rollout rows).
    pub fn with_steps(mut self, pretrain_steps: usize, rollout_steps: usize) -> Self {
        self.experiment = self.experiment.with_steps(pretrain_steps, rollout_steps);
        self
    }

    /// Sets the device.
    pub fn with_device(mut self, device: crate::DeviceChoice) -> Self {
        self.experiment = self.experiment.with_device(device);
        self
    }

    /// Sets the data policy.
    pub fn with_data_policy(mut self, data: DataPolicy) -> Self {
        self.experiment = self.experiment.with_data_policy(data);
        self
    }

    /// Checks every setting before any work: the base study's, at least one row, a
    /// baseline tokeniser row first, unique keys, every row's tokeniser.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.experiment.check()?;
        if self.experiment.pretrain.steps == 0 {
            return Err(ConfigError::NotPositive {
                name: "pretrain.steps",
                value: 0.0,
            });
        }
        match self.rows.first() {
            None => return Err(ConfigError::Empty { name: "rows" }),
            Some(r) if !matches!(r.change, AblationChange::Tokeniser(_)) => {
                return Err(ConfigError::Mismatch {
                    name: "rows",
                    value: r.key.clone(),
                    other: "a tokeniser row first (the baseline the rollout rows start from)"
                        .into(),
                });
            }
            Some(_) => {}
        }
        for (i, r) in self.rows.iter().enumerate() {
            if self.rows[..i].iter().any(|o| o.key == r.key)
                || r.key.is_empty()
                || r.key.contains(['/', '\\'])
            {
                return Err(ConfigError::Mismatch {
                    name: "rows",
                    value: r.key.clone(),
                    other: "unique, non-empty keys without slashes".into(),
                });
            }
            if let AblationChange::Tokeniser(t) = &r.change {
                t.check()?;
                if i == 0 && t.latent_channels != self.experiment.model.processor.latent_channels {
                    return Err(ConfigError::Mismatch {
                        name: "rows[0] latent_channels",
                        value: t.latent_channels.to_string(),
                        other: format!(
                            "the processor's {}",
                            self.experiment.model.processor.latent_channels
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Runs every row and seed on the datasets under `data_root` (the target datasets are
    /// simulated there when missing), with checkpoints under `out/checkpoints/` (a complete
    /// one made with the same settings is reused), and writes `results.json`, `tables.md` and
    /// `figure.svg` to `out`.
    pub fn run(
        &self,
        data_root: impl AsRef<Path>,
        out: impl AsRef<Path>,
    ) -> Result<AblationResults> {
        self.check()?;
        let (data_root, out) = (data_root.as_ref(), out.as_ref());
        let exp = &self.experiment;
        let start = Instant::now();
        let provenance = Provenance::capture();
        if exp.data == DataPolicy::RequireWell {
            super::run::require_well(data_root, &exp.preset, exp.target_datasets.iter())?;
        }
        check_data_root(data_root)?;
        check_writable(out)?;
        ensure_data(data_root, exp.target_datasets.iter())?;
        let device = exp.device.device()?;
        let names = &exp.target_datasets;
        let open = |split: Split, spec: WindowSpec| {
            names
                .iter()
                .map(|n| WellDataset::open(data_root.join(n), split, spec))
                .collect::<Result<Vec<_>>>()
        };
        let spec = WindowSpec::new(exp.model.n_steps_input, 1);
        let fields =
            FieldVocabulary::union(open(Split::Train, spec)?.iter().map(|d| d.channel_names()));
        if fields.len() > exp.model.tokeniser.total_fields {
            return Err(ConfigError::Mismatch {
                name: "model.tokeniser.total_fields",
                value: exp.model.tokeniser.total_fields.to_string(),
                other: format!("the {} fields of the datasets", fields.len()),
            }
            .into());
        }
        let horizon_spec = WindowSpec::new(exp.model.n_steps_input, HORIZON_STEPS);
        let horizon_data = open(Split::Valid, horizon_spec)?
            .into_iter()
            .map(|ds| {
                Ok((
                    fields.active(ds.channel_names(), &ds.header().field_of_channel())?,
                    ds,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let progress = exp.pretrain.progress;
        let ckpt = |key: &str, seed: u64| out.join("checkpoints").join(format!("{key}_seed{seed}"));
        let baseline = &self.rows[0];
        let mut results = Vec::new();
        for row in &self.rows {
            let t0 = Instant::now();
            let mut values = Vec::new();
            let mut parameters = 0;
            for &seed in &exp.seeds {
                let value = match &row.change {
                    AblationChange::Tokeniser(t) => {
                        let mut cfg = exp.clone();
                        cfg.model.tokeniser = t.clone();
                        let r = cfg.pretrain(
                            Pretraining::InDomain,
                            seed,
                            names,
                            t,
                            open(Split::Train, spec)?,
                            open(Split::Valid, spec)?,
                            &fields,
                            &ckpt(&row.key, seed),
                            &device,
                        )?;
                        parameters = t
                            .clone()
                            .with_seed(seed)
                            .init(&device)?
                            .param_table()
                            .total();
                        r.history
                            .validation
                            .last()
                            .map(|v| v.vrmse)
                            .ok_or_else(|| {
                                Error::Msg(format!("{}: pretraining left no validation", row.key))
                            })?
                    }
                    AblationChange::Rollout(tc) => {
                        let model = exp.model.clone().with_training_compression(*tc);
                        let r = exp.rollout_run(
                            Arm::new(Pretraining::InDomain, FreezeStrategy::FullyTrainable),
                            seed,
                            &model,
                            Some(ckpt(&baseline.key, seed)),
                            open(Split::Train, spec)?,
                            open(Split::Valid, spec)?,
                            &horizon_data,
                            &fields,
                            &device,
                        )?;
                        parameters = r.total_params;
                        r.table5.vrmse.mean
                    }
                };
                if progress != Progress::Quiet {
                    eprintln!(
                        "[{:>6.0} s] ablation {} seed {seed}: VRMSE {value:.4}",
                        start.elapsed().as_secs_f64(),
                        row.key
                    );
                }
                values.push(value);
            }
            results.push(AblationRowResult {
                key: row.key.clone(),
                description: row.description.clone(),
                metric: match row.change {
                    AblationChange::Tokeniser(_) => AblationMetric::Reconstruction,
                    AblationChange::Rollout(_) => AblationMetric::NextFrame,
                },
                vrmse: SeedStat::of(values),
                parameters,
                seconds: t0.elapsed().as_secs_f64(),
            });
        }
        let results = AblationResults {
            config: self.clone(),
            rows: results,
            total_seconds: start.elapsed().as_secs_f64(),
            provenance,
        };
        results.save(out)?;
        Ok(results)
    }
}

/// Which VRMSE a row reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AblationMetric {
    /// The tokeniser's reconstruction at the validation compression, after pretraining.
    Reconstruction,
    /// The rollout model's next-frame prediction (Table 5's protocol), after rollout training.
    NextFrame,
}

/// One row's scores over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationRowResult {
    /// The row's key.
    pub key: String,
    /// What it switches.
    pub description: String,
    /// Which VRMSE.
    pub metric: AblationMetric,
    /// Mean and spread over the seeds.
    pub vrmse: SeedStat,
    /// Parameters of the trained model (the tokeniser, or the whole rollout model).
    pub parameters: usize,
    /// Wall-clock seconds for all seeds (training and scoring).
    pub seconds: f64,
}

/// What the ablation study produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AblationResults {
    /// The study that ran.
    pub config: AblationConfig,
    /// One result per row, in row order.
    pub rows: Vec<AblationRowResult>,
    /// Wall-clock seconds of the whole study.
    pub total_seconds: f64,
    /// Commit, threads and CPU.
    pub provenance: Provenance,
}

impl AblationResults {
    /// The table: one row per option, VRMSE mean ± std over seeds and its change against
    /// the baseline of its metric (the baseline tokeniser for reconstruction rows, the fixed
    /// training compression for the rollout rows).
    pub fn table(&self) -> Table {
        let exp = &self.config.experiment;
        let mut table = Table::new([
            "row",
            "what it switches",
            "VRMSE",
            "vs its baseline",
            "parameters",
        ])
        .with_caption(format!(
            "Tokeniser option ablations ({} preset): reconstruction VRMSE at the validation compression after {} in-domain pretraining steps, and next-frame VRMSE after {} rollout steps from the baseline's tokeniser (mean ± std over {} seeds; steps shrunk from the main study's to fit the time budget)",
            exp.preset,
            exp.pretrain.steps,
            exp.rollout.steps,
            exp.seeds.len()
        ))
        .with_align(2..=4, Align::Right);
        let reference = |m: AblationMetric| self.rows.iter().find(|r| r.metric == m);
        for r in &self.rows {
            let vs = match reference(r.metric) {
                Some(b) if b.key != r.key && b.vrmse.mean > 0.0 => {
                    format!("{:+.1} %", 100.0 * (r.vrmse.mean / b.vrmse.mean - 1.0))
                }
                _ => "—".into(),
            };
            let _ = table.push_row([
                r.key.clone(),
                r.description.clone(),
                format!("{:.4} ± {:.4}", r.vrmse.mean, r.vrmse.std),
                vs,
                crate::report::group_digits(r.parameters),
            ]);
        }
        table
    }

    /// The bar figure: one panel per metric, a bar per row (mean, whisker ± std).
    #[cfg(feature = "plot")]
    pub fn figure(&self) -> crate::plot::BarsFigure {
        use crate::plot::{Bar, BarPanel, BarsFigure};
        let panel = |m: AblationMetric, title: &str| BarPanel {
            title: title.into(),
            x_label: "VRMSE (mean ± std over seeds)".into(),
            bars: self
                .rows
                .iter()
                .filter(|r| r.metric == m)
                .map(|r| Bar {
                    label: r.key.clone(),
                    value: r.vrmse.mean,
                    spread: r.vrmse.std,
                })
                .collect(),
        };
        let panels = [
            panel(
                AblationMetric::Reconstruction,
                "reconstruction (pretraining)",
            ),
            panel(AblationMetric::NextFrame, "next frame (rollout training)"),
        ]
        .into_iter()
        .filter(|p| !p.bars.is_empty())
        .collect();
        BarsFigure::new(panels).with_title(format!(
            "Tokeniser option ablations ({} preset)",
            self.config.experiment.preset
        ))
    }

    /// Writes `results.json` (everything, with the provenance), `tables.md` and, with the
    /// `plot` feature, `figure.svg` to `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        write("results.json", serde_json::to_string_pretty(self)?)?;
        write("tables.md", self.table().to_markdown())?;
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            self.figure().save_svg(dir.join("figure.svg"))?;
        }
        Ok(())
    }

    /// Reads a `results.json` written by [`AblationResults::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join("results.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(serde_json::from_str(&text)?)
    }
}

impl fmt::Display for AblationResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.table())
    }
}
