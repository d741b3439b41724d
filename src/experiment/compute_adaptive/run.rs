//! Running the compute-adaptive study: for every seed, train each model (the patch size
//! drawn per step for CKM and CSM), score next-step VRMSE at every size it runs at, roll out
//! with each fixed size and with the cyclic schedule, and analyse the rollouts' residual
//! spectra for harmonic spikes.

use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor};

use super::config::{ComputeAdaptiveConfig, StudyModel};
use super::results::{ComputeAdaptiveResults, ModelResult, RolloutScore, SizeScore};
use crate::data::{ActiveFields, FieldVocabulary, Split, WellDataset, WindowSpec};
use crate::experiment::{SeedStat, ensure_data};
use crate::metrics::{
    HarmonicSpikes, MetricsConfig, SpikeOptions, WindowScoring, score_next_frame, stacked_windows,
};
use crate::patch::{PatchModel, PatchSchedule};
use crate::train::{PatchTask, Trainer};
use crate::{ConfigError, Result};

/// Held-out rollout windows, read once.
struct RolloutData {
    context: Tensor,
    target: Tensor,
    names: Vec<String>,
}

/// One schedule's rollout of one seed.
struct SeedRollout {
    vrmse: Vec<f64>,
    spikes: HarmonicSpikes,
}

