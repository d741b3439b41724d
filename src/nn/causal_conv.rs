//! Causal 3D convolution built from candle's `conv2d` (candle has no `conv3d`).
//!
//! MAGVIT-2's causal convolution (Yu et al., 2024; paper Appendix B and C "Convolution
//! details"): kernel `(k_t, k_s, k_s)`, `k_t − 1` zero frames padded at the front of time and
//! none at the end, so output frame `t` depends on input frames `≤ t·s_t` only; spatial
//! padding symmetric (`k_s / 2` per side, [`SpatialPadding::Same`]) or none
//! ([`SpatialPadding::Valid`]); strides `(s_t, s_s, s_s)`. With `T` input frames there are
//! `(T − 1) / s_t + 1` output frames; output frame `j` sees input frames
//! `j·s_t − (k_t − 1) ..= j·s_t`.
//!
//! On the CPU with `f32` tensors the default [`ConvStrategy::Gemm`] runs phystok's own
//! im2col + GEMM kernel with its own backward (`super::kernels::conv`; forward + backward
//! 4–6x faster than candle's conv2d in `benches/kernels.rs`). Everywhere else, and with
//! [`ConvStrategy::FoldedTaps`], the temporal taps are folded into the channel axis: the
//! `k_t` shifted frame stacks are concatenated along channels and one `conv2d` with kernel
//! `(C_out, k_t·C_in, k_s, k_s)` runs on `(batch·T_out, k_t·C_in, H, W)`; autograd comes
//! from candle's conv2d, on CPU and CUDA. [`ConvStrategy::SummedTaps`] (one conv2d per tap, summed) is kept for comparison;
//! `benches/tokeniser.rs` times all three.

use candle_core::Tensor;
use serde::{Deserialize, Serialize};

use candle_nn::VarBuilder;

use super::kernels::channel::add_channel_bias;
use super::kernels::conv::CausalConvOp;
use super::kernels::geom::ConvKernel;
use super::params::conv_uniform;
use crate::{ConfigError, Error, Result};

/// How the spatial border is padded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SpatialPadding {
    /// `k_s / 2` zero pixels on each side (odd kernels): the spatial size is kept at stride 1.
    #[default]
    Same,
    /// No padding ("valid"), as in the strided downsampling layers.
    Valid,
}

/// Which implementation runs the convolution (same result to float32 rounding, different
/// speed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ConvStrategy {
    /// phystok's direct CPU kernel for `f32` on the CPU (AVX-512, or AVX2 + FMA on CPUs
    /// without it; unit strides; own forward, input and weight gradients), im2col + GEMM
    /// where it does not apply (strided layers, CPUs without AVX2);
    /// [`ConvStrategy::FoldedTaps`] on other devices and dtypes.
    #[default]
    Direct,
    /// phystok's direct CPU kernel on its AVX2 + FMA code path even where the CPU has
    /// AVX-512F (the path of CPUs without it; to test and measure it on any x86 machine);
    /// as [`ConvStrategy::Direct`] otherwise. `PHYSTOK_SIMD=avx2` does the same for `Direct`
    /// in a whole process.
    DirectAvx2,
    /// phystok's im2col + GEMM CPU kernel (own backward) for `f32` on the CPU, at every
    /// stride; [`ConvStrategy::FoldedTaps`] on other devices and dtypes.
    Gemm,
    /// Concatenate the `k_t` shifted frame stacks along channels; one candle conv2d.
    FoldedTaps,
    /// One conv2d per temporal tap, summed.
    SummedTaps,
}

/// Everything about a causal convolution except its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvOptions {
    /// Temporal stride `s_t`.
    pub stride_time: usize,
    /// Spatial stride `s_s` (both axes).
    pub stride_space: usize,
    /// Spatial padding.
    pub padding: SpatialPadding,
    /// Which conv2d decomposition runs.
    pub strategy: ConvStrategy,
}

impl Default for ConvOptions {
    fn default() -> Self {
        Self {
            stride_time: 1,
            stride_space: 1,
            padding: SpatialPadding::Same,
            strategy: ConvStrategy::default(),
        }
    }
}

/// The frames `offset + stride·j`, `j < n`, of `xs` along `dim`.
fn strided_frames(
    xs: &Tensor,
    dim: usize,
    offset: usize,
    stride: usize,
    n: usize,
) -> Result<Tensor> {
    if stride == 1 {
        return Ok(xs.narrow(dim, offset, n)?);
    }
    let idx: Vec<u32> = (0..n).map(|j| (offset + stride * j) as u32).collect();
    let idx = Tensor::from_vec(idx, n, xs.device())?;
    Ok(xs.index_select(&idx, dim)?)
}

/// Number of output frames for `t` input frames at temporal stride `stride_time`.
pub fn causal_output_frames(t: usize, stride_time: usize) -> usize {
    (t - 1) / stride_time + 1
}

