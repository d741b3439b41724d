//! [`TrainerConfig`]: what a [`Trainer`](super::Trainer)(super::Trainer) does each step (optimiser,
//! schedule, data, validation, checkpoints, progress), with the paper's presets (Table 6,
//! Appendix C) and short CPU ones.

use serde::{Deserialize, Serialize};

use super::progress::Progress;
use super::task::TrainTask;
use crate::data::LoaderConfig;
use crate::optim::ScheduleConfig;
use crate::optim::{AdamWConfig, SoapConfig};
use crate::optim::{Optimiser, ParamGroup};
use crate::{ConfigError, Result};

/// Which optimiser a [`Trainer`](super::Trainer) builds.
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

    pub(crate) fn build(
        &self,
        task: &dyn TrainTask,
        names: Vec<String>,
    ) -> Result<Box<dyn Optimiser>> {
        let groups = vec![ParamGroup::new("trainable", names)];
        Ok(match *self {
            OptimiserConfig::AdamW(c) => Box::new(c.build_groups(task.varmap(), groups)?),
            OptimiserConfig::Soap(c) => Box::new(c.build_groups(task.varmap(), groups)?),
        })
    }
}

/// What a [`Trainer`](super::Trainer) does when a trainable variable receives no gradient
/// (checked at the first step it takes): such a variable would silently never train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MissingGradients {
    /// Stop with [`Error::MissingGradient`](crate::Error::MissingGradient) naming them.
    #[default]
    Error,
    /// Train on, and record a warning naming them in the history.
    Warn,
}

/// Default wall-clock interval of periodic checkpoints, seconds.
pub const CHECKPOINT_EVERY_S: f64 = 300.0;

fn checkpoint_every_s() -> f64 {
    CHECKPOINT_EVERY_S
}

/// Steps between periodic checkpoints of a `steps`-step CPU preset (ten per run).
fn quick_checkpoint_every(steps: usize) -> usize {
    (steps / 10).max(1)
}

/// Settings of a [`Trainer`](super::Trainer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    /// The run's length in optimiser steps: what [`Trainer::fit`](super::Trainer::fit)
    /// trains to, and what a preset's per-step schedule spans.
    #[serde(default)]
    pub steps: usize,
    /// The optimiser (its learning rate is replaced by the schedule's at every step).
    pub optimiser: OptimiserConfig,
    /// The learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Batch size, unique batches before recycling, seed and prefetch of the training data.
    pub loader: LoaderConfig,
    /// Validate every this many steps (0: only when asked, [`Trainer::validate`](super::Trainer::validate)).
    pub validate_every: usize,
    /// Validation windows per validation dataset, spread evenly over it.
    pub validation_windows: usize,
    /// Save a checkpoint every this many steps when a checkpoint folder is set (0: never
    /// on its own; [`Trainer::save_checkpoint`](super::Trainer::save_checkpoint) still works).
    pub checkpoint_every: usize,
    /// Where progress shows.
    pub progress: Progress,
    /// Seed of the per-step randomness (compression draws, drop path).
    pub seed: u64,
    /// Spatial coarse-graining of every window before training and validation
    /// ([`coarsen_space`](crate::data::coarsen_space); 1: none).
    #[serde(default = "one")]
    pub coarsen: usize,
    /// Also save a checkpoint when this many seconds of wall time have passed since the last
    /// one (when a checkpoint folder is set; 0: by steps only).
    #[serde(default = "checkpoint_every_s")]
    pub checkpoint_every_s: f64,
    /// What a trainable variable without a gradient does at the first step.
    #[serde(default)]
    pub missing_gradients: MissingGradients,
    /// Micro-batches per optimiser step: their gradients are summed, each loss divided by
    /// their number, so one step sees `loader.batch_size × accumulation` windows per process
    /// ([`TrainerConfig::effective_batch`]). 1: no accumulation, the plain path bit for bit.
    #[serde(default = "one")]
    pub accumulation: usize,
}

fn one() -> usize {
    1
}

impl TrainerConfig {
    /// Tokeniser pretraining as in the paper (Table 6, Appendix C): SOAP at a constant 5e-4,
    /// betas (0.95, 0.95), weight decay 0.01, clipping at 0.5; batches of 2 per GPU from
    /// shards of 21,000 unique batches; 168,000 steps in the paper. The paper's effective
    /// batch of 16 (2 per GPU on 8 GPUs, Table 6) as 8 accumulated micro-batches of 2 in one
    /// process.
    pub fn paper_tokeniser() -> Self {
        TrainerConfig {
            steps: 168_000,
            optimiser: OptimiserConfig::Soap(SoapConfig::paper_tokeniser()),
            schedule: ScheduleConfig::paper_tokeniser(),
            loader: LoaderConfig::new(2).with_unique_batches(21_000),
            validate_every: 2_100,
            validation_windows: 512,
            checkpoint_every: 2_100,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
            checkpoint_every_s: CHECKPOINT_EVERY_S,
            missing_gradients: MissingGradients::Error,
            accumulation: 8,
        }
    }

