//! Kernel resizing for flexible patch sizes: FlexiViT's PI-resize and the tokeniser's
//! adjoint interpolation, as one choice ([`KernelResize`]) behind one cached resizer.
//!
//! A square `(…, k_b, k_b)` kernel learned at base patch size `k_b` is turned into a
//! `(…, k, k)` kernel by one `(k × k_b)` matrix `M` per spatial axis, `w' = M w Mᵀ`:
//!
//! * [`KernelResize::PseudoInverse`] (Beyer et al. 2023, FlexiViT; Mukhopadhyay et al.
//!   2025, Appendix A, Eq. 13): `M = pinv(Bᵀ)` with `B` the `(k × k_b)` bilinear resize of a
//!   patch from `k_b` to `k` pixels (half-pixel centres, edges clamped, no antialias: the
//!   reference's `jax.image.resize(…, "bilinear", antialias=False)`). In 2-D the resize is
//!   `B ⊗ B` and `pinv((B ⊗ B)ᵀ) = pinv(Bᵀ) ⊗ pinv(Bᵀ)`, so the per-axis form is the full
//!   2-D PI-resize exactly. For an upsampling resize (`k > k_b`) `Bᵀ pinv(Bᵀ) = I`, hence
//!   `⟨B x Bᵀ, w'⟩ = ⟨x, w⟩` for every base-size patch `x`.
//! * [`KernelResize::Adjoint`]: `M = Aᵀ` with `A` the linear interpolation of
//!   [`interpolation_matrix`] (cell centres, linear extrapolation), the tokeniser's
//!   [`FlexDownsample`](super::FlexDownsample) rule: `⟨x, Aᵀ w⟩ = ⟨A x, w⟩` for every
//!   small patch `x` (see `flex_down.rs` for why it keeps affine fields exact).
//!
//! The matrices are computed on the host in f64 ([`faer`]'s SVD for the pseudo-inverse)
//! once per `(base, new)` pair and cached inside the resizer (clones share the cache), so no
//! training step recomputes a pseudo-inverse. The resize itself is two small matmuls, so
//! gradients reach the base kernel from every size.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use candle_core::Tensor;
use faer::Mat;
use serde::{Deserialize, Serialize};

use super::scale::{SamplePositions, interpolation_matrix};
use crate::{ConfigError, Error, Result};

/// How a base kernel is resized to another patch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum KernelResize {
    /// `Aᵀ w`: the adjoint of linear interpolation (the tokeniser's flexible layers).
    Adjoint,
    /// `pinv(Bᵀ) w`: FlexiViT's PI-resize with bilinear `B` (the CKM paper's choice).
    #[default]
    PseudoInverse,
}

impl KernelResize {
    /// A short name for tables (`adjoint`, `pi-resize`).
    pub fn key(&self) -> &'static str {
        match self {
            KernelResize::Adjoint => "adjoint",
            KernelResize::PseudoInverse => "pi-resize",
        }
    }
}

/// The `(n_out × n_in)` bilinear resize matrix of one axis (half-pixel centres, edge samples
/// clamped, no antialias), row-major: `(B x)_j` is the resized signal at output pixel `j`.
pub fn bilinear_resize_matrix(n_in: usize, n_out: usize) -> Vec<f64> {
    let mut b = vec![0f64; n_out * n_in];
    for j in 0..n_out {
        let src =
            ((j as f64 + 0.5) * n_in as f64 / n_out as f64 - 0.5).clamp(0.0, (n_in - 1) as f64);
        let i0 = src.floor() as usize;
        let frac = src - i0 as f64;
        let i1 = (i0 + 1).min(n_in - 1);
        b[j * n_in + i0] += 1.0 - frac;
        b[j * n_in + i1] += frac;
    }
    b
}

/// The `(new × base)` per-axis matrix `M` of `method`, row-major, in f64.
pub fn resize_axis_matrix(method: KernelResize, base: usize, new: usize) -> Result<Vec<f64>> {
    for (name, value) in [("base kernel size", base), ("new kernel size", new)] {
        if value == 0 {
            return Err(ConfigError::NotPositive {
                name,
                value: value as f64,
            }
            .into());
        }
    }
    Ok(match method {
        KernelResize::Adjoint => {
            // A is (base × new); M = Aᵀ is (new × base)
            let a = interpolation_matrix(base, new, SamplePositions::CellCentres);
            let mut m = vec![0f64; new * base];
            for i in 0..base {
                for j in 0..new {
                    m[j * base + i] = a[i * new + j] as f64;
                }
            }
            m
        }
        KernelResize::PseudoInverse => {
            // B is (new × base); Bᵀ is (base × new); pinv(Bᵀ) is (new × base)
            let b = bilinear_resize_matrix(base, new);
            let bt = Mat::from_fn(base, new, |i, j| b[j * base + i]);
            let svd = bt
                .svd()
                .map_err(|e| Error::Msg(format!("pi-resize {base} → {new}: svd failed: {e:?}")))?;
            let pinv = svd.pseudoinverse();
            let mut m = vec![0f64; new * base];
            for j in 0..new {
                for i in 0..base {
                    m[j * base + i] = pinv[(j, i)];
                }
            }
            m
        }
    })
}

