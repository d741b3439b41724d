//! Interleaved rotary embedding as one CPU op with an exact backward.
//!
//! Pair `i` of the first `rot` features of each token, `(x₂ᵢ, x₂ᵢ₊₁)`, is rotated by the
//! token's angle `θᵢ`: `y₂ᵢ = x₂ᵢ cos θᵢ − x₂ᵢ₊₁ sin θᵢ`, `y₂ᵢ₊₁ = x₂ᵢ sin θᵢ + x₂ᵢ₊₁ cos θᵢ`
//! (candle's `rope_i` convention); the features past `rot` pass through. The backward is the
//! rotation by `−θᵢ`. candle's fused `rope_i` drops its input gradient (REFERENCE.md) and
//! `rope_i_slow` is a dozen tensor passes with a `cat`; this is one pass each way, checked
//! against `rope_i_slow` in the tests.

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;

/// Rotary embedding of `x (…, tokens, features)` with tables `cos`, `sin` `(tokens, rot/2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RopeOp {
    /// `+1` forward, `−1` for the backward's inverse rotation.
    inverse: bool,
}

impl RopeOp {
    /// Rotates the first `2 · cos.dim(1)` features of every token of contiguous `f32` CPU `x`.
    pub fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op3(
            &cos.contiguous()?,
            &sin.contiguous()?,
            RopeOp { inverse: false },
        )
    }
}

/// Rotates every token of `x` (features `d`, tokens per sequence `n`) by the tables.
fn rotate(
    x: &[f32],
    cos: &[f32],
    sin: &[f32],
    (n, d, half): (usize, usize, usize),
    inverse: bool,
) -> Vec<f32> {
    let mut y = x.to_vec();
    let sign = if inverse { -1.0 } else { 1.0 };
    let per_item = (16384 / (n * d).max(1)).max(1) * n * d;
    if per_item == 0 {
        return y;
    }
    y.par_chunks_mut(per_item).for_each(|chunk| {
        for (t, token) in chunk.chunks_exact_mut(d).enumerate() {
            let row = (t % n) * half;
            let (c, s) = (&cos[row..row + half], &sin[row..row + half]);
            for ((pair, &c), &s) in token[..2 * half].chunks_exact_mut(2).zip(c).zip(s) {
                let (a, b) = (pair[0], pair[1]);
                let s = sign * s;
                pair[0] = a * c - b * s;
                pair[1] = a * s + b * c;
            }
        }
    });
    y
}

impl CustomOp3 for RopeOp {
    fn name(&self) -> &'static str {
        "phystok-rope-interleaved"
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
        let dims = l1.dims();
        let bad =
            || candle_core::Error::Msg(format!("rope of {dims:?} with tables {:?}", l2.dims()));
        let (&d, n) = match dims {
            [.., n, d] => (d, *n),
            _ => return Err(bad()),
        };
        let half = match l2.dims() {
            &[tn, half] if tn == n && 2 * half <= d && l3.dims() == l2.dims() => half,
            _ => return Err(bad()),
        };
        let (x, cos, sin) = (
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            contiguous_f32(s3, l3)?,
        );
        let y = rotate(x, cos, sin, (n, d, half), self.inverse);
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let inverse = RopeOp {
            inverse: !self.inverse,
        };
        let dx = dy.contiguous()?.apply_op3_no_bwd(cos, sin, &inverse)?;
        Ok((Some(dx), None, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Equal to candle's `rope_i_slow` (and a pass-through tail), values and input gradient.
    #[test]
    fn matches_rope_i_slow_forward_and_backward() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let (b, h, n, d, half) = (2, 3, 5, 10, 3);
        let vals =
            |len: usize, k: f32| (0..len).map(|i| (k * i as f32).sin()).collect::<Vec<f32>>();
        let x = Var::from_vec(vals(b * h * n * d, 0.31), (b, h, n, d), &dev)?;
        let angles = vals(n * half, 1.7);
        let cos = Tensor::from_vec(angles.iter().map(|a| a.cos()).collect(), (n, half), &dev)?;
        let sin = Tensor::from_vec(angles.iter().map(|a| a.sin()).collect(), (n, half), &dev)?;
        let ours = RopeOp::apply(x.as_tensor(), &cos, &sin)?;
        let rotated = candle_nn::rotary_emb::rope_i_slow(
            &x.as_tensor().narrow(3, 0, 2 * half)?.contiguous()?,
            &cos,
            &sin,
        )?;
        let plain = Tensor::cat(
            &[rotated, x.as_tensor().narrow(3, 2 * half, d - 2 * half)?],
            3,
        )?;
        let proj = Tensor::from_vec(vals(b * h * n * d, 0.77), (b, h, n, d), &dev)?;
        let g_ours = (&ours * &proj)?.sum_all()?.backward()?;
        let g_plain = (&plain * &proj)?.sum_all()?.backward()?;
        let max = |t: Tensor| -> candle_core::Result<f32> {
            t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
        };
        assert!(max((&ours - &plain)?)? < 1e-6);
        let (a, p) = (g_ours.get(&x).unwrap(), g_plain.get(&x).unwrap());
        assert!(max((a - p)?)? < 1e-6);
        assert!(max(p.clone())? > 0.1);
        Ok(())
    }
}
