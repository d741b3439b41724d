//! Residual block of two causal `3x3x3` convolutions (MAGVIT-2's encoder/decoder block
//! without its *adaptive* group normalisation; paper Appendix C: "all residual blocks use
//! causal 3D convolutions with kernel size 3 and stride 1").
//!
//! `y = x + conv2(silu(norm2(conv1(silu(norm1(x))))))`, where the norms are either absent
//! ([`ResidualNorm::None`]: `y = x + conv2(silu(conv1(silu(x))))`) or a plain group norm with
//! a learned per-channel affine ([`ResidualNorm::GroupPerFrame`]). The paper removes only
//! MAGVIT-2's adaptive group norm, so its blocks keep a plain one; but a group norm over
//! `(C/G, T, H, W)` would mix future frames into past ones and break causality, so the
//! statistics here are taken per frame, over the group's channels × H × W of each frame.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use super::causal_conv::{CausalConv3d, CausalConv3dConfig};
use super::mlp::silu;
use crate::{ConfigError, Result};

/// Epsilon of [`FrameGroupNorm`]: MAGVIT-2's group norm (`eps = 1e-6`).
pub const FRAME_GROUP_NORM_EPS: f64 = 1e-6;

/// The normalisation inside a [`ResidualBlock`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ResidualNorm {
    /// No normalisation.
    #[default]
    None,
    /// Group norm per frame: channels split into `groups`; each group of each frame is
    /// normalised to zero mean and unit variance over its channels × H × W, then scaled and
    /// shifted per channel (learned, initialised to 1 and 0).
    GroupPerFrame {
        /// Number of channel groups (must divide every normalised width).
        groups: usize,
    },
}

impl ResidualNorm {
    /// A short name for tables (`none`, `group-per-frame(G)`).
    pub fn key(&self) -> String {
        match self {
            ResidualNorm::None => "none".into(),
            ResidualNorm::GroupPerFrame { groups } => format!("group-per-frame({groups})"),
        }
    }

    /// Checks that the groups divide `channels`; `setting` names the setting in the error.
    pub fn check(&self, channels: usize, setting: &'static str) -> Result<(), ConfigError> {
        if let ResidualNorm::GroupPerFrame { groups } = *self
            && (groups == 0 || !channels.is_multiple_of(groups))
        {
            return Err(ConfigError::Mismatch {
                name: setting,
                value: groups.to_string(),
                other: format!("a positive divisor of the residual blocks' width {channels}"),
            });
        }
        Ok(())
    }
}

/// Group normalisation per frame with a learned per-channel affine, from plain candle ops
/// (exact gradients to the input, `weight` and `bias`).
#[derive(Debug, Clone)]
pub struct FrameGroupNorm {
    weight: Tensor,
    bias: Tensor,
    groups: usize,
}

impl FrameGroupNorm {
    /// `weight (channels)` (ones) and `bias (channels)` (zeros) under `vb`.
    pub fn new(groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        ResidualNorm::GroupPerFrame { groups }.check(channels, "residual_norm.groups")?;
        let weight = vb.get_with_hints(channels, "weight", Init::Const(1.0))?;
        let bias = vb.get_with_hints(channels, "bias", Init::Const(0.0))?;
        Ok(Self {
            weight,
            bias,
            groups,
        })
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// Normalises each group of each frame.
    ///
    /// # Shapes
    /// `(batch, channels, T, H, W)` → same.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, t, h, w) = xs.dims5()?;
        let g = self.groups;
        let x = xs.reshape((b, g, c / g, t, h * w))?;
        let n = ((c / g) * h * w) as f64;
        let mean = (x.sum_keepdim(4)?.sum_keepdim(2)? / n)?;
        let centred = x.broadcast_sub(&mean)?;
        let var = (centred.sqr()?.sum_keepdim(4)?.sum_keepdim(2)? / n)?;
        let z = centred.broadcast_div(&(var + FRAME_GROUP_NORM_EPS)?.sqrt()?)?;
        let z = z.reshape((b, c, t, h, w))?;
        let gain = self.weight.reshape((1, c, 1, 1, 1))?;
        let shift = self.bias.reshape((1, c, 1, 1, 1))?;
        Ok(z.broadcast_mul(&gain)?.broadcast_add(&shift)?)
    }
}

