//! `silu(x) = x / (1 + e^{−x})` as one CPU op on rayon, and its backward as one more pass.
//!
//! candle runs `silu` on its own element-wise pool and builds the gradient from seven
//! full-size passes (`neg`, `exp`, `+ 1`, `recip`, `1 − y`, `·`, `+ y`, then `· dy`), each
//! a new tensor. Here the forward is one rayon pass and the backward one more, computing
//! exactly candle's expressions in candle's order with the same `expf`, so both directions
//! give candle's bits (tested): switching to this op changes no published number.
//!
//! The residual blocks of the tokeniser call it through [`crate::nn::silu`].

use candle_core::{CpuStorage, CustomOp1, CustomOp3, Layout, Shape, Tensor};

use super::contiguous_f32;
use super::elementwise::{map1, map3};

/// candle's `silu` of one element.
#[inline(always)]
fn silu(v: f32) -> f32 {
    v / (1.0 + (-v).exp())
}

/// candle's gradient of `y = silu(x)` at one element: `dy · (σ(x) · (1 − y) + y)`, with
/// `σ(x) = 1 / (e^{−x} + 1)` and `1 − y` as candle's affine `y · (−1) + 1`.
#[inline(always)]
// `y * -1.0`, not `-y`: candle's affine multiplies, and on a NaN the two differ in sign bit
#[allow(clippy::neg_multiply)]
fn silu_grad(x: f32, y: f32, dy: f32) -> f32 {
    let sigmoid = 1.0 / ((-x).exp() + 1.0);
    dy * (sigmoid * (y * -1.0 + 1.0) + y)
}

/// `silu(x)` of an `f32` CPU tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiluOp;

impl SiluOp {
    /// `silu(x)`.
    pub fn apply(x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(SiluOp)
    }
}

impl CustomOp1 for SiluOp {
    fn name(&self) -> &'static str {
        "phystok-silu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = map1(contiguous_f32(s, l)?, silu);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (x, y, dy) = (x.contiguous()?, y.contiguous()?, dy.contiguous()?);
        Ok(Some(x.apply_op3_no_bwd(&y, &dy, &SiluGradOp)?))
    }
}

/// `dx` of `y = silu(x)` from `(x, y, dy)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SiluGradOp;

impl CustomOp3 for SiluGradOp {
    fn name(&self) -> &'static str {
        "phystok-silu-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() || l1.dims() != l3.dims() {
            return Err(candle_core::Error::Msg(format!(
                "silu gradient of {:?}, {:?} and {:?}",
                l1.dims(),
                l2.dims(),
                l3.dims()
            )));
        }
        let (x, y, dy) = (
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
        );
        let out = map3(x, y, dy, silu_grad);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::elementwise::bits;
    use super::*;
    use candle_core::{Device, Var};

    /// candle's bits forward and backward, on a length that leaves a partial chunk, for
    /// arguments of both signs and large magnitude, with NaN and infinities where candle
    /// has them.
    #[test]
    fn equals_candle_silu_bit_for_bit_forward_and_backward() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let n = 3 * 16384 + 777; // a partial last chunk
        let mut v: Vec<f32> = (0..n).map(|i| 40.0 * (0.37 * i as f32).sin()).collect();
        v[5] = f32::NAN;
        v[6] = f32::INFINITY;
        v[7] = f32::NEG_INFINITY;
        v[8] = -0.0;
        let x = Var::from_vec(v, (3, n / 3), &dev)?;
        let proj: Vec<f32> = (0..n).map(|i| (0.71 * i as f32).cos()).collect();
        let proj = Tensor::from_vec(proj, (3, n / 3), &dev)?;
        let ours = SiluOp::apply(x.as_tensor())?;
        let plain = x.as_tensor().silu()?;
        assert_eq!(bits(&ours), bits(&plain), "forward");
        let go = (&ours * &proj)?.sum_all()?.backward()?;
        let gp = (&plain * &proj)?.sum_all()?.backward()?;
        let (a, b) = (go.get(&x).unwrap(), gp.get(&x).unwrap());
        assert_eq!(bits(a), bits(b), "gradient");
        Ok(())
    }

    /// A strided (transposed) input is read in its logical order.
    #[test]
    fn reads_strided_views() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::from_vec((0..60).map(|i| i as f32 - 30.0).collect(), (6, 10), &dev)?;
        let xt = x.t()?;
        assert_eq!(bits(&SiluOp::apply(&xt)?), bits(&xt.silu()?));
        Ok(())
    }
}
