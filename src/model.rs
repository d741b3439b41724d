//! [`RolloutModel`]: next-frame prediction and autoregressive rollout.
//!
//! tokeniser encoder → projection → processor → projection → tokeniser decoder, with
//! samplewise RMS normalisation in front and its inverse behind (Sections 2.3–2.4,
//! Appendix C). The processor is causal in time: its output at latent frame `j` is read as
//! the prediction of latent frame `j + 1`.
//!
//! # How latent frames line up with pixel frames
//! With temporal compression `S_t`, latent frame `j` is aligned with pixel frame `S_t·j`
//! and the decoder turns latent frame `j ≥ 1` into pixel frames `S_t(j−1)+1 ..= S_t·j` (see
//! [`Tokeniser`]). For a context of `T = 1 + 2^n` frames the encoder gives
//! `T' = (T−1)/S_t + 1` latent frames; we decode the sequence shifted by one latent frame,
//! `[z_1, …, z_{T'−1}, ẑ_{T'}]`, so decoded frame `f` stands for pixel frame `f + S_t`, and
//! the next frame `T` is decoded frame `T − S_t`. With `S_t = 2` and 9 context frames:
//! latents aligned with frames 0, 2, 4, 6, 8; `ẑ_5` covers frames 9 and 10, and frame 9 is
//! decoded frame 7. A rollout keeps one predicted frame per step and slides the window by
//! one frame (the paper's footnote 2: from frames 0–8 predict 9, then 1–9 predict 10, …).

use std::path::Path;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, WeightSelection};
use crate::data::{ActiveFields, RmsGrouping, SampleRms};
use crate::emulator::Emulator;
use crate::nn::{Mode, ParamTable, seeded_var_builder};
use crate::processor::{Processor, ProcessorConfig};
use crate::tokeniser::{Compression, Tokeniser, TokeniserConfig};
use crate::{ConfigError, Error, Result};

/// Where the tokeniser's weights live in a rollout model's map.
const TOKENISER: &str = "tokeniser";
/// Where the processor's (and its projections') weights live.
const PROCESSOR: &str = "processor";

/// Settings of a [`RolloutModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutConfig {
    /// The tokeniser.
    pub tokeniser: TokeniserConfig,
    /// The processor (its `latent_channels` must equal the tokeniser's).
    pub processor: ProcessorConfig,
    /// The compression the tokeniser runs at (the paper's validation setting by default).
    pub compression: Compression,
    /// Context frames (the paper: 9).
    pub n_steps_input: usize,
    /// How samplewise RMS normalisation groups channels.
    pub grouping: RmsGrouping,
    /// Seed of the weights (tokeniser and processor alike; each weight is drawn on a stream
    /// of its own name).
    pub seed: u64,
    /// The compression of training forward passes (evaluation always runs at `compression`).
    #[serde(default)]
    pub training_compression: TrainingCompression,
}

/// The compression the tokeniser runs at in a rollout-training forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TrainingCompression {
    /// The model's `compression` (the validation setting), as at evaluation.
    #[default]
    Fixed,
    /// One factor drawn from each depth's choices at every forward pass (from the
    /// tokeniser's seeded stream, redrawn until it fits the input), as the paper trains
    /// (Appendix C); evaluation stays at `compression`.
    Sampled,
}

impl RolloutConfig {
    /// The paper's model: `TokeniserConfig::paper()` (4.85 M) and `ProcessorConfig::paper()`
    /// (6 blocks, 1088 wide, 16 heads; 99.6 M with projections), 9 context frames, validation
    /// compression (1,2), (2,2), (2,2) (Table 2, Appendix C), and, as the paper trains, a
    /// compression sampled at every training forward pass ([`TrainingCompression::Sampled`]).
    pub fn paper() -> Self {
        Self::from_parts(TokeniserConfig::paper(), ProcessorConfig::paper())
            .with_training_compression(TrainingCompression::Sampled)
    }
    /// CPU tutorial sizes.
    pub fn small() -> Self {
        Self::from_parts(TokeniserConfig::small(), ProcessorConfig::small())
    }
    /// Test and doc-test sizes.
    pub fn tiny() -> Self {
        Self::from_parts(TokeniserConfig::tiny(), ProcessorConfig::tiny())
    }

    fn from_parts(tokeniser: TokeniserConfig, mut processor: ProcessorConfig) -> Self {
        processor.latent_channels = tokeniser.latent_channels;
        let compression = tokeniser.validation.clone();
        RolloutConfig {
            tokeniser,
            processor,
            compression,
            n_steps_input: 9,
            grouping: RmsGrouping::PerField,
            seed: 0,
            training_compression: TrainingCompression::Fixed,
        }
    }

    /// Sets the compression of training forward passes.
    pub fn with_training_compression(mut self, training: TrainingCompression) -> Self {
        self.training_compression = training;
        self
    }

