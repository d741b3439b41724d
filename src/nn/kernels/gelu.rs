//! `gelu(x) = x · Φ(x)` (the exact, erf form) as one CPU op on rayon, and its backward as
//! one more pass.
//!
//! candle builds the gradient of `gelu_erf` from eleven full-size passes (`sqr`, `neg`,
//! `/ 2`, `exp`, `· 0.398942`, `· x`, `/ √2`, `erf`, `· 0.5`, `+ 0.5`, `+`, then `· dy`),
//! each a new tensor, and runs the forward on its own element-wise pool. Here each direction
//! is one rayon pass computing exactly candle's expressions in candle's order (its `erf_f32`,
//! its affine maps as a multiply then an add), so both give candle's bits (tested).
//!
//! The PhysiX transformer's MLP, the ConvNeXt U-Net and the FNO call it through
//! [`crate::nn::gelu_erf`].

use candle_core::cpu::erf::erf_f32;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

use super::contiguous_f32;
use super::elementwise::{map1, map2};

/// candle's `gelu_erf` of one element.
#[inline(always)]
fn gelu(v: f32) -> f32 {
    (erf_f32(v * std::f32::consts::FRAC_1_SQRT_2) + 1.) * 0.5 * v
}

/// candle's gradient of `gelu_erf` at one element,
/// `dy · (0.5 + 0.398942 e^{−x²/2} x + 0.5 erf(x/√2))`, each scalar factor applied as
/// candle's affine map `v · mul + add`.
#[inline(always)]
fn gelu_grad(x: f32, dy: f32) -> f32 {
    let neg_half_square = -(x * x) * 0.5 + 0.0;
    let scaled_exp_arg = (neg_half_square.exp() * (0.398942f64 as f32) + 0.0) * x;
    let arg_scaled_sqrt = x * ((1.0 / 2f64.sqrt()) as f32) + 0.0;
    let erf_scaled_sqrt = erf_f32(arg_scaled_sqrt) * 0.5 + 0.0;
    dy * ((scaled_exp_arg * 1.0 + 0.5) + erf_scaled_sqrt)
}

/// `gelu_erf(x)` of an `f32` CPU tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeluOp;

impl GeluOp {
    /// `gelu_erf(x)`.
    pub fn apply(x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(GeluOp)
    }
}

impl CustomOp1 for GeluOp {
    fn name(&self) -> &'static str {
        "phystok-gelu-erf"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = map1(contiguous_f32(s, l)?, gelu);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let (x, dy) = (x.contiguous()?, dy.contiguous()?);
        Ok(Some(x.apply_op2_no_bwd(&dy, &GeluGradOp)?))
    }
}

/// `dx` of `y = gelu_erf(x)` from `(x, dy)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GeluGradOp;

impl CustomOp2 for GeluGradOp {
    fn name(&self) -> &'static str {
        "phystok-gelu-erf-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            return Err(candle_core::Error::Msg(format!(
                "gelu gradient of {:?} and {:?}",
                l1.dims(),
                l2.dims()
            )));
        }
        let (x, dy) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        let out = map2(x, dy, gelu_grad);
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::super::elementwise::bits;
    use super::*;
    use candle_core::{Device, Var};

    /// candle's bits forward and backward, on a length that leaves a partial chunk, for
    /// arguments of both signs, small and large, with NaN, infinities and −0.
    #[test]
    fn equals_candle_gelu_erf_bit_for_bit_forward_and_backward() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let n = 3 * 16384 + 777; // a partial last chunk
        let mut v: Vec<f32> = (0..n)
            .map(|i| {
                let s = (0.37 * i as f32).sin();
                if i % 3 == 0 { 12.0 * s } else { 0.7 * s }
            })
            .collect();
        v[5] = f32::NAN;
        v[6] = f32::INFINITY;
        v[7] = f32::NEG_INFINITY;
        v[8] = -0.0;
        let x = Var::from_vec(v, (3, n / 3), &dev)?;
        let proj: Vec<f32> = (0..n).map(|i| (0.71 * i as f32).cos()).collect();
        let proj = Tensor::from_vec(proj, (3, n / 3), &dev)?;
        let ours = GeluOp::apply(x.as_tensor())?;
        let plain = x.as_tensor().gelu_erf()?;
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
        let x = Tensor::from_vec(
            (0..60).map(|i| 0.1 * i as f32 - 3.0).collect(),
            (6, 10),
            &dev,
        )?;
        let xt = x.t()?;
        assert_eq!(bits(&GeluOp::apply(&xt)?), bits(&xt.gelu_erf()?));
        Ok(())
    }
}
