//! [`PatchModel`]: patch encoder → spatiotemporal processor → patch decoder, with the patch
//! size (or a cyclic schedule of sizes) chosen at run time (Mukhopadhyay et al. 2025,
//! Section 3, Figure 6).
//!
//! A context of `T` frames is normalised per sample (RMS per field), encoded frame by frame
//! into `(H/p)·(W/p)` tokens, run through the causal processor, and the processor's last
//! frame is decoded into the change of the last context frame (the paper's "delta"
//! prediction, Appendix B.3); the prediction is the last frame plus that change.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::codec::PatchCodec;
use super::config::PatchConfig;
use crate::data::{ActiveFields, SampleRms};
use crate::emulator::Emulator;
use crate::nn::{Component, Mode, ParamTable, seeded_var_builder};
use crate::processor::Processor;
use crate::{ConfigError, Error, Result};

/// Which patch size each rollout step uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum PatchSchedule {
    /// The same size every step.
    Fixed(usize),
    /// The paper's alternating rollout: step `i` uses `sizes[(offset + i) % sizes.len()]`.
    Cyclic {
        /// Index of the first step's size.
        offset: usize,
    },
}

impl PatchSchedule {
    /// The size step `step` uses, given the model's sizes.
    pub fn size_at(&self, sizes: &[usize], step: usize) -> usize {
        match *self {
            PatchSchedule::Fixed(p) => p,
            PatchSchedule::Cyclic { offset } if sizes.is_empty() => offset,
            PatchSchedule::Cyclic { offset } => sizes[(offset + step) % sizes.len()],
        }
    }

    /// A short name (`p8`, `cyclic`).
    pub fn key(&self) -> String {
        match self {
            PatchSchedule::Fixed(p) => format!("p{p}"),
            PatchSchedule::Cyclic { .. } => "cyclic".into(),
        }
    }
}

impl PatchConfig {
    /// Checks the settings and builds the model with fresh weights from `seed` on `device`
    /// (`encoder.*`, `decoder.*`, `processor.*`); its schedule is the first size, fixed.
    pub fn init(&self, device: &Device) -> Result<PatchModel> {
        self.check()?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, self.seed, device);
        let codec = PatchCodec::new(self, vb.clone())?;
        let processor = Processor::build(&self.processor, &varmap, vb.pp("processor"))?;
        Ok(PatchModel {
            config: self.clone(),
            varmap,
            codec,
            processor,
            schedule: PatchSchedule::Fixed(self.sizes[0]),
        })
    }
}

/// A CKM, CSM or fixed-patch emulator. A clone shares the weights.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::data::ActiveFields;
/// use phystok::emulator::Emulator;
/// use phystok::patch::{PatchConfig, PatchSchedule};
///
/// let model = PatchConfig::tiny().with_total_fields(2).init(&Device::Cpu)?;
/// let context = Tensor::randn(0f32, 1.0, (1, 2, 3, 16, 16), &Device::Cpu)?;
/// let fields = ActiveFields::first(2);
/// for p in [2, 4, 8] {
///     let next = model.predict_next_at(&context, &fields, p)?;
///     assert_eq!(next.dims(), &[1, 2, 1, 16, 16]);
/// }
/// let cyclic = model.clone().with_schedule(PatchSchedule::Cyclic { offset: 0 });
/// assert_eq!(cyclic.rollout(&context, &fields, 4)?.dims(), &[1, 2, 4, 16, 16]);
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Clone)]
pub struct PatchModel {
    config: PatchConfig,
    varmap: VarMap,
    codec: PatchCodec,
    processor: Processor,
    schedule: PatchSchedule,
}

