//! Scaled dot-product attention: the one function every attention layer calls.
//!
//! On the CPU `candle_nn::ops::sdpa` has no implementation, the flash-attention kernel is
//! forward-only and `softmax_last_dim` has no gradient. So on the CPU with `f32` tensors
//! [`attention`] runs phystok's fused kernel with its own backward
//! ([`AttentionKernel::Fused`], `super::kernels::attention`); on other devices, and with
//! [`AttentionKernel::Matmul`], it is `matmul → softmax → matmul` with the differentiable
//! `candle_nn::ops::softmax`.

use candle_core::{D, Tensor};
use serde::{Deserialize, Serialize};

use super::kernels::attention::FusedAttentionOp;
use crate::Result;

/// Which implementation runs [`attention_with`] (same result to float32 rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AttentionKernel {
    /// phystok's fused CPU kernel (blocked softmax, fused backward) for `f32` on the CPU;
    /// [`AttentionKernel::Matmul`] on other devices and dtypes.
    #[default]
    Fused,
    /// candle's `matmul → softmax → matmul`.
    Matmul,
}

/// `softmax(q kᵀ / sqrt(head_dim) + bias) v`.
///
/// `bias` (for example a relative position bias holding `-inf` where attention is
/// masked) must broadcast to `(batch, heads, q_len, k_len)`. Every query must be able to
/// attend to at least one key, or its row of the softmax is NaN.
///
/// # Shapes
/// - `q`: `(batch, heads, q_len, head_dim)`
/// - `k`, `v`: `(batch, heads, k_len, head_dim)`
/// - returns `(batch, heads, q_len, head_dim)`
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    attention_with(q, k, v, bias, AttentionKernel::default())
}

/// [`attention`] with a chosen implementation.
pub fn attention_with(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    bias: Option<&Tensor>,
    kernel: AttentionKernel,
) -> Result<Tensor> {
    let mut inputs = vec![q, k, v];
    inputs.extend(bias);
    if kernel == AttentionKernel::Fused && crate::nn::kernels::applies(&inputs) && q.rank() == 4 {
        return Ok(FusedAttentionOp::apply(q, k, v, bias)?);
    }
    let head_dim = q.dim(D::Minus1)?;
    let q = (q * (1.0 / (head_dim as f64).sqrt()))?;
    let scores = q.matmul(&k.t()?)?;
    let scores = match bias {
        Some(b) => scores.broadcast_add(b)?,
        None => scores,
    };
    let weights = candle_nn::ops::softmax(&scores, D::Minus1)?;
    Ok(weights.matmul(&v.contiguous()?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_core::Var;

    fn naive(
        q: &[f32],
        k: &[f32],
        v: &[f32],
        lq: usize,
        lk: usize,
        hd: usize,
        causal: bool,
    ) -> Vec<f32> {
        let mut out = vec![0f32; lq * hd];
        for i in 0..lq {
            let s: Vec<f64> = (0..lk)
                .map(|j| {
                    if causal && j > i {
                        f64::NEG_INFINITY
                    } else {
                        (0..hd)
                            .map(|c| (q[i * hd + c] * k[j * hd + c]) as f64)
                            .sum::<f64>()
                            / (hd as f64).sqrt()
                    }
                })
                .collect();
            let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
            for c in 0..hd {
                out[i * hd + c] = (0..lk)
                    .map(|j| (s[j] - m).exp() / z * v[j * hd + c] as f64)
                    .sum::<f64>() as f32;
            }
        }
        out
    }

    test_device!(
        fn attention_matches_naive_softmax_with_and_without_mask(dev) {
            let (l, hd) = (5, 4);
            let mk = |s: usize| -> Vec<f32> {
                (0..l * hd)
                    .map(|i| (((i + s) * 29 % 17) as f32 - 8.0) / 6.0)
                    .collect()
            };
            let (q, k, v) = (mk(1), mk(5), mk(9));
            let t = |x: &Vec<f32>| Tensor::from_vec(x.clone(), (1, 1, l, hd), dev);
            let mask: Vec<f32> = (0..l * l)
                .map(|i| {
                    if i % l > i / l {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(mask, (l, l), dev)?;
            for (bias, causal) in [(None, false), (Some(&mask), true)] {
                let got: Vec<f32> = attention(&t(&q)?, &t(&k)?, &t(&v)?, bias)?
                    .flatten_all()?
                    .to_vec1()?;
                let want = naive(&q, &k, &v, l, l, hd, causal);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-5, "{g} vs {w}");
                }
            }
            Ok(())
        }
    );

    test_device!(
        fn gradients_reach_q_k_v_through_masked_softmax(dev) {
            let vars: Vec<Var> = (0..3)
                .map(|_| Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 2, 4, 8), dev)?))
                .collect::<candle_core::Result<_>>()?;
            let mask: Vec<f32> = (0..16)
                .map(|i| {
                    if i % 4 > i / 4 {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            let mask = Tensor::from_vec(mask, (4, 4), dev)?;
            let out = attention(
                vars[0].as_tensor(),
                vars[1].as_tensor(),
                vars[2].as_tensor(),
                Some(&mask),
            )?;
            let grads = out.sqr()?.sum_all()?.backward()?;
            for v in &vars {
                let g = grads.get(v.as_tensor()).expect("gradient present");
                let s = g.abs()?.sum_all()?.to_scalar::<f32>()?;
                assert!(s.is_finite() && s > 0.0);
            }
            Ok(())
        }
    );
}
