//! The 2D layers The Well's U-Nets are made of, each with exact gradients on CPU and CUDA.
//!
//! The U-Nets work on images `(batch, channels, height, width)` (The Well stacks its
//! `n_in` context frames as channels). Convolutions run through
//! [`CausalConv3d`](crate::nn::CausalConv3d) with a temporal kernel of one frame, so they
//! get phystok's CPU GEMM kernels and their backward; the rest is built from candle ops
//! whose gradients are exact: the 2x2 stride-2 transposed convolution is one matrix product
//! followed by a depth-to-space rearrangement, max pooling is a reshape and two `max`
//! reductions (candle's `max_pool2d` backward is wrong), the depthwise 7x7 convolution a sum
//! of 49 shifted, channel-scaled copies.

use candle_core::{Tensor, Var};
use candle_nn::{Init, VarBuilder};

use super::super::causal_conv::{CausalConv3d, CausalConv3dConfig, SpatialPadding};
use super::super::drop_path::Mode;
use super::super::mlp::Bias;
use super::super::params::conv_uniform;
use crate::Result;

/// A 2D convolution `(batch, in, H, W) → (batch, out, H', W')`: a [`CausalConv3d`] over one frame.
#[derive(Debug, Clone)]
pub(crate) struct Conv2d {
    inner: CausalConv3d,
}

impl Conv2d {
    /// A `k x k` convolution at stride 1 with same padding (`k` odd).
    pub(crate) fn same(
        inp: usize,
        out: usize,
        k: usize,
        bias: Bias,
        vb: VarBuilder,
    ) -> Result<Self> {
        let inner = CausalConv3dConfig::new(inp, out)
            .with_kernel(1, k)
            .with_bias(bias)
            .build(vb)?;
        Ok(Conv2d { inner })
    }

    /// A `2 x 2` convolution at stride 2 without padding (halves H and W).
    pub(crate) fn down2(inp: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        let inner = CausalConv3dConfig::new(inp, out)
            .with_kernel(1, 2)
            .with_stride(1, 2)
            .with_padding(SpatialPadding::Valid)
            .build(vb)?;
        Ok(Conv2d { inner })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        Ok(self.inner.forward(&xs.unsqueeze(2)?)?.squeeze(2)?)
    }
}

/// PyTorch's `ConvTranspose2d(in, out, kernel_size=2, stride=2)`: each input pixel becomes a
/// 2x2 block, `y[o, 2h+i, 2w+j] = Σ_c x[c, h, w] · W[c, o, i, j] + b[o]`. Weight
/// `(in, out, 2, 2)` and bias uniform in `±1/sqrt(4·out)` (PyTorch's fan-in for a
/// transposed convolution).
#[derive(Debug, Clone)]
pub(crate) struct ConvTranspose2x2 {
    weight: Tensor,
    bias: Tensor,
    out: usize,
}

impl ConvTranspose2x2 {
    pub(crate) fn new(inp: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        let init = conv_uniform(4 * out);
        let weight = vb.get_with_hints((inp, out, 2, 2), "weight", init)?;
        let bias = vb.get_with_hints(out, "bias", init)?;
        Ok(ConvTranspose2x2 { weight, bias, out })
    }

    /// `(batch, in, H, W) → (batch, out, 2H, 2W)`.
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let o = self.out;
        let rows = xs.permute((0, 2, 3, 1))?.reshape((b * h * w, c))?;
        let ys = rows.matmul(&self.weight.reshape((c, o * 4))?)?;
        let ys = ys
            .reshape((b, h, w, o, 2, 2))?
            .permute((0, 3, 1, 4, 2, 5))?
            .reshape((b, o, 2 * h, 2 * w))?;
        Ok(ys.broadcast_add(&self.bias.reshape((1, o, 1, 1))?)?)
    }
}

/// `MaxPool2d(kernel_size=2, stride=2)` on even H and W.
pub(crate) fn max_pool2(xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    Ok(xs.reshape((b, c, h / 2, 2, w / 2, 2))?.max(5)?.max(3)?)
}

/// The Well's "channels-first LayerNorm" of its ConvNeXt U-Net resampling layers: it
/// divides by the L2 norm over channels, `x / max(‖x‖₂, 1e-6) · weight` (PyTorch's
/// `F.normalize`; The Well's bias parameter is never used, so it is not created here).
#[derive(Debug, Clone)]
pub(crate) struct ChannelL2Norm {
    weight: Tensor,
}

impl ChannelL2Norm {
    pub(crate) fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints((1, channels, 1, 1), "weight", Init::Const(1.0))?;
        Ok(ChannelL2Norm { weight })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let norm = xs.sqr()?.sum_keepdim(1)?.sqrt()?.maximum(1e-6)?;
        Ok(xs.broadcast_div(&norm)?.broadcast_mul(&self.weight)?)
    }
}

