//! Dense symmetric linear algebra for SOAP's preconditioner bases, on the host in f64.
//!
//! SOAP (Vyas et al., 2025; reference `nikhilvyas/SOAP` soap.py) needs two dense
//! factorisations of its Shampoo statistics `GG_i` (one `d × d` matrix per tensor
//! dimension): a symmetric eigendecomposition to start the basis and one QR step of power
//! iteration to refresh it. candle has neither, so the matrices travel to the host and
//! [`faer`] (pure Rust, blocked and SIMD, no system BLAS/LAPACK) factorises them in f64.
//! Matrices are plain row-major `Vec<f64>`s of side `n`.

use faer::{Mat, Side};

use crate::{Error, Result};

/// A square matrix stored row-major: `data[i * n + j]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Square {
    /// Side length.
    pub n: usize,
    /// Entries, row-major.
    pub data: Vec<f64>,
}

impl Square {
    fn to_faer(&self) -> Mat<f64> {
        Mat::from_fn(self.n, self.n, |i, j| self.data[i * self.n + j])
    }

    fn from_faer(m: faer::MatRef<'_, f64>) -> Self {
        let n = m.nrows();
        let mut data = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                data.push(m[(i, j)]);
            }
        }
        Square { n, data }
    }

    /// Column `j` of `self` moved to position `k` for each `k`, `j = order[k]`.
    pub fn permute_columns(&self, order: &[usize]) -> Square {
        let n = self.n;
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            for (k, &j) in order.iter().enumerate() {
                data[i * n + k] = self.data[i * n + j];
            }
        }
        Square { n, data }
    }
}

/// Eigenvectors of the symmetric matrix `gg + 1e-30 I`, as columns sorted by eigenvalue,
/// largest first (the reference's `torch.flip(eigh(..).eigenvectors, [1])`).
pub(crate) fn eigenbasis_descending(gg: &Square) -> Result<Square> {
    let mut m = gg.to_faer();
    for i in 0..gg.n {
        m[(i, i)] += 1e-30;
    }
    let evd = m
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| Error::Msg(format!("soap: eigendecomposition failed: {e:?}")))?;
    let values: Vec<f64> = evd.S().column_vector().iter().copied().collect();
    let vectors = Square::from_faer(evd.U());
    Ok(vectors.permute_columns(&argsort_descending(&values)))
}

/// One step of power iteration with the eigenvalue-estimate sort (the reference's
/// `get_orthogonal_matrix_QR`): estimates `diag(Qᵀ GG Q)`, sorts `Q`'s columns by them,
/// largest first, and returns `(qr(GG · Q_sorted).Q, order)`; the caller permutes the
/// matching axis of Adam's second moment by `order`.
pub(crate) fn power_iteration_qr(gg: &Square, q: &Square) -> Result<(Square, Vec<usize>)> {
    let qm = q.to_faer();
    // GG·Q once: its columns give the estimates, and permuted they are GG·Q_sorted.
    let gq = gg.to_faer() * &qm;
    let estimates: Vec<f64> = (0..q.n)
        .map(|j| (0..q.n).map(|i| qm[(i, j)] * gq[(i, j)]).sum())
        .collect();
    let order = argsort_descending(&estimates);
    let power = Mat::from_fn(q.n, q.n, |i, k| gq[(i, order[k])]);
    let qr = power.qr();
    Ok((Square::from_faer(qr.compute_thin_Q().as_ref()), order))
}

/// Indices that sort `values` from largest to smallest (stable; NaN last).
pub(crate) fn argsort_descending(values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matmul(a: &Square, b: &Square) -> Square {
        let n = a.n;
        let mut data = vec![0.0; n * n];
        for i in 0..n {
            for k in 0..n {
                for j in 0..n {
                    data[i * n + j] += a.data[i * n + k] * b.data[k * n + j];
                }
            }
        }
        Square { n, data }
    }

    fn transpose(a: &Square) -> Square {
        let n = a.n;
        Square {
            n,
            data: (0..n * n).map(|k| a.data[(k % n) * n + k / n]).collect(),
        }
    }

    fn spd(n: usize) -> Square {
        // A = Bᵀ B + diag with distinct eigenvalues.
        let b = Square {
            n,
            data: (0..n * n)
                .map(|k| ((k * 37 % 11) as f64 - 5.0) / 7.0)
                .collect(),
        };
        let mut a = matmul(&transpose(&b), &b);
        for i in 0..n {
            a.data[i * n + i] += i as f64 * 0.5;
        }
        a
    }

    #[test]
    fn eigenbasis_diagonalises_with_descending_eigenvalues() {
        let a = spd(5);
        let q = eigenbasis_descending(&a).unwrap();
        let d = matmul(&matmul(&transpose(&q), &a), &q);
        for i in 0..5 {
            for j in 0..5 {
                if i != j {
                    assert!(d.data[i * 5 + j].abs() < 1e-10, "off-diagonal {i},{j}");
                }
            }
            if i > 0 {
                assert!(d.data[i * 5 + i] <= d.data[(i - 1) * 5 + i - 1]);
            }
        }
    }

    #[test]
    fn power_iteration_keeps_an_orthonormal_basis_and_sorts() {
        let a = spd(4);
        let eye = Square {
            n: 4,
            data: (0..16)
                .map(|k| if k % 5 == 0 { 1.0 } else { 0.0 })
                .collect(),
        };
        let (q, order) = power_iteration_qr(&a, &eye).unwrap();
        let qtq = matmul(&transpose(&q), &q);
        for k in 0..16 {
            let expected = if k % 5 == 0 { 1.0 } else { 0.0 };
            assert!((qtq.data[k] - expected).abs() < 1e-12);
        }
        // With Q = I the estimates are the diagonal of A.
        let diag: Vec<f64> = (0..4).map(|i| a.data[i * 5]).collect();
        assert_eq!(order, argsort_descending(&diag));
        assert!(diag[order[0]] >= diag[order[3]]);
    }
}