/// Causal 3D convolution of `xs` with `weight` (and an optional `bias`).
///
/// # Shapes
/// `xs (batch, C_in, T, H, W)`, `weight (C_out, C_in, k_t, k_s, k_s)`, `bias (C_out)` →
/// `(batch, C_out, (T − 1)/s_t + 1, H', W')` with `H' = (H + 2p − k_s)/s_s + 1`.
///
/// # Errors
/// A typed error (never a panic) when ranks or channel counts disagree, the spatial kernel is
/// not square, [`SpatialPadding::Same`] meets an even kernel, the input is smaller than the
/// kernel, or a spatial stride > 1 leaves different remainders on H and W (candle's conv2d
/// backward fails on that).
pub fn causal_conv3d(
    xs: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    options: ConvOptions,
) -> Result<Tensor> {
    let (b, c_in, t, h, w) = xs.dims5().map_err(|_| Error::Shape {
        what: "causal conv input (batch, channels, time, height, width)".into(),
        left: xs.dims().to_vec(),
        right: vec![0; 5],
    })?;
    let (c_out, wc_in, k_t, k_h, k_w) = weight.dims5().map_err(|_| Error::Shape {
        what: "causal conv weight (out, in, k_t, k_s, k_s)".into(),
        left: weight.dims().to_vec(),
        right: vec![0; 5],
    })?;
    if k_t == 0 || k_h == 0 {
        return Err(Error::Empty {
            what: "causal conv kernel".into(),
        });
    }
    if wc_in != c_in {
        return Err(Error::Shape {
            what: "causal conv input channels vs weight".into(),
            left: xs.dims().to_vec(),
            right: weight.dims().to_vec(),
        });
    }
    if k_h != k_w {
        return Err(ConfigError::Mismatch {
            name: "kernel height",
            value: k_h.to_string(),
            other: format!("kernel width {k_w}"),
        }
        .into());
    }
    let (s_t, s_s) = (options.stride_time, options.stride_space);
    if s_t == 0 || s_s == 0 {
        return Err(ConfigError::NotPositive {
            name: "convolution stride",
            value: 0.0,
        }
        .into());
    }
    let pad = match options.padding {
        SpatialPadding::Same if k_h % 2 == 0 => {
            return Err(ConfigError::Mismatch {
                name: "spatial padding",
                value: "same".into(),
                other: format!("even kernel size {k_h}"),
            }
            .into());
        }
        SpatialPadding::Same => k_h / 2,
        SpatialPadding::Valid => 0,
    };
    if h + 2 * pad < k_h || w + 2 * pad < k_w || t == 0 {
        return Err(Error::Shape {
            what: "causal conv input smaller than kernel".into(),
            left: xs.dims().to_vec(),
            right: weight.dims().to_vec(),
        });
    }
    if s_s > 1 && (h + 2 * pad - k_h) % s_s != (w + 2 * pad - k_w) % s_s {
        return Err(ConfigError::Mismatch {
            name: "spatial size",
            value: format!("{h}x{w}"),
            other: format!("stride {s_s} (height and width must leave the same remainder)"),
        }
        .into());
    }
    let kernel = match options.strategy {
        ConvStrategy::Direct => Some(ConvKernel::Direct),
        ConvStrategy::DirectAvx2 => Some(ConvKernel::DirectAvx2),
        ConvStrategy::Gemm => Some(ConvKernel::Im2colGemm),
        ConvStrategy::FoldedTaps | ConvStrategy::SummedTaps => None,
    };
    if let Some(kernel) = kernel.filter(|_| crate::nn::kernels::applies(&[xs, weight])) {
        let op = CausalConvOp {
            stride_time: s_t,
            stride_space: s_s,
            pad,
            kernel,
        };
        let ys = op.apply(xs, weight)?;
        return Ok(match bias {
            Some(bias) => add_channel_bias(&ys, bias, 1)?,
            None => ys,
        });
    }
    let t_out = causal_output_frames(t, s_t);
    // (batch, T + k_t − 1, C_in, H, W): frames first so that a tap is a narrow on dim 1.
    let padded = xs
        .pad_with_zeros(2, k_t - 1, 0)?
        .permute((0, 2, 1, 3, 4))?
        .contiguous()?;
    let tap = |tau: usize| -> Result<Tensor> {
        strided_frames(&padded, 1, tau, s_t, t_out)?
            .reshape((b * t_out, c_in, h, w))
            .map_err(Error::from)
    };
    let ys = match options.strategy {
        ConvStrategy::FoldedTaps
        | ConvStrategy::Gemm
        | ConvStrategy::Direct
        | ConvStrategy::DirectAvx2 => {
            let taps = (0..k_t).map(&tap).collect::<Result<Vec<_>>>()?;
            let folded = if k_t == 1 {
                taps[0].clone()
            } else {
                Tensor::cat(&taps, 1)?
            };
            let kernel = weight
                .permute((0, 2, 1, 3, 4))?
                .reshape((c_out, k_t * c_in, k_h, k_w))?;
            folded.conv2d(&kernel, pad, s_s, 1, 1)?
        }
        ConvStrategy::SummedTaps => {
            let mut acc: Option<Tensor> = None;
            for tau in 0..k_t {
                let kernel = weight.narrow(2, tau, 1)?.squeeze(2)?.contiguous()?;
                let y = tap(tau)?.conv2d(&kernel, pad, s_s, 1, 1)?;
                acc = Some(match acc {
                    None => y,
                    Some(a) => (a + y)?,
                });
            }
            acc.ok_or_else(|| Error::Msg("empty temporal kernel".into()))?
        }
    };
    let ys = match bias {
        Some(bias) => ys.broadcast_add(&bias.reshape((1, c_out, 1, 1))?)?,
        None => ys,
    };
    let (_, _, h_out, w_out) = ys.dims4()?;
    Ok(ys
        .reshape((b, t_out, c_out, h_out, w_out))?
        .permute((0, 2, 1, 3, 4))?)
}

