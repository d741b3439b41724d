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
use super::mlp::silu;
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
        let h = self.conv1.forward(&silu(xs)?)?;
        let h = self.conv2.forward(&silu(&h)?)?;
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
