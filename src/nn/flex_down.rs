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
//!
//! # The other choice: [`KernelResize::PseudoInverse`]
//! [`FlexDownsample::with_resize`] switches the layer to FlexiViT's PI-resize per axis
//! (`pinv(Bᵀ)` for time and space alike, [`resize_axis_matrix`]); its matrices come from the
//! layer's [`KernelResizer`], which computes each `(base, new)` pseudo-inverse once and
//! caches it (clones share the cache), so no training step recomputes one. At the base
//! factor both rules return the base kernel itself.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::causal_conv::{ConvOptions, SpatialPadding, causal_conv3d};
#[cfg(doc)]
use super::kernel_resize::resize_axis_matrix;
use super::kernel_resize::{KernelResize, KernelResizer};
use super::params::conv_uniform;
use super::scale::{SamplePositions, ScaleFactor, interpolation_matrix};
use crate::Result;

/// Resizes a base kernel `(out, in, k_t(base), s_s(base), s_s(base))` to `factor` with
/// `resizer`'s rule: [`KernelResize::Adjoint`] contracts each axis with `A` of
/// [`interpolation_matrix`] (cell centres in space, window ends in time);
/// [`KernelResize::PseudoInverse`] with `pinv(Bᵀ)ᵀ` from the resizer's cache. The base
/// factor returns the kernel itself.
pub(crate) fn resize_kernel(
    weight: &Tensor,
    resizer: &KernelResizer,
    base: ScaleFactor,
    factor: ScaleFactor,
) -> Result<Tensor> {
    if factor == base {
        return Ok(weight.clone());
    }
    let dev = weight.device();
    let (out_c, in_c) = (weight.dim(0)?, weight.dim(1)?);
    let (kt_b, ks_b) = (base.kernel_time(), base.kernel_space());
    let (kt, ks) = (factor.kernel_time(), factor.kernel_space());
    // per axis a (base × new) matrix contracted with the base kernel's axis
    let axis = |b: usize, n: usize, positions: SamplePositions| -> Result<Tensor> {
        match resizer.method() {
            KernelResize::Adjoint => Ok(Tensor::from_vec(
                interpolation_matrix(b, n, positions),
                (b, n),
                dev,
            )?),
            KernelResize::PseudoInverse => {
                // the cached M = pinv(Bᵀ) is (new × base); its transpose is (base × new)
                let m = resizer.matrix(b, n)?;
                Ok(Tensor::from_slice(m.as_slice(), (n, b), dev)?
                    .t()?
                    .contiguous()?)
            }
        }
    };
    let a_s = axis(ks_b, ks, SamplePositions::CellCentres)?.to_dtype(weight.dtype())?;
    let a_t = axis(kt_b, kt, SamplePositions::Corners)?.to_dtype(weight.dtype())?;
    let oi = out_c * in_c;
    // contract x, then y, then t; each time the contracted axis is last
    let w = weight.reshape((oi, kt_b, ks_b, ks_b))?;
    let w = w.broadcast_matmul(&a_s)?; // (oi, t, y, x')
    let w = w.transpose(2, 3)?.contiguous()?.broadcast_matmul(&a_s)?; // (oi, t, x', y')
    let w = w
        .permute((0, 3, 2, 1))?
        .contiguous()?
        .broadcast_matmul(&a_t)?; // (oi, y', x', t')
    let w = w.permute((0, 3, 1, 2))?; // (oi, t', y', x')
    Ok(w.reshape((out_c, in_c, kt, ks, ks))?)
}

/// Strided causal convolution with a run-time factor `≤` its base factor.
#[derive(Debug, Clone)]
pub struct FlexDownsample {
    base: ScaleFactor,
    weight: Tensor,
    bias: Tensor,
    resizer: KernelResizer,
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
            resizer: KernelResizer::new(KernelResize::Adjoint),
        })
    }

    /// Sets how the base kernel is resized to smaller factors (default
    /// [`KernelResize::Adjoint`]); the resizer starts with an empty cache.
    pub fn with_resize(mut self, resize: KernelResize) -> Self {
        self.resizer = KernelResizer::new(resize);
        self
    }

    /// How the base kernel is resized.
    pub fn resize(&self) -> KernelResize {
        self.resizer.method()
    }

    /// The resizer (its [`KernelResizer::cached`] counts the pseudo-inverses computed).
    pub fn resizer(&self) -> &KernelResizer {
        &self.resizer
    }

    /// The largest factor (the base kernel's).
    pub fn base_factor(&self) -> ScaleFactor {
        self.base
    }

    /// Number of trainable parameters (base kernel and bias).
    pub fn n_parameters(&self) -> usize {
        self.weight.elem_count() + self.bias.elem_count()
    }

    /// The kernel used at `factor`: the base kernel resized per axis by the layer's rule
    /// (`Aᵀ` by default, `pinv(Bᵀ)` with [`KernelResize::PseudoInverse`]).
    ///
    /// # Shapes
    /// `(out, in, k_t(factor), s_s, s_s)`.
    pub fn kernel(&self, factor: ScaleFactor) -> Result<Tensor> {
        factor.check_within(self.base)?;
        resize_kernel(&self.weight, &self.resizer, self.base, factor)
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
