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

use candle_core::{Device, Tensor};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::history::{History, StepRecord, ValidationRecord};
use super::optimiser::{Optimiser, ParamGroup, sorted_vars};
use super::progress::{Progress, Reporter};
use super::schedule::{LrSchedule, ScheduleConfig};
use super::task::TrainTask;
use super::{AdamWConfig, Checkpoint, SoapConfig, WeightSelection, global_grad_norm};
use crate::data::{
    ActiveFields, FieldVocabulary, Loader, LoaderConfig, WellDataset, coarsen_space,
};
use crate::metrics::{MetricGrid, MetricsConfig, ScoreSet};
use crate::{ConfigError, Error, Result};

/// Which optimiser a [`Trainer`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum OptimiserConfig {
    /// AdamW (rollout training, Table 6).
    AdamW(AdamWConfig),
    /// SOAP (tokeniser pretraining, Table 6).
    Soap(SoapConfig),
}

impl OptimiserConfig {
    fn check(&self) -> Result<(), ConfigError> {
        match self {
            OptimiserConfig::AdamW(c) => c.check(),
            OptimiserConfig::Soap(c) => c.check(),
        }
    }

    fn build(&self, task: &dyn TrainTask, names: Vec<String>) -> Result<Box<dyn Optimiser>> {
        let groups = vec![ParamGroup::new("trainable", names)];
        Ok(match *self {
            OptimiserConfig::AdamW(c) => Box::new(c.build_groups(task.varmap(), groups)?),
            OptimiserConfig::Soap(c) => Box::new(c.build_groups(task.varmap(), groups)?),
        })
    }
}

/// Settings of a [`Trainer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// The optimiser (its learning rate is replaced by the schedule's at every step).
    pub optimiser: OptimiserConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Batch size, unique batches before recycling, seed and prefetch of the training data.
    pub loader: LoaderConfig,
    /// Validate every this many steps (0: only when asked, [`Trainer::validate`]).
    pub validate_every: usize,
    /// Validation windows per validation dataset, spread evenly over it.
    pub validation_windows: usize,
    /// Save a checkpoint every this many steps when a checkpoint folder is set (0: never
    /// on its own; [`Trainer::save_checkpoint`] still works).
    pub checkpoint_every: usize,
    /// Where progress shows.
    pub progress: Progress,
    /// Seed of the per-step randomness (compression draws, drop path).
    pub seed: u64,
    /// Spatial coarse-graining of every window before training and validation
    /// ([`coarsen_space`]; 1: none).
    #[serde(default = "one")]
    pub coarsen: usize,
}

fn one() -> usize {
    1
}

impl TrainerConfig {
    /// Tokeniser pretraining as in the paper (Table 6, Appendix C): SOAP at a constant 5e-4,
    /// betas (0.95, 0.95), weight decay 0.01, clipping at 0.5; batches of 2 per GPU from
    /// shards of 21,000 unique batches; 168,000 steps in the paper.
    pub fn paper_tokeniser() -> Self {
        TrainerConfig {
            optimiser: OptimiserConfig::Soap(SoapConfig::paper_tokeniser()),
            schedule: ScheduleConfig::paper_tokeniser(),
            loader: LoaderConfig::new(2).with_unique_batches(21_000),
            validate_every: 2_100,
            validation_windows: 512,
            checkpoint_every: 2_100,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
        }
    }

    /// Rollout training as in the paper (Table 6, Appendix C): AdamW with peak 5e-5,
    /// weight decay 1e-4, ε 1e-10, clipping at 5.0; the inverse-square-root schedule of
    /// equations (7)–(10) stepped once per epoch of 2,100 steps over 14 epochs (29,400
    /// steps). The paper does not give the warmup and cooldown lengths: one epoch each.
    pub fn paper_rollout() -> Self {
        TrainerConfig {
            optimiser: OptimiserConfig::AdamW(AdamWConfig::paper_rollout()),
            schedule: ScheduleConfig::paper_rollout(1, 1),
            loader: LoaderConfig::new(2).with_unique_batches(2_100),
            validate_every: 2_100,
            validation_windows: 512,
            checkpoint_every: 2_100,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
        }
    }

