//! Running the benchmark: every family on every dataset, once per seed, at equal steps;
//! then next-frame and rollout VRMSE on the test split.

use std::path::Path;
use std::time::Instant;

use super::config::{BenchmarkConfig, WELL_WINDOWS};
use super::results::{BenchmarkResults, BenchmarkRun};
use crate::data::{FieldVocabulary, Split, WellDataset, WindowSpec};
use crate::experiment::ensure_data;
use crate::metrics::{WindowScoring, score_next_frame, score_rollouts};
use crate::sim::System;
use crate::train::{BaselineTask, Progress, Trainer};
use crate::{Error, Result};

const ROLLOUT_STEPS: usize = 26;
const N_STEPS_INPUT: usize = 4;

impl BenchmarkConfig {
    /// Runs the benchmark on the datasets under `data_root` (the embedded default
    /// collection is simulated there first when a simulator's dataset is missing) and
    /// writes `results.json`, `tables.md`, `rollout.svg` and the leaderboard
    /// (`leaderboard.md`, `leaderboard.json`, `leaderboard.svg`, joining the other studies'
    /// outputs beside `out`) to `out`.
    pub fn run(
        &self,
        data_root: impl AsRef<Path>,
        out: impl AsRef<Path>,
    ) -> Result<BenchmarkResults> {
        self.check()?;
        let (data_root, out) = (data_root.as_ref(), out.as_ref());
        let start = Instant::now();
        let simulated: Vec<&String> = self
            .datasets
            .iter()
            .filter(|n| System::from_name(n).is_some() || !data_root.join(n).is_dir())
            .collect();
        ensure_data(data_root, simulated)?;
        let device = self.device.device()?;
        let mut runs = Vec::new();
        for name in &self.datasets {
            let dir = data_root.join(name);
            let train = WellDataset::open(&dir, Split::Train, WindowSpec::new(N_STEPS_INPUT, 1))?;
            let n_steps = train.header().n_steps();
            let rollout = ROLLOUT_STEPS
                .min(n_steps.saturating_sub(N_STEPS_INPUT))
                .max(1);
            let test_next =
                WellDataset::open(&dir, Split::Test, WindowSpec::new(N_STEPS_INPUT, 1))?;
            let test_roll =
                WellDataset::open(&dir, Split::Test, WindowSpec::new(N_STEPS_INPUT, rollout))?;
            let fields_vocab = FieldVocabulary::new(train.channel_names().iter().cloned());
            let fields =
                fields_vocab.active(train.channel_names(), &train.header().field_of_channel())?;
            let shape = train.spatial_shape();
            if shape.len() != 2 {
                return Err(Error::Msg(format!(
                    "{name}: the baselines here are 2D, the data has {} spatial axes",
                    shape.len()
                )));
            }
            let resolution = [shape[0] / self.coarsen, shape[1] / self.coarsen];
            let n_fields = fields.channels.len();
            for &kind in &self.kinds {
                for &seed in &self.seeds {
                    let model = self
                        .model(kind, n_fields, resolution)
                        .with_seed(seed)
                        .init(&device)?;
                    let params = model.n_parameters();
                    let recipe =
                        BaselineTask::the_well_recipe(self.steps, self.peak_lr, self.batch_size)
                            .with_seed(seed)
                            .with_validate_every(0)
                            .with_coarsen(self.coarsen)
                            .with_progress(Progress::Quiet);
                    let mut trainer = Trainer::builder(BaselineTask::new(model), recipe)
                        .train_data(vec![WellDataset::open(
                            &dir,
                            Split::Train,
                            WindowSpec::new(N_STEPS_INPUT, 1),
                        )?])
                        .fields(fields_vocab.clone())
                        .label(format!("{} {name} seed {seed}", kind.label()))
                        .build()?;
                    let t0 = Instant::now();
                    let history = trainer.fit()?;
                    let train_seconds = t0.elapsed().as_secs_f64();
                    let final_loss = history.steps.last().map_or(f64::NAN, |s| s.loss);
                    let model = trainer.into_task().into_model();
                    let next = WindowScoring::default()
                        .with_windows(self.next_frame_windows)
                        .with_coarsen(self.coarsen);
                    let vrmse_next = score_next_frame(&model, &test_next, &fields, &next)?
                        .summary()
                        .mean
                        .vrmse;
                    let roll = WindowScoring::default()
                        .with_windows(self.rollout_windows)
                        .with_coarsen(self.coarsen);
                    let per_time = score_rollouts(&model, &test_roll, &fields, &roll)?.per_time();
                    let vrmse_rollout = WELL_WINDOWS.map(|(first, last)| {
                        let vals: Vec<f64> = per_time
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| *i + 1 >= first && *i < last)
                            .map(|(_, s)| s.vrmse)
                            .collect();
                        (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
                    });
                    eprintln!(
                        "benchmark: {} on {name} seed {seed}: {params} params, {:.1} s, loss {final_loss:.4}, next-frame VRMSE {vrmse_next:.4}",
                        kind.label(),
                        train_seconds
                    );
                    runs.push(BenchmarkRun {
                        dataset: name.clone(),
                        kind,
                        seed,
                        params,
                        steps: model_steps(&history),
                        train_seconds,
                        final_loss,
                        vrmse_next,
                        vrmse_rollout,
                    });
                }
            }
        }
        let results = BenchmarkResults {
            config: self.clone(),
            runs,
            total_seconds: start.elapsed().as_secs_f64(),
            threads: rayon::current_num_threads(),
        };
        results.save(out)?;
        Ok(results)
    }
}

fn model_steps(history: &crate::train::History) -> usize {
    history.steps.last().map_or(0, |s| s.step)
}
