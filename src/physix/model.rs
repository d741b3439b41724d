//! [`PhysixModel`]: the universal tokeniser, the AR model and the per-dataset refiners as
//! one [`Emulator`] (paper Section 2, Figure 2).
//!
//! A context of `n_steps_input = 1 + S_t·k` frames is standardised per field ([`normaliser`]),
//! tokenised (`k + 1` latent frames), one latent frame of tokens is generated after it
//! (with the KV cache), the whole token grid is decoded by the dataset's decoder and its
//! last `S_t` frames are the AR prediction; the dataset's refiner, when there is one and
//! refinement is on, corrects each of them from the frames before it. A rollout repeats
//! this, each block predicted from the last `n_steps_input` frames, `S_t` frames at a time
//! (PhysiX generates whole latent frames; the trait's default slides one frame per call).
//! The dataset is the one whose channels a context's [`ActiveFields`] name.

use candle_core::{D, Device, Tensor};
use serde::{Deserialize, Serialize};

use super::ar::ArModel;
use super::ar_config::ArConfig;
use super::generate::{CacheMode, Sampling};
use super::refine::{Refiner, RefinerConfig};
use super::tokeniser::PhysixTokeniser;
use super::tokeniser_config::PhysixTokeniserConfig;
use crate::data::{ActiveFields, SampleRms};
use crate::emulator::Emulator;
use crate::{ConfigError, Error, Result};

/// Whether the refiners run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Refinement {
    /// Each AR frame goes through its dataset's refiner (when it has one).
    #[default]
    On,
    /// The decoded AR frames as they are.
    Off,
}

/// Settings of a [`PhysixModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysixConfig {
    /// The universal tokeniser.
    pub tokeniser: PhysixTokeniserConfig,
    /// The AR model (its `vocab_size` must be the tokeniser's codebook size).
    pub ar: ArConfig,
    /// The refiners (one per dataset, built by [`PhysixModel::init_refiner`]).
    pub refiner: RefinerConfig,
    /// Context frames (`1 + S_t·k`).
    pub n_steps_input: usize,
    /// How tokens are generated.
    pub sampling: Sampling,
}

impl PhysixConfig {
    /// The paper's components (each at its `paper()` preset) with 9 context frames
    /// (Cosmos's 33-frame videos hold 9 context latents; PhysiX's refiner sees 5 frames).
    pub fn paper() -> Self {
        Self {
            tokeniser: PhysixTokeniserConfig::paper(),
            ar: ArConfig::paper(),
            refiner: RefinerConfig::paper(),
            n_steps_input: 9,
            sampling: Sampling::Greedy,
        }
    }

    /// CPU sizes: `small()` components, 5 context frames.
    pub fn small() -> Self {
        Self {
            tokeniser: PhysixTokeniserConfig::small(),
            ar: ArConfig::small(),
            refiner: RefinerConfig::small(),
            n_steps_input: 5,
            sampling: Sampling::Greedy,
        }
    }

    /// Test sizes: `tiny()` components, 5 context frames.
    pub fn tiny() -> Self {
        Self {
            tokeniser: PhysixTokeniserConfig::tiny(),
            ar: ArConfig::tiny(),
            refiner: RefinerConfig::tiny(),
            n_steps_input: 5,
            sampling: Sampling::Greedy,
        }
    }

