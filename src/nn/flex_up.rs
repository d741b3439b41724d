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
use super::flex_down::resize_kernel;
use super::kernel_resize::{KernelResize, KernelResizer};
use super::params::conv_uniform;
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

/// Flexible causal transposed-convolution upsampling, the paper's alternative to
/// depth-to-space (Appendix B): "follows the same principle as flexible strided
/// convolutions, with an additional convolution at the end to adjust the output dimensions".
///
/// For a factor `(s_t, s_s)` the transposed kernel is `(k_t, s_s, s_s)` with the kernel sizes
/// of Eq. 6 (`k_t = 1 + s_t` if `s_t > 1`, else 1) and stride `(s_t, s_s, s_s)`: each latent
/// pixel paints an `s_s × s_s` patch (no spatial overlap) and each latent frame `j` paints
/// `k_t` frames `s_t·j + a`, `a < k_t`, overlapping its successor's first frame by one. As
/// in depth-to-space the first `s_t − 1` frames are discarded, and so is the one frame past
/// the last latent frame's window, so `T → s_t·(T − 1) + 1` and latent frame `j` reaches output
/// frames `s_t·j − s_t + 1 ..= s_t·j + 1` only (never earlier ones: causal). A causal `3x3x3`
/// convolution `out → out` follows.
///
/// Only the base kernel, for the layer's largest factor, is learned; a smaller factor's
/// kernel is the base kernel resized by the layer's [`KernelResize`] rule (as
/// [`FlexDownsample`](super::FlexDownsample) does), multiplied by the ratio of the factors'
/// volumes `s_t·s_s² / (s_t,base·s_s,base²)`. The painted mean of a constant latent is the
/// kernel's sum over the stride volume, and the adjoint rule keeps the sum (`A` reproduces
/// constants), so with it a constant latent paints the same mean value at every factor;
/// PI-resize keeps the sum in space (4 → 2 sum-pools) but not in time (3 → 1 keeps the middle
/// tap).
#[derive(Debug, Clone)]
pub struct FlexTransposedUpsample {
    base: ScaleFactor,
    weight: Tensor,
    bias: Tensor,
    conv: CausalConv3d,
    out_channels: usize,
    resizer: KernelResizer,
}

impl FlexTransposedUpsample {
    /// Builds the base kernel `transposed.weight (out, in, k_t(base), s_s(base), s_s(base))`,
    /// `transposed.bias (out)` and the final `conv.{weight,bias}` `(out, out, 3, 3, 3)` under
    /// `vb`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        base: ScaleFactor,
        vb: VarBuilder,
    ) -> Result<Self> {
        base.check()?;
        let (kt, ks) = (base.kernel_time(), base.kernel_space());
        // each output voxel receives on average k_t/s_t taps of in_channels inputs
        let fan_in = in_channels * kt.div_ceil(base.time);
        let tv = vb.pp("transposed");
        let weight = tv.get_with_hints(
            (out_channels, in_channels, kt, ks, ks),
            "weight",
            conv_uniform(fan_in),
        )?;
        let bias = tv.get_with_hints(out_channels, "bias", conv_uniform(fan_in))?;
        let conv = CausalConv3dConfig::new(out_channels, out_channels).build(vb.pp("conv"))?;
        Ok(Self {
            base,
            weight,
            bias,
            conv,
            out_channels,
            resizer: KernelResizer::new(KernelResize::Adjoint),
        })
    }

    /// Sets how the base kernel is resized to smaller factors (default
    /// [`KernelResize::Adjoint`]).
    pub fn with_resize(mut self, resize: KernelResize) -> Self {
        self.resizer = KernelResizer::new(resize);
        self
    }

    /// The largest factor.
    pub fn base_factor(&self) -> ScaleFactor {
        self.base
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count() + self.conv.config().n_parameters()
    }

    /// The transposed kernel used at `factor`.
    ///
    /// # Shapes
    /// `(out, in, k_t(factor), s_s, s_s)`.
    pub fn kernel(&self, factor: ScaleFactor) -> Result<Tensor> {
        factor.check_within(self.base)?;
        if factor == self.base {
            return Ok(self.weight.clone());
        }
        let w = resize_kernel(&self.weight, &self.resizer, self.base, factor)?;
        let volume = |f: ScaleFactor| (f.time * f.space * f.space) as f64;
        Ok((w * (volume(factor) / volume(self.base)))?)
    }

    /// Upsamples by `factor`.
    ///
    /// # Shapes
    /// `(batch, in, T, H, W)` → `(batch, out, s_t·(T − 1) + 1, H·s_s, W·s_s)`.
    pub fn forward(&self, xs: &Tensor, factor: ScaleFactor) -> Result<Tensor> {
        let kernel = self.kernel(factor)?;
        let (b, c_in, t, h, w) = xs.dims5()?;
        let (st, ss, kt) = (factor.time, factor.space, factor.kernel_time());
        let o = self.out_channels;
        // every tap of every input voxel: (b, o·kt·ss·ss, T·H·W)
        let taps = kernel
            .reshape((o * kt * ss * ss, c_in))?
            .broadcast_left(b)?
            .matmul(&xs.reshape((b, c_in, t * h * w))?)?;
        // spatial painting (non-overlapping): (b, o, kt, T, H·ss, W·ss)
        let taps = taps
            .reshape(vec![b, o, kt, ss, ss, t, h, w])?
            .permute(vec![0, 1, 2, 5, 6, 3, 7, 4])?
            .reshape((b, o, kt, t, h * ss, w * ss))?;
        // temporal overlap-add: tap a of latent frame j lands on frame st·j + a
        let (hs, ws) = (h * ss, w * ss);
        let long = st * t + kt - 1;
        let mut acc: Option<Tensor> = None;
        for a in 0..kt {
            let tap = taps.narrow(2, a, 1)?.squeeze(2)?; // (b, o, T, H', W')
            let spread = if st == 1 {
                tap
            } else {
                let zeros = Tensor::zeros((b, o, t, st - 1, hs, ws), tap.dtype(), tap.device())?;
                Tensor::cat(&[&tap.unsqueeze(3)?, &zeros], 3)?.reshape((b, o, t * st, hs, ws))?
            };
            let placed = spread.pad_with_zeros(2, a, long - t * st - a)?;
            acc = Some(match acc {
                Some(s) => (s + placed)?,
                None => placed,
            });
        }
        let full = acc.ok_or_else(|| crate::Error::Msg("transposed kernel without taps".into()))?;
        // discard the first st − 1 frames and the frame past the last window
        let kept = full.narrow(2, st - 1, st * (t - 1) + 1)?;
        let bias = self.bias.reshape((1, o, 1, 1, 1))?;
        self.conv.forward(&kept.broadcast_add(&bias)?)
    }
}
