//! [`Baseline`]: one of The Well's benchmark models as an [`Emulator`]: the context's
//! frames stacked as channels, normalised per sample by their RMS (phystok's convention,
//! where The Well uses its dataset's z-score statistics), the network, the next frame back
//! in the data's units.

use candle_core::{Device, Tensor};
use candle_nn::VarMap;

use super::config::BaselineConfig;
use super::fno::Fno;
use crate::data::{ActiveFields, SampleRms};
use crate::emulator::Emulator;
use crate::nn::{Mode, ParamTable, UNetClassic, UNetConvNext, is_buffer, seeded_var_builder};
use crate::{Error, Result};

#[derive(Debug, Clone)]
enum Network {
    Fno(Fno),
    UNetClassic(UNetClassic),
    UNetConvNext(UNetConvNext),
}

/// A baseline model with its weights (see the module docs). Cloning shares the weights.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::baselines::{BaselineConfig, BaselineKind};
/// use phystok::data::ActiveFields;
/// use phystok::emulator::Emulator;
///
/// let model = BaselineConfig::quick(BaselineKind::UNetConvNext, 2, [16, 16]).init(&Device::Cpu)?;
/// let context = Tensor::randn(0f32, 1.0, (1, 2, 4, 16, 16), &Device::Cpu)?;
/// let frames = model.rollout(&context, &ActiveFields::first(2), 3)?;
/// assert_eq!(frames.dims(), &[1, 2, 3, 16, 16]);
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Clone)]
pub struct Baseline {
    config: BaselineConfig,
    varmap: VarMap,
    network: Network,
}

impl BaselineConfig {
    /// Builds the model with weights of its own on `device` (after [`check`](Self::check)).
    pub fn init(&self, device: &Device) -> Result<Baseline> {
        self.check()?;
        Baseline::new(self.clone(), device)
    }
}

impl std::fmt::Debug for Baseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Baseline")
            .field("config", &self.config)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

impl Baseline {
    pub(crate) fn new(config: BaselineConfig, device: &Device) -> Result<Self> {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, config.seed, device).pp("network");
        let network = if let Some(c) = config.fno() {
            Network::Fno(c.build(config.resolution, vb)?)
        } else if let Some(c) = config.unet_classic() {
            Network::UNetClassic(c.build(vb)?)
        } else if let Some(c) = config.unet_convnext() {
            Network::UNetConvNext(c.build(vb)?)
        } else {
            return Err(Error::Msg("baseline without a network".into()));
        };
        Ok(Baseline {
            config,
            varmap,
            network,
        })
    }

    /// The settings it was built with.
    pub fn config(&self) -> &BaselineConfig {
        &self.config
    }

    /// All its weights (and the classic U-Net's batch-norm buffers).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The names the optimiser updates: every variable but the buffers, sorted.
    pub fn trainable_names(&self) -> Vec<String> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<String> = data.keys().filter(|n| !is_buffer(n)).cloned().collect();
        names.sort();
        names
    }

    /// Parameters per component.
    pub fn param_table(&self) -> ParamTable {
        let components = match &self.network {
            Network::Fno(n) => n.components(),
            Network::UNetClassic(n) => n.components(),
            Network::UNetConvNext(n) => n.components(),
        };
        let components = components.into_iter().map(|c| c.under("network")).collect();
        ParamTable::new(self.config.kind.label(), &self.varmap, components)
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter()
            .filter(|(n, _)| !is_buffer(n))
            .map(|(_, v)| v.elem_count())
            .sum()
    }

    fn check_context(&self, context: &Tensor, fields: &ActiveFields) -> Result<()> {
        let c = &self.config;
        let dims = context.dims();
        let want = [
            c.n_fields,
            c.n_steps_input,
            c.resolution[0],
            c.resolution[1],
        ];
        if dims.len() != 5 || dims[1..] != want {
            return Err(Error::Shape {
                what: "baseline context (batch, fields, n_steps_input, height, width)".into(),
                left: dims.to_vec(),
                right: [&[0][..], &want[..]].concat(),
            });
        }
        let identity: Vec<usize> = (0..c.n_fields).collect();
        if fields.channels != identity {
            return Err(Error::Mismatch {
                what: "baseline fields (a baseline knows its dataset's channels, in order)".into(),
                left: format!("{:?}", fields.channels),
                right: format!("{identity:?}"),
            });
        }
        Ok(())
    }

    /// The next frame in normalised units and the scales, in `mode`.
    ///
    /// # Shapes
    /// `(batch, n_fields, n_steps_input, H, W)` → `(batch, n_fields, 1, H, W)`.
    pub fn predict_next_normalised(
        &self,
        context: &Tensor,
        fields: &ActiveFields,
        mode: Mode,
    ) -> Result<(Tensor, SampleRms)> {
        self.check_context(context, fields)?;
        let rms = SampleRms::fit(context, &fields.field_of_channel, self.config.grouping)?;
        let xs = rms.normalise(context)?;
        let (b, c, t, h, w) = xs.dims5()?;
        // The Well's `b t … c → b (t c) …`: channel index t·C + c
        let stacked = xs.permute((0, 2, 1, 3, 4))?.reshape((b, t * c, h, w))?;
        let ys = match &self.network {
            Network::Fno(n) => n.forward(&stacked)?,
            Network::UNetClassic(n) => n.forward(&stacked, mode)?,
            Network::UNetConvNext(n) => n.forward(&stacked)?,
        };
        Ok((ys.unsqueeze(2)?, rms))
    }

    /// The Well's training loss: MSE between the predicted and the true next frame, both
    /// normalised by the context's scales, over a window `(batch, fields, n_steps_input + 1,
    /// H, W)`.
    pub fn next_frame_loss(
        &self,
        window: &Tensor,
        fields: &ActiveFields,
        mode: Mode,
    ) -> Result<Tensor> {
        let t = self.config.n_steps_input;
        if window.rank() != 5 || window.dim(2)? <= t {
            return Err(Error::Shape {
                what: format!(
                    "training window (batch, fields, ≥ {} frames, height, width)",
                    t + 1
                ),
                left: window.dims().to_vec(),
                right: vec![t + 1],
            });
        }
        let (pred, rms) = self.predict_next_normalised(&window.narrow(2, 0, t)?, fields, mode)?;
        let target = rms.normalise(&window.narrow(2, t, 1)?)?;
        Ok((pred - target)?.sqr()?.mean_all()?)
    }
}

impl Emulator for Baseline {
    fn n_steps_input(&self) -> usize {
        self.config.n_steps_input
    }

    fn device(&self) -> Result<Device> {
        crate::device::varmap_device(&self.varmap)
    }

    fn total_fields(&self) -> usize {
        self.config.n_fields
    }

    fn predict_next(&self, context: &Tensor, fields: &ActiveFields) -> Result<Tensor> {
        let (pred, rms) = self.predict_next_normalised(context, fields, Mode::Eval)?;
        rms.denormalise(&pred)
    }
}