    /// Sets the tokeniser (and the AR vocabulary to its codebook).
    pub fn with_tokeniser(mut self, tokeniser: PhysixTokeniserConfig) -> Self {
        self.ar.vocab_size = tokeniser.fsq.codebook_size();
        self.tokeniser = tokeniser;
        self
    }
    /// Sets the AR model.
    pub fn with_ar(mut self, ar: ArConfig) -> Self {
        self.ar = ar;
        self
    }
    /// Sets the refiners' settings.
    pub fn with_refiner(mut self, refiner: RefinerConfig) -> Self {
        self.refiner = refiner;
        self
    }
    /// Sets the context frames.
    pub fn with_n_steps_input(mut self, n: usize) -> Self {
        self.n_steps_input = n;
        self
    }
    /// Sets the sampling.
    pub fn with_sampling(mut self, sampling: Sampling) -> Self {
        self.sampling = sampling;
        self
    }
    /// Sets the seed of every component.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.tokeniser.seed = seed;
        self.ar.seed = seed;
        self.refiner.seed = seed;
        self
    }

    /// Checks every component, the vocabulary against the codebook, the context length
    /// against the temporal compression, and the refiner's context against it.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.tokeniser.check()?;
        self.ar.check()?;
        self.refiner.check()?;
        self.sampling.check()?;
        let codes = self.tokeniser.fsq.codebook_size();
        if self.ar.vocab_size != codes {
            return Err(ConfigError::Mismatch {
                name: "ar vocab_size",
                value: self.ar.vocab_size.to_string(),
                other: format!("the tokeniser's {codes} FSQ codes"),
            });
        }
        let st = self.tokeniser.time_compression();
        if self.n_steps_input < 1 + st || !(self.n_steps_input - 1).is_multiple_of(st) {
            return Err(ConfigError::Mismatch {
                name: "n_steps_input",
                value: self.n_steps_input.to_string(),
                other: format!("1 + a positive multiple of the temporal compression {st}"),
            });
        }
        if self.refiner.n_context > self.n_steps_input {
            return Err(ConfigError::Mismatch {
                name: "refiner n_context",
                value: self.refiner.n_context.to_string(),
                other: format!("n_steps_input {}", self.n_steps_input),
            });
        }
        let latent = (self.n_steps_input - 1) / st + 2;
        if latent > self.ar.max_grid[0] {
            return Err(ConfigError::Mismatch {
                name: "ar max_grid frames",
                value: self.ar.max_grid[0].to_string(),
                other: format!("{latent} latent frames (context and one predicted)"),
            });
        }
        Ok(())
    }

    /// Checks and builds the tokeniser and the AR model (no refiners yet).
    pub fn init(&self, device: &Device) -> Result<PhysixModel> {
        self.check()?;
        Ok(PhysixModel {
            config: self.clone(),
            tokeniser: self.tokeniser.init(device)?,
            ar: self.ar.init(device)?,
            refiners: Vec::new(),
            refinement: Refinement::On,
        })
    }
}

/// PhysiX: tokeniser, AR model, refiners. `Clone` shares the weights.
#[derive(Debug, Clone)]
pub struct PhysixModel {
    config: PhysixConfig,
    tokeniser: PhysixTokeniser,
    ar: ArModel,
    refiners: Vec<Refiner>,
    refinement: Refinement,
}

impl PhysixModel {
    /// The settings.
    pub fn config(&self) -> &PhysixConfig {
        &self.config
    }
    /// The tokeniser.
    pub fn tokeniser(&self) -> &PhysixTokeniser {
        &self.tokeniser
    }
    /// The AR model.
    pub fn ar(&self) -> &ArModel {
        &self.ar
    }
    /// The refiners.
    pub fn refiners(&self) -> &[Refiner] {
        &self.refiners
    }
    /// Whether refinement is on.
    pub fn refinement(&self) -> Refinement {
        self.refinement
    }

    /// The same tokeniser (shared weights) with a new AR model drawn from `seed` and no
    /// refiners: another seed of the AR stage on one trained tokeniser.
    pub fn with_fresh_ar(&self, seed: u64) -> Result<Self> {
        let mut config = self.config.clone();
        config.ar.seed = seed;
        config.refiner.seed = seed;
        Ok(Self {
            ar: config.ar.init(self.ar.device())?,
            config,
            tokeniser: self.tokeniser.clone(),
            refiners: Vec::new(),
            refinement: self.refinement,
        })
    }

    /// The same model (same weights) with refinement on or off.
    pub fn with_refinement(&self, refinement: Refinement) -> Self {
        Self {
            refinement,
            ..self.clone()
        }
    }

    /// Builds dataset `name`'s refiner for an `[height, width]` grid (replacing any it
    /// had) and returns it; an unknown dataset is a typed error.
    pub fn init_refiner(&mut self, name: &str, resolution: [usize; 2]) -> Result<Refiner> {
        let i = self.tokeniser.dataset_index(name)?;
        let channels = self.config.tokeniser.datasets[i].channels.len();
        let refiner = self
            .config
            .refiner
            .init(name, channels, resolution, self.ar.device())?;
        self.refiners.retain(|r| r.dataset() != name);
        self.refiners.push(refiner.clone());
        Ok(refiner)
    }

    /// Dataset `name`'s refiner, if built.
    pub fn refiner(&self, name: &str) -> Option<&Refiner> {
        self.refiners.iter().find(|r| r.dataset() == name)
    }

