//! Periodic 2D Fourier transforms for the pseudo-spectral solvers (rustfft).
//!
//! Arrays are row-major `(nx, ny)`: the first axis `x` is the slow (row) axis, as in the
//! Well's fields. Spectral arrays keep the same layout, with wavenumber `kx[i]` along rows
//! and `ky[j]` along columns (FFT order: `0, 1, …, n/2 − 1, −n/2, …, −1`, times `2π/L`).
//! The forward transform is unnormalised, the inverse divides by `nx · ny`.

use std::sync::Arc;

use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

/// A planned 2D FFT on an `nx × ny` periodic grid of size `lx × ly`, with wavenumbers and the
/// 2/3-rule dealiasing mask.
pub(crate) struct Fft2 {
    pub nx: usize,
    pub ny: usize,
    /// Wavenumbers along x (`2π m / lx`), with the Nyquist mode's set to zero.
    pub kx: Vec<f64>,
    /// Wavenumbers along y.
    pub ky: Vec<f64>,
    /// `|k|²` per spectral index, row-major.
    pub k2: Vec<f64>,
    /// 1 where the mode survives the 2/3 rule (`3|m| < n` on both axes), else 0.
    pub dealias: Vec<f64>,
    fwd_x: Arc<dyn Fft<f64>>,
    inv_x: Arc<dyn Fft<f64>>,
    fwd_y: Arc<dyn Fft<f64>>,
    inv_y: Arc<dyn Fft<f64>>,
    transposed: Vec<Complex64>,
    scratch: Vec<Complex64>,
}

/// Integer mode number of FFT index `i` of `n`.
fn mode(i: usize, n: usize) -> i64 {
    if i < n.div_ceil(2) {
        i as i64
    } else {
        i as i64 - n as i64
    }
}

fn wavenumbers(n: usize, length: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let m = mode(i, n);
            // The Nyquist mode has no sign: its derivative is set to zero.
            if n.is_multiple_of(2) && i == n / 2 {
                0.0
            } else {
                2.0 * std::f64::consts::PI * m as f64 / length
            }
        })
        .collect()
}

impl Fft2 {
    /// Plans transforms for an `nx × ny` grid on a `lx × ly` periodic box.
    pub fn new(nx: usize, ny: usize, lx: f64, ly: f64) -> Self {
        let mut planner = FftPlanner::<f64>::new();
        let fwd_x = planner.plan_fft_forward(nx);
        let inv_x = planner.plan_fft_inverse(nx);
        let fwd_y = planner.plan_fft_forward(ny);
        let inv_y = planner.plan_fft_inverse(ny);
        let kx = wavenumbers(nx, lx);
        let ky = wavenumbers(ny, ly);
        let mut k2 = vec![0.0; nx * ny];
        let mut dealias = vec![0.0; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                k2[i * ny + j] = kx[i] * kx[i] + ky[j] * ky[j];
                let keep = 3 * mode(i, nx).unsigned_abs() < nx as u64
                    && 3 * mode(j, ny).unsigned_abs() < ny as u64;
                dealias[i * ny + j] = if keep { 1.0 } else { 0.0 };
            }
        }
        let scratch_len = [&fwd_x, &inv_x, &fwd_y, &inv_y]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0);
        Fft2 {
            nx,
            ny,
            kx,
            ky,
            k2,
            dealias,
            fwd_x,
            inv_x,
            fwd_y,
            inv_y,
            transposed: vec![Complex64::new(0.0, 0.0); nx * ny],
            scratch: vec![Complex64::new(0.0, 0.0); scratch_len],
        }
    }

    /// Number of grid points.
    pub fn len(&self) -> usize {
        self.nx * self.ny
    }

    fn transform(&mut self, data: &mut [Complex64], inverse: bool) {
        let (nx, ny) = (self.nx, self.ny);
        let (fy, fx) = if inverse {
            (&self.inv_y, &self.inv_x)
        } else {
            (&self.fwd_y, &self.fwd_x)
        };
        // Rows (along y) are contiguous: rustfft transforms every chunk of length ny.
        fy.process_with_scratch(data, &mut self.scratch);
        for i in 0..nx {
            for j in 0..ny {
                self.transposed[j * nx + i] = data[i * ny + j];
            }
        }
        fx.process_with_scratch(&mut self.transposed, &mut self.scratch);
        for j in 0..ny {
            for i in 0..nx {
                data[i * ny + j] = self.transposed[j * nx + i];
            }
        }
    }

    /// Forward transform of a real field into `out` (unnormalised).
    pub fn forward(&mut self, real: &[f64], out: &mut [Complex64]) {
        for (o, &r) in out.iter_mut().zip(real) {
            *o = Complex64::new(r, 0.0);
        }
        self.transform(out, false);
    }

    /// Inverse transform of `spec` (copied into `work`), real part into `out`, normalised.
    pub fn inverse(&mut self, spec: &[Complex64], work: &mut [Complex64], out: &mut [f64]) {
        work.copy_from_slice(spec);
        self.transform(work, true);
        let norm = 1.0 / (self.nx * self.ny) as f64;
        for (o, w) in out.iter_mut().zip(work.iter()) {
            *o = w.re * norm;
        }
    }
}

/// Multiplies `spec` by `i k` along the given wavenumbers: `d/dx` when `along_x`.
pub(crate) fn derivative(fft: &Fft2, spec: &[Complex64], along_x: bool, out: &mut [Complex64]) {
    let ny = fft.ny;
    for (idx, (o, s)) in out.iter_mut().zip(spec).enumerate() {
        let k = if along_x {
            fft.kx[idx / ny]
        } else {
            fft.ky[idx % ny]
        };
        *o = Complex64::new(-k * s.im, k * s.re);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_derivative_of_a_sine() {
        let (nx, ny) = (16, 8);
        let (lx, ly) = (2.0, 1.0);
        let mut fft = Fft2::new(nx, ny, lx, ly);
        let tau = 2.0 * std::f64::consts::PI;
        let f: Vec<f64> = (0..nx * ny)
            .map(|idx| {
                let (x, y) = (
                    (idx / ny) as f64 * lx / nx as f64,
                    (idx % ny) as f64 * ly / ny as f64,
                );
                (tau * 3.0 * x / lx).sin() * (tau * 2.0 * y / ly).cos()
            })
            .collect();
        let mut spec = vec![Complex64::new(0.0, 0.0); nx * ny];
        let mut work = spec.clone();
        let mut back = vec![0.0; nx * ny];
        fft.forward(&f, &mut spec);
        fft.inverse(&spec, &mut work, &mut back);
        for (a, b) in f.iter().zip(&back) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut d = spec.clone();
        derivative(&fft, &spec, true, &mut d);
        fft.inverse(&d, &mut work, &mut back);
        for (idx, got) in back.iter().enumerate() {
            let (x, y) = (
                (idx / ny) as f64 * lx / nx as f64,
                (idx % ny) as f64 * ly / ny as f64,
            );
            let want = tau * 3.0 / lx * (tau * 3.0 * x / lx).cos() * (tau * 2.0 * y / ly).cos();
            assert!((got - want).abs() < 1e-10, "{got} vs {want}");
        }
    }
}
