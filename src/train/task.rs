//! What a [`Trainer`](super::Trainer) trains: a [`TrainTask`] owns a model and its weights
//! and says how a window of frames becomes a loss and a validation prediction.
//!
//! * [`TokeniserTask`]: tokeniser pretraining, the autoencoding MSE of Eq. (5) over the
//!   first 9 frames of each 10-frame window, a compression drawn per step from the
//!   tokeniser's sets (Table 7), validated at its validation compression.
//! * [`RolloutTask`]: rollout training, the next-frame MAE of Eq. (4) (frames 0–8 predict
//!   frame 9) through a [`RolloutModel`], with a [`FreezeStrategy`] choosing what trains.
//!
//! Both normalise each sample by its per-field RMS (Appendix C) and report validation
//! predictions in the data's units.

use candle_core::Tensor;
use candle_nn::VarMap;

use crate::Result;
use crate::data::{ActiveFields, RmsGrouping, SampleRms, WindowSpec};
use crate::emulator::Emulator;
use crate::freeze::FreezeStrategy;
use crate::model::RolloutModel;
use crate::nn::Mode;
use crate::tokeniser::Tokeniser;

/// A model and its objective, as a [`Trainer`](super::Trainer) sees them.
pub trait TrainTask: Send {
    /// What is being trained, for progress lines and summaries.
    fn name(&self) -> &'static str;
    /// All weights.
    fn varmap(&self) -> &VarMap;
    /// The `VarMap` names the optimiser updates (the rest stay bit-identical).
    fn trainable_names(&self) -> Result<Vec<String>>;
    /// Number of fields the tokeniser knows (`total_fields`).
    fn total_fields(&self) -> usize;
    /// The windows it reads: context frames and predicted frames.
    fn window_spec(&self) -> WindowSpec;
    /// Restarts the task's own randomness (compression draws, drop path) for one step.
    fn reseed(&self, seed: u64);
    /// The training loss of a batch of windows `(batch, channels, frames, height, width)`.
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> Result<Tensor>;
    /// `(prediction, target)` in the data's units, in evaluation mode, for validation.
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, Tensor)>;
    /// The model's settings as JSON, saved with every checkpoint.
    fn config_json(&self) -> Result<serde_json::Value>;
    /// A checkpoint's saved [`TrainTask::config_json`] as this task's config type writes it
    /// now: settings added after the checkpoint was made take their serde defaults (the
    /// behaviour from before they existed), so such a checkpoint still resumes. Saved JSON
    /// that does not parse is returned as it is (the resume guard then names the
    /// difference). The identity by default.
    fn upgrade_config_json(&self, saved: serde_json::Value) -> serde_json::Value {
        saved
    }
    /// Trainable variables that a step may legitimately leave without a gradient (parts of
    /// a stochastic architecture that step did not use, such as CSM's learned padding at
    /// the base patch size); the trainer's first-step gradient check skips them.
    fn sometimes_unused(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Tokeniser pretraining: a [`Tokeniser`] with weights of its own (`encoder.*`,
/// `decoder.*`, the names [`RolloutModel::load_tokeniser`] reads).
pub struct TokeniserTask {
    tokeniser: Tokeniser,
    n_frames: usize,
    grouping: RmsGrouping,
}

impl std::fmt::Debug for TokeniserTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokeniserTask")
            .field("tokeniser", &self.tokeniser)
            .field("n_frames", &self.n_frames)
            .finish_non_exhaustive()
    }
}

impl TokeniserTask {
    /// Pretrains `tokeniser` (built by [`TokeniserConfig::init`](crate::tokeniser::TokeniserConfig::init),
    /// so its weights are its own), autoencoding the paper's 9 frames.
    pub fn new(tokeniser: Tokeniser) -> Self {
        TokeniserTask {
            tokeniser,
            n_frames: 9,
            grouping: RmsGrouping::PerField,
        }
    }

    /// Sets the number of frames autoencoded (`1 + 2^n`; the paper: 9).
    pub fn with_n_frames(mut self, n_frames: usize) -> Self {
        self.n_frames = n_frames;
        self
    }

    /// The tokeniser.
    pub fn tokeniser(&self) -> &Tokeniser {
        &self.tokeniser
    }

    /// The tokeniser, giving up the task.
    pub fn into_tokeniser(self) -> Tokeniser {
        self.tokeniser
    }