impl std::fmt::Debug for PatchModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PatchModel")
            .field("config", &self.config)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl PatchModel {
    /// The settings.
    pub fn config(&self) -> &PatchConfig {
        &self.config
    }
    /// All weights.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
    /// The encoder and decoder.
    pub fn codec(&self) -> &PatchCodec {
        &self.codec
    }
    /// The processor.
    pub fn processor(&self) -> &Processor {
        &self.processor
    }
    /// The schedule `predict_next` and `rollout` use.
    pub fn schedule(&self) -> PatchSchedule {
        self.schedule
    }
    /// This model (same weights) with another schedule.
    pub fn with_schedule(mut self, schedule: PatchSchedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// Tokens per frame at patch size `p`.
    pub fn tokens(&self, p: usize) -> usize {
        self.config.tokens(p)
    }

    /// Checks `p` is one of the model's sizes.
    pub fn check_size(&self, p: usize) -> Result<()> {
        if !self.config.sizes.contains(&p) {
            return Err(ConfigError::Mismatch {
                name: "patch size",
                value: p.to_string(),
                other: format!("the model's sizes {:?}", self.config.sizes),
            }
            .into());
        }
        Ok(())
    }

    /// Parameter counts: encoder, decoder, then the processor's components.
    pub fn param_table(&self) -> ParamTable {
        let c = &self.config;
        let mut components = vec![
            Component::new(
                "encoder",
                format!(
                    "{} {}x{} conv → {}",
                    c.strategy.key(),
                    c.base,
                    c.base,
                    c.embed_dim()
                ),
            ),
            Component::new("decoder", format!("transposed conv {}x{}", c.base, c.base)),
        ];
        components.extend(self.processor.components());
        ParamTable::new(
            format!(
                "Patch model ({}, sizes {:?}, dim {} × {} blocks)",
                c.strategy.key(),
                c.sizes,
                c.processor.dim,
                c.processor.n_blocks
            ),
            &self.varmap,
            components,
        )
    }

    /// Shows the parameter table in evcxr.
    pub fn evcxr_display(&self) {
        self.param_table().evcxr_display()
    }

    /// Restarts the processor's drop-path stream.
    pub fn reseed(&self, seed: u64) {
        self.processor.reseed(seed);
    }

    /// The next frame at patch size `p`, in normalised units, with the normaliser used.
    ///
    /// # Shapes
    /// `(batch, channels, n_steps_input, H, W)` → `(batch, channels, 1, H, W)`.
    pub fn predict_next_normalised(
        &self,
        context: &Tensor,
        fields: &ActiveFields,
        p: usize,
        mode: Mode,
    ) -> Result<(Tensor, SampleRms)> {
        self.check_size(p)?;
        let t = self.config.n_steps_input;
        if context.rank() != 5 || context.dim(2)? != t {
            return Err(Error::Shape {
                what: format!("patch model context (batch, channels, {t} frames, height, width)"),
                left: context.dims().to_vec(),
                right: vec![t],
            });
        }
        let rms = SampleRms::fit(context, &fields.field_of_channel, self.config.grouping)?;
        let xs = rms.normalise(context)?;
        let zs = self.codec.encode(&xs, &fields.channels, p)?;
        let ys = self.processor.forward(&zs, mode)?;
        let last = ys.narrow(2, t - 1, 1)?;
        let delta = self.codec.decode(&last, &fields.channels, p)?;
        Ok(((xs.narrow(2, t - 1, 1)? + delta)?, rms))
    }

    /// The next frame at patch size `p` in the data's units (evaluation mode).
    pub fn predict_next_at(
        &self,
        context: &Tensor,
        fields: &ActiveFields,
        p: usize,
    ) -> Result<Tensor> {
        let (pred, rms) = self.predict_next_normalised(context, fields, p, Mode::Eval)?;
        rms.denormalise(&pred)
    }

    /// The training loss at patch size `p`: MSE of the next frame in normalised units
    /// (Appendix B.3), on a window of `n_steps_input + 1` frames.
    pub fn next_frame_loss(
        &self,
        window: &Tensor,
        fields: &ActiveFields,
        p: usize,
        mode: Mode,
    ) -> Result<Tensor> {
        let t = self.config.n_steps_input;
        let context = window.narrow(2, 0, t)?;
        let (pred, rms) = self.predict_next_normalised(&context, fields, p, mode)?;
        let target = rms.normalise(&window.narrow(2, t, 1)?)?;
        Ok((pred - target)?.sqr()?.mean_all()?)
    }

    /// `n` frames rolled out under `schedule` (step `i` at `schedule.size_at(sizes, i)`).
    pub fn rollout_with(
        &self,
        context: &Tensor,
        fields: &ActiveFields,
        n: usize,
        schedule: PatchSchedule,
    ) -> Result<Tensor> {
        if n == 0 {
            return Err(Error::Empty {
                what: "rollout of 0 steps".into(),
            });
        }
        let t = self.config.n_steps_input;
        let mut window = context.clone();
        let mut frames = Vec::with_capacity(n);
        for i in 0..n {
            let p = schedule.size_at(&self.config.sizes, i);
            let next = self.predict_next_at(&window, fields, p)?.detach();
            window = Tensor::cat(&[&window.narrow(2, 1, t - 1)?, &next], 2)?;
            frames.push(next);
        }
        Ok(Tensor::cat(&frames, 2)?)
    }
}

impl Emulator for PatchModel {
    fn n_steps_input(&self) -> usize {
        self.config.n_steps_input
    }
    fn device(&self) -> Result<Device> {
        crate::device::varmap_device(&self.varmap)
    }
    fn total_fields(&self) -> usize {
        self.config.total_fields
    }
    fn predict_next(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        let p = self.schedule.size_at(&self.config.sizes, 0);
        self.predict_next_at(context, fields, p)
    }
    fn rollout(&self, context: &Tensor, fields: &ActiveFields, n: usize) -> Result<Tensor> {
        self.rollout_with(context, fields, n, self.schedule)
    }
}

impl std::fmt::Display for PatchModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.param_table())
    }
}