    /// The dataset of a context's fields.
    pub fn dataset_of(&self, fields: &ActiveFields) -> Result<&str> {
        self.tokeniser.dataset_of_channels(&fields.channels)
    }

    /// The next latent frame's decoded frames from a normalised context (no refinement).
    ///
    /// # Shapes
    /// `(batch, channels, n_steps_input, H, W)` → `(batch, channels, S_t, H, W)`.
    pub fn coarse_block(&self, xs: &Tensor, name: &str) -> Result<Tensor> {
        let tokens = self.tokeniser.tokenise(xs, name)?;
        let (b, tp, hp, wp) = tokens.dims4()?;
        let prompt = tokens.reshape((b, tp * hp * wp))?;
        let new = self.ar.generate(
            &prompt,
            [tp + 1, hp, wp],
            hp * wp,
            &self.config.sampling,
            CacheMode::KvCache,
        )?;
        let all = Tensor::cat(&[&prompt, &new], 1)?.reshape((b, tp + 1, hp, wp))?;
        let frames = self.tokeniser.detokenise(&all, name)?;
        let st = self.config.tokeniser.time_compression();
        Ok(frames.narrow(2, xs.dim(2)?, st)?.detach())
    }

    /// Refines decoded frames one by one, each from the frames before it (the context,
    /// then the refined ones).
    fn refine_block(&self, refiner: &Refiner, xs: &Tensor, coarse: &Tensor) -> Result<Tensor> {
        let mut frames = xs.clone();
        let mut out = Vec::new();
        for k in 0..coarse.dim(2)? {
            let r = refiner.forward(&frames, &coarse.narrow(2, k, 1)?)?.detach();
            frames = Tensor::cat(&[&frames, &r], 2)?;
            out.push(r);
        }
        Ok(Tensor::cat(&out, 2)?)
    }

    fn check_context(&self, context: &Tensor, fields: &ActiveFields) -> Result<()> {
        let t = context.dim(2).unwrap_or(0);
        if context.rank() != 5 || t != self.config.n_steps_input {
            return Err(Error::Shape {
                what: format!(
                    "PhysiX context (batch, channels, {} frames, H, W)",
                    self.config.n_steps_input
                ),
                left: context.dims().to_vec(),
                right: vec![self.config.n_steps_input],
            });
        }
        if fields.channels.len() != context.dim(1)? {
            return Err(Error::Shape {
                what: "context channels vs active fields".into(),
                left: context.dims().to_vec(),
                right: fields.channels.clone(),
            });
        }
        Ok(())
    }

    /// The next `S_t` frames after `context`, in the data's units.
    ///
    /// # Shapes
    /// `(batch, channels, n_steps_input, H, W)` → `(batch, channels, S_t, H, W)`.
    pub fn predict_block(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        self.check_context(context, fields)?;
        let context = context.to_device(self.ar.device())?;
        let name = self.dataset_of(fields)?.to_string();
        let rms = normaliser(&context, fields)?;
        let xs = rms.normalise(&context)?;
        let coarse = self.coarse_block(&xs, &name)?;
        let out = match (self.refinement, self.refiner(&name)) {
            (Refinement::On, Some(r)) => self.refine_block(r, &xs, &coarse)?,
            _ => coarse,
        };
        rms.denormalise(&out)
    }
}

/// PhysiX's input normalisation, fitted on the context frames `(batch, channels, T, H, W)`:
/// each channel's mean removed and its field's standard deviation divided out
/// ([`SampleRms::fit_standardised`]). Every PhysiX stage (tokeniser and AR training,
/// refinement pairs, prediction) normalises with it, and predictions are denormalised by it.
///
/// The main study's per-field RMS scaling alone (its Appendix C) leaves a field with a
/// large mean (Euler's density and energy, Gray–Scott's `A`) as `1 ± small`: the FSQ
/// grid, a few levels per latent channel, cannot resolve the variations, and the
/// reconstruction VRMSE stays near 1 (0.82–1.14 in the first quick study).
pub fn normaliser(context: &Tensor, fields: &ActiveFields) -> Result<SampleRms> {
    SampleRms::fit_standardised(context, &fields.field_of_channel)
}