    fn normalised(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, SampleRms)> {
        let xs = window.narrow(2, 0, self.n_frames)?;
        let rms = SampleRms::fit(&xs, &fields.field_of_channel, self.grouping)?;
        Ok((rms.normalise(&xs)?, rms))
    }
}

impl TrainTask for TokeniserTask {
    fn name(&self) -> &'static str {
        "tokeniser pretraining"
    }
    fn varmap(&self) -> &VarMap {
        self.tokeniser.varmap()
    }
    fn trainable_names(&self) -> Result<Vec<String>> {
        FreezeStrategy::FullyTrainable.trainable_names(self.tokeniser.varmap())
    }
    fn total_fields(&self) -> usize {
        self.tokeniser.config().total_fields
    }
    fn window_spec(&self) -> WindowSpec {
        // the rollout task's windows (context and next frame); the context is autoencoded
        WindowSpec::new(self.n_frames, 1)
    }
    fn reseed(&self, seed: u64) {
        self.tokeniser.reseed(seed);
    }
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        let (xs, _) = self.normalised(window, fields)?;
        let (ys, _) = self.tokeniser.autoencode_training(&xs, &fields.channels)?;
        Ok((ys - xs)?.sqr()?.mean_all()?)
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, Tensor)> {
        let (xs, rms) = self.normalised(window, fields)?;
        let c = self.tokeniser.validation_compression();
        let ys = self.tokeniser.autoencode(&xs, &fields.channels, &c)?;
        Ok((rms.denormalise(&ys)?, window.narrow(2, 0, self.n_frames)?))
    }
    fn config_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self.tokeniser.config())?)
    }

    fn upgrade_config_json(&self, saved: serde_json::Value) -> serde_json::Value {
        upgrade::<crate::tokeniser::TokeniserConfig>(saved)
    }
}

/// Rollout training: a [`RolloutModel`] whose trainable weights a [`FreezeStrategy`] picks.
pub struct RolloutTask {
    model: RolloutModel,
    strategy: FreezeStrategy,
}

impl std::fmt::Debug for RolloutTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutTask")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl RolloutTask {
    /// Trains `model` under `strategy`.
    pub fn new(model: RolloutModel, strategy: FreezeStrategy) -> Self {
        RolloutTask { model, strategy }
    }
    /// The model.
    pub fn model(&self) -> &RolloutModel {
        &self.model
    }
    /// The freezing strategy.
    pub fn strategy(&self) -> &FreezeStrategy {
        &self.strategy
    }
    /// The model, giving up the task.
    pub fn into_model(self) -> RolloutModel {
        self.model
    }
}

impl TrainTask for RolloutTask {
    fn name(&self) -> &'static str {
        "rollout training"
    }
    fn varmap(&self) -> &VarMap {
        self.model.varmap()
    }
    fn trainable_names(&self) -> Result<Vec<String>> {
        self.strategy.trainable_names(self.model.varmap())
    }
    fn total_fields(&self) -> usize {
        self.model.config().tokeniser.total_fields
    }
    fn window_spec(&self) -> WindowSpec {
        WindowSpec::new(self.model.config().n_steps_input, 1)
    }
    fn reseed(&self, seed: u64) {
        self.model.tokeniser().reseed(seed);
        self.model.processor().reseed(seed);
    }
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        self.model.next_frame_loss(window, fields, Mode::Train)
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> Result<(Tensor, Tensor)> {
        let t = self.model.config().n_steps_input;
        let pred = self.model.predict_next(&window.narrow(2, 0, t)?, fields)?;
        Ok((pred, window.narrow(2, t, 1)?))
    }
    fn config_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::to_value(self.model.config())?)
    }

    fn upgrade_config_json(&self, saved: serde_json::Value) -> serde_json::Value {
        upgrade::<crate::model::RolloutConfig>(saved)
    }
}

/// `saved` parsed as `C` (missing settings take their serde defaults) and written back;
/// unchanged when it does not parse.
fn upgrade<C: serde::Serialize + serde::de::DeserializeOwned>(
    saved: serde_json::Value,
) -> serde_json::Value {
    serde_json::from_value::<C>(saved.clone())
        .and_then(|c| serde_json::to_value(c))
        .unwrap_or(saved)
}
