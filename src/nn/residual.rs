//! Residual block of two causal `3x3x3` convolutions (MAGVIT-2's encoder/decoder block
//! without normalisation; paper Appendix C: "all residual blocks use causal 3D convolutions
//! with kernel size 3 and stride 1").
//!
//! `y = x + conv2(silu(conv1(silu(x))))`. There is no group normalisation: a norm over
//! `(C/G, T, H, W)` would mix future frames into past ones and break causality, and the paper
//! removes MAGVIT-2's adaptive group norm.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::causal_conv::{CausalConv3d, CausalConv3dConfig};
use crate::Result;

/// Pre-activation residual block at a fixed channel count.
#[derive(Debug, Clone)]
pub struct ResidualBlock {
    conv1: CausalConv3d,
    conv2: CausalConv3d,
}

impl ResidualBlock {
    /// A block at `channels` with weights `conv1.{weight,bias}`, `conv2.{weight,bias}` under `vb`.
    pub fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        let config = CausalConv3dConfig::new(channels, channels);
        Ok(Self {
            conv1: config.build(vb.pp("conv1"))?,
            conv2: config.build(vb.pp("conv2"))?,
        })
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        self.conv1.config().n_parameters() + self.conv2.config().n_parameters()
    }

    /// Applies the block.
    ///
    /// # Shapes
    /// `(batch, channels, T, H, W)` → same.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&xs.silu()?)?;
        let h = self.conv2.forward(&h.silu()?)?;
        Ok((xs + h)?)
    }
}
