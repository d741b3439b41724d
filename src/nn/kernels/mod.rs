//! Fast CPU kernels as candle custom ops, each with its own exact backward.
//!
//! candle 0.11's CPU convolution backward (`conv_transpose2d`) has no GEMM path and its
//! attention is three separate ops with a softmax in between, which made the tokeniser's
//! causal convolutions 12–20x and the processor's attention about 10x slower than PyTorch
//! on the CPU (REFERENCE.md, "candle 0.11 on CPU"). The kernels here are
//! `candle_core::CustomOp2`/`CustomOp3` implementations whose `cpu_fwd` calls the `gemm`
//! crate (the matrix-product backend candle itself uses) and whose `bwd` returns every
//! gradient through further custom ops, so autograd works as with the plain ops:
//!
//! - [`conv`]: causal 3D convolution, im2col + GEMM per `(batch, output frame)`, rayon over
//!   `batch × frames`; input and weight gradients by the transposed products (col2im).
//! - [`attention`]: fused scaled dot-product attention with an additive bias, blocked over
//!   query rows (each block holds its full score rows, so the softmax is exact without an
//!   online rescale), and a fused backward that recomputes the probabilities.
//!
//! They only run on the CPU with `f32` tensors ([`applies`]); callers (`causal_conv3d`,
//! `attention`, the norms, RoPE, SwiGLU, channel maps) keep candle's own ops for every other
//! device and dtype: that is the CUDA path, checked against these kernels by `nn::parity`.

pub(crate) mod alloc;
pub(crate) mod attention;
pub(crate) mod channel;
pub(crate) mod conv;
pub(crate) mod direct;
mod dispatch;
pub(crate) mod elementwise;
pub(crate) mod gelu;
mod gemm;
pub(crate) mod geom;
pub(crate) mod norm;
pub(crate) mod ordered;
pub(crate) mod rope;
pub(crate) mod silu;
pub(crate) mod softmax;
pub(crate) mod swiglu;

pub(crate) use gemm::{Acc, Mat, SharedMut, contiguous_f32, matmul, raw_matmul};

pub(crate) use dispatch::applies;
#[cfg(test)]
pub(crate) use dispatch::testing;
