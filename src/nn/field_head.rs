//! Adaptive field heads: causal convolutions that accept any subset of the physical fields.
//!
//! One kernel is learned for all `c_total` fields (MPP's field embedding, McCabe et al. 2024;
//! paper Appendix B). At run time the columns (encoder head, input side) or rows (decoder
//! head, output side) of the active fields are selected. The encoder head's response is
//! multiplied by `sqrt(c_total / c_active)` to make up for the smaller fan-in (the scale
//! multiplies the selected kernel, so the bias is not scaled). The decoder head's fan-in does
//! not change with the field subset, so by default its rows are selected without rescaling
//! (as Walrus does for its decoder); the paper rescales both heads' outputs, which
//! [`AdaptiveFieldConv::with_rescaled_output`] does for the decoder head.

use candle_core::Tensor;
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::causal_conv::{CausalConv3d, CausalConv3dConfig, causal_conv3d};
use crate::{ConfigError, Error, Result};

/// Which side of the kernel the fields are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldSide {
    /// Fields are the input channels (the encoder head): columns are selected and rescaled.
    Input,
    /// Fields are the output channels (the decoder head): rows and biases are selected.
    Output,
}

/// Checks a list of active field indices against the number of fields a head was built for:
/// not empty, every index below `total_fields`, no index twice.
pub fn check_active_fields(active: &[usize], total_fields: usize) -> Result<()> {
    if active.is_empty() {
        return Err(ConfigError::Empty {
            name: "active fields",
        }
        .into());
    }
    for (k, &f) in active.iter().enumerate() {
        if f >= total_fields {
            return Err(Error::OutOfRange {
                what: "active field".into(),
                index: f,
                len: total_fields,
            });
        }
        if active[..k].contains(&f) {
            return Err(ConfigError::Mismatch {
                name: "active fields",
                value: format!("{active:?}"),
                other: format!("field {f} listed twice"),
            }
            .into());
        }
    }
    Ok(())
}

/// A causal convolution whose input or output channels are physical fields, any subset of
/// which can be active at run time.
#[derive(Debug, Clone)]
pub struct AdaptiveFieldConv {
    conv: CausalConv3d,
    side: FieldSide,
    total_fields: usize,
    rescale_output: bool,
}

impl AdaptiveFieldConv {
    /// Builds the head from a convolution config whose field side (`in_channels` for
    /// [`FieldSide::Input`], `out_channels` for [`FieldSide::Output`]) is `c_total`.
    pub fn new(config: CausalConv3dConfig, side: FieldSide, vb: VarBuilder) -> Result<Self> {
        let total_fields = match side {
            FieldSide::Input => config.in_channels,
            FieldSide::Output => config.out_channels,
        };
        Ok(Self {
            conv: config.build(vb)?,
            side,
            total_fields,
            rescale_output: false,
        })
    }

    /// A decoder head ([`FieldSide::Output`]) whose output is multiplied by
    /// `sqrt(c_total / c_active)`, as the paper rescales both heads (Appendix B). An encoder
    /// head is rescaled always; this changes nothing there.
    pub fn with_rescaled_output(mut self) -> Self {
        self.rescale_output = self.side == FieldSide::Output;
        self
    }

    /// The number of fields `c_total` the kernel was learned for.
    pub fn total_fields(&self) -> usize {
        self.total_fields
    }

    /// The full convolution (all fields).
    pub fn conv(&self) -> &CausalConv3d {
        &self.conv
    }

    /// Applies the head to the `active` fields (indices into `0..c_total`, in the order of
    /// the input's channels for the encoder head, of the output's for the decoder head).
    ///
    /// # Shapes
    /// Encoder head: `(batch, active.len(), T, H, W)` → `(batch, out, T, H, W)`.
    /// Decoder head: `(batch, in, T, H, W)` → `(batch, active.len(), T, H, W)`.
    pub fn forward(&self, xs: &Tensor, active: &[usize]) -> Result<Tensor> {
        check_active_fields(active, self.total_fields)?;
        let idx: Vec<u32> = active.iter().map(|&f| f as u32).collect();
        let idx = Tensor::from_vec(idx, active.len(), xs.device())?;
        let options = self.conv.config().options;
        match self.side {
            FieldSide::Input => {
                let got = xs.dim(1).unwrap_or(0);
                if xs.rank() != 5 || got != active.len() {
                    return Err(Error::Shape {
                        what: format!(
                            "encoder head input channels vs {} active fields",
                            active.len()
                        ),
                        left: xs.dims().to_vec(),
                        right: vec![active.len()],
                    });
                }
                let scale = (self.total_fields as f64 / active.len() as f64).sqrt();
                let weight = (self.conv.weight().index_select(&idx, 1)? * scale)?;
                causal_conv3d(xs, &weight, self.conv.bias(), options)
            }
            FieldSide::Output => {
                let weight = self.conv.weight().index_select(&idx, 0)?;
                let bias = self
                    .conv
                    .bias()
                    .map(|b| b.index_select(&idx, 0))
                    .transpose()?;
                let ys = causal_conv3d(xs, &weight, bias.as_ref(), options)?;
                if self.rescale_output {
                    let scale = (self.total_fields as f64 / active.len() as f64).sqrt();
                    Ok((ys * scale)?)
                } else {
                    Ok(ys)
                }
            }
        }
    }
}
