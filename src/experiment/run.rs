//! Running the grid: pretrain each tokeniser once, then train a rollout model for every
//! configuration and seed, scoring it along the way (Figures 2 and 3) and at the end
//! (Table 5), and timing its optimiser steps (Table 4).

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;

use super::config::{Arm, DataPolicy, ExperimentConfig, Pretraining};
use super::provenance::Provenance;
use super::results::{CurvePoint, ExperimentResults, PretrainResult, RunResult};
use crate::checkpoint::Checkpoint;
use crate::data::{ActiveFields, FieldVocabulary, Split, WellDataset, WindowSpec};
use crate::emulator::Emulator;
use crate::metrics::{
    HarmonicSpikes, HorizonScores, MetricGrid, RolloutHorizon, ScoreSet, SpikeOptions,
    stacked_windows,
};
use crate::metrics::{WindowScoring, score_rollouts};
use crate::sim::{Collection, GenerateConfig, System};
use crate::train::{Progress, RolloutTask, TokeniserTask, Trainer, predict_grid};
use crate::{ConfigError, Error, Result};

/// A progress line: on stdout in a notebook (evcxr streams it; stderr reads as an error
/// there), on stderr elsewhere.
macro_rules! say {
    ($progress:expr, $($arg:tt)*) => {
        if $progress.resolve() == Progress::Notebook {
            println!($($arg)*);
        } else {
            eprintln!($($arg)*);
        }
    };
}

/// Rollout steps of Figure 3's longest horizon.
pub(super) const HORIZON_STEPS: usize = 18;

/// Validation batches during evaluation.
const EVAL_BATCH: usize = 8;

/// Rollout windows per horizon dataset whose residual spectra the spike score reads.
const SPIKE_WINDOWS: usize = 16;