    /// Rollout training as in the paper (Table 6, Appendix C): AdamW with peak 5e-5,
    /// weight decay 1e-4, ε 1e-10, clipping at 5.0; the inverse-square-root schedule of
    /// equations (7)–(10) over 14 epochs of 2,100 steps (29,400 steps), counted in steps so
    /// that its cooldown happens ([`ScheduleConfig::paper_rollout`]). The paper does not give
    /// the warmup and cooldown lengths: one epoch each.
    ///
    /// Batch: the paper's effective 16 (2 per GPU on 8 GPUs, Table 6) as 8 accumulated
    /// micro-batches of 2 in one process.
    pub fn paper_rollout() -> Self {
        TrainerConfig {
            steps: 29_400,
            optimiser: OptimiserConfig::AdamW(AdamWConfig::paper_rollout()),
            schedule: ScheduleConfig::paper_rollout(1, 1),
            loader: LoaderConfig::new(2).with_unique_batches(2_100),
            validate_every: 2_100,
            validation_windows: 512,
            checkpoint_every: 2_100,
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
            checkpoint_every_s: CHECKPOINT_EVERY_S,
            missing_gradients: MissingGradients::Error,
            accumulation: 8,
        }
    }

    /// A short CPU tokeniser pretraining of `steps` steps: AdamW (SOAP's eigendecompositions
    /// are slow on 2 cores) at a constant 2e-3, clipping at 0.5, batch 2.
    pub fn quick_tokeniser(steps: usize) -> Self {
        TrainerConfig {
            steps,
            optimiser: OptimiserConfig::AdamW(
                AdamWConfig::paper_rollout()
                    .with_weight_decay(0.01)
                    .with_clip(crate::optim::GradClip::GlobalNorm(0.5)),
            ),
            schedule: ScheduleConfig::constant(2e-3),
            loader: LoaderConfig::new(2),
            validate_every: (steps / 4).max(1),
            validation_windows: 16,
            checkpoint_every: quick_checkpoint_every(steps),
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
            checkpoint_every_s: CHECKPOINT_EVERY_S,
            missing_gradients: MissingGradients::Error,
            accumulation: 1,
        }
    }

    /// A short CPU rollout training of `steps` steps: the paper's AdamW and inverse square
    /// root schedule per step (warmup 5 %, cooldown 10 % of the run), peak 1e-3, batch 2.
    pub fn quick_rollout(steps: usize) -> Self {
        let warmup = (steps / 20).max(1);
        let cooldown = (steps / 10).max(1);
        TrainerConfig {
            steps,
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
            checkpoint_every: quick_checkpoint_every(steps),
            progress: Progress::Auto,
            seed: 0,
            coarsen: 1,
            checkpoint_every_s: CHECKPOINT_EVERY_S,
            missing_gradients: MissingGradients::Error,
            accumulation: 1,
        }
    }

    /// Sets the run's length, stretching a per-step schedule to it
    /// ([`ScheduleConfig::rescaled`]) and keeping the number of validations when they were
    /// periodic.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.schedule = self.schedule.rescaled(self.steps, steps);
        if self.validate_every > 0 && self.steps > 0 {
            let n = self.steps.div_ceil(self.validate_every).max(1);
            self.validate_every = (steps / n).max(1);
        }
        if self.checkpoint_every > 0 && self.steps > 0 {
            let n = self.steps.div_ceil(self.checkpoint_every).max(1);
            self.checkpoint_every = (steps / n).max(1);
        }
        self.steps = steps;
        self
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
    /// Sets the wall-clock checkpoint interval in seconds (0: by steps only).
    pub fn with_checkpoint_every_s(mut self, seconds: f64) -> Self {
        self.checkpoint_every_s = seconds;
        self
    }
    /// Sets what a trainable variable without a gradient does.
    pub fn with_missing_gradients(mut self, what: MissingGradients) -> Self {
        self.missing_gradients = what;
        self
    }
    /// Sets the micro-batches per optimiser step.
    pub fn with_accumulation(mut self, micro_batches: usize) -> Self {
        self.accumulation = micro_batches;
        self
    }
    /// Windows per optimiser step over all processes: micro-batch × accumulation × world
    /// size (the paper's Table 6: 16).
    pub fn effective_batch(&self) -> usize {
        self.loader.batch_size * self.accumulation * self.loader.world_size
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
        if self.accumulation == 0 {
            return Err(ConfigError::NotPositive {
                name: "accumulation",
                value: 0.0,
            });
        }
        if self.coarsen == 0 {
            return Err(ConfigError::NotPositive {
                name: "coarsen",
                value: 0.0,
            });
        }
        self.optimiser.check()?;
        self.schedule.check()?;
        self.loader.check()?;
        if !(self.checkpoint_every_s >= 0.0 && self.checkpoint_every_s.is_finite()) {
            return Err(ConfigError::NotPositive {
                name: "checkpoint_every_s",
                value: self.checkpoint_every_s,
            });
        }
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
            ("steps", self.steps.to_string()),
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
            ("checkpoint every s", self.checkpoint_every_s.to_string()),
            ("missing gradients", format!("{:?}", self.missing_gradients)),
            ("seed", self.seed.to_string()),
            ("coarsen", self.coarsen.to_string()),
        ];
        crate::report::Table::settings("TrainerConfig", rows).to_html()
    }

    /// Shows the settings inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}