/// The per-axis matrices computed so far, keyed by `(base, new)`.
type MatrixCache = Arc<Mutex<HashMap<(usize, usize), Arc<Vec<f32>>>>>;

/// Resizes square kernels from a base size, caching each `(base, new)` matrix.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::nn::{KernelResize, KernelResizer};
///
/// let resizer = KernelResizer::new(KernelResize::PseudoInverse);
/// let base = Tensor::randn(0f32, 1.0, (8, 3, 16, 16), &Device::Cpu)?;
/// assert_eq!(resizer.resize(&base, 4)?.dims(), &[8, 3, 4, 4]);
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct KernelResizer {
    method: KernelResize,
    cache: MatrixCache,
}

impl KernelResizer {
    /// A resizer with an empty cache.
    pub fn new(method: KernelResize) -> Self {
        KernelResizer {
            method,
            cache: Arc::default(),
        }
    }

    /// The resize rule.
    pub fn method(&self) -> KernelResize {
        self.method
    }

    /// Number of `(base, new)` matrices computed so far.
    pub fn cached(&self) -> usize {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The `(new × base)` matrix, computed on first use and cached.
    pub fn matrix(&self, base: usize, new: usize) -> Result<Arc<Vec<f32>>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = cache.get(&(base, new)) {
            return Ok(m.clone());
        }
        let m: Arc<Vec<f32>> = Arc::new(
            resize_axis_matrix(self.method, base, new)?
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        );
        cache.insert((base, new), m.clone());
        Ok(m)
    }

