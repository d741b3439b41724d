//! [`BaselineTask`]: training one of The Well's benchmark models ([`Baseline`]) the way
//! its benchmark does: `n_in` context frames → the next frame, MSE, AdamW with a linear
//! warmup and a cosine decay ([`BaselineTask::the_well_recipe`]).

use candle_core::Tensor;
use candle_nn::VarMap;

use super::task::TrainTask;
use super::trainer_config::{OptimiserConfig, TrainerConfig};
use crate::Result;
use crate::baselines::Baseline;
use crate::data::{ActiveFields, LoaderConfig, WindowSpec};
use crate::emulator::Emulator;
use crate::nn::Mode;
use crate::optim::{AdamWConfig, GradClip, ScheduleConfig};

/// Next-frame training of a [`Baseline`]: every parameter trains (the classic U-Net's
/// batch-norm running statistics are buffers and stay out of the optimiser).
pub struct BaselineTask {
    model: Baseline,
}

impl std::fmt::Debug for BaselineTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaselineTask")
            .field("model", &self.model)
            .finish()
    }
}

impl BaselineTask {
    /// Trains `model`.
    pub fn new(model: Baseline) -> Self {
        BaselineTask { model }
    }

    /// The model.
    pub fn model(&self) -> &Baseline {
        &self.model
    }

    /// The model, giving up the task.
    pub fn into_model(self) -> Baseline {
        self.model
    }

    /// The Well's benchmark recipe over `steps` steps at peak learning rate `peak_lr`
    /// (REFERENCE.md: AdamW, weight decay 1e-4, linear warmup then cosine decay; The Well
    /// picks the best of several learning rates between 1e-4 and 1e-2 on validation): warmup
    /// 5 % of the run, batch `batch_size`, no gradient clipping.
    pub fn the_well_recipe(steps: usize, peak_lr: f64, batch_size: usize) -> TrainerConfig {
        let warmup = (steps / 20).max(1);
        TrainerConfig::quick_rollout(steps)
            .with_optimiser(OptimiserConfig::AdamW(
                AdamWConfig::torch_defaults()
                    .with_weight_decay(1e-4)
                    .with_lr(peak_lr)
                    .with_clip(GradClip::Off),
            ))
            .with_schedule(ScheduleConfig::cosine(
                peak_lr,
                warmup,
                steps.max(warmup + 1),
            ))
            .with_loader(LoaderConfig::new(batch_size))
    }
}

impl TrainTask for BaselineTask {
    fn name(&self) -> &'static str {
        "baseline training"
    }
    fn varmap(&self) -> &VarMap {
        self.model.varmap()
    }
    fn trainable_names(&self) -> Result<Vec<String>> {
        Ok(self.model.trainable_names())
    }
    fn total_fields(&self) -> usize {
        self.model.total_fields()
    }
    fn window_spec(&self) -> WindowSpec {
        WindowSpec::new(self.model.n_steps_input(), 1)
    }
    fn reseed(&self, _seed: u64) {
        // the baselines have no per-step randomness (no dropout or drop path)
    }
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        self.model.next_frame_loss(window, fields, Mode::Train)
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, Tensor)> {
        let t = self.model.n_steps_input();
        let pred = self.model.predict_next(&window.narrow(2, 0, t)?, fields)?;
        Ok((pred, window.narrow(2, t, 1)?))
    }
    fn config_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self.model.config())?)
    }
}
