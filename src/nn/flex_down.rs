//! Flexible downsampling: a strided causal convolution whose kernel is resized at run time
//! from one base kernel (paper Appendix B, Eq. 6; Mukhopadhyay et al. 2025's CKM adapted to
//! causal convolutions).
//!
//! For a factor `(s_t, s_s)` the kernel is `(k_t, k_s, k_s)` with `k_s = s_s`,
//! `k_t = 1 + s_t` if `s_t > 1` else 1, stride `(s_t, s_s, s_s)`, no spatial padding and
//! `k_t − 1` causal zero frames. Only the base kernel, for the layer's largest factor, is
//! learned; a smaller factor's kernel is `w = Aᵀ w_base` with `A` the linear interpolation
//! that resizes a small patch up to the base patch size (per axis: [`interpolation_matrix`],
//! spatial samples at cell centres, temporal samples at the window's end frames).
//!
//! # Why `Aᵀ` and not FlexiViT's `pinv(Bᵀ)`
//! `⟨x, Aᵀ w_base⟩ = ⟨A x, w_base⟩` for *every* small patch `x`: the small kernel answers
//! exactly what the base kernel answers for the patch interpolated to base size. Because `A`
//! extrapolates linearly (no edge clamping), a field that is affine within the patch (and, in
//! time, constant over the window) gives the base kernel's response exactly, and a smooth
//! field gives it up to second-order terms. FlexiViT's PI-resize `pinv(Bᵀ) w_base` (`B` the
//! base→small resize; REFERENCE.md) is the least-squares optimum for *white-noise* patches;
//! for 4 → 2 it reduces to sum-pooling the kernel, which is exact only for patches that are
//! constant over 2x2 blocks and misses the affine part that dominates smooth physical fields.
//! For `k_t: 3 → 1` bilinear resizing keeps only the middle tap, while `Aᵀ` sums the taps, so
//! a field that is steady in time keeps its response. The resize is a few small matmuls, so
//! gradients flow into the base kernel whichever factor ran.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::causal_conv::{ConvOptions, SpatialPadding, causal_conv3d};
use super::params::conv_uniform;
use super::scale::{SamplePositions, ScaleFactor, interpolation_matrix};
use crate::Result;

/// Strided causal convolution with a run-time factor `≤` its base factor.
#[derive(Debug, Clone)]
pub struct FlexDownsample {
    base: ScaleFactor,
    weight: Tensor,
    bias: Tensor,
    in_channels: usize,
    out_channels: usize,
}

impl FlexDownsample {
    /// Builds the base kernel `weight (out, in, k_t(base), s_s(base), s_s(base))` and
    /// `bias (out)` under `vb`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        base: ScaleFactor,
        vb: VarBuilder,
    ) -> Result<Self> {
        base.check()?;
        let (kt, ks) = (base.kernel_time(), base.kernel_space());
        let fan_in = in_channels * kt * ks * ks;
        let weight = vb.get_with_hints(
            (out_channels, in_channels, kt, ks, ks),
            "weight",
            conv_uniform(fan_in),
        )?;
        let bias = vb.get_with_hints(out_channels, "bias", conv_uniform(fan_in))?;
        Ok(Self {
            base,
            weight,
            bias,
            in_channels,
            out_channels,
        })
    }

    /// The largest factor (the base kernel's).
    pub fn base_factor(&self) -> ScaleFactor {
        self.base
    }

    /// Number of trainable parameters (base kernel and bias).
    pub fn n_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// The kernel used at `factor`: the base kernel resized by `Aᵀ` per axis.
    ///
    /// # Shapes
    /// `(out, in, k_t(factor), s_s, s_s)`.
    pub fn kernel(&self, factor: ScaleFactor) -> Result<Tensor> {
        factor.check_within(self.base)?;
        if factor == self.base {
            return Ok(self.weight.clone());
        }
        let dev = self.weight.device();
        let (kt_b, ks_b) = (self.base.kernel_time(), self.base.kernel_space());
        let (kt, ks) = (factor.kernel_time(), factor.kernel_space());
        let a_s = Tensor::from_vec(
            interpolation_matrix(ks_b, ks, SamplePositions::CellCentres),
            (ks_b, ks),
            dev,
        )?;
        let a_t = Tensor::from_vec(
            interpolation_matrix(kt_b, kt, SamplePositions::Corners),
            (kt_b, kt),
            dev,
        )?;
        let oi = self.out_channels * self.in_channels;
        // contract x, then y, then t; each time the contracted axis is last
        let w = self.weight.reshape((oi, kt_b, ks_b, ks_b))?;
        let w = w.broadcast_matmul(&a_s)?; // (oi, t, y, x')
        let w = w.transpose(2, 3)?.contiguous()?.broadcast_matmul(&a_s)?; // (oi, t, x', y')
        let w = w
            .permute((0, 3, 2, 1))?
            .contiguous()?
            .broadcast_matmul(&a_t)?; // (oi, y', x', t')
        let w = w.permute((0, 3, 1, 2))?; // (oi, t', y', x')
        Ok(w.reshape((self.out_channels, self.in_channels, kt, ks, ks))?)
    }

    /// Downsamples by `factor`.
    ///
    /// # Shapes
    /// `(batch, in, T, H, W)` → `(batch, out, (T − 1)/s_t + 1, H/s_s, W/s_s)`.
    pub fn forward(&self, xs: &Tensor, factor: ScaleFactor) -> Result<Tensor> {
        let kernel = self.kernel(factor)?;
        let options = ConvOptions {
            stride_time: factor.time,
            stride_space: factor.space,
            padding: SpatialPadding::Valid,
            ..ConvOptions::default()
        };
        causal_conv3d(xs, &kernel, Some(&self.bias), options)
    }
}
