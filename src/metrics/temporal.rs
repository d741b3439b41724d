//! Errors across time scales and a physics check along a rollout.
//!
//! - [`TemporalSpectrum`]: power spectrum along time of a rollout's error `x̂ − x` and of
//!   the target, per pixel then averaged, one-sided, scaled so the error powers sum to the
//!   rollout's MSE (Parseval along time). Slow drift shows at low ω, flicker at high ω.
//! - [`ConservationDrift`]: totals `Σ q·ΔV` of a conserved density (Euler: mass `ρ`, total
//!   energy `E`) at every step for prediction and truth, and their relative drift.

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use super::evaluate::FrameLayout;
use super::fft::Real;
use crate::{Error, Result};

/// One-sided temporal power spectrum of a rollout's error and of its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemporalSpectrum {
    /// Angular frequencies `2π·j/T` (radians per step), `j = 0..=T/2`.
    pub omega: Vec<f64>,
    /// Error power per frequency; sums to the mean squared error over the rollout.
    pub error_power: Vec<f64>,
    /// Target power per frequency; sums to `mean(x²)` over the rollout.
    pub target_power: Vec<f64>,
}

impl TemporalSpectrum {
    /// Temporal spectra of one channel, averaged over samples: `pred` and `target` are
    /// `(batch, channels, time, *spatial)`.
    pub fn of_channel<T: Real>(
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        channel: usize,
    ) -> Result<Self> {
        check_pair(pred, target, layout)?;
        if channel >= layout.channels {
            return Err(Error::OutOfRange {
                what: "channel of temporal spectrum".into(),
                index: channel,
                len: layout.channels,
            });
        }
        let (t_n, n): (usize, usize) = (layout.time, layout.spatial.iter().product());
        let fft = FftPlanner::<f64>::new().plan_fft_forward(t_n);
        let mut scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        let mut line = vec![Complex::new(0.0, 0.0); t_n];
        let n_half = t_n / 2 + 1;
        let (mut err, mut tar) = (vec![0.0; n_half], vec![0.0; n_half]);
        for b in 0..layout.batch {
            let base = (b * layout.channels + channel) * t_n * n;
            for p in 0..n {
                for (t, z) in line.iter_mut().enumerate() {
                    let (x, y) = (
                        pred[base + t * n + p].to_f64(),
                        target[base + t * n + p].to_f64(),
                    );
                    *z = Complex::new(x - y, y);
                }
                fft.process_with_scratch(&mut line, &mut scratch);
                for j in 0..t_n {
                    let zm = line[(t_n - j) % t_n].conj();
                    let fold = j.min(t_n - j);
                    err[fold] += 0.25 * (line[j] + zm).norm_sqr();
                    tar[fold] += 0.25 * (line[j] - zm).norm_sqr();
                }
            }
        }
        let scale = 1.0 / ((t_n * t_n) as f64 * (n * layout.batch) as f64);
        Ok(TemporalSpectrum {
            omega: (0..n_half)
                .map(|j| 2.0 * std::f64::consts::PI * j as f64 / t_n as f64)
                .collect(),
            error_power: err.into_iter().map(|v| v * scale).collect(),
            target_power: tar.into_iter().map(|v| v * scale).collect(),
        })
    }

    /// Error power over target power at each frequency (`+1e-7` in the denominator).
    pub fn normalised(&self) -> Vec<f64> {
        self.error_power
            .iter()
            .zip(&self.target_power)
            .map(|(e, t)| e / (t + 1e-7))
            .collect()
    }
}

/// Totals of one conserved density along a rollout, for prediction and truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConservationDrift {
    /// Quantity name (`mass`, `energy`).
    pub name: String,
    /// `Σ q̂·ΔV` per step, prediction (mean over samples).
    pub predicted: Vec<f64>,
    /// `Σ q·ΔV` per step, truth (mean over samples).
    pub truth: Vec<f64>,
    /// `max_t |Q̂(t) − Q̂(0)| / |Q̂(0)|`: how far the prediction drifts from its own start.
    pub max_self_drift: f64,
    /// `max_t |Q̂(t) − Q(t)| / |Q(t)|`: how far it drifts from the truth's total.
    pub max_drift_from_truth: f64,
}

impl ConservationDrift {
    /// Totals of channel `channel` (a conserved density) with cell volume `cell_volume`.
    /// Euler (`euler_multi_quadrants`): `density` gives mass, `energy` total energy.
    pub fn of_channel<T: Real>(
        name: impl Into<String>,
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        channel: usize,
        cell_volume: f64,
    ) -> Result<Self> {
        check_pair(pred, target, layout)?;
        if channel >= layout.channels {
            return Err(Error::OutOfRange {
                what: "channel of conserved quantity".into(),
                index: channel,
                len: layout.channels,
            });
        }
        let (t_n, n): (usize, usize) = (layout.time, layout.spatial.iter().product());
        let total = |data: &[T]| -> Vec<f64> {
            (0..t_n)
                .map(|t| {
                    (0..layout.batch)
                        .map(|b| {
                            let s = ((b * layout.channels + channel) * t_n + t) * n;
                            data[s..s + n].iter().map(|v| v.to_f64()).sum::<f64>() * cell_volume
                        })
                        .sum::<f64>()
                        / layout.batch as f64
                })
                .collect()
        };
        let (predicted, truth) = (total(pred), total(target));
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
        let max_nan = |it: &mut dyn Iterator<Item = f64>| {
            it.fold(0.0f64, |m, v| {
                if v.is_nan() || m.is_nan() {
                    f64::NAN
                } else {
                    m.max(v)
                }
            })
        };
        let max_self_drift = max_nan(&mut predicted.iter().map(|&q| rel(q, predicted[0])));
        let max_drift_from_truth =
            max_nan(&mut predicted.iter().zip(&truth).map(|(&q, &r)| rel(q, r)));
        Ok(ConservationDrift {
            name: name.into(),
            predicted,
            truth,
            max_self_drift,
            max_drift_from_truth,
        })
    }
}

impl std::fmt::Display for ConservationDrift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: max drift {:.3e} from own start, {:.3e} from truth over {} steps",
            self.name,
            self.max_self_drift,
            self.max_drift_from_truth,
            self.predicted.len()
        )
    }
}

fn check_pair<T>(pred: &[T], target: &[T], layout: &FrameLayout) -> Result<()> {
    if pred.len() != layout.len() || target.len() != layout.len() {
        return Err(Error::Shape {
            what: "prediction / target vs layout".into(),
            left: vec![pred.len(), target.len()],
            right: layout.dims(),
        });
    }
    if layout.is_empty() {
        return Err(Error::Empty {
            what: "rollout".into(),
        });
    }
    Ok(())
}