    /// A short CPU tokeniser pretraining of `steps` steps: AdamW (SOAP's eigendecompositions
    /// are slow on 2 cores) at a constant 2e-3, clipping at 0.5, batch 2.
    pub fn quick_tokeniser(steps: usize) -> Self {
        TrainerConfig {
            optimiser: OptimiserConfig::AdamW(
                AdamWConfig::paper_rollout()
                    .with_weight_decay(0.01)
                    .with_clip(super::GradClip::GlobalNorm(0.5)),
            ),
            schedule: ScheduleConfig::constant(2e-3),
            loader: LoaderConfig::new(2),
            validate_every: (steps / 4).max(1),
            validation_windows: 16,
            checkpoint_every: 0,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
        }
    }

    /// A short CPU rollout training of `steps` steps: the paper's AdamW and inverse square
    /// root schedule per step (warmup 5 %, cooldown 10 % of the run), peak 1e-3, batch 2.
    pub fn quick_rollout(steps: usize) -> Self {
        let warmup = (steps / 20).max(1);
        let cooldown = (steps / 10).max(1);
        TrainerConfig {
            optimiser: OptimiserConfig::AdamW(AdamWConfig::paper_rollout()),
            schedule: ScheduleConfig::inverse_sqrt(
                1e-3,
                warmup,
                cooldown,
                steps.max(warmup + cooldown + 1),
            ),
            loader: LoaderConfig::new(2),
            validate_every: (steps / 4).max(1),
            validation_windows: 16,
            checkpoint_every: 0,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
        }
    }

    /// Sets the optimiser.
    pub fn with_optimiser(mut self, optimiser: OptimiserConfig) -> Self {
        self.optimiser = optimiser;
        self
    }
    /// Sets the schedule.
    pub fn with_schedule(mut self, schedule: ScheduleConfig) -> Self {
        self.schedule = schedule;
        self
    }
    /// Sets the loader settings.
    pub fn with_loader(mut self, loader: LoaderConfig) -> Self {
        self.loader = loader;
        self
    }
    /// Sets the batch size.
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.loader.batch_size = batch_size;
        self
    }
    /// Sets the validation interval (0: never on its own).
    pub fn with_validate_every(mut self, steps: usize) -> Self {
        self.validate_every = steps;
        self
    }
    /// Sets the validation windows per dataset.
    pub fn with_validation_windows(mut self, n: usize) -> Self {
        self.validation_windows = n;
        self
    }
    /// Sets the checkpoint interval (0: never on its own).
    pub fn with_checkpoint_every(mut self, steps: usize) -> Self {
        self.checkpoint_every = steps;
        self
    }
    /// Sets where progress shows.
    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }
    /// Sets the seed of the per-step randomness and of the data order.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.loader.seed = seed;
        self
    }

    /// Sets the spatial coarse-graining factor.
    pub fn with_coarsen(mut self, k: usize) -> Self {
        self.coarsen = k;
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.coarsen == 0 {
            return Err(ConfigError::NotPositive {
                name: "coarsen",
                value: 0.0,
            });
        }
        self.optimiser.check()?;
        self.schedule.check()?;
        self.loader.check()?;
        if self.validation_windows == 0 {
            return Err(ConfigError::NotPositive {
                name: "validation_windows",
                value: 0.0,
            });
        }
        Ok(())
    }

    /// The settings as an HTML table.
    pub fn to_html(&self) -> String {
        let rows = [
            ("optimiser", format!("{:?}", self.optimiser)),
            ("schedule", format!("{:?}", self.schedule)),
            ("batch size", self.loader.batch_size.to_string()),
            (
                "unique batches",
                format!("{:?}", self.loader.unique_batches),
            ),
            ("validate every", self.validate_every.to_string()),
            ("validation windows", self.validation_windows.to_string()),
            ("checkpoint every", self.checkpoint_every.to_string()),
            ("seed", self.seed.to_string()),
            ("coarsen", self.coarsen.to_string()),
        ];
        let mut html = String::from("<table><tr><th>setting</th><th>value</th></tr>");
        for (k, v) in rows {
            html.push_str(&format!(
                "<tr><td>{k}</td><td>{}</td></tr>",
                crate::report::html_escape(&v)
            ));
        }
        html.push_str("</table>");
        html
    }

    /// Shows the settings inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}

