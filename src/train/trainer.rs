//! The [`Trainer`]: bounded training of a [`TrainTask`] on Well datasets, with periodic
//! validation, atomic checkpoints, exact resumption and progress shown in a terminal or a
//! notebook (paper Sections 2.3 and 2.5, Appendix C).
//!
//! Each step: the schedule sets the learning rate, the loader hands the next batch, the
//! task's randomness is reseeded from the trainer's generator, the loss is checked to be
//! finite, gradients are checked to be finite, the optimiser (clipping inside) updates the
//! trainable weights. A NaN or infinite loss or gradient stops training with
//! [`Error::Divergence`] before any weight is touched; the checkpoint on disk stays the
//! last good one. A checkpoint holds the weights, the task's and the trainer's settings,
//! the optimiser's state, the step, the generator's position and the history, so
//! [`TrainerBuilder::resume_from`] continues exactly where the run stopped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::dist::{Communicator, average_gradients};
use super::evaluate::{check_tensor_ids, predict_grid};
use super::guard::{
    SavedConfig, check_resume, first_non_finite_gradient, missing_gradient_outcome,
    without_gradient,
};
use super::history::{History, StepRecord, ValidationRecord};
use super::interrupt::{InterruptGuard, signal_name};
use super::progress::Reporter;
use super::task::TrainTask;
use super::trainer_config::TrainerConfig;
use crate::checkpoint::{Checkpoint, WeightSelection};
use crate::data::{ActiveFields, FieldVocabulary, Loader, WellDataset, coarsen_space};
use crate::metrics::ScoreSet;
use crate::metrics::WindowScoring;
use crate::optim::LrSchedule;
use crate::optim::Optimiser;
use crate::{ConfigError, Error, Result};
use candle_core::Device;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Builds a [`Trainer`]: the task and settings, then data, an optional checkpoint folder
/// and an optional checkpoint to resume from.
pub struct TrainerBuilder<T: TrainTask> {
    task: T,
    config: TrainerConfig,
    train: Vec<WellDataset>,
    valid: Vec<WellDataset>,
    fields: Option<FieldVocabulary>,
    checkpoint_dir: Option<PathBuf>,
    resume: Option<PathBuf>,
    label: Option<String>,
    communicator: Option<Box<dyn Communicator>>,
}

impl<T: TrainTask> TrainerBuilder<T> {
    /// Averages every step's gradients over `comm`'s world before clipping and the
    /// optimiser step (data-parallel training; [`super::dist`]). Its rank and size must be
    /// the loader's shard ([`crate::data::LoaderConfig::with_shard`]); only rank 0
    /// validates and writes checkpoints. Without one the trainer takes the plain path.
    pub fn communicator(mut self, comm: Box<dyn Communicator>) -> Self {
        self.communicator = Some(comm);
        self
    }