/// Depthwise `k x k` convolution with same padding (`Conv2d(dim, dim, k, padding=k/2,
/// groups=dim)`): the sum over the `k²` taps of the shifted input scaled per channel.
#[derive(Debug, Clone)]
pub(crate) struct DepthwiseConv {
    weight: Tensor,
    bias: Tensor,
    k: usize,
}

impl DepthwiseConv {
    pub(crate) fn new(channels: usize, k: usize, vb: VarBuilder) -> Result<Self> {
        let init = conv_uniform(k * k);
        let weight = vb.get_with_hints((channels, 1, k, k), "weight", init)?;
        let bias = vb.get_with_hints(channels, "bias", init)?;
        Ok(DepthwiseConv { weight, bias, k })
    }

    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = xs.dims4()?;
        let (k, p) = (self.k, self.k / 2);
        let padded = xs.pad_with_zeros(2, p, p)?.pad_with_zeros(3, p, p)?;
        let taps = self.weight.reshape((c, k * k))?;
        let mut acc = self.bias.reshape((1, c, 1, 1))?;
        for i in 0..k {
            let rows = padded.narrow(2, i, h)?;
            for j in 0..k {
                let tap = taps.narrow(1, i * k + j, 1)?.reshape((1, c, 1, 1))?;
                acc = rows
                    .narrow(3, j, w)?
                    .broadcast_mul(&tap)?
                    .broadcast_add(&acc)?;
            }
        }
        Ok(acc)
    }
}

/// `BatchNorm2d(channels)` (eps 1e-5, momentum 0.1, affine): batch statistics in
/// [`Mode::Train`] (which also update the running statistics), running statistics in
/// [`Mode::Eval`]. The running statistics are `VarMap` entries `running_mean` and
/// `running_var` so that checkpoints keep them; they are buffers, not parameters (see
/// [`is_buffer`]).
#[derive(Debug, Clone)]
pub(crate) struct BatchNorm2d {
    weight: Tensor,
    bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

/// Suffixes of the `VarMap` names that hold buffers (running statistics) rather than
/// trainable parameters.
pub const BUFFER_SUFFIXES: [&str; 2] = ["running_mean", "running_var"];

/// Whether the `VarMap` entry `name` is a buffer (a batch norm's running statistics) that
/// no optimiser may update.
pub fn is_buffer(name: &str) -> bool {
    BUFFER_SUFFIXES.iter().any(|s| name.ends_with(s))
}

impl BatchNorm2d {
    const EPS: f64 = 1e-5;
    const MOMENTUM: f64 = 0.1;

    pub(crate) fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(BatchNorm2d {
            weight: vb.get_with_hints(channels, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(channels, "bias", Init::Const(0.0))?,
            running_mean: vb.get_with_hints(channels, "running_mean", Init::Const(0.0))?,
            running_var: vb.get_with_hints(channels, "running_var", Init::Const(1.0))?,
        })
    }

    pub(crate) fn forward(&self, xs: &Tensor, mode: Mode) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let shape = (1, c, 1, 1);
        let (mean, var) = match mode {
            Mode::Train => {
                let n = (b * h * w) as f64;
                let mean = xs.sum_keepdim((0, 2, 3))?.affine(1.0 / n, 0.0)?;
                let centred = xs.broadcast_sub(&mean)?;
                let var = centred
                    .sqr()?
                    .sum_keepdim((0, 2, 3))?
                    .affine(1.0 / n, 0.0)?;
                let unbiased = var.detach().affine(n / (n - 1.0).max(1.0), 0.0)?;
                self.update(&mean.detach().flatten_all()?, &unbiased.flatten_all()?)?;
                (mean, var)
            }
            Mode::Eval => (
                self.running_mean.reshape(shape)?,
                self.running_var.reshape(shape)?,
            ),
        };
        let zs = xs
            .broadcast_sub(&mean)?
            .broadcast_div(&(var + Self::EPS)?.sqrt()?)?;
        Ok(zs
            .broadcast_mul(&self.weight.reshape(shape)?)?
            .broadcast_add(&self.bias.reshape(shape)?)?)
    }

    /// `running ← (1 − m)·running + m·batch`, in place (the tensors share the `VarMap`'s storage).
    fn update(&self, mean: &Tensor, var: &Tensor) -> Result<()> {
        let m = Self::MOMENTUM;
        for (running, batch) in [(&self.running_mean, mean), (&self.running_var, var)] {
            // a map loaded read-only (not variables) keeps its statistics
            if running.is_variable() {
                let next = ((running.detach() * (1.0 - m))? + (batch * m)?)?;
                Var::from_tensor(running)?.set(&next)?;
            }
        }
        Ok(())
    }
}