    /// Sets the compression.
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Sets the tokeniser, its latent channels on the processor and its validation
    /// compression.
    pub fn with_tokeniser(mut self, tokeniser: TokeniserConfig) -> Self {
        self.processor.latent_channels = tokeniser.latent_channels;
        self.compression = tokeniser.validation.clone();
        self.tokeniser = tokeniser;
        self
    }
    /// Sets the processor (its latent channels follow the tokeniser's).
    pub fn with_processor(mut self, mut processor: ProcessorConfig) -> Self {
        processor.latent_channels = self.tokeniser.latent_channels;
        self.processor = processor;
        self
    }
    /// Sets the number of context frames.
    pub fn with_n_steps_input(mut self, n: usize) -> Self {
        self.n_steps_input = n;
        self
    }

    /// Checks the parts and that they fit together.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.tokeniser.check()?;
        self.processor.check()?;
        self.compression.check(&self.tokeniser.depths)?;
        if self.processor.latent_channels != self.tokeniser.latent_channels {
            return Err(ConfigError::Mismatch {
                name: "processor.latent_channels",
                value: self.processor.latent_channels.to_string(),
                other: format!(
                    "tokeniser.latent_channels {}",
                    self.tokeniser.latent_channels
                ),
            });
        }
        let t = self.n_steps_input;
        if t < 2 || !(t - 1).is_power_of_two() {
            return Err(ConfigError::NotOnePlusPowerOfTwo {
                name: "n_steps_input",
                value: t,
            });
        }
        if !(t - 1).is_multiple_of(self.compression.time()) || (t - 1) / self.compression.time() < 1
        {
            return Err(ConfigError::Mismatch {
                name: "n_steps_input",
                value: t.to_string(),
                other: format!("temporal compression {}", self.compression.time()),
            });
        }
        Ok(())
    }

    /// Checks the settings and builds the model with fresh weights from `seed` on `device`.
    pub fn init(&self, device: &Device) -> Result<RolloutModel> {
        self.check()?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, self.seed, device);
        let tokeniser = Tokeniser::build(&self.tokeniser, &varmap, vb.pp(TOKENISER))?;
        let processor = Processor::build(&self.processor, &varmap, vb.pp(PROCESSOR))?;
        Ok(RolloutModel {
            config: self.clone(),
            varmap,
            tokeniser,
            processor,
        })
    }
}

/// The emulator: a tokeniser and a processor sharing one `VarMap`
/// (`tokeniser.*`, `processor.*`).
///
/// # Example
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::data::ActiveFields;
/// use phystok::emulator::Emulator;
/// use phystok::model::RolloutConfig;
///
/// let model = RolloutConfig::tiny().with_n_steps_input(5).init(&Device::Cpu)?;
/// let fields = ActiveFields::first(2);
/// let context = Tensor::randn(0f32, 1.0, (1, 2, 5, 16, 16), &Device::Cpu)?;
/// let next = model.predict_next(&context, &fields)?;
/// assert_eq!(next.dims(), &[1, 2, 1, 16, 16]);
/// let frames = model.rollout(&context, &fields, 3)?;
/// assert_eq!(frames.dims(), &[1, 2, 3, 16, 16]);
/// # Ok::<(), phystok::Error>(())
/// ```
///
/// A clone is a handle on the same weights (candle tensors are reference-counted): a
/// notebook hands `model.clone()` to a trainer in one cell and inspects `model` in the next.
#[derive(Clone)]
pub struct RolloutModel {
    config: RolloutConfig,
    varmap: VarMap,
    tokeniser: Tokeniser,
    processor: Processor,
}

impl std::fmt::Debug for RolloutModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutModel")
            .field("config", &self.config)
            .field("tokeniser", &self.tokeniser)
            .field("processor", &self.processor)
            .finish_non_exhaustive()
    }
}

impl RolloutModel {
    /// The settings.
    pub fn config(&self) -> &RolloutConfig {
        &self.config
    }
    /// All weights (`tokeniser.*`, `processor.*`).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
    /// The tokeniser.
    pub fn tokeniser(&self) -> &Tokeniser {
        &self.tokeniser
    }
    /// The processor.
    pub fn processor(&self) -> &Processor {
        &self.processor
    }

    /// Loads a pretrained tokeniser's weights (a checkpoint of a [`Tokeniser`], names
    /// `encoder.*`, `decoder.*`) into this model's `tokeniser.*` variables; the processor
    /// keeps its fresh weights. Returns the names set.
    pub fn load_tokeniser(&self, checkpoint_dir: impl AsRef<Path>) -> Result<Vec<String>> {
        let device = crate::device::varmap_device(&self.varmap)?;
        let ckpt = Checkpoint::load(checkpoint_dir, &device)?;
        ckpt.load_weights_into(
            &self.varmap,
            &WeightSelection::prefix("").renamed_to(format!("{TOKENISER}.")),
        )
    }