/// Pre-activation residual block at a fixed channel count.
#[derive(Debug, Clone)]
pub struct ResidualBlock {
    norm1: Option<FrameGroupNorm>,
    conv1: CausalConv3d,
    norm2: Option<FrameGroupNorm>,
    conv2: CausalConv3d,
}

impl ResidualBlock {
    /// A block at `channels` without normalisation, weights `conv1.{weight,bias}`,
    /// `conv2.{weight,bias}` under `vb`.
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Self::with_norm(channels, ResidualNorm::None, vb)
    }

    /// A block at `channels` with `norm`; with [`ResidualNorm::GroupPerFrame`] the norms'
    /// weights are `norm1.{weight,bias}` and `norm2.{weight,bias}` under `vb`.
    pub fn with_norm(channels: usize, norm: ResidualNorm, vb: VarBuilder) -> Result<Self> {
        let config = CausalConv3dConfig::new(channels, channels);
        let make_norm = |name: &str| -> Result<Option<FrameGroupNorm>> {
            match norm {
                ResidualNorm::None => Ok(None),
                ResidualNorm::GroupPerFrame { groups } => {
                    Ok(Some(FrameGroupNorm::new(groups, channels, vb.pp(name))?))
                }
            }
        };
        Ok(Self {
            norm1: make_norm("norm1")?,
            conv1: config.build(vb.pp("conv1"))?,
            norm2: make_norm("norm2")?,
            conv2: config.build(vb.pp("conv2"))?,
        })
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        let norms: usize = [&self.norm1, &self.norm2]
            .into_iter()
            .flatten()
            .map(FrameGroupNorm::n_parameters)
            .sum();
        self.conv1.config().n_parameters() + self.conv2.config().n_parameters() + norms
    }

    /// Applies the block.
    ///
    /// # Shapes
    /// `(batch, channels, T, H, W)` → same.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let norm = |n: &Option<FrameGroupNorm>, x: &Tensor| -> Result<Tensor> {
            match n {
                Some(n) => n.forward(x),
                None => Ok(x.clone()),
            }
        };
        let h = self.conv1.forward(&silu(&norm(&self.norm1, xs)?)?)?;
        let h = self.conv2.forward(&silu(&norm(&self.norm2, &h)?)?)?;
        Ok((xs + h)?)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor, Var};
    use candle_nn::VarMap;

    use super::*;
    use crate::nn::seeded_var_builder;

    fn bits(t: &Tensor) -> Vec<u32> {
        t.flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    /// The block with phystok's `silu` op gives candle's `silu` bits: its output and the
    /// gradients of its input and of every parameter (so switching to the op moved no
    /// published number).
    #[test]
    fn the_silu_op_gives_the_bits_of_candle_silu_through_the_block() -> crate::Result<()> {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let block = ResidualBlock::new(5, seeded_var_builder(&varmap, 3, &dev))?;
        let n = 2 * 5 * 4 * 9 * 11;
        let x = Var::from_vec(
            (0..n).map(|i| 3.0 * (0.29 * i as f32).sin()).collect(),
            (2, 5, 4, 9, 11),
            &dev,
        )?;
        let plain = |xs: &Tensor| -> crate::Result<Tensor> {
            let h = block.conv1.forward(&xs.silu()?)?;
            let h = block.conv2.forward(&h.silu()?)?;
            Ok((xs + h)?)
        };
        let proj = Tensor::from_vec(
            (0..n).map(|i| (0.53 * i as f32).cos()).collect(),
            (2, 5, 4, 9, 11),
            &dev,
        )?;
        let ours = block.forward(x.as_tensor())?;
        let theirs = plain(x.as_tensor())?;
        assert_eq!(bits(&ours), bits(&theirs), "output");
        let go = (&ours * &proj)?.sum_all()?.backward()?;
        let gp = (&theirs * &proj)?.sum_all()?.backward()?;
        let mut vars: Vec<Var> = varmap.all_vars();
        vars.push(x);
        assert_eq!(vars.len(), 5, "four parameters and the input");
        for v in &vars {
            let (a, b) = (go.get(v).expect("gradient"), gp.get(v).expect("gradient"));
            assert_eq!(bits(a), bits(b), "gradient of a {:?} tensor", v.dims());
        }
        Ok(())
    }
}