/// What a checkpoint's `config.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedConfig {
    task: String,
    model: serde_json::Value,
    trainer: TrainerConfig,
    fields: FieldVocabulary,
}

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
}

impl<T: TrainTask> TrainerBuilder<T> {
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
        if let Some(dir) = &self.resume {
            let ckpt = Checkpoint::load(dir, &device)?;
            ckpt.load_weights_into(self.task.varmap(), &WeightSelection::all())?;
            if let Some(state) = &ckpt.optimiser {
                optimiser.load_state(state)?;
            }
            if let Some(r) = &ckpt.rng {
                rng = r.restore();
            }
            history = ckpt.history()?.unwrap_or_default();
            step = ckpt.step;
        }
        let loader_cfg = self
            .config
            .loader
            .clone()
            .with_skip_batches(self.config.loader.skip_batches + step);
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
            wall_offset: 0.0,
        })
    }
}

/// Trains a [`TrainTask`] for bounded numbers of steps; see the module docs.
///
/// # Example
/// ```
/// use candle_core::Device;
/// use phystok::data::{Split, WellDataset, WindowSpec};
/// use phystok::sim::{GenerateConfig, System, generate};
/// use phystok::tokeniser::TokeniserConfig;
/// use phystok::train::{Progress, TokeniserTask, Trainer, TrainerConfig};
///
/// let root = tempfile::tempdir().unwrap();
/// let dir = generate(
///     &GenerateConfig::new(System::EulerPeriodic, root.path())
///         .with_resolution(32)
///         .with_steps(10),
/// )?;
/// let spec = WindowSpec::new(9, 1);
/// let device = phystok::DeviceChoice::Cpu.device()?; // or DeviceChoice::Cuda(0)
/// let task = TokeniserTask::new(TokeniserConfig::tiny().with_total_fields(5), &device)?;
/// let config = TrainerConfig::quick_tokeniser(4).with_progress(Progress::Quiet);
/// let mut trainer = Trainer::builder(task, config)
///     .train_data(vec![WellDataset::open(&dir, Split::Train, spec)?])
///     .valid_data(vec![WellDataset::open(&dir, Split::Valid, spec)?])
///     .build()?;
/// let history = trainer.fit_steps(4)?; // renders in a notebook: loss and validation curves
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
    wall_offset: f64,
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

    /// Trains `n` more steps and returns the whole history so far.
    ///
    /// # Errors
    /// [`Error::Divergence`] when a loss or gradient is NaN or infinite (the weights are
    /// those of the step before; a checkpoint folder keeps its last good checkpoint), and
    /// any data or model error.
    pub fn fit_steps(&mut self, n: usize) -> Result<History> {
        check_tensor_ids(self.task.varmap())?;
        let mut reporter = Reporter::start(self.config.progress, &self.label, n);
        let start = Instant::now();
        let offset = self
            .history
            .steps
            .last()
            .map_or(self.wall_offset, |r| r.wall_s);
        for done in 1..=n {
            self.train_step(offset + start.elapsed().as_secs_f64())?;
            let validated = self.config.validate_every > 0
                && self.step % self.config.validate_every == 0
                && !self.valid.is_empty();
            if validated {
                let record = self.validate()?;
                self.history.push_validation(record);
            }
            if self.config.checkpoint_every > 0 && self.step % self.config.checkpoint_every == 0 {
                if let Some(dir) = self.checkpoint_dir.clone() {
                    self.save_checkpoint(dir)?;
                }
            }
            reporter.update(done, &self.history, validated);
        }
        reporter.finish(&self.history);
        Ok(self.history.clone())
    }

    fn train_step(&mut self, wall_s: f64) -> Result<()> {
        let lr = self.schedule.lr(self.step);
        self.optimiser.set_lr(lr);
        let batch = self.loader.next()?;
        let fields = self.train_fields[batch.dataset].clone();
        let xs = coarsen_space(&batch.into_tensor(&self.device)?, self.config.coarsen)?;
        self.task.reseed(self.rng.next_u64())?;
        let loss = self.task.loss(&xs, &fields)?;
        let value = loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?;
        if !value.is_finite() {
            return Err(Error::Divergence {
                step: self.step + 1,
                value,
            });
        }
        let grads = loss.backward()?;
        let vars: Vec<_> = sorted_vars(self.task.varmap())?
            .into_iter()
            .filter(|(n, _)| self.optimiser.var_names().binary_search(n).is_ok())
            .map(|(_, v)| v)
            .collect();
        let norm = global_grad_norm(&grads, &vars)?;
        if !norm.is_finite() {
            return Err(Error::Divergence {
                step: self.step + 1,
                value: norm as f32,
            });
        }
        let stats = self.optimiser.step(&grads)?;
        self.step = stats.step;
        self.history
            .push_step(StepRecord::from_stats(&stats, value as f64, wall_s));
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
            let idx = spread_indices(ds.len(), self.config.validation_windows);
            let grid = predict_grid(
                &self.task,
                ds,
                fields,
                &idx,
                self.config.loader.batch_size.max(4),
                self.config.coarsen,
            )?;
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

/// The number inside a `TensorId` (candle keeps it private; its `Debug` is `TensorId(n)`).
fn id_number(t: &Tensor) -> Option<usize> {
    let s = format!("{:?}", t.id());
    s.trim_start_matches("TensorId(")
        .trim_end_matches(')')
        .parse()
        .ok()
}

/// Fails when tensors made now could share ids with the model's weights, which happens in
/// evcxr when a model built in one cell is trained in another: each cell links its own
/// copy of candle, whose tensor-id counter starts again, and the gradients of different
/// tensors would be mixed up silently.
fn check_tensor_ids(varmap: &candle_nn::VarMap) -> Result<()> {
    let probe = Tensor::zeros(1, candle_core::DType::F32, &candle_core::Device::Cpu)?;
    let Some(now) = id_number(&probe) else {
        return Ok(());
    };
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Msg("varmap lock poisoned".into()))?;
    if let Some(max) = data.values().filter_map(|v| id_number(v.as_tensor())).max() {
        if max >= now {
            return Err(Error::Msg(format!(
                "the model's weights (tensor ids up to {max}) were made by another copy of candle \
                 than this code (next id {now}); in evcxr, build and train a model in the same \
                 cell: each cell links its own candle and gradients would be mixed up"
            )));
        }
    }
    Ok(())
}