    /// The training datasets (several: an equal-probability mixture, Section 2.5).
    pub fn train_data(mut self, datasets: Vec<WellDataset>) -> Self {
        self.train = datasets;
        self
    }
    /// The validation datasets (each scored on its own, then averaged).
    pub fn valid_data(mut self, datasets: Vec<WellDataset>) -> Self {
        self.valid = datasets;
        self
    }
    /// The field vocabulary mapping channel names to tokeniser fields (default: the union
    /// of the training and validation datasets' channels, in that order).
    pub fn fields(mut self, fields: FieldVocabulary) -> Self {
        self.fields = Some(fields);
        self
    }
    /// Saves checkpoints to this folder (every `checkpoint_every` steps, and on request).
    pub fn checkpoint_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }
    /// Continues the run saved in this checkpoint folder.
    pub fn resume_from(mut self, dir: impl Into<PathBuf>) -> Self {
        self.resume = Some(dir.into());
        self
    }
    /// The name shown in progress output (default: the task's).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Checks everything and builds the trainer.
    pub fn build(self) -> Result<Trainer<T>> {
        self.config.check()?;
        if let Some(c) = &self.communicator {
            let (w, l) = (c.world(), &self.config.loader);
            if (w.rank, w.size) != (l.rank, l.world_size) {
                return Err(ConfigError::Mismatch {
                    name: "communicator world (rank, size)",
                    value: format!("({}, {})", w.rank, w.size),
                    other: format!("the loader's shard ({}, {})", l.rank, l.world_size),
                }
                .into());
            }
        }
        // keep freed activations in the heap between steps (see nn::kernels::alloc)
        crate::nn::kernels::alloc::tune_allocator();
        if self.train.is_empty() {
            return Err(Error::Empty {
                what: "training datasets (TrainerBuilder::train_data)".into(),
            });
        }
        let spec = self.task.window_spec();
        for ds in self.train.iter().chain(&self.valid) {
            if ds.spec().n_frames() != spec.n_frames() {
                return Err(ConfigError::Mismatch {
                    name: "dataset window frames",
                    value: format!("{} ({})", ds.spec().n_frames(), ds.name()),
                    other: format!("{} that {} reads", spec.n_frames(), self.task.name()),
                }
                .into());
            }
        }
        let fields = self.fields.clone().unwrap_or_else(|| {
            FieldVocabulary::union(
                self.train
                    .iter()
                    .chain(&self.valid)
                    .map(|d| d.channel_names()),
            )
        });
        if fields.len() > self.task.total_fields() {
            return Err(ConfigError::Mismatch {
                name: "field vocabulary",
                value: format!("{} fields ({})", fields.len(), fields.names().join(", ")),
                other: format!("tokeniser total_fields {}", self.task.total_fields()),
            }
            .into());
        }
        let active =
            |ds: &WellDataset| fields.active(ds.channel_names(), &ds.header().field_of_channel());
        let train_fields = self.train.iter().map(active).collect::<Result<Vec<_>>>()?;
        let valid = self
            .valid
            .into_iter()
            .map(|ds| Ok((active(&ds)?, ds)))
            .collect::<Result<Vec<_>>>()?;
        let device = crate::device::varmap_device(self.task.varmap())?;
        let names = self.task.trainable_names()?;
        let mut optimiser = self.config.optimiser.build(&self.task, names)?;
        let schedule = self.config.schedule.build()?;
        let mut step = 0;
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        let mut history = History::new();
        let mut resumed = None;
        if let Some(dir) = &self.resume {
            let ckpt = Checkpoint::load(dir, &device)?;
            let now = SavedConfig {
                task: self.task.name().to_string(),
                model: self.task.config_json()?,
                trainer: self.config.clone(),
                fields: fields.clone(),
            };
            check_resume(dir, &ckpt, &now, |saved| {
                self.task.upgrade_config_json(saved)
            })?;
            ckpt.load_weights_into(self.task.varmap(), &WeightSelection::all())?;
            if let Some(state) = &ckpt.optimiser {
                optimiser.load_state(state)?;
            }
            if let Some(r) = &ckpt.rng {
                rng = r.restore();
            }
            history = ckpt.history()?.unwrap_or_default();
            step = ckpt.step;
            resumed = Some(format!(
                "resumed from {} at step {step} (weights, optimiser state, generator, history)",
                dir.display()
            ));
        }
        let loader_cfg =
            self.config.loader.clone().with_skip_batches(
                self.config.loader.skip_batches + step * self.config.accumulation,
            );
        history.effective_batch = self.config.effective_batch();
        let loader = Loader::new(self.train, loader_cfg)?;
        let label = self.label.unwrap_or_else(|| self.task.name().to_string());
        Ok(Trainer {
            task: self.task,
            config: self.config,
            fields,
            train_fields,
            loader,
            valid,
            optimiser,
            schedule,
            history,
            rng,
            step,
            device,
            checkpoint_dir: self.checkpoint_dir,
            label,
            last_save: Instant::now(),
            gradients_checked: false,
            resumed,
            announced: false,
            communicator: self.communicator,
        })
    }
}