impl ComputeAdaptiveConfig {
    /// Runs the study on `data_root/{dataset}` (simulated there first when missing) and
    /// writes `results.json`, `tables.md`, `figure3.svg`, `figure2_spectra.svg` and
    /// `figure2_snapshot.svg` to `out`.
    pub fn run(
        &self,
        data_root: impl AsRef<Path>,
        out: impl AsRef<Path>,
    ) -> Result<ComputeAdaptiveResults> {
        self.check()?;
        let (root, out) = (data_root.as_ref(), out.as_ref());
        let start = Instant::now();
        ensure_data(root, [&self.dataset])?;
        let device = self.device.device()?;
        let n_in = self.model.n_steps_input;
        let dir = root.join(&self.dataset);
        let spec = WindowSpec::new(n_in, 1);
        let valid = WellDataset::open(&dir, Split::Valid, spec)?;
        let fields = FieldVocabulary::union([valid.channel_names()]);
        let active = fields.active(valid.channel_names(), &valid.header().field_of_channel())?;
        let c = self.trainer.coarsen.max(1);
        let shape = valid.spatial_shape();
        if shape.len() != 2 || [shape[0] / c, shape[1] / c] != self.model.grid {
            return Err(ConfigError::Mismatch {
                name: "model grid",
                value: format!("{:?}", self.model.grid),
                other: format!("{} at {shape:?} coarsened {c}x", self.dataset),
            }
            .into());
        }
        let base = self.model.clone().with_total_fields(fields.len());
        let rollout = self.rollout_data(&dir, &device)?;
        let eval = WindowScoring::default()
            .with_windows(self.eval_windows)
            .with_batch_size(8)
            .with_coarsen(c);
        let mut models = Vec::new();
        let mut k = Vec::new();
        let largest = base.sizes.iter().copied().max().unwrap_or(1);
        let mut snapshots: Vec<(String, Tensor)> = Vec::new();
        for &m in &self.models {
            let cfg = m.config(&base);
            let mut params = 0;
            let mut seconds = Vec::new();
            let sizes = cfg.sizes.clone();
            let mut next: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
            let mut schedules: Vec<PatchSchedule> =
                sizes.iter().map(|&p| PatchSchedule::Fixed(p)).collect();
            if m.is_adaptive() {
                schedules.push(PatchSchedule::Cyclic { offset: 0 });
            }
            let mut rolls: Vec<Vec<SeedRollout>> = schedules.iter().map(|_| Vec::new()).collect();
            for &seed in &self.seeds {
                let model = cfg.clone().with_seed(seed).init(&device)?;
                params = model.param_table().total();
                let trainer_cfg = self
                    .trainer
                    .clone()
                    .with_steps(self.steps_of(m))
                    .with_seed(seed);
                let mut trainer = Trainer::builder(PatchTask::new(model), trainer_cfg)
                    .train_data(vec![WellDataset::open(&dir, Split::Train, spec)?])
                    .fields(fields.clone())
                    .label(format!("{} seed {seed}", m.key()))
                    .build()?;
                let t0 = Instant::now();
                trainer.fit()?;
                seconds.push(t0.elapsed().as_secs_f64());
                let model = trainer.into_task().into_model();
                for (i, &p) in sizes.iter().enumerate() {
                    let at = model.clone().with_schedule(PatchSchedule::Fixed(p));
                    next[i].push(
                        score_next_frame(&at, &valid, &active, &eval)?
                            .summary()
                            .mean
                            .vrmse,
                    );
                }
                for (i, &schedule) in schedules.iter().enumerate() {
                    let r = self.rollout_once(&model, schedule, &rollout, &active)?;
                    if seed == self.seeds[0] {
                        let keep = match (m, schedule) {
                            (StudyModel::Fixed(p), _) => p == largest,
                            (
                                StudyModel::Ckm(crate::nn::KernelResize::PseudoInverse),
                                PatchSchedule::Cyclic { .. },
                            ) => true,
                            _ => false,
                        };
                        if keep {
                            let pred = model.rollout_with(
                                &rollout.context,
                                &active,
                                self.rollout_steps,
                                schedule,
                            )?;
                            snapshots.push((format!("{} {}", m.key(), schedule.key()), pred));
                        }
                    }
                    k = r.spikes.k.clone();
                    rolls[i].push(r);
                }
                eprintln!(
                    "[{:>5.0} s] {} seed {seed}: {} steps in {:.1} s, next-step VRMSE {}",
                    start.elapsed().as_secs_f64(),
                    m.key(),
                    self.steps_of(m),
                    seconds.last().copied().unwrap_or(0.0),
                    next.iter()
                        .zip(&sizes)
                        .map(|(v, p)| format!("p{p} {:.4}", v.last().copied().unwrap_or(f64::NAN)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let next_step = sizes
                .iter()
                .zip(next)
                .map(|(&p, v)| SizeScore {
                    patch: p,
                    tokens: base.tokens(p),
                    vrmse: SeedStat::of(v),
                })
                .collect();
            let rollouts = schedules
                .iter()
                .zip(rolls)
                .map(|(s, runs)| summarise(s.key(), &runs))
                .collect();
            models.push(ModelResult {
                key: m.key(),
                model: m,
                params,
                steps: self.steps_of(m),
                train_seconds: SeedStat::of(seconds),
                next_step,
                rollouts,
            });
        }
        let results = ComputeAdaptiveResults {
            config: self.clone(),
            commit: crate::experiment::Provenance::capture().commit,
            threads: rayon::current_num_threads(),
            k,
            models,
            total_seconds: start.elapsed().as_secs_f64(),
        };
        results.save(out)?;
        #[cfg(feature = "plot")]
        self.save_snapshot(out, &rollout, &snapshots)?;
        Ok(results)
    }

    /// The first `rollout_windows` (spread evenly) validation windows of
    /// `n_steps_input + rollout_steps` frames, coarsened.
    fn rollout_data(&self, dir: &Path, device: &Device) -> Result<RolloutData> {
        let n_in = self.model.n_steps_input;
        let ds = WellDataset::open(dir, Split::Valid, WindowSpec::new(n_in, self.rollout_steps))?;
        let indices = WindowScoring::default()
            .with_windows(self.rollout_windows)
            .indices(ds.len());
        let xs = stacked_windows(&ds, &indices, self.trainer.coarsen, device)?;
        Ok(RolloutData {
            context: xs.narrow(2, 0, n_in)?,
            target: xs.narrow(2, n_in, self.rollout_steps)?,
            names: ds.channel_names().to_vec(),
        })
    }

    fn rollout_once(
        &self,
        model: &PatchModel,
        schedule: PatchSchedule,
        data: &RolloutData,
        active: &ActiveFields,
    ) -> Result<SeedRollout> {
        let pred = model.rollout_with(&data.context, active, self.rollout_steps, schedule)?;
        let [h, w] = self.model.grid;
        let grid = MetricsConfig::the_well().build(&[h, w])?.evaluate_tensors(
            &pred,
            &data.target,
            &data.names,
        )?;
        let vrmse = grid.per_time().iter().map(|s| s.vrmse).collect();
        let sizes = match schedule {
            PatchSchedule::Fixed(p) => vec![p],
            PatchSchedule::Cyclic { .. } => model.config().sizes.clone(),
        };
        let spikes = HarmonicSpikes::from_tensors(&pred, &data.target, &SpikeOptions::new(sizes))?;
        Ok(SeedRollout { vrmse, spikes })
    }

    #[cfg(feature = "plot")]
    fn save_snapshot(
        &self,
        out: &Path,
        data: &RolloutData,
        preds: &[(String, Tensor)],
    ) -> Result<()> {
        use crate::plot::{Figure, SnapshotFigure, SnapshotOptions};
        for (name, pred) in preds {
            let options = SnapshotOptions::default()
                .with_time(self.rollout_steps - 1)
                .with_channel_names(data.names.clone());
            let file = format!("figure2_snapshot_{}.svg", name.replace(' ', "_"));
            SnapshotFigure::from_tensors(pred, &data.target, &options)?
                .with_title(format!(
                    "Figure 2: rollout step {} of {name}",
                    self.rollout_steps
                ))
                .save_svg(out.join(file))?;
        }
        Ok(())
    }
}

fn summarise(schedule: String, runs: &[SeedRollout]) -> RolloutScore {
    let steps = runs.first().map_or(0, |r| r.vrmse.len());
    let vrmse_per_step = (0..steps)
        .map(|s| SeedStat::of(runs.iter().map(|r| r.vrmse[s]).collect()))
        .collect();
    let spike_score = SeedStat::of(runs.iter().map(|r| r.spikes.mean_score()).collect());
    let per_step: Vec<Vec<f64>> = runs.iter().map(|r| r.spikes.per_step()).collect();
    let spike_per_step = (0..steps)
        .map(|s| per_step.iter().map(|v| v[s]).sum::<f64>() / per_step.len().max(1) as f64)
        .collect();
    let spectra: Vec<Vec<f64>> = runs
        .iter()
        .map(|r| r.spikes.mean_spectrum(steps.saturating_sub(1)))
        .collect();
    let n = spectra.first().map_or(0, Vec::len);
    let last_spectrum = (0..n)
        .map(|i| spectra.iter().map(|s| s[i]).sum::<f64>() / spectra.len() as f64)
        .collect();
    RolloutScore {
        schedule,
        vrmse_per_step,
        spike_score,
        spike_per_step,
        last_spectrum,
        harmonics: runs
            .first()
            .map_or(Vec::new(), |r| r.spikes.harmonics.clone()),
    }
}