impl ExperimentConfig {
    /// Runs the whole grid on the datasets under `data_root` (the embedded default
    /// collection is simulated there first when it is missing), writing checkpoints to
    /// `out/checkpoints/` and the results (`results.json`, `runs.json`, `tables.md`,
    /// `figure2.svg`, `figure3.svg`) to `out/`.
    pub fn run(
        &self,
        data_root: impl AsRef<Path>,
        out: impl AsRef<Path>,
    ) -> Result<ExperimentResults> {
        self.check()?;
        let (data_root, out) = (data_root.as_ref(), out.as_ref());
        let start = Instant::now();
        let provenance = Provenance::capture();
        if self.data == DataPolicy::RequireWell {
            require_well(
                data_root,
                &self.preset,
                self.target_datasets.iter().chain(&self.other_datasets),
            )?;
        }
        check_data_root(data_root)?;
        check_writable(out)?;
        ensure_data(
            data_root,
            self.target_datasets.iter().chain(&self.other_datasets),
        )?;
        let device = self.device.device()?;
        let open = |names: &[String], split: Split, spec: WindowSpec| {
            names
                .iter()
                .map(|n| WellDataset::open(data_root.join(n), split, spec))
                .collect::<Result<Vec<_>>>()
        };
        let spec = WindowSpec::new(self.model.n_steps_input, 1);
        let target_train = open(&self.target_datasets, Split::Train, spec)?;
        let others_train = open(&self.other_datasets, Split::Train, spec)?;
        let fields = FieldVocabulary::union(
            target_train
                .iter()
                .chain(&others_train)
                .map(|d| d.channel_names()),
        );
        // The tokeniser's field vocabulary is the preset's (what its parameter counts are
        // of): the datasets' fields take its first slots and must fit.
        if fields.len() > self.model.tokeniser.total_fields {
            return Err(ConfigError::Mismatch {
                name: "model.tokeniser.total_fields",
                value: self.model.tokeniser.total_fields.to_string(),
                other: format!(
                    "the {} fields of the datasets ({})",
                    fields.len(),
                    fields.names().join(", ")
                ),
            }
            .into());
        }
        let model_cfg = self.model.clone();

        // one pretraining per domain and seed, so that the spread over seeds covers it
        let mut pretraining = Vec::new();
        for &seed in &self.seeds {
            for p in [Pretraining::InDomain, Pretraining::OutOfDomain] {
                if !self.arms.iter().any(|a| a.pretraining == p) {
                    continue;
                }
                let names = match p {
                    Pretraining::InDomain => &self.target_datasets,
                    _ => &self.other_datasets,
                };
                let dir = out
                    .join("checkpoints")
                    .join(format!("tokeniser_{}_seed{seed}", p.key()));
                let train = open(names, Split::Train, spec)?;
                let valid = open(names, Split::Valid, spec)?;
                let result = self.pretrain(
                    p,
                    seed,
                    names,
                    &model_cfg.tokeniser,
                    train,
                    valid,
                    &fields,
                    &dir,
                    &device,
                )?;
                if self.pretrain.progress != Progress::Quiet {
                    let v = result.history.validation.last();
                    say!(
                        self.pretrain.progress,
                        "[{:>6.0} s] pretraining {} seed {seed}: {} steps in {:.1} s, reconstruction VRMSE {:.4}",
                        start.elapsed().as_secs_f64(),
                        p.key(),
                        result.history.steps.len(),
                        result.train_seconds,
                        v.map_or(f64::NAN, |v| v.vrmse)
                    );
                }
                pretraining.push((p, seed, dir, result));
            }
        }

        let mut runs = Vec::new();
        let horizon_spec = WindowSpec::new(self.model.n_steps_input, HORIZON_STEPS);
        let horizon_data = open(&self.target_datasets, Split::Valid, horizon_spec)?
            .into_iter()
            .map(|ds| {
                Ok((
                    fields.active(ds.channel_names(), &ds.header().field_of_channel())?,
                    ds,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        for &seed in &self.seeds {
            for arm in &self.arms {
                let ckpt = pretraining
                    .iter()
                    .find(|(p, s, _, _)| *p == arm.pretraining && *s == seed)
                    .map(|(_, _, d, _)| d.clone());
                let run = self.rollout_run(
                    arm.clone(),
                    seed,
                    &model_cfg,
                    ckpt,
                    open(&self.target_datasets, Split::Train, spec)?,
                    open(&self.target_datasets, Split::Valid, spec)?,
                    &horizon_data,
                    &fields,
                    &device,
                )?;
                if self.rollout.progress != Progress::Quiet {
                    say!(
                        self.rollout.progress,
                        "[{:>6.0} s] {} seed {seed}: next-frame VRMSE {:.4}, rollout 7-18 {:.4}, {:.1} s training",
                        start.elapsed().as_secs_f64(),
                        arm.key(),
                        run.table5.vrmse.mean,
                        run.horizons[3],
                        run.train_seconds
                    );
                }
                runs.push(run);
            }
        }
        let results = ExperimentResults {
            config: self.clone(),
            pretraining: pretraining.into_iter().map(|(_, _, _, r)| r).collect(),
            runs,
            total_seconds: start.elapsed().as_secs_f64(),
            provenance,
        };
        results.save(out)?;
        Ok(results)
    }

    /// Pretrains one tokeniser, or reuses the checkpoint in `dir` when it was made with the
    /// same settings and step count.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pretrain(
        &self,
        p: Pretraining,
        seed: u64,
        names: &[String],
        tokeniser: &crate::tokeniser::TokeniserConfig,
        train: Vec<WellDataset>,
        valid: Vec<WellDataset>,
        fields: &FieldVocabulary,
        dir: &Path,
        device: &Device,
    ) -> Result<PretrainResult> {
        let tok_cfg = tokeniser.clone().with_seed(seed);
        let trainer_cfg = self.pretrain.clone().with_seed(seed);
        let task =
            TokeniserTask::new(tok_cfg.init(device)?).with_n_frames(self.model.n_steps_input);
        let mut builder = Trainer::builder(task, trainer_cfg.clone())
            .train_data(train)
            .valid_data(valid)
            .fields(fields.clone())
            .checkpoint_dir(dir)
            .label(format!("pretrain {}", p.key()));
        // a checkpoint there is resumed (or reused when complete) only when it was made
        // with these settings; a corrupt or mismatching one is an error, never retrained
        if checkpoint_present(dir) {
            let ckpt = Checkpoint::load(dir, device).map_err(|e| {
                Error::format(
                    dir,
                    format!(
                        "the pretraining checkpoint there cannot be read ({e}); remove the folder to pretrain again"
                    ),
                )
            })?;
            if ckpt.step > self.pretrain.steps {
                return Err(Error::Mismatch {
                    what: format!(
                        "pretraining checkpoint {} has more steps than this run",
                        dir.display()
                    ),
                    left: ckpt.step.to_string(),
                    right: self.pretrain.steps.to_string(),
                });
            }
            builder = builder.resume_from(dir);
        }
        let mut trainer = builder.build()?;
        let t0 = Instant::now();
        let todo = self.pretrain.steps.saturating_sub(trainer.step());
        let resumed = trainer.step() > 0;
        // a run killed after its last periodic checkpoint but before the final validation
        // and save is finished now, as an uninterrupted run would have
        let periodic = match self.pretrain.validate_every {
            0 => 0,
            k => self.pretrain.steps / k,
        };
        let reused = todo == 0 && trainer.history().validation.len() > periodic;
        if resumed {
            say!(
                self.pretrain.progress,
                "pretraining {}: {} the checkpoint in {} (step {} of {})",
                p.key(),
                if reused { "reusing" } else { "resuming" },
                dir.display(),
                trainer.step(),
                self.pretrain.steps
            );
        }
        trainer.fit_steps(todo)?;
        let fit_seconds = t0.elapsed().as_secs_f64();
        if !reused {
            trainer.record_validation()?;
            trainer.save_checkpoint(dir)?;
        }
        let history = trainer.history().clone();
        let train_seconds = if resumed {
            history.steps.last().map_or(0.0, |r| r.wall_s)
        } else {
            fit_seconds
        };
        Ok(PretrainResult {
            pretraining: p,
            seed,
            datasets: names.to_vec(),
            train_seconds,
            history,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn rollout_run(
        &self,
        arm: Arm,
        seed: u64,
        model_cfg: &crate::model::RolloutConfig,
        tokeniser_ckpt: Option<PathBuf>,
        train: Vec<WellDataset>,
        valid: Vec<WellDataset>,
        horizon_data: &[(ActiveFields, WellDataset)],
        fields: &FieldVocabulary,
        device: &Device,
    ) -> Result<RunResult> {
        let model = model_cfg.clone().with_seed(seed).init(device)?;
        if arm.pretraining != Pretraining::Scratch {
            let dir = tokeniser_ckpt
                .ok_or_else(|| Error::Msg(format!("no pretrained tokeniser for {}", arm.key())))?;
            model.load_tokeniser(&dir)?;
        }
        let strategy = arm.strategy.clone();
        let table = model.param_table().with_freeze(&strategy)?;
        let cfg = self.rollout.clone().with_seed(seed).with_validate_every(0);
        let coarsen = cfg.coarsen;
        let mut trainer = Trainer::builder(RolloutTask::new(model, strategy), cfg)
            .train_data(train)
            .valid_data(valid)
            .fields(fields.clone())
            .label(format!("{} seed {seed}", arm.key()))
            .build()?;
        let chunk = self.rollout.steps.div_ceil(self.eval_points);
        let mut curve = vec![self.curve_point(&trainer, horizon_data, coarsen)?];
        let mut train_seconds = 0.0;
        while trainer.step() < self.rollout.steps {
            let n = chunk.min(self.rollout.steps - trainer.step());
            let t0 = Instant::now();
            trainer.fit_steps(n)?;
            train_seconds += t0.elapsed().as_secs_f64();
            curve.push(self.curve_point(&trainer, horizon_data, coarsen)?);
        }
        let grids = trainer
            .valid_data()
            .iter()
            .map(|(f, ds)| {
                let all = WindowScoring::default()
                    .with_batch_size(EVAL_BATCH)
                    .with_coarsen(coarsen);
                predict_grid(trainer.task(), ds, f, &all)
            })
            .collect::<Result<Vec<_>>>()?;
        let grid = MetricGrid::concat_samples(&grids)?;
        let protocol = self
            .protocol
            .clone()
            .with_subset_size(self.protocol.subset_size.min(grid.dims().0));
        let table5 = protocol.run(&grid)?;
        let last = curve.last().map_or([f64::NAN; 4], |p| p.horizons);
        let spike_score = spike_score(
            trainer.task().model(),
            horizon_data,
            model_cfg.compression.space(),
            coarsen,
        )?;
        Ok(RunResult {
            arm,
            seed,
            table5,
            horizons: last,
            curve,
            train_seconds,
            steps: trainer.step(),
            trainable_params: table.trainable(),
            total_params: table.total(),
            history: trainer.history().clone(),
            spike_score: Some(spike_score),
        })
    }

    fn curve_point(
        &self,
        trainer: &Trainer<RolloutTask>,
        horizon_data: &[(ActiveFields, WellDataset)],
        coarsen: usize,
    ) -> Result<CurvePoint> {
        let mut next = Vec::new();
        for (f, ds) in trainer.valid_data() {
            let scoring = WindowScoring::default()
                .with_windows(self.curve_windows)
                .with_batch_size(EVAL_BATCH)
                .with_coarsen(coarsen);
            next.push(
                predict_grid(trainer.task(), ds, f, &scoring)?
                    .summary()
                    .mean,
            );
        }
        let next = ScoreSet::mean_of_sets(next.iter());
        let mut horizons = [0.0; 4];
        for (f, ds) in horizon_data {
            let scoring = WindowScoring::default()
                .with_windows(self.horizon_windows)
                .with_batch_size(EVAL_BATCH)
                .with_coarsen(coarsen);
            let h = rollout_horizons(trainer.task().model(), ds, f, &scoring)?;
            for (acc, v) in horizons.iter_mut().zip(h) {
                *acc += v / horizon_data.len() as f64;
            }
        }
        Ok(CurvePoint {
            step: trainer.step(),
            vrmse: next.vrmse,
            neps_low: next.neps.low,
            neps_mid: next.neps.mid,
            neps_high: next.neps.high,
            horizons,
        })
    }
}

/// Rolls any emulator out over each window's output frames (18 for Figure 3) and returns
/// the VRMSE over the four horizons of Figure 3 (mean over windows, frames and fields).
pub fn rollout_horizons(
    model: &(impl Emulator + ?Sized),
    ds: &WellDataset,
    fields: &ActiveFields,
    scoring: &WindowScoring,
) -> Result<[f64; 4]> {
    let grid = score_rollouts(model, ds, fields, scoring)?;
    let h = HorizonScores::from_grid(&grid)?;
    let mut out = [f64::NAN; 4];
    for (o, horizon) in out.iter_mut().zip(RolloutHorizon::PAPER) {
        if let Some(s) = h.get(horizon) {
            *o = s.vrmse;
        }
    }
    Ok(out)
}

/// The harmonic-spike score of an emulator's rollouts ([`HarmonicSpikes`], the
/// compute-adaptive paper's patch-artefact measure) at the harmonics `m·N/s` of the spatial
/// compression `s` its tokeniser runs at: the mean over fields, steps and the horizon
/// datasets of [`HarmonicSpikes::mean_score`], on up to 16 windows per dataset rolled out
/// over each window's output frames.
pub fn spike_score(
    model: &(impl Emulator + ?Sized),
    horizon_data: &[(ActiveFields, WellDataset)],
    spatial_compression: usize,
    coarsen: usize,
) -> Result<f64> {
    let device = model.device()?;
    let t = model.n_steps_input();
    let options = SpikeOptions::new(vec![spatial_compression]);
    let mut total = 0.0;
    for (fields, ds) in horizon_data {
        let indices = WindowScoring::default()
            .with_windows(SPIKE_WINDOWS)
            .indices(ds.len());
        let xs = stacked_windows(ds, &indices, coarsen, &device)?;
        let steps = xs.dim(2)? - t;
        let pred = model.rollout(&xs.narrow(2, 0, t)?, fields, steps)?;
        let spikes = HarmonicSpikes::from_tensors(&pred, &xs.narrow(2, t, steps)?, &options)?;
        total += spikes.mean_score() / horizon_data.len() as f64;
    }
    Ok(total)
}

/// Makes sure the datasets `names` are under `root`: those the simulators make (a
/// [`System`]'s Well name) are generated where missing, at the default collection's setting,
/// and checked complete where present ([`Collection::ensure`]); any other name must already
/// be there, or this is an error naming it (before anything is simulated).
pub fn ensure_data<'a>(root: &Path, names: impl IntoIterator<Item = &'a String>) -> Result<()> {
    let mut systems: Vec<System> = Vec::new();
    for name in names {
        match System::from_name(name) {
            Some(system) if !systems.contains(&system) => systems.push(system),
            Some(_) => {}
            None if root.join(name).join("data").is_dir() => {}
            None => {
                return Err(Error::Msg(format!(
                    "dataset `{name}` is not under {} and is not one the simulators make ({})",
                    root.display(),
                    System::ALL.map(|s| s.name()).join(", ")
                )));
            }
        }
    }
    Collection::default_collection(root)
        .with_systems(systems)
        .ensure()?;
    Ok(())
}

/// Refuses, naming the dataset, when one of `names` is missing under `root` or holds data
/// phystok simulated ([`DataPolicy::RequireWell`]).
pub(super) fn require_well<'a>(
    root: &Path,
    preset: &str,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<()> {
    for name in names {
        let dir = root.join(name);
        let why = if !dir.join("data").is_dir() {
            "is not there"
        } else if GenerateConfig::was_simulated(&dir) {
            "holds phystok's simulated data"
        } else {
            continue;
        };
        return Err(Error::Msg(format!(
            "dataset `{name}` under {} {why}: the `{preset}` preset runs on The Well's data \
             (download it there, e.g. `the-well-download --base-path {} --dataset {name}`); \
             to run it on the simulators' data anyway, pass --allow-simulated \
             (ExperimentConfig::with_data_policy(DataPolicy::SimulateMissing))",
            root.display(),
            root.display()
        )));
    }
    Ok(())
}
/// Refuses a data root that is itself one dataset (it holds `data/` or `stats.yaml`): the
/// collection would be simulated inside it.
pub fn check_data_root(root: &Path) -> Result<()> {
    if root.join("stats.yaml").is_file() || root.join("data").join("train").is_dir() {
        return Err(Error::format(
            root,
            format!(
                "is one dataset, not a collection of them: pass the folder that holds the datasets (here {})",
                root.parent()
                    .map_or_else(|| ".".into(), |p| p.display().to_string())
            ),
        ));
    }
    if root.exists() && !root.is_dir() {
        return Err(Error::format(root, "is a file, not a folder of datasets"));
    }
    Ok(())
}

/// Makes `out` (and `out/checkpoints`) and checks a file can be written there, before any
/// simulation or training.
pub fn check_writable(out: &Path) -> Result<()> {
    let dir = out.join("checkpoints");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::format(out, format!("the output folder cannot be made: {e}")))?;
    let probe = out.join(".phystok-write-test");
    std::fs::write(&probe, b"ok")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| Error::format(out, format!("the output folder is not writable: {e}")))
}

/// Whether `dir` (or the `{dir}.old` a save interrupted between its renames leaves) holds a
/// checkpoint, whole or not.
fn checkpoint_present(dir: &Path) -> bool {
    let mut old = dir.as_os_str().to_os_string();
    old.push(".old");
    dir.join("checkpoint.json").exists()
        || Path::new(&old).join("checkpoint.json").exists()
        || dir.join("weights.safetensors").exists()
}