/// Trains a [`TrainTask`] for bounded numbers of steps; see the module docs.
///
/// # Example
/// ```
/// use candle_core::Device;
/// use phystok::data::{Split, WellDataset, WindowSpec};
/// use phystok::tokeniser::TokeniserConfig;
/// use phystok::train::{Progress, TokeniserTask, Trainer, TrainerConfig};
///
/// // the tracked sample (data/README.md); any Well dataset directory will do
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample/euler_multi_quadrants_periodicBC");
/// let spec = WindowSpec::new(9, 1);
/// let device = phystok::DeviceChoice::Cpu.device()?; // or DeviceChoice::Cuda(0)
/// let tokeniser = TokeniserConfig::tiny().with_total_fields(5).init(&device)?;
/// let config = TrainerConfig::quick_tokeniser(4).with_progress(Progress::Quiet);
/// let mut trainer = Trainer::builder(TokeniserTask::new(tokeniser), config)
///     .train_data(vec![WellDataset::open(&dir, Split::Train, spec)?])
///     .valid_data(vec![WellDataset::open(&dir, Split::Valid, spec)?])
///     .build()?;
/// let history = trainer.fit()?; // the run's 4 steps; renders in a notebook: loss and validation curves
/// assert_eq!(history.steps.len(), 4);
/// assert_eq!(history.validation.len(), 4); // every step, for a 4-step preset
/// # Ok::<(), phystok::Error>(())
/// ```
pub struct Trainer<T: TrainTask> {
    task: T,
    config: TrainerConfig,
    fields: FieldVocabulary,
    train_fields: Vec<ActiveFields>,
    loader: Loader,
    valid: Vec<(ActiveFields, WellDataset)>,
    optimiser: Box<dyn Optimiser>,
    schedule: LrSchedule,
    history: History,
    rng: ChaCha8Rng,
    step: usize,
    device: Device,
    checkpoint_dir: Option<PathBuf>,
    label: String,
    last_save: Instant,
    gradients_checked: bool,
    resumed: Option<String>,
    /// Whether the effective batch was printed (once per trainer).
    announced: bool,
    /// Averages gradients over a data-parallel world (`None`: the plain path).
    communicator: Option<Box<dyn Communicator>>,
}