impl Emulator for PhysixModel {
    fn n_steps_input(&self) -> usize {
        self.config.n_steps_input
    }
    fn device(&self) -> Result<Device> {
        Ok(self.ar.device().clone())
    }
    fn total_fields(&self) -> usize {
        self.tokeniser.vocabulary().len()
    }
    fn predict_next(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        Ok(self.predict_block(context, fields)?.narrow(2, 0, 1)?)
    }
    /// `n` frames, a block of `S_t` frames per AR call (each from the last
    /// `n_steps_input` frames, predictions fed back).
    fn rollout(&self, context: &Tensor, fields: &ActiveFields, n: usize) -> Result<Tensor> {
        if n == 0 {
            return Err(Error::Empty {
                what: "rollout of 0 steps".into(),
            });
        }
        let t = self.config.n_steps_input;
        let mut window = context.to_device(self.ar.device())?;
        let mut frames = Vec::new();
        let mut have = 0;
        while have < n {
            let block = self.predict_block(&window, fields)?;
            let k = block.dim(2)?;
            let all = Tensor::cat(&[&window, &block], 2)?;
            window = all.narrow(2, all.dim(2)? - t, t)?;
            have += k;
            frames.push(block);
        }
        let out = Tensor::cat(&frames, D::Minus(3))?;
        Ok(out.narrow(2, 0, n)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physix::DatasetChannels;

    fn model() -> Result<PhysixModel> {
        let tok = PhysixTokeniserConfig::tiny().with_datasets([
            DatasetChannels::new("a", ["u", "v"]),
            DatasetChannels::new("b", ["p"]),
        ]);
        PhysixConfig::tiny().with_tokeniser(tok).init(&Device::Cpu)
    }

    #[test]
    fn predicts_blocks_and_rolls_out_with_and_without_refinement() -> Result<()> {
        let mut m = model()?;
        let fields = ActiveFields::new(vec![0, 1], vec![0, 0]);
        let ctx = Tensor::randn(0f32, 1.0, (2, 2, 5, 16, 16), &Device::Cpu)?;
        let next = m.predict_next(&ctx, &fields)?;
        assert_eq!(next.dims(), &[2, 2, 1, 16, 16]);
        let roll = m.rollout(&ctx, &fields, 6)?;
        assert_eq!(roll.dims(), &[2, 2, 6, 16, 16]);
        // the rollout's first block is predict_block's (greedy, deterministic)
        let block = m.predict_block(&ctx, &fields)?;
        let d = (roll.narrow(2, 0, 4)? - &block)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert_eq!(d, 0.0);
        m.init_refiner("a", [16, 16])?;
        let refined = m.predict_block(&ctx, &fields)?;
        let raw = m
            .with_refinement(Refinement::Off)
            .predict_block(&ctx, &fields)?;
        assert_eq!((raw - &block)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
        assert!((refined - &block)?.abs()?.max_all()?.to_scalar::<f32>()? > 0.0);
        // dataset `b`: one channel, no refiner
        let fb = ActiveFields::new(vec![2], vec![0]);
        let cb = Tensor::randn(0f32, 1.0, (1, 1, 5, 8, 8), &Device::Cpu)?;
        assert_eq!(m.predict_next(&cb, &fb)?.dims(), &[1, 1, 1, 8, 8]);
        Ok(())
    }

    #[test]
    fn bad_settings_and_contexts_are_typed_errors() -> Result<()> {
        let m = model()?;
        let fields = ActiveFields::new(vec![0, 1], vec![0, 0]);
        let short = Tensor::zeros((1, 2, 4, 16, 16), candle_core::DType::F32, &Device::Cpu)?;
        assert!(matches!(
            m.predict_next(&short, &fields),
            Err(Error::Shape { .. })
        ));
        let unknown = ActiveFields::new(vec![1, 0], vec![0, 0]);
        let ctx = Tensor::zeros((1, 2, 5, 16, 16), candle_core::DType::F32, &Device::Cpu)?;
        assert!(m.predict_next(&ctx, &unknown).is_err());
        let cfg = PhysixConfig::tiny().with_tokeniser(m.config().tokeniser.clone());
        assert!(matches!(
            cfg.clone().with_n_steps_input(6).check(),
            Err(ConfigError::Mismatch {
                name: "n_steps_input",
                ..
            })
        ));
        assert!(matches!(
            cfg.clone()
                .with_ar(ArConfig::tiny().with_vocab_size(7))
                .check(),
            Err(ConfigError::Mismatch {
                name: "ar vocab_size",
                ..
            })
        ));
        let mut m2 = m.clone();
        assert!(m2.init_refiner("zzz", [16, 16]).is_err());
        Ok(())
    }
}
