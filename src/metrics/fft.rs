//! Cached n-dimensional FFT plans and binned residual / target power, one frame at a time.
//!
//! A [`SpectralPlan`] is built once per grid shape and bin choice: rustfft plans for each
//! axis, the bin of every Fourier mode and the index of its mirror mode `−k`. Each worker
//! thread owns a [`SpectralWorkspace`] (buffers sized once), so analysing a frame
//! allocates nothing.
//!
//! Two real fields (the residual `r = x̂ − x` and the target `x`) share one complex FFT:
//! `Z = F(r + i·x)`, then `F(r)(k) = (Z(k) + conj Z(−k))/2` and
//! `F(x)(k) = (Z(k) − conj Z(−k))/2i`. The n-D transform runs the last axis, then rotates
//! the axes by one transpose, `d` times, which leaves the result in natural layout.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use super::bins::{SpectralBins, check_shape, wavenumber_magnitudes};
use crate::Result;

/// A real sample type the metrics read: `f32` or `f64`.
pub trait Real: Copy + Send + Sync + 'static {
    /// The value as `f64`.
    fn to_f64(self) -> f64;
}

impl Real for f32 {
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
}

const NO_BIN: u32 = u32::MAX;

/// FFT plans, mode-to-bin table and mirror-mode table for one grid shape and bin choice.
#[derive(Clone)]
pub(crate) struct SpectralPlan {
    shape: Vec<usize>,
    n: usize,
    ffts: Vec<Arc<dyn Fft<f64>>>,
    scratch_len: usize,
    bins: SpectralBins,
    mode_bin: Vec<u32>,
    mirror: Vec<u32>,
    counts: Vec<usize>,
}

impl std::fmt::Debug for SpectralPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpectralPlan")
            .field("shape", &self.shape)
            .field("bins", &self.bins)
            .field("counts", &self.counts)
            .finish()
    }
}

/// Per-thread buffers for [`SpectralPlan`]; make one with [`SpectralPlan::workspace`].
#[derive(Debug, Clone)]
pub(crate) struct SpectralWorkspace {
    buf: Vec<Complex<f64>>,
    tmp: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

/// Pointwise statistics of one frame, gathered while loading it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct PointStats {
    /// Number of points.
    pub n: usize,
    /// `mean((x̂ − x)²)`.
    pub mse: f64,
    /// `mean(|x̂ − x|)`.
    pub mae: f64,
    /// `max |x̂ − x|` (NaN if any difference is NaN).
    pub linf: f64,
    /// `mean(x²)` of the target.
    pub target_mean_square: f64,
    /// Unbiased (`N − 1`) variance of the target, as `torch.std(..)²`.
    pub target_variance: f64,
    /// Whether the prediction holds a NaN or infinity.
    pub pred_non_finite: bool,
    /// Whether the target holds a NaN or infinity.
    pub target_non_finite: bool,
}

impl SpectralPlan {
    /// Plans the FFTs of a grid of `spatial_shape` (any size, any number of dims) and
    /// tabulates the bin of every mode.
    pub fn new(spatial_shape: &[usize], bins: SpectralBins) -> Result<Self> {
        check_shape(spatial_shape)?;
        let n: usize = spatial_shape.iter().product();
        let mut planner = FftPlanner::<f64>::new();
        let ffts: Vec<Arc<dyn Fft<f64>>> = spatial_shape
            .iter()
            .rev()
            .map(|&len| planner.plan_fft_forward(len))
            .collect();
        let scratch_len = ffts
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        let mut counts = vec![0usize; bins.n_bins()];
        let mode_bin: Vec<u32> = wavenumber_magnitudes(spatial_shape)
            .into_iter()
            .map(|k| match bins.bin_of(k) {
                Some(j) => {
                    counts[j] += 1;
                    j as u32
                }
                None => NO_BIN,
            })
            .collect();
        let mirror = mirror_indices(spatial_shape);
        Ok(SpectralPlan {
            shape: spatial_shape.to_vec(),
            n,
            ffts,
            scratch_len,
            bins,
            mode_bin,
            mirror,
            counts,
        })
    }

    /// The grid shape.
    pub fn spatial_shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of grid points.
    pub fn frame_len(&self) -> usize {
        self.n
    }

    /// The bins.
    pub fn bins(&self) -> &SpectralBins {
        &self.bins
    }

