//! Running the PhysiX study: the universal tokeniser once, then per seed the AR model and
//! one refiner per dataset, each scored on the test split with and without refinement.

use std::path::Path;
use std::time::Instant;

use super::config::PhysixStudyConfig;
use super::results::{
    ContinuousResults, ContinuousRun, DatasetRun, PhysixResults, TokeniserScore, WINDOWS,
};
use crate::Result;
use crate::data::{ActiveFields, Split, WellDataset, WindowSpec, coarsen_space};
use crate::emulator::Emulator;
use crate::experiment::ensure_data;
use crate::freeze::FreezeStrategy;
use crate::metrics::{WindowScoring, score_next_frame, score_rollouts};
use crate::physix::{CodebookUsage, DatasetChannels, PhysixModel, Refinement};
use crate::train::{
    PhysixArTask, PhysixTokeniserTask, Progress, RolloutTask, TokeniserTask, Trainer, predict_grid,
};

/// Windows per evaluation batch.
const EVAL_BATCH: usize = 4;

fn say(progress: Progress, line: String) {
    match progress.resolve() {
        Progress::Quiet => {}
        Progress::Notebook => println!("{line}"),
        _ => eprintln!("{line}"),
    }
}

impl PhysixStudyConfig {
    /// Runs the study on the datasets under `data_root` (the default collection is
    /// simulated there when missing) and writes `results.json`, `tables.md` and
    /// `figure3.svg` to `out`.
    pub fn run(&self, data_root: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<PhysixResults> {
        self.check()?;
        let (root, out) = (data_root.as_ref(), out.as_ref());
        let start = Instant::now();
        let progress = self.tokeniser.progress;
        ensure_data(root, &self.datasets)?;
        let device = self.device.device()?;
        let n_in = self.model.n_steps_input;
        let st = self.model.tokeniser.time_compression();
        let coarsen = self.tokeniser.coarsen;
        let open = |split: Split, spec: WindowSpec| {
            self.datasets
                .iter()
                .map(|n| WellDataset::open(root.join(n), split, spec))
                .collect::<Result<Vec<_>>>()
        };
        let spec = WindowSpec::new(n_in, st);
        let train = open(Split::Train, spec)?;
        let mut cfg = self.model.clone();
        cfg.tokeniser.datasets = train
            .iter()
            .map(|d| DatasetChannels::new(d.name(), d.channel_names().iter().cloned()))
            .collect();
        cfg.check()?;
        let seed0 = self.seeds[0];
        let base = cfg.clone().with_seed(seed0).init(&device)?;
        let vocab = base.tokeniser().vocabulary().clone();
        let fields_of = |ds: &WellDataset| -> Result<ActiveFields> {
            vocab.active(ds.channel_names(), &ds.header().field_of_channel())
        };

        // 1. the universal tokeniser, once
        let t0 = Instant::now();
        let mut trainer = Trainer::builder(
            PhysixTokeniserTask::new(base.tokeniser().clone(), n_in),
            self.tokeniser.clone().with_seed(seed0),
        )
        .train_data(open(Split::Train, spec)?)
        .fields(vocab.clone())
        .label("physix tokeniser")
        .build()?;
        trainer.fit()?;
        let tokeniser_seconds = t0.elapsed().as_secs_f64();
        let mut tokeniser_scores = Vec::new();
        for ds in open(Split::Test, spec)? {
            let fields = fields_of(&ds)?;
            let scoring = WindowScoring::default()
                .with_windows(self.next_frame_windows)
                .with_batch_size(EVAL_BATCH)
                .with_coarsen(coarsen);
            let grid = predict_grid(trainer.task(), &ds, &fields, &scoring)?;
            let usage = self.usage(&base, &ds, &fields, coarsen, &device)?;
            tokeniser_scores.push(TokeniserScore {
                dataset: ds.name().to_string(),
                reconstruction_vrmse: grid.summary().mean.vrmse,
                usage,
            });
        }
        say(
            progress,
            format!(
                "[{:>5.0} s] physix tokeniser: {} steps in {tokeniser_seconds:.0} s; reconstruction VRMSE {}",
                start.elapsed().as_secs_f64(),
                self.tokeniser.steps,
                tokeniser_scores
                    .iter()
                    .map(|t| format!("{} {:.3}", t.dataset, t.reconstruction_vrmse))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );

        // 2. per seed: the AR model, the refiners, the scores
        let next_spec = WindowSpec::new(n_in, 1);
        let roll_spec = WindowSpec::new(n_in, self.rollout_steps);
        let mut runs = Vec::new();
        let mut ar_seconds = Vec::new();
        for &seed in &self.seeds {
            let mut model = base.with_fresh_ar(seed)?;
            let t0 = Instant::now();
            let mut trainer = Trainer::builder(
                PhysixArTask::new(model.clone()),
                self.ar.clone().with_seed(seed),
            )
            .train_data(open(Split::Train, spec)?)
            .fields(vocab.clone())
            .label(format!("physix AR seed {seed}"))
            .build()?;
            trainer.fit()?;
            let loss = trainer.history().steps.last().map_or(f64::NAN, |r| r.loss);
            ar_seconds.push(t0.elapsed().as_secs_f64());
            say(
                progress,
                format!(
                    "[{:>5.0} s] physix AR seed {seed}: {} steps, final cross-entropy {loss:.3}",
                    start.elapsed().as_secs_f64(),
                    self.ar.steps
                ),
            );
            for (i, name) in self.datasets.iter().enumerate() {
                let ds = &train[i];
                let fields = fields_of(ds)?;
                let shape = ds.spatial_shape();
                let res = [shape[0] / coarsen, shape[1] / coarsen];
                let refiner = model.init_refiner(name, res)?;
                let tp = Instant::now();
                let pairs =
                    model.refinement_pairs(ds, &fields, self.refiner_draws, coarsen, seed)?;
                let t1 = Instant::now();
                let coarse_mse = pairs.coarse_mse()?;
                refiner.fit(&pairs, self.refiner_steps, self.refiner_batch)?;
                let refiner_seconds = t1.elapsed().as_secs_f64();
                let refined_mse = mean_loss(&refiner, &pairs)?;
                let pairs_seconds = t1.duration_since(tp).as_secs_f64();
                let ts = Instant::now();
                let scores = self.score(&model, root, name, &fields, next_spec, roll_spec)?;
                let score_seconds = ts.elapsed().as_secs_f64();
                say(
                    progress,
                    format!(
                        "[{:>5.0} s] {name} seed {seed}: next frame {:.3} / {:.3} refined, rollout 9-26 {:.3} / {:.3} ({} pairs in {pairs_seconds:.0} s, refiner {refiner_seconds:.0} s, scoring {score_seconds:.0} s)",
                        start.elapsed().as_secs_f64(),
                        scores.0[0],
                        scores.0[1],
                        scores.1[0][2],
                        scores.1[1][2],
                        pairs.len()
                    ),
                );
                runs.push(DatasetRun {
                    dataset: name.clone(),
                    seed,
                    next_frame: scores.0,
                    windows: scores.1,
                    per_step: scores.2,
                    refiner_train_mse: [coarse_mse, refined_mse],
                    refiner_seconds,
                });
            }
        }
        let continuous = match &self.continuous {
            Some(_) => Some(self.run_continuous(root, out, &vocab, &device, start)?),
            None => None,
        };
        let results = PhysixResults {
            config: self.clone(),
            tokeniser_seconds,
            ar_seconds,
            tokeniser: tokeniser_scores,
            runs,
            continuous,
            total_seconds: start.elapsed().as_secs_f64(),
            threads: rayon::current_num_threads(),
        };
        results.save(out)?;
        Ok(results)
    }

    /// Codebook usage of the tokens of a dataset's scored windows.
    fn usage(
        &self,
        model: &PhysixModel,
        ds: &WellDataset,
        fields: &ActiveFields,
        coarsen: usize,
        device: &candle_core::Device,
    ) -> Result<CodebookUsage> {
        let scoring = WindowScoring::default().with_windows(self.next_frame_windows);
        let mut tokens = Vec::new();
        for i in scoring.indices(ds.len()) {
            let w = coarsen_space(&ds.window(i)?.to_tensor(device)?.unsqueeze(0)?, coarsen)?;
            let rms =
                crate::physix::normaliser(&w.narrow(2, 0, self.model.n_steps_input)?, fields)?;
            let name = model.dataset_of(fields)?;
            let t = model.tokeniser().tokenise(&rms.normalise(&w)?, name)?;
            tokens.extend(t.flatten_all()?.to_vec1::<u32>()?);
        }
        CodebookUsage::of(&tokens, model.tokeniser().fsq().codebook_size())
    }

    /// Next-frame VRMSE, rollout VRMSE per window and per step, without and with
    /// refinement, on the test split.
    #[allow(clippy::type_complexity)]
    fn score(
        &self,
        model: &PhysixModel,
        root: &Path,
        name: &str,
        fields: &ActiveFields,
        next_spec: WindowSpec,
        roll_spec: WindowSpec,
    ) -> Result<([f64; 2], [[f64; 3]; 2], [Vec<f64>; 2])> {
        let mut next = [0.0; 2];
        let mut windows = [[0.0; 3]; 2];
        let mut per_step: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for (k, r) in [Refinement::Off, Refinement::On].into_iter().enumerate() {
            let m = model.with_refinement(r);
            (next[k], windows[k], per_step[k]) =
                self.score_emulator(&m, root, name, fields, next_spec, roll_spec)?;
        }
        Ok((next, windows, per_step))
    }

    /// One emulator's next-frame VRMSE, rollout VRMSE per window of [`WINDOWS`] and per
    /// step, on dataset `name`'s test split: the windows every arm of the study is scored on.
    fn score_emulator(
        &self,
        emulator: &(impl Emulator + ?Sized),
        root: &Path,
        name: &str,
        fields: &ActiveFields,
        next_spec: WindowSpec,
        roll_spec: WindowSpec,
    ) -> Result<(f64, [f64; 3], Vec<f64>)> {
        let next_ds = WellDataset::open(root.join(name), Split::Test, next_spec)?;
        let roll_ds = WellDataset::open(root.join(name), Split::Test, roll_spec)?;
        let scoring = WindowScoring::default()
            .with_batch_size(EVAL_BATCH)
            .with_coarsen(self.tokeniser.coarsen);
        let grid = score_next_frame(
            emulator,
            &next_ds,
            fields,
            &scoring.with_windows(self.next_frame_windows),
        )?;
        let next = grid.summary().mean.vrmse;
        let grid = score_rollouts(
            emulator,
            &roll_ds,
            fields,
            &scoring.with_windows(self.rollout_windows),
        )?;
        let (_, times, _) = grid.dims();
        let mut windows = [0.0; 3];
        for (w, &(a, b)) in WINDOWS.iter().enumerate() {
            windows[w] = if b <= times {
                grid.time_slice(a - 1..b)?.summary().mean.vrmse
            } else {
                f64::NAN
            };
        }
        let per_step = grid.per_time().iter().map(|s| s.vrmse).collect();
        Ok((next, windows, per_step))
    }

    /// The main study's continuous tokeniser + processor on the same datasets: its
    /// tokeniser pretrained once on all of them (the first seed; the checkpoint goes to
    /// `out/continuous_tokeniser`), then per seed the rollout model loading it and training
    /// every weight (the main study's `in_domain_trainable` arm), scored on the windows
    /// PhysiX is scored on.
    fn run_continuous(
        &self,
        root: &Path,
        out: &Path,
        vocab: &crate::data::FieldVocabulary,
        device: &candle_core::Device,
        start: Instant,
    ) -> Result<ContinuousResults> {
        let Some(c) = &self.continuous else {
            return Err(crate::Error::Msg("no continuous settings".into()));
        };
        let progress = c.pretrain.progress;
        let n_in = self.model.n_steps_input;
        let mut model_cfg = c.model.clone().with_n_steps_input(n_in);
        model_cfg.tokeniser = model_cfg.tokeniser.with_total_fields(vocab.len());
        model_cfg.check()?;
        let open = |split: Split, spec: WindowSpec| {
            self.datasets
                .iter()
                .map(|n| WellDataset::open(root.join(n), split, spec))
                .collect::<Result<Vec<_>>>()
        };
        let spec = WindowSpec::new(n_in, 1);
        let seed0 = self.seeds[0];
        let t0 = Instant::now();
        let task = TokeniserTask::new(model_cfg.tokeniser.clone().with_seed(seed0).init(device)?)
            .with_n_frames(n_in);
        let mut trainer = Trainer::builder(task, c.pretrain.clone().with_seed(seed0))
            .train_data(open(Split::Train, spec)?)
            .fields(vocab.clone())
            .label("continuous tokeniser")
            .build()?;
        trainer.fit()?;
        let dir = out.join("continuous_tokeniser");
        trainer.save_checkpoint(&dir)?;
        let pretrain_seconds = t0.elapsed().as_secs_f64();
        // reconstruction of the context frames of the windows the discrete tokeniser is
        // scored on
        let disc_spec = WindowSpec::new(n_in, self.model.tokeniser.time_compression());
        let mut reconstruction = Vec::new();
        for ds in open(Split::Test, disc_spec)? {
            let fields = vocab.active(ds.channel_names(), &ds.header().field_of_channel())?;
            let scoring = WindowScoring::default()
                .with_windows(self.next_frame_windows)
                .with_batch_size(EVAL_BATCH)
                .with_coarsen(self.tokeniser.coarsen);
            let grid = predict_grid(trainer.task(), &ds, &fields, &scoring)?;
            reconstruction.push((ds.name().to_string(), grid.summary().mean.vrmse));
        }
        say(
            progress,
            format!(
                "[{:>5.0} s] continuous tokeniser: {} steps in {pretrain_seconds:.0} s; reconstruction VRMSE {}",
                start.elapsed().as_secs_f64(),
                c.pretrain.steps,
                reconstruction
                    .iter()
                    .map(|(d, v)| format!("{d} {v:.3}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        let next_spec = WindowSpec::new(n_in, 1);
        let roll_spec = WindowSpec::new(n_in, self.rollout_steps);
        let mut runs = Vec::new();
        let mut rollout_seconds = Vec::new();
        for &seed in &self.seeds {
            let model = model_cfg.clone().with_seed(seed).init(device)?;
            model.load_tokeniser(&dir)?;
            let t0 = Instant::now();
            let mut trainer = Trainer::builder(
                RolloutTask::new(model.clone(), FreezeStrategy::FullyTrainable),
                c.rollout.clone().with_seed(seed),
            )
            .train_data(open(Split::Train, spec)?)
            .fields(vocab.clone())
            .label(format!("continuous rollout seed {seed}"))
            .build()?;
            trainer.fit()?;
            rollout_seconds.push(t0.elapsed().as_secs_f64());
            for name in &self.datasets {
                let ds = WellDataset::open(root.join(name), Split::Test, next_spec)?;
                let fields = vocab.active(ds.channel_names(), &ds.header().field_of_channel())?;
                let (next_frame, windows, per_step) =
                    self.score_emulator(&model, root, name, &fields, next_spec, roll_spec)?;
                say(
                    progress,
                    format!(
                        "[{:>5.0} s] continuous {name} seed {seed}: next frame {next_frame:.3}, rollout 9-26 {:.3}",
                        start.elapsed().as_secs_f64(),
                        windows[2]
                    ),
                );
                runs.push(ContinuousRun {
                    dataset: name.clone(),
                    seed,
                    next_frame,
                    windows,
                    per_step,
                });
            }
        }
        Ok(ContinuousResults {
            pretrain_seconds,
            rollout_seconds,
            reconstruction,
            runs,
        })
    }
}

/// The refiner's MSE over all pairs, in batches.
fn mean_loss(
    refiner: &crate::physix::Refiner,
    pairs: &crate::physix::RefinementPairs,
) -> Result<f64> {
    let n = pairs.len();
    let mut total = 0.0;
    for start in (0..n).step_by(16) {
        let idx: Vec<usize> = (start..(start + 16).min(n)).collect();
        let part = pairs.select(&idx)?;
        let l = refiner.loss(&part)?.to_scalar::<f32>()? as f64;
        total += l * idx.len() as f64;
    }
    Ok(total / n as f64)
}