/// Settings of one [`CausalConv3d`] layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CausalConv3dConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Temporal kernel size `k_t` (default 3, Appendix C).
    pub kernel_time: usize,
    /// Spatial kernel size `k_s` (default 3, Appendix C).
    pub kernel_space: usize,
    /// Strides and padding.
    pub options: ConvOptions,
    /// Whether the layer adds a learned bias.
    pub bias: Bias,
}

pub use super::mlp::Bias;

impl CausalConv3dConfig {
    /// A `3x3x3` causal convolution at stride 1 with same spatial padding and a bias.
    pub fn new(in_channels: usize, out_channels: usize) -> Self {
        Self {
            in_channels,
            out_channels,
            kernel_time: 3,
            kernel_space: 3,
            options: ConvOptions::default(),
            bias: Bias::With,
        }
    }

    /// Sets the kernel `(k_t, k_s, k_s)`.
    pub fn with_kernel(mut self, kernel_time: usize, kernel_space: usize) -> Self {
        self.kernel_time = kernel_time;
        self.kernel_space = kernel_space;
        self
    }

    /// Sets the strides `(s_t, s_s, s_s)`.
    pub fn with_stride(mut self, stride_time: usize, stride_space: usize) -> Self {
        self.options.stride_time = stride_time;
        self.options.stride_space = stride_space;
        self
    }

    /// Sets the spatial padding.
    pub fn with_padding(mut self, padding: SpatialPadding) -> Self {
        self.options.padding = padding;
        self
    }

    /// Sets how the taps map onto conv2d calls.
    pub fn with_strategy(mut self, strategy: ConvStrategy) -> Self {
        self.options.strategy = strategy;
        self
    }

    /// Sets whether the layer has a bias.
    pub fn with_bias(mut self, bias: Bias) -> Self {
        self.bias = bias;
        self
    }

    /// Checks every setting: sizes and strides positive, odd kernels with same padding.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("kernel_time", self.kernel_time),
            ("kernel_space", self.kernel_space),
            ("stride_time", self.options.stride_time),
            ("stride_space", self.options.stride_space),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if self.options.padding == SpatialPadding::Same && self.kernel_space.is_multiple_of(2) {
            return Err(ConfigError::Mismatch {
                name: "spatial padding",
                value: "same".into(),
                other: format!("even kernel_space {}", self.kernel_space),
            });
        }
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn n_parameters(&self) -> usize {
        let bias = if self.bias == Bias::With {
            self.out_channels
        } else {
            0
        };
        self.out_channels * self.in_channels * self.kernel_time * self.kernel_space.pow(2) + bias
    }

    /// Builds the layer, its weight `weight (out, in, k_t, k_s, k_s)` and `bias (out)` under `vb`.
    pub fn build(&self, vb: VarBuilder) -> Result<CausalConv3d> {
        self.check()?;
        let fan_in = self.in_channels * self.kernel_time * self.kernel_space.pow(2);
        let shape = (
            self.out_channels,
            self.in_channels,
            self.kernel_time,
            self.kernel_space,
            self.kernel_space,
        );
        let weight = vb.get_with_hints(shape, "weight", conv_uniform(fan_in))?;
        let bias = match self.bias {
            Bias::With => {
                Some(vb.get_with_hints(self.out_channels, "bias", conv_uniform(fan_in))?)
            }
            Bias::Without => None,
        };
        Ok(CausalConv3d {
            config: *self,
            weight,
            bias,
            name: vb.prefix(),
        })
    }
}

/// A causal 3D convolution layer (see the module docs for padding and frame alignment).
#[derive(Debug, Clone)]
pub struct CausalConv3d {
    config: CausalConv3dConfig,
    weight: Tensor,
    bias: Option<Tensor>,
    name: String,
}

impl CausalConv3d {
    /// The layer's settings.
    pub fn config(&self) -> &CausalConv3dConfig {
        &self.config
    }

    /// The kernel `(out, in, k_t, k_s, k_s)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias `(out)`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// The `VarBuilder` path of the layer (`encoder.head`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Applies the convolution.
    ///
    /// # Shapes
    /// `(batch, in, T, H, W)` → `(batch, out, (T − 1)/s_t + 1, H', W')`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        causal_conv3d(xs, &self.weight, self.bias.as_ref(), self.config.options)
    }
}