    /// Number of Fourier modes in each bin.
    pub fn counts(&self) -> &[usize] {
        &self.counts
    }

    /// Fresh buffers for one worker.
    pub fn workspace(&self) -> SpectralWorkspace {
        let zero = Complex::new(0.0, 0.0);
        SpectralWorkspace {
            buf: vec![zero; self.n],
            tmp: vec![zero; self.n],
            scratch: vec![zero; self.scratch_len],
        }
    }

    /// Loads `r = pred − target` and `target` into the workspace and returns the
    /// pointwise statistics. Point `i` of the frame is `pred[i * stride]`.
    pub fn load_pair<T: Real>(
        &self,
        pred: &[T],
        target: &[T],
        stride: usize,
        ws: &mut SpectralWorkspace,
    ) -> PointStats {
        let (mut se, mut ae, mut linf, mut sy, mut syy) = (0.0, 0.0, 0.0f64, 0.0, 0.0);
        let (mut pred_bad, mut target_bad) = (false, false);
        for (i, z) in ws.buf.iter_mut().enumerate() {
            let p = pred[i * stride].to_f64();
            let y = target[i * stride].to_f64();
            pred_bad |= !p.is_finite();
            target_bad |= !y.is_finite();
            let d = p - y;
            se += d * d;
            ae += d.abs();
            linf = if d.abs() > linf || d.is_nan() {
                d.abs()
            } else {
                linf
            };
            sy += y;
            syy += y * y;
            *z = Complex::new(d, y);
        }
        let nf = self.n as f64;
        let mean = sy / nf;
        let mut ss = 0.0;
        for z in &ws.buf {
            let c = z.im - mean;
            ss += c * c;
        }
        let target_variance = if self.n > 1 { ss / (nf - 1.0) } else { 0.0 };
        PointStats {
            n: self.n,
            mse: se / nf,
            mae: ae / nf,
            linf,
            target_mean_square: syy / nf,
            target_variance,
            pred_non_finite: pred_bad,
            target_non_finite: target_bad,
        }
    }

    /// Loads one real field (for its own power spectrum).
    pub fn load_single<T: Real>(&self, field: &[T], stride: usize, ws: &mut SpectralWorkspace) {
        for (i, z) in ws.buf.iter_mut().enumerate() {
            *z = Complex::new(field[i * stride].to_f64(), 0.0);
        }
    }

    /// Transforms the loaded buffer in place (unnormalised forward DFT, natural layout).
    pub fn transform(&self, ws: &mut SpectralWorkspace) {
        for fft in &self.ffts {
            let len = fft.len();
            fft.process_with_scratch(&mut ws.buf, &mut ws.scratch);
            let rows = self.n / len;
            if rows > 1 {
                transpose(&ws.buf, &mut ws.tmp, rows, len);
                std::mem::swap(&mut ws.buf, &mut ws.tmp);
            }
        }
    }

    /// After [`load_pair`](Self::load_pair) and [`transform`](Self::transform): per bin,
    /// `Σ|F(r)|²/N²` into `residual` and `Σ|F(x)|²/N²` into `target` (overwritten).
    pub fn bin_pair(&self, ws: &SpectralWorkspace, residual: &mut [f64], target: &mut [f64]) {
        residual.fill(0.0);
        target.fill(0.0);
        for ((z, &bin), &m) in ws.buf.iter().zip(&self.mode_bin).zip(&self.mirror) {
            if bin == NO_BIN {
                continue;
            }
            let zm = ws.buf[m as usize].conj();
            // |Z + conj Zm|² / 4 and |Z − conj Zm|² / 4
            residual[bin as usize] += (z + zm).norm_sqr();
            target[bin as usize] += (z - zm).norm_sqr();
        }
        let scale = 0.25 / (self.n as f64 * self.n as f64);
        residual
            .iter_mut()
            .chain(target.iter_mut())
            .for_each(|v| *v *= scale);
    }

    /// After [`load_single`](Self::load_single) and [`transform`](Self::transform): per
    /// bin, `Σ|F(x)|²/N²` into `power` (overwritten).
    pub fn bin_single(&self, ws: &SpectralWorkspace, power: &mut [f64]) {
        power.fill(0.0);
        for (z, &bin) in ws.buf.iter().zip(&self.mode_bin) {
            if bin != NO_BIN {
                power[bin as usize] += z.norm_sqr();
            }
        }
        let scale = 1.0 / (self.n as f64 * self.n as f64);
        power.iter_mut().for_each(|v| *v *= scale);
    }
}