impl<T: TrainTask> std::fmt::Debug for Trainer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("task", &self.task.name())
            .field("step", &self.step)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<T: TrainTask> Trainer<T> {
    /// Starts building a trainer of `task` with `config`.
    pub fn builder(task: T, config: TrainerConfig) -> TrainerBuilder<T> {
        TrainerBuilder {
            task,
            config,
            train: Vec::new(),
            valid: Vec::new(),
            fields: None,
            checkpoint_dir: None,
            resume: None,
            label: None,
            communicator: None,
        }
    }

    /// The task (model and weights).
    pub fn task(&self) -> &T {
        &self.task
    }
    /// The task, giving up the trainer.
    pub fn into_task(self) -> T {
        self.task
    }
    /// The settings.
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }
    /// The field vocabulary.
    pub fn fields(&self) -> &FieldVocabulary {
        &self.fields
    }
    /// Optimiser steps taken.
    pub fn step(&self) -> usize {
        self.step
    }
    /// Everything recorded so far.
    pub fn history(&self) -> &History {
        &self.history
    }
    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }
    /// The validation datasets with their fields.
    pub fn valid_data(&self) -> &[(ActiveFields, WellDataset)] {
        &self.valid
    }
    /// What was resumed ("resumed from DIR at step N (…)"), when the trainer was built with
    /// [`TrainerBuilder::resume_from`].
    pub fn resumed(&self) -> Option<&str> {
        self.resumed.as_deref()
    }

    /// Trains until the run's length ([`TrainerConfig::steps`]) and returns the whole
    /// history; nothing when it is already there (a resumed run continues where it stopped).
    ///
    /// # Errors
    /// As [`Trainer::fit_steps`].
    pub fn fit(&mut self) -> Result<History> {
        self.fit_steps(self.config.steps.saturating_sub(self.step))
    }

    /// Trains `n` more steps (a bounded piece of a run, say one notebook cell's worth) and
    /// returns the whole history so far.
    ///
    /// Checkpoints (when a folder is set) come every [`TrainerConfig::checkpoint_every`]
    /// steps and whenever [`TrainerConfig::checkpoint_every_s`] seconds have passed since
    /// the last one. A SIGINT or SIGTERM during the call finishes the current step, saves
    /// a checkpoint and returns [`Error::Interrupted`].
    ///
    /// # Errors
    /// [`Error::Divergence`] when a loss or gradient is NaN or infinite, naming the step and
    /// the first non-finite tensor (the weights are those of the step before; a checkpoint
    /// folder keeps its last good checkpoint), [`Error::MissingGradient`] when a trainable
    /// variable receives no gradient at the first step (unless
    /// [`MissingGradients::Warn`]), [`Error::Interrupted`], and any data or model error.
    pub fn fit_steps(&mut self, n: usize) -> Result<History> {
        check_tensor_ids(self.task.varmap())?;
        if n > 0 && self.config.progress != crate::train::Progress::Quiet {
            // a notebook streams stdout (stderr reads as an error there); a terminal stderr
            let say = |line: String| {
                if self.config.progress.resolve() == crate::train::Progress::Notebook {
                    println!("{line}");
                } else {
                    eprintln!("{line}");
                }
            };
            if let Some(line) = &self.resumed {
                say(format!("{}: {line}", self.label));
            }
            if !self.announced {
                let c = &self.config;
                say(format!(
                    "{}: effective batch {} ({} per micro-batch × {} accumulated × {} process{})",
                    self.label,
                    c.effective_batch(),
                    c.loader.batch_size,
                    c.accumulation,
                    c.loader.world_size,
                    if c.loader.world_size == 1 { "" } else { "es" }
                ));
            }
        }
        self.announced = true;
        let interrupts = InterruptGuard::install();
        let mut reporter = Reporter::start(self.config.progress, &self.label, n);
        let start = Instant::now();
        let offset = self.history.steps.last().map_or(0.0, |r| r.wall_s);
        for done in 1..=n {
            self.train_step(offset + start.elapsed().as_secs_f64())?;
            if let Some(sig) = interrupts.pending() {
                let saved = match self.checkpoint_dir.clone() {
                    Some(dir) => {
                        self.save_checkpoint(&dir)?;
                        Some(dir)
                    }
                    None => None,
                };
                reporter.finish(&self.history);
                return Err(Error::Interrupted {
                    signal: signal_name(sig).to_string(),
                    step: self.step,
                    checkpoint: saved,
                });
            }
            let leader = self
                .communicator
                .as_ref()
                .is_none_or(|c| c.world().is_leader());
            let validated = leader
                && self.config.validate_every > 0
                && self.step.is_multiple_of(self.config.validate_every)
                && !self.valid.is_empty();
            if validated {
                let record = self.validate()?;
                self.history.push_validation(record);
            }
            let by_steps = self.config.checkpoint_every > 0
                && self.step.is_multiple_of(self.config.checkpoint_every);
            let by_time = self.config.checkpoint_every_s > 0.0
                && self.last_save.elapsed().as_secs_f64() >= self.config.checkpoint_every_s;
            if leader
                && (by_steps || by_time)
                && let Some(dir) = self.checkpoint_dir.clone()
            {
                self.save_checkpoint(dir)?;
                self.last_save = Instant::now();
            }
            reporter.update(done, &self.history, validated);
        }
        reporter.finish(&self.history);
        Ok(self.history.clone())
    }

    fn train_step(&mut self, wall_s: f64) -> Result<()> {
        let lr = self.schedule.lr(self.step);
        self.optimiser.set_lr(lr);
        let k = self.config.accumulation.max(1);
        let mut grads: Option<candle_core::backprop::GradStore> = None;
        let mut value = 0f32;
        for _ in 0..k {
            let batch = self.loader.next()?;
            let fields = self.train_fields[batch.dataset].clone();
            let xs = coarsen_space(&batch.into_tensor(&self.device)?, self.config.coarsen)?;
            self.task.reseed(self.rng.next_u64());
            let loss = self.task.loss(&xs, &fields)?;
            let micro = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
            if !micro.is_finite() {
                return Err(Error::Divergence {
                    step: self.step + 1,
                    value: micro,
                    tensor: "loss".into(),
                });
            }
            if k == 1 {
                // the plain path, bit for bit
                value = micro;
                grads = Some(loss.backward()?);
            } else {
                value += micro / k as f32;
                let g = (loss / k as f64)?.backward()?;
                grads = Some(match grads {
                    None => g,
                    Some(sum) => add_gradients(self.task.varmap(), sum, &g)?,
                });
            }
        }
        let grads = grads.ok_or_else(|| Error::Msg("no micro-batch".into()))?;
        // the mean over the world before clipping (inside the optimiser step)
        let grads = match &self.communicator {
            Some(comm) => {
                let names = self.task.trainable_names()?;
                average_gradients(comm.as_ref(), self.task.varmap(), &names, grads)?
            }
            None => grads,
        };
        if !self.gradients_checked {
            self.check_gradients(&grads)?;
        }
        // every optimiser refuses a non-finite gradient norm before it updates anything
        let stats = match self.optimiser.step(&grads) {
            Err(Error::NonFinite { what }) => {
                let names = self.task.trainable_names()?;
                let first = first_non_finite_gradient(self.task.varmap(), &names, &grads)?;
                let (tensor, value) = match first {
                    Some((name, value)) => (format!("gradient of {name}"), value),
                    None => (what, f32::NAN),
                };
                return Err(Error::Divergence {
                    step: self.step + 1,
                    value,
                    tensor,
                });
            }
            other => other?,
        };
        self.step = stats.step;
        self.history
            .push_step(StepRecord::from_stats(&stats, value as f64, wall_s));
        Ok(())
    }

    /// At the first step this trainer takes: every trainable variable must have received a
    /// gradient ([`TrainerConfig::missing_gradients`] says whether a miss is an error or a
    /// warning recorded in the history).
    fn check_gradients(&mut self, grads: &candle_core::backprop::GradStore) -> Result<()> {
        let names = self.task.trainable_names()?;
        let optional = self.task.sometimes_unused();
        let mut missing = without_gradient(self.task.varmap(), &names, grads);
        missing.retain(|n| !optional.contains(n));
        self.gradients_checked = true;
        let warning =
            missing_gradient_outcome(self.config.missing_gradients, self.step + 1, missing)?;
        if let Some(line) = warning {
            if self.config.progress != crate::train::Progress::Quiet {
                eprintln!("{}: warning: {line}", self.label);
            }
            self.history.warnings.push(line);
        }
        Ok(())
    }

    /// Scores the model on the validation windows now: VRMSE and NEPS bands, the mean over
    /// validation datasets of each dataset's mean over windows, frames and fields.
    pub fn validate(&self) -> Result<ValidationRecord> {
        if self.valid.is_empty() {
            return Err(Error::Empty {
                what: "validation datasets (TrainerBuilder::valid_data)".into(),
            });
        }
        let mut sets = Vec::new();
        for (fields, ds) in &self.valid {
            let scoring = WindowScoring::default()
                .with_windows(self.config.validation_windows)
                .with_batch_size(self.config.loader.batch_size.max(4))
                .with_coarsen(self.config.coarsen);
            let grid = predict_grid(&self.task, ds, fields, &scoring)?;
            sets.push(grid.summary().mean);
        }
        let s = ScoreSet::mean_of_sets(sets.iter());
        Ok(ValidationRecord {
            step: self.step,
            vrmse: s.vrmse,
            neps_low: s.neps.low,
            neps_mid: s.neps.mid,
            neps_high: s.neps.high,
        })
    }

    /// Validates now ([`Trainer::validate`]) and appends the record to the history.
    pub fn record_validation(&mut self) -> Result<ValidationRecord> {
        let record = self.validate()?;
        self.history.push_validation(record);
        Ok(record)
    }

    /// Saves a checkpoint to `dir` atomically (a crash while saving leaves the previous
    /// one whole).
    pub fn save_checkpoint(&self, dir: impl AsRef<Path>) -> Result<()> {
        let saved = SavedConfig {
            task: self.task.name().to_string(),
            model: self.task.config_json()?,
            trainer: self.config.clone(),
            fields: self.fields.clone(),
        };
        Checkpoint::new(self.step)
            .with_weights(self.task.varmap())?
            .with_config(&saved)?
            .with_optimiser(self.optimiser.state()?)
            .with_rng(&self.rng)
            .with_history(&self.history)?
            .save(dir)
    }

    /// Shows the history inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        self.history.evcxr_display();
    }
}

/// `sum + g` for every variable of `varmap` with a gradient in either (micro-batches of one
/// accumulated step).
fn add_gradients(
    varmap: &candle_nn::VarMap,
    mut sum: candle_core::backprop::GradStore,
    g: &candle_core::backprop::GradStore,
) -> Result<candle_core::backprop::GradStore> {
    for var in varmap.all_vars() {
        let t = var.as_tensor();
        if let Some(b) = g.get(t) {
            let total = match sum.get(t) {
                Some(a) => (a + b)?,
                None => b.clone(),
            };
            sum.insert(t, total);
        }
    }
    Ok(sum)
}
