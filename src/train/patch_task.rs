//! [`PatchTask`]: training a compute-adaptive [`PatchModel`] with the patch size drawn
//! uniformly from its sizes at every step (Mukhopadhyay et al. 2025, Section 3 and
//! Appendix A.4: "at each forward pass, randomly select a kernel size").

use std::sync::Mutex;

use candle_core::Tensor;
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::task::TrainTask;
use crate::Result;
use crate::data::{ActiveFields, WindowSpec};
use crate::emulator::Emulator;
use crate::freeze::FreezeStrategy;
use crate::nn::Mode;
use crate::patch::PatchModel;

/// Stream offset of the patch-size draws, so they never reuse another stream's numbers.
const PATCH_STREAM: u64 = 0x5851_F42D_4C95_7F2D;

/// Next-frame MSE training of a [`PatchModel`] (Appendix B.3), one patch size per step
/// drawn from a seeded ChaCha stream that the trainer restarts every step (so a resumed run
/// draws the same sizes). Validation predicts with the model's schedule.
#[derive(Debug)]
pub struct PatchTask {
    model: PatchModel,
    rng: Mutex<ChaCha8Rng>,
    drawn: Mutex<Vec<usize>>,
}

impl PatchTask {
    /// Trains `model`, all of its weights.
    pub fn new(model: PatchModel) -> Self {
        PatchTask {
            model,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(PATCH_STREAM)),
            drawn: Mutex::new(Vec::new()),
        }
    }
    /// The model.
    pub fn model(&self) -> &PatchModel {
        &self.model
    }
    /// The model, giving up the task.
    pub fn into_model(self) -> PatchModel {
        self.model
    }
    /// The patch sizes drawn so far, one per loss evaluation, in order.
    pub fn drawn_sizes(&self) -> Vec<usize> {
        self.drawn.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Draws the next patch size uniformly from the model's sizes.
    pub fn draw_size(&self) -> usize {
        let sizes = &self.model.config().sizes;
        let i = self
            .rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_range(0..sizes.len());
        let p = sizes[i];
        self.drawn.lock().unwrap_or_else(|e| e.into_inner()).push(p);
        p
    }
}

impl TrainTask for PatchTask {
    fn name(&self) -> &'static str {
        "compute-adaptive patch training"
    }
    fn varmap(&self) -> &VarMap {
        self.model.varmap()
    }
    fn trainable_names(&self) -> Result<Vec<String>> {
        FreezeStrategy::FullyTrainable.trainable_names(self.model.varmap())
    }
    fn total_fields(&self) -> usize {
        self.model.config().total_fields
    }
    fn window_spec(&self) -> WindowSpec {
        WindowSpec::new(self.model.config().n_steps_input, 1)
    }
    fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) =
            ChaCha8Rng::seed_from_u64(seed ^ PATCH_STREAM);
        self.model.reseed(seed);
    }
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        let p = self.draw_size();
        self.model.next_frame_loss(window, fields, p, Mode::Train)
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, Tensor)> {
        let t = self.model.config().n_steps_input;
        let pred = self.model.predict_next(&window.narrow(2, 0, t)?, fields)?;
        Ok((pred, window.narrow(2, t, 1)?))
    }
    fn sometimes_unused(&self) -> Vec<String> {
        // CSM pads by (base − p)/2 learned values: none at the base patch size, so a step
        // that draws it leaves the padding without a gradient
        self.model.varmap().data().lock().map_or_else(
            |_| Vec::new(),
            |d| d.keys().filter(|k| k.ends_with(".pad")).cloned().collect(),
        )
    }
    fn config_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self.model.config())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::PatchConfig;
    use candle_core::Device;

    #[test]
    fn sizes_are_drawn_uniformly_and_reproducibly() -> Result<()> {
        let model = PatchConfig::tiny()
            .with_total_fields(1)
            .init(&Device::Cpu)?;
        let task = PatchTask::new(model);
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut drawn = Vec::new();
            for step in 0..300u64 {
                task.reseed(step);
                drawn.push(task.draw_size());
            }
            runs.push(drawn);
        }
        assert_eq!(runs[0], runs[1]);
        for p in [2, 4, 8] {
            let n = runs[0].iter().filter(|&&q| q == p).count();
            assert!((70..130).contains(&n), "size {p} drawn {n} times of 300");
        }
        Ok(())
    }
}