/// `n` indices spread evenly over `0..len` (all of them when `n ≥ len`).
pub fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Predicts the windows `indices` of `ds` (coarsened `coarsen`×) in batches of `batch` and
/// scores every predicted frame against the truth (The Well's metrics), samples in the
/// order of `indices`.
pub fn predict_grid<T: TrainTask + ?Sized>(
    task: &T,
    ds: &WellDataset,
    fields: &ActiveFields,
    indices: &[usize],
    batch: usize,
    coarsen: usize,
) -> Result<MetricGrid> {
    let device = crate::device::varmap_device(task.varmap())?;
    let shape: Vec<usize> = ds
        .spatial_shape()
        .iter()
        .map(|n| n / coarsen.max(1))
        .collect();
    let metrics = MetricsConfig::the_well().build(&shape)?;
    let mut grids = Vec::new();
    for chunk in indices.chunks(batch.max(1)) {
        let windows = chunk
            .iter()
            .map(|&i| ds.window(i)?.to_tensor(&device))
            .collect::<Result<Vec<_>>>()?;
        let xs = coarsen_space(&Tensor::stack(&windows, 0)?, coarsen)?;
        let (pred, target) = task.predict(&xs, fields)?;
        grids.push(metrics.evaluate_tensors(&pred, &target, Some(ds.channel_names().to_vec()))?);
    }
    MetricGrid::concat_samples(&grids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_ids_are_read_and_grow() {
        let a = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let (a, b) = (id_number(&a).unwrap(), id_number(&b).unwrap());
        assert!(b > a, "{a} then {b}");
        // weights made by this copy of candle pass the check
        let vm = candle_nn::VarMap::new();
        vm.get(
            2,
            "w",
            candle_nn::Init::Const(0.0),
            candle_core::DType::F32,
            &Device::Cpu,
        )
        .unwrap();
        check_tensor_ids(&vm).unwrap();
    }
}