    /// Copies the weights of a tokeniser in memory (say, one a notebook cell just
    /// pretrained) into this model's `tokeniser.*` variables. The two must have the same
    /// architecture; nothing is changed when they do not. Returns the names set.
    pub fn copy_tokeniser(&self, tokeniser: &Tokeniser) -> Result<Vec<String>> {
        let source = Checkpoint::new(0).with_weights(tokeniser.varmap())?;
        let from = match tokeniser.prefix() {
            "" => String::new(),
            p => format!("{p}."),
        };
        source.load_weights_into(
            &self.varmap,
            &WeightSelection::prefix(from).renamed_to(format!("{TOKENISER}.")),
        )
    }

    /// Parameter counts per component (tokeniser, then processor), all trainable; apply a
    /// freezing strategy with [`ParamTable::with_freeze`] for the paper's Table 3.
    pub fn param_table(&self) -> ParamTable {
        let mut components = self.tokeniser.components();
        components.extend(self.processor.components());
        ParamTable::new(
            format!(
                "Rollout model: tokeniser {:?} → processor dim {} × {} blocks",
                self.config.tokeniser.channels,
                self.config.processor.dim,
                self.config.processor.n_blocks
            ),
            &self.varmap,
            components,
        )
    }

    /// Predicts the frame after `context`, in normalised units, with the normaliser used.
    ///
    /// # Shapes
    /// `context`: `(batch, channels, n_steps_input, height, width)` → `(batch, channels, 1,
    /// height, width)`.
    pub fn predict_next_normalised(
        &self,
        context: &Tensor,
        fields: &ActiveFields,
        mode: Mode,
    ) -> Result<(Tensor, SampleRms)> {
        let t = self.config.n_steps_input;
        if context.rank() != 5 || context.dim(2)? != t {
            return Err(Error::Shape {
                what: format!("rollout context (batch, channels, {t} frames, height, width)"),
                left: context.dims().to_vec(),
                right: vec![t],
            });
        }
        let rms = SampleRms::fit(context, &fields.field_of_channel, self.config.grouping)?;
        let xs = rms.normalise(context)?;
        let c = &self.compression_for(xs.dims(), fields, mode)?;
        let zs = self.tokeniser.encode(&xs, &fields.channels, c)?;
        let n_latent = zs.dim(2)?;
        let ys = self.processor.forward(&zs, mode)?;
        // [z_1, …, z_{T'−1}, ẑ_{T'}]: the context shifted by one latent frame
        let next = ys.narrow(2, n_latent - 1, 1)?;
        let shifted = if n_latent > 1 {
            Tensor::cat(&[&zs.narrow(2, 1, n_latent - 1)?, &next], 2)?
        } else {
            next
        };
        let decoded = self.tokeniser.decode(&shifted, &fields.channels, c)?;
        let pred = decoded.narrow(2, t - c.time(), 1)?;
        Ok((pred, rms))
    }

    /// The compression a forward pass in `mode` on a context of shape `dims` runs at:
    /// `compression`, except in training with [`TrainingCompression::Sampled`], where it is
    /// drawn from the tokeniser's stream (restarted by its `reseed`).
    pub fn compression_for(
        &self,
        dims: &[usize],
        fields: &ActiveFields,
        mode: Mode,
    ) -> Result<Compression> {
        match (mode, self.config.training_compression) {
            (Mode::Train, TrainingCompression::Sampled) => self
                .tokeniser
                .sample_compression_for(dims, &fields.channels),
            _ => Ok(self.config.compression.clone()),
        }
    }

    /// The training loss on a window of `n_steps_input + 1` frames: the mean absolute error
    /// of the predicted last frame in normalised units (Eq. 4).
    pub fn next_frame_loss(
        &self,
        window: &Tensor,
        fields: &ActiveFields,
        mode: Mode,
    ) -> Result<Tensor> {
        let t = self.config.n_steps_input;
        let context = window.narrow(2, 0, t)?;
        let (pred, rms) = self.predict_next_normalised(&context, fields, mode)?;
        let target = rms.normalise(&window.narrow(2, t, 1)?)?;
        Ok((pred - target)?.abs()?.mean_all()?)
    }
}

impl Emulator for RolloutModel {
    fn n_steps_input(&self) -> usize {
        self.config.n_steps_input
    }

    fn device(&self) -> Result<Device> {
        crate::device::varmap_device(&self.varmap)
    }

    fn total_fields(&self) -> usize {
        self.config.tokeniser.total_fields
    }

    fn predict_next(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        let (pred, rms) = self.predict_next_normalised(context, fields, Mode::Eval)?;
        rms.denormalise(&pred)
    }
}
