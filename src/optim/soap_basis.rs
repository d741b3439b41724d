//! SOAP's per-variable preconditioner: Shampoo statistics `GG_i` per tensor dimension and
//! their eigenbases `Q_i`, with the rotations into and out of that basis.
//!
//! Follows the reference implementation (`nikhilvyas/SOAP` soap.py, see REFERENCE.md):
//! for a gradient `G` of shape `(d_0, …, d_{k−1})`, dimension `i` with
//! `d_i ≤ max_precond_dim` keeps `GG_i ← lerp(GG_i, G_(i) G_(i)ᵀ, 1 − β_shampoo)` where
//! `G_(i)` is `G` with axis `i` first, flattened to `(d_i, −1)`. Rotating into the basis
//! contracts axis 0 with `Q_0` and appends the result as the last axis, once per dimension
//! (the reference's `tensordot(x, Q, [[0], [0]])`), so after all `k` the axis order is back.
//! Dimensions without a preconditioner are only moved to the back.

use candle_core::{D, Device, Tensor};

use super::linalg::{Square, eigenbasis_descending, power_iteration_qr};
use crate::Result;

/// The shape the reference preconditions for `shape` when merging dimensions: consecutive
/// dimensions are multiplied together while the product stays `≤ max_dim`.
pub(crate) fn merged_shape(shape: &[usize], max_dim: usize) -> Vec<usize> {
    let mut merged = Vec::new();
    let mut current = 1usize;
    for &d in shape {
        if current * d > max_dim {
            if current > 1 {
                merged.push(current);
                current = d;
            } else {
                merged.push(d);
                current = 1;
            }
        } else {
            current *= d;
        }
    }
    if current > 1 || merged.is_empty() {
        merged.push(current);
    }
    merged
}

/// Rotates `x` into the basis (`back = false`: `x ×_i Q_i` for each `i`) or out of it
/// (`back = true`: `x ×_i Q_iᵀ`).
pub(crate) fn rotate(x: &Tensor, qs: &[Option<Tensor>], back: bool) -> Result<Tensor> {
    let mut dims = x.dims().to_vec();
    if dims.is_empty() || qs.iter().all(Option::is_none) {
        return Ok(x.clone());
    }
    let mut x = x.clone();
    for q in qs {
        let d0 = dims[0];
        let rest = dims[1..].iter().product::<usize>();
        let xt = x.reshape((d0, rest))?.t()?;
        let y = match q {
            Some(q) if back => xt.contiguous()?.matmul(&q.t()?.contiguous()?)?,
            Some(q) => xt.contiguous()?.matmul(q)?,
            None => xt.contiguous()?,
        };
        dims.rotate_left(1);
        x = y.reshape(dims.as_slice())?;
    }
    Ok(x)
}

/// `G_(i) G_(i)ᵀ`: the gradient's second moment along axis `i`, contracted over all others.
pub(crate) fn axis_outer(g: &Tensor, axis: usize) -> Result<Tensor> {
    let d = g.dims()[axis];
    let gi = if axis == 0 {
        g.contiguous()?
    } else {
        g.transpose(0, axis)?.contiguous()?
    };
    let gi = gi.reshape((d, ()))?;
    Ok(gi.matmul(&gi.t()?)?)
}

/// A matrix tensor to a host [`Square`] in f64.
pub(crate) fn to_square(t: &Tensor) -> Result<Square> {
    let n = t.dims()[0];
    let data = t
        .to_dtype(candle_core::DType::F64)?
        .flatten_all()?
        .to_vec1::<f64>()?;
    Ok(Square { n, data })
}

/// A host [`Square`] to an f32 matrix tensor on `device`.
pub(crate) fn from_square(s: &Square, device: &Device) -> Result<Tensor> {
    let data: Vec<f32> = s.data.iter().map(|&v| v as f32).collect();
    Ok(Tensor::from_vec(data, (s.n, s.n), device)?)
}

/// The starting bases: eigenvectors of each `GG_i`, largest eigenvalue first.
pub(crate) fn initial_bases(gg: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
    gg.iter()
        .map(|m| match m {
            None => Ok(None),
            Some(m) => Ok(Some(from_square(
                &eigenbasis_descending(&to_square(m)?)?,
                m.device(),
            )?)),
        })
        .collect()
}

/// One power-iteration refresh of every basis; permutes the matching axes of `exp_avg_sq`
/// by the eigenvalue-estimate order. Returns the new bases and the permuted second moment.
pub(crate) fn refreshed_bases(
    gg: &[Option<Tensor>],
    qs: &[Option<Tensor>],
    exp_avg_sq: &Tensor,
) -> Result<(Vec<Option<Tensor>>, Tensor)> {
    let mut v = exp_avg_sq.clone();
    let mut new = Vec::with_capacity(qs.len());
    for (axis, (m, q)) in gg.iter().zip(qs).enumerate() {
        match (m, q) {
            (Some(m), Some(q)) => {
                let (q_new, order) = power_iteration_qr(&to_square(m)?, &to_square(q)?)?;
                let idx: Vec<u32> = order.iter().map(|&i| i as u32).collect();
                let idx = Tensor::from_vec(idx, order.len(), v.device())?;
                v = v.contiguous()?.index_select(&idx, axis)?;
                new.push(Some(from_square(&q_new, m.device())?));
            }
            _ => new.push(None),
        }
    }
    Ok((new, v))
}

/// The reference's per-layer gradient normalisation: `u / (1e-30 + √mean(u²))`.
pub(crate) fn normalise_rms(u: &Tensor) -> Result<Tensor> {
    let rms = u
        .sqr()?
        .flatten_all()?
        .mean(D::Minus1)?
        .sqrt()?
        .affine(1.0, 1e-30)?;
    Ok(u.broadcast_div(&rms)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_shape_matches_the_reference_rule() {
        assert_eq!(merged_shape(&[4, 3, 3, 3], 10000), vec![108]);
        assert_eq!(merged_shape(&[64, 32, 3, 3], 100), vec![64, 96, 3]);
        assert_eq!(merged_shape(&[200, 3], 100), vec![200, 3]);
        assert_eq!(merged_shape(&[1, 1], 100), vec![1]);
    }

    #[test]
    fn rotate_then_back_is_identity_and_matches_matrix_form() -> Result<()> {
        let dev = Device::Cpu;
        let g = Tensor::from_vec(
            (0..24).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(),
            (2, 3, 4),
            &dev,
        )?;
        let gg: Vec<Option<Tensor>> = (0..3)
            .map(|a| axis_outer(&g, a).map(Some))
            .collect::<Result<_>>()?;
        let mut qs = initial_bases(&gg)?;
        qs[1] = None;
        let r = rotate(&g, &qs, false)?;
        assert_eq!(r.dims(), &[2, 3, 4]);
        let back = rotate(&r, &qs, true)?;
        let diff = (back - &g)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "round trip error {diff}");
        // 2-D case equals Q0ᵀ G Q1.
        let m = Tensor::from_vec(
            (0..6).map(|i| i as f32 - 2.5).collect::<Vec<_>>(),
            (2, 3),
            &dev,
        )?;
        let qs2 = initial_bases(&[Some(axis_outer(&m, 0)?), Some(axis_outer(&m, 1)?)])?;
        let (q0, q1) = (qs2[0].clone().unwrap(), qs2[1].clone().unwrap());
        let direct = q0.t()?.matmul(&m)?.matmul(&q1)?;
        let diff = (rotate(&m, &qs2, false)? - direct)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert!(diff < 1e-5);
        Ok(())
    }
}