    /// Resizes the last two (equal) axes of `kernel` to `new`; `new` equal to the base size
    /// returns the kernel itself.
    ///
    /// # Shapes
    /// `(…, base, base)` → `(…, new, new)`.
    pub fn resize(&self, kernel: &Tensor, new: usize) -> Result<Tensor> {
        let dims = kernel.dims().to_vec();
        let r = dims.len();
        if r < 2 || dims[r - 1] != dims[r - 2] {
            return Err(Error::Shape {
                what: "kernel to resize (…, k, k)".into(),
                left: dims,
                right: vec![],
            });
        }
        let base = dims[r - 1];
        if new == base {
            return Ok(kernel.clone());
        }
        let m = self.matrix(base, new)?;
        let m = Tensor::from_slice(m.as_slice(), (new, base), kernel.device())?
            .to_dtype(kernel.dtype())?;
        let lead: usize = dims[..r - 2].iter().product();
        let w = kernel.reshape((lead, base, base))?;
        // w · Mᵀ over x, then M · (…) over y
        let w = w.broadcast_matmul(&m.t()?)?; // (lead, base, new)
        let w = m.broadcast_left(lead)?.matmul(&w.contiguous()?)?; // (lead, new, new)
        let mut out = dims[..r - 2].to_vec();
        out.extend([new, new]);
        Ok(w.reshape(out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_core::{Device, Var};

    fn randn(shape: &[usize], seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..shape.iter().product::<usize>())
            .map(|_| rng.random::<f32>() * 2.0 - 1.0)
            .collect()
    }

    /// `B x Bᵀ` for a square patch `x` of side `n_in`.
    fn resize_patch(x: &[f32], n_in: usize, n_out: usize) -> Vec<f64> {
        let b = bilinear_resize_matrix(n_in, n_out);
        let mut out = vec![0f64; n_out * n_out];
        for a in 0..n_out {
            for c in 0..n_out {
                let mut s = 0.0;
                for i in 0..n_in {
                    for j in 0..n_in {
                        s += b[a * n_in + i] * x[i * n_in + j] as f64 * b[c * n_in + j];
                    }
                }
                out[a * n_out + c] = s;
            }
        }
        out
    }

    #[test]
    fn pi_resize_preserves_tokens_for_upsampling() -> Result<()> {
        let resizer = KernelResizer::new(KernelResize::PseudoInverse);
        for (base, new) in [(2, 4), (4, 8), (4, 16), (3, 7), (8, 16)] {
            let w = randn(&[base, base], base as u64);
            let wt = Tensor::from_vec(w.clone(), (1, base, base), &Device::Cpu)?;
            let pi: Vec<f32> = resizer.resize(&wt, new)?.flatten_all()?.to_vec1()?;
            for trial in 0..4 {
                let x = randn(&[base, base], 100 + trial);
                let bx = resize_patch(&x, base, new);
                let lhs: f64 = bx.iter().zip(&pi).map(|(a, b)| a * *b as f64).sum();
                let rhs: f64 = x.iter().zip(&w).map(|(a, b)| (*a * *b) as f64).sum();
                assert!((lhs - rhs).abs() < 1e-5, "{base}→{new}: {lhs} vs {rhs}");
            }
        }
        Ok(())
    }

    #[test]
    fn base_size_returns_the_base_kernel_exactly() -> Result<()> {
        for method in [KernelResize::PseudoInverse, KernelResize::Adjoint] {
            let w = Tensor::randn(0f32, 1.0, (5, 2, 16, 16), &Device::Cpu)?;
            let same = KernelResizer::new(method).resize(&w, 16)?;
            let diff = (same - &w)?.abs()?.max_all()?.to_scalar::<f32>()?;
            assert_eq!(diff, 0.0);
        }
        Ok(())
    }

    #[test]
    fn separable_form_equals_the_two_dimensional_pseudo_inverse() -> Result<()> {
        let (base, new) = (4usize, 2usize);
        let b = bilinear_resize_matrix(base, new);
        // B2 = B ⊗ B, (new² × base²); PI = pinv(B2ᵀ), (new² × base²)
        let b2t = Mat::from_fn(base * base, new * new, |i, j| {
            let (ia, ib) = (i / base, i % base);
            let (ja, jb) = (j / new, j % new);
            b[ja * base + ia] * b[jb * base + ib]
        });
        let pinv = b2t
            .svd()
            .map_err(|e| Error::Msg(format!("{e:?}")))?
            .pseudoinverse();
        let w = randn(&[base, base], 7);
        let wt = Tensor::from_vec(w.clone(), (base, base), &Device::Cpu)?;
        let got: Vec<f32> = KernelResizer::new(KernelResize::PseudoInverse)
            .resize(&wt, new)?
            .flatten_all()?
            .to_vec1()?;
        for (j, g) in got.iter().enumerate() {
            let want: f64 = (0..base * base).map(|i| pinv[(j, i)] * w[i] as f64).sum();
            assert!((*g as f64 - want).abs() < 1e-5, "{j}: {g} vs {want}");
        }
        Ok(())
    }

    #[test]
    fn adjoint_matches_the_tokeniser_rule_and_caches() -> Result<()> {
        let resizer = KernelResizer::new(KernelResize::Adjoint);
        let w = Tensor::randn(0f32, 1.0, (1, 8, 8), &Device::Cpu)?;
        let small = resizer.resize(&w, 4)?;
        // ⟨x, Aᵀ w⟩ = ⟨A x, w⟩ for a small patch x
        let a = interpolation_matrix(8, 4, SamplePositions::CellCentres);
        let x = randn(&[4, 4], 3);
        let wv: Vec<f32> = w.flatten_all()?.to_vec1()?;
        let sv: Vec<f32> = small.flatten_all()?.to_vec1()?;
        let lhs: f64 = x.iter().zip(&sv).map(|(a, b)| (*a * *b) as f64).sum();
        let mut rhs = 0f64;
        for i in 0..8 {
            for j in 0..8 {
                let ax: f64 = (0..4)
                    .flat_map(|p| (0..4).map(move |q| (p, q)))
                    .map(|(p, q)| (a[i * 4 + p] * x[p * 4 + q] * a[j * 4 + q]) as f64)
                    .sum();
                rhs += ax * wv[i * 8 + j] as f64;
            }
        }
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
        resizer.resize(&w, 4)?;
        resizer.clone().resize(&w, 2)?;
        assert_eq!(resizer.cached(), 2);
        Ok(())
    }

    test_device!(
        fn gradients_reach_the_base_kernel_from_every_size(dev) {
            for method in [KernelResize::PseudoInverse, KernelResize::Adjoint] {
                let resizer = KernelResizer::new(method);
                let w = Var::randn(0f32, 1.0, (3, 16, 16), dev)?;
                for new in [4, 8, 16] {
                    let loss = resizer.resize(w.as_tensor(), new)?.sqr()?.sum_all()?;
                    let grads = loss.backward()?;
                    let g = grads
                        .get(&w)
                        .ok_or_else(|| Error::Msg("no gradient".into()))?;
                    let norm = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
                    assert!(norm > 0.0 && norm.is_finite(), "{method:?} {new}: {norm}");
                }
            }
            Ok(())
        }
    );
}