/// Index of mode `−k` for every mode `k` (row-major, per axis `(n − i) mod n`).
fn mirror_indices(shape: &[usize]) -> Vec<u32> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|idx| {
            let mut rest = idx;
            let mut out = 0usize;
            let mut place = 1usize;
            for &len in shape.iter().rev() {
                let i = rest % len;
                rest /= len;
                out += ((len - i) % len) * place;
                place *= len;
            }
            out as u32
        })
        .collect()
}

/// Blocked transpose of a row-major `(rows, cols)` matrix into `(cols, rows)`.
fn transpose(src: &[Complex<f64>], dst: &mut [Complex<f64>], rows: usize, cols: usize) {
    const B: usize = 16;
    for r0 in (0..rows).step_by(B) {
        for c0 in (0..cols).step_by(B) {
            for r in r0..(r0 + B).min(rows) {
                for c in c0..(c0 + B).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive O(N²) n-D DFT of a real field.
    fn naive_dft(x: &[f64], shape: &[usize]) -> Vec<Complex<f64>> {
        let n: usize = shape.iter().product();
        let unravel = |mut idx: usize| {
            let mut out = vec![0; shape.len()];
            for (d, &len) in shape.iter().enumerate().rev() {
                out[d] = idx % len;
                idx /= len;
            }
            out
        };
        (0..n)
            .map(|k| {
                let kk = unravel(k);
                (0..n).fold(Complex::new(0.0, 0.0), |acc, p| {
                    let pp = unravel(p);
                    let phase: f64 = kk
                        .iter()
                        .zip(&pp)
                        .zip(shape)
                        .map(|((&a, &b), &len)| (a * b) as f64 / len as f64)
                        .sum();
                    acc + Complex::from_polar(x[p], -2.0 * std::f64::consts::PI * phase)
                })
            })
            .collect()
    }

    fn field(shape: &[usize], seed: f64) -> Vec<f64> {
        let n: usize = shape.iter().product();
        (0..n)
            .map(|i| (i as f64 * 0.37 + seed).sin() * 1.3 + (i as f64 * seed).cos())
            .collect()
    }

    #[test]
    fn transform_equals_naive_dft_on_non_square_2d_and_3d() {
        for shape in [&[6usize, 4][..], &[5, 3], &[3, 4, 5], &[7]] {
            let x = field(shape, 0.7);
            let plan = SpectralPlan::new(shape, SpectralBins::the_well(shape).unwrap()).unwrap();
            let mut ws = plan.workspace();
            plan.load_single(&x, 1, &mut ws);
            plan.transform(&mut ws);
            for (a, b) in ws.buf.iter().zip(naive_dft(&x, shape)) {
                assert!((a - b).norm() < 1e-9, "{shape:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn packed_pair_splits_into_the_two_real_spectra() {
        let shape = [6usize, 5];
        let (p, y) = (field(&shape, 0.3), field(&shape, 1.9));
        let bins = SpectralBins::fine(&shape).unwrap();
        let plan = SpectralPlan::new(&shape, bins).unwrap();
        let mut ws = plan.workspace();
        let nb = plan.bins().n_bins();
        let (mut res, mut tar) = (vec![0.0; nb], vec![0.0; nb]);
        plan.load_pair(&p, &y, 1, &mut ws);
        plan.transform(&mut ws);
        plan.bin_pair(&ws, &mut res, &mut tar);
        let r: Vec<f64> = p.iter().zip(&y).map(|(a, b)| a - b).collect();
        let (mut want_res, mut want_tar) = (vec![0.0; nb], vec![0.0; nb]);
        plan.load_single(&r, 1, &mut ws);
        plan.transform(&mut ws);
        plan.bin_single(&ws, &mut want_res);
        plan.load_single(&y, 1, &mut ws);
        plan.transform(&mut ws);
        plan.bin_single(&ws, &mut want_tar);
        for j in 0..nb {
            assert!((res[j] - want_res[j]).abs() < 1e-12 && (tar[j] - want_tar[j]).abs() < 1e-12);
        }
    }
}
