//! SwiGLU's product `y = x · silu(g) = x · g · σ(g)` as one CPU op with its exact backward:
//! `dx = dy · silu(g)`, `dg = dy · x · σ(g) · (1 + g · (1 − σ(g)))`.
//!
//! candle computes `silu` and its gradient from separate `exp`, `recip`, `mul` and `add`
//! passes, each a full-size tensor on one thread; here each direction is one rayon pass
//! with a vectorised `exp`.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;
use super::softmax::exp_nonpositive;

/// `σ(g)` without overflow for either sign, from the vectorisable `exp` of
/// [`super::softmax`] (the argument `−|g|` is never positive).
#[inline(always)]
fn sigmoid(g: f32) -> f32 {
    let e = exp_nonpositive(-g.abs());
    let r = 1.0 / (1.0 + e);
    if g >= 0.0 { r } else { e * r }
}

/// One pass over `out`, `a`, `g` (inlined into the target-feature wrappers below).
#[inline(always)]
fn pass_body(pass: Pass, out: &mut [f32], a: &[f32], g: &[f32]) {
    for (o, (&a, &g)) in out.iter_mut().zip(a.iter().zip(g)) {
        let s = sigmoid(g);
        *o = match pass {
            Pass::Forward | Pass::GradX => a * g * s,
            Pass::GradGate => a * s * (1.0 + g * (1.0 - s)),
        };
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn pass_avx512(pass: Pass, out: &mut [f32], a: &[f32], g: &[f32]) {
    pass_body(pass, out, a, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn pass_avx2(pass: Pass, out: &mut [f32], a: &[f32], g: &[f32]) {
    pass_body(pass, out, a, g)
}

/// [`pass_body`] compiled for the widest vectors the CPU has.
fn run_pass(pass: Pass, out: &mut [f32], a: &[f32], g: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { pass_avx512(pass, out, a, g) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { pass_avx2(pass, out, a, g) };
        }
    }
    pass_body(pass, out, a, g)
}

/// What a [`SwigluOp`] pass computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// `x · silu(g)`.
    Forward,
    /// `dy · silu(g)` (from `(dy, g)`).
    GradX,
    /// `dy · σ(g) · (1 + g · (1 − σ(g)))` (from `(dy · x, g)`).
    GradGate,
}

/// `x · silu(gate)` for `f32` CPU tensors of one shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwigluOp {
    pass: Pass,
}

impl SwigluOp {
    /// `x · silu(gate)`.
    pub fn apply(x: &Tensor, gate: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op2(
            &gate.contiguous()?,
            SwigluOp {
                pass: Pass::Forward,
            },
        )
    }
}

impl CustomOp2 for SwigluOp {
    fn name(&self) -> &'static str {
        "phystok-swiglu"
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
                "swiglu of {:?} and {:?}",
                l1.dims(),
                l2.dims()
            )));
        }
        let (a, g) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        let mut out = vec![0f32; a.len()];
        out.par_chunks_mut(16384)
            .zip(a.par_chunks(16384).zip(g.par_chunks(16384)))
            .for_each(|(o, (a, g))| run_pass(self.pass, o, a, g));
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gate: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dy, gate) = (dy.contiguous()?, gate.contiguous()?);
        let dx = dy.apply_op2_no_bwd(&gate, &SwigluOp { pass: Pass::GradX })?;
        let dyx = (&dy * x)?;
        let dg = dyx.apply_op2_no_bwd(
            &gate,
            &SwigluOp {
                pass: Pass::GradGate,
            },
        )?;
        Ok((Some(dx), Some(dg)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Equal to `gate.silu() * x`, values and both gradients, for gates of both signs and
    /// large magnitude.
    #[test]
    fn matches_silu_times_x() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let n = 40_000;
        let vals = |k: f32, s: f32| {
            (0..n)
                .map(|i| s * (k * i as f32).sin())
                .collect::<Vec<f32>>()
        };
        let x = Var::from_vec(vals(0.37, 2.0), (4, n / 4), &dev)?;
        let g = Var::from_vec(vals(0.11, 30.0), (4, n / 4), &dev)?;
        let proj = Tensor::from_vec(vals(0.71, 1.0), (4, n / 4), &dev)?;
        let ours = SwigluOp::apply(x.as_tensor(), g.as_tensor())?;
        let plain = (g.as_tensor().silu()? * x.as_tensor())?;
        let go = (&ours * &proj)?.sum_all()?.backward()?;
        let gp = (&plain * &proj)?.sum_all()?.backward()?;
        let rel = |a: &Tensor, b: &Tensor| -> candle_core::Result<f32> {
            let d = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            let s = b.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
            Ok(d / s.max(1.0))
        };
        assert!(rel(&ours, &plain)? < 1e-6);
        for v in [&x, &g] {
            let (a, b) = (go.get(v).unwrap(), gp.get(v).unwrap());
            assert!(rel(a, b)? < 1e-5, "gradient differs by {}", rel(a, b)?);
        }
        Ok(())
    }
}
