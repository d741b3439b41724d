//! Flexible depth-to-space upsampling (paper Appendix B and C).
//!
//! A causal `3x3x3` convolution expands `in` channels to `out · s_t · s_s²` for the layer's
//! largest factor `(s_t, s_s)`; the channels `(out, a, b, c)` are rearranged into time
//! (sub-frame `a`) and space (sub-pixels `b`, `c`), and the first `s_t − 1` frames are
//! discarded (MAGVIT-2), so `T → s_t·(T − 1) + 1`. Latent frame `j` produces output frames
//! `s_t·j − s_t + 1 ..= s_t·j`: frame `s_t·j` is aligned with it, and frame 0 comes from
//! latent frame 0 alone.
//!
//! A smaller factor subsamples the base output: every `η = (s_t,base/s_t, s_s,base/s_s)`-th
//! frame and pixel of the base output (after the discard), starting at the first. That equals
//! keeping only the base kernel's output channels with `a ≡ η_t − 1 (mod η_t)`,
//! `b ≡ c ≡ 0 (mod η_s)`, so the smaller layer computes just the channels it keeps.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::causal_conv::{CausalConv3d, CausalConv3dConfig, causal_conv3d};
use super::scale::ScaleFactor;
use crate::Result;

/// Depth-to-space upsampling with a run-time factor `≤` its base factor.
#[derive(Debug, Clone)]
pub struct FlexUpsample {
    base: ScaleFactor,
    conv: CausalConv3d,
    out_channels: usize,
}

impl FlexUpsample {
    /// Builds the expanding convolution `conv.weight (out·s_t·s_s², in, 3, 3, 3)` under `vb`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        base: ScaleFactor,
        vb: VarBuilder,
    ) -> Result<Self> {
        base.check()?;
        let expanded = out_channels * base.time * base.space * base.space;
        let conv = CausalConv3dConfig::new(in_channels, expanded).build(vb.pp("conv"))?;
        Ok(Self {
            base,
            conv,
            out_channels,
        })
    }

    /// The largest factor.
    pub fn base_factor(&self) -> ScaleFactor {
        self.base
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        self.conv.config().n_parameters()
    }

    /// The base-kernel output channels kept at `factor`, in `(out, a, b, c)` order.
    pub fn kept_channels(&self, factor: ScaleFactor) -> Result<Vec<u32>> {
        factor.check_within(self.base)?;
        let (eta_t, eta_s) = (self.base.time / factor.time, self.base.space / factor.space);
        let (st, ss) = (self.base.time, self.base.space);
        let mut kept =
            Vec::with_capacity(self.out_channels * factor.time * factor.space * factor.space);
        for o in 0..self.out_channels {
            for a in (eta_t - 1..st).step_by(eta_t) {
                for b in (0..ss).step_by(eta_s) {
                    for c in (0..ss).step_by(eta_s) {
                        kept.push((((o * st + a) * ss + b) * ss + c) as u32);
                    }
                }
            }
        }
        Ok(kept)
    }

    /// Upsamples by `factor`.
    ///
    /// # Shapes
    /// `(batch, in, T, H, W)` → `(batch, out, s_t·(T − 1) + 1, H·s_s, W·s_s)`.
    pub fn forward(&self, xs: &Tensor, factor: ScaleFactor) -> Result<Tensor> {
        let kept = self.kept_channels(factor)?;
        let ys = if factor == self.base {
            self.conv.forward(xs)?
        } else {
            let idx = Tensor::from_vec(kept.clone(), kept.len(), xs.device())?;
            let weight = self.conv.weight().index_select(&idx, 0)?;
            let bias = self
                .conv
                .bias()
                .map(|b| b.index_select(&idx, 0))
                .transpose()?;
            causal_conv3d(xs, &weight, bias.as_ref(), self.conv.config().options)?
        };
        depth_to_space(&ys, self.out_channels, factor)
    }
}

/// Rearranges `(batch, out·s_t·s_s², T, H, W)` into `(batch, out, s_t·T − s_t + 1, H·s_s, W·s_s)`
/// (channel order `(out, a, b, c)`), dropping the first `s_t − 1` frames.
pub fn depth_to_space(xs: &Tensor, out_channels: usize, factor: ScaleFactor) -> Result<Tensor> {
    let (b, _, t, h, w) = xs.dims5()?;
    let (st, ss) = (factor.time, factor.space);
    let ys = xs
        .reshape(vec![b, out_channels, st, ss, ss, t, h, w])?
        .permute(vec![0, 1, 5, 2, 6, 3, 7, 4])?
        .reshape((b, out_channels, t * st, h * ss, w * ss))?;
    Ok(ys.narrow(2, st - 1, t * st - (st - 1))?)
}
