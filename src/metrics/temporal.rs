//! Errors across time scales and a physics check along a rollout.
//!
//! - [`TemporalSpectrum`]: power spectrum along time of a rollout's error `x̂ − x` and of
//!   the target, per pixel then averaged, one-sided, scaled so the error powers sum to the
//!   rollout's MSE (Parseval along time). Slow drift shows at low ω, flicker at high ω.
//! - [`ConservationDrift`]: totals `Σ q·ΔV` of a conserved density (Euler: mass `ρ`, total
//!   energy `E`) at every step for prediction and truth, and their relative drift.
//!
//! Both are made from candle tensors with `from_tensors` and an options struct.

use candle_core::Tensor;
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use super::evaluate::{FramePair, with_tensor_frames};
use super::fft::Real;
use crate::{ConfigError, Error, Result};

/// Settings of [`TemporalSpectrum::from_tensors`].
///
/// | setting | default |
/// |---|---|
/// | `channel` | `0`: the first channel |
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemporalOptions {
    /// The channel whose error is analysed.
    pub channel: usize,
}

impl TemporalOptions {
    /// Sets the channel.
    pub fn with_channel(mut self, channel: usize) -> Self {
        self.channel = channel;
        self
    }
}

/// Settings of [`ConservationDrift::from_tensors`].
///
/// | setting | default |
/// |---|---|
/// | `name` | `None`: the channel's number, `c0`, `c1`, … |
/// | `channel` | `0`: the first channel |
/// | `cell_volume` | `1.0`: totals are plain sums over the cells |
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftOptions {
    /// Name of the conserved quantity (`mass`, `energy`).
    pub name: Option<String>,
    /// The channel holding its density.
    pub channel: usize,
    /// Volume (area in 2-D) of one grid cell, `ΔV`.
    pub cell_volume: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions {
            name: None,
            channel: 0,
            cell_volume: 1.0,
        }
    }
}

impl DriftOptions {
    /// Names the quantity.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the channel.
    pub fn with_channel(mut self, channel: usize) -> Self {
        self.channel = channel;
        self
    }

    /// Sets the cell volume `ΔV`.
    pub fn with_cell_volume(mut self, cell_volume: f64) -> Self {
        self.cell_volume = cell_volume;
        self
    }

    /// Checks the settings that do not depend on the data.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !(self.cell_volume.is_finite() && self.cell_volume > 0.0) {
            return Err(ConfigError::OutOfRange {
                name: "cell_volume",
                range: "(0, inf)",
                value: self.cell_volume,
            });
        }
        Ok(())
    }
}

/// An error naming `channel` when it is not below `channels`.
fn check_channel(channel: usize, channels: usize) -> Result<()> {
    if channel >= channels {
        return Err(ConfigError::IndexOutOfRange {
            name: "channel",
            index: channel,
            len: channels,
        }
        .into());
    }
    Ok(())
}

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
    /// The temporal spectra of the error of one channel of `pred` against `target`,
    /// averaged over samples and pixels.
    ///
    /// # Shapes
    /// `pred` and `target`: `(batch, channels, time, *spatial)`, any float dtype and device.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ; [`ConfigError::IndexOutOfRange`] naming
    /// `channel` when there is no such channel.
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::metrics::{TemporalOptions, TemporalSpectrum};
    ///
    /// let target = Tensor::randn(0f32, 1.0, (1, 2, 8, 4, 4), &Device::Cpu)?;
    /// let pred = (&target + 0.1)?; // a constant offset: error power at ω = 0 only
    /// let s = TemporalSpectrum::from_tensors(&pred, &target, &TemporalOptions::default().with_channel(1))?;
    /// assert_eq!(s.omega.len(), 5);
    /// assert!((s.error_power[0] - 0.01).abs() < 1e-6 && s.error_power[1..].iter().all(|p| *p < 1e-9));
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(pred: &Tensor, target: &Tensor, options: &TemporalOptions) -> Result<Self> {
        with_tensor_frames(pred, target, |frames| {
            TemporalSpectrum::of_channel(frames, options.channel)
        })
    }

    /// Temporal spectra of one channel of `frames`, averaged over samples.
    pub(crate) fn of_channel<T: Real>(frames: &FramePair<'_, T>, channel: usize) -> Result<Self> {
        let (pred, target, layout) = (frames.pred, frames.target, &frames.layout);
        check_not_empty(layout.is_empty())?;
        check_channel(channel, layout.channels)?;
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
    /// Totals of one channel (a conserved density) of `pred` and `target` at every step.
    /// Euler (`euler_multi_quadrants`): `density` gives mass, `energy` total energy.
    ///
    /// # Shapes
    /// `pred` and `target`: `(batch, channels, time, *spatial)`, any float dtype and device.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ; [`ConfigError::IndexOutOfRange`] naming
    /// `channel` when there is no such channel; [`ConfigError::OutOfRange`] naming
    /// `cell_volume` when it is not positive and finite.
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::metrics::{ConservationDrift, DriftOptions};
    ///
    /// let target = (Tensor::randn(0f32, 0.1, (1, 1, 4, 8, 8), &Device::Cpu)? + 1.0)?;
    /// let pred = target.roll(1, 4)?; // moved one cell: the same total mass
    /// let options = DriftOptions::default().with_name("mass").with_cell_volume(1.0 / 64.0);
    /// let drift = ConservationDrift::from_tensors(&pred, &target, &options)?;
    /// assert!(drift.max_drift_from_truth < 1e-6);
    /// assert_eq!(drift.name, "mass");
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(pred: &Tensor, target: &Tensor, options: &DriftOptions) -> Result<Self> {
        options.check()?;
        with_tensor_frames(pred, target, |frames| {
            ConservationDrift::of_channel(frames, options)
        })
    }

    /// Totals of one channel of `frames` at every step.
    pub(crate) fn of_channel<T: Real>(
        frames: &FramePair<'_, T>,
        options: &DriftOptions,
    ) -> Result<Self> {
        let (pred, target, layout) = (frames.pred, frames.target, &frames.layout);
        let (channel, cell_volume) = (options.channel, options.cell_volume);
        check_not_empty(layout.is_empty())?;
        check_channel(channel, layout.channels)?;
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
            name: options
                .name
                .clone()
                .unwrap_or_else(|| format!("c{channel}")),
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

fn check_not_empty(empty: bool) -> Result<()> {
    if empty {
        return Err(Error::Empty {
            what: "rollout".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn ramp(dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32).sin() + 2.0)
            .collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    #[test]
    fn options_default_to_the_first_channel_and_unit_cells() {
        assert_eq!(TemporalOptions::default().channel, 0);
        let d = DriftOptions::default();
        assert_eq!(
            (d.name.as_deref(), d.channel, d.cell_volume),
            (None, 0, 1.0)
        );
        let target = ramp(&[2, 3, 4, 4, 4]);
        let pred = (&target * 0.9).unwrap();
        let first = TemporalSpectrum::from_tensors(&pred, &target, &TemporalOptions::default());
        let zero = TemporalSpectrum::from_tensors(
            &pred,
            &target,
            &TemporalOptions::default().with_channel(0),
        );
        assert_eq!(first.unwrap(), zero.unwrap());
        let drift = ConservationDrift::from_tensors(&pred, &target, &d).unwrap();
        assert_eq!(drift.name, "c0");
        // unit cells: the totals are plain sums over the 16 cells, averaged over samples
        let sum = target
            .narrow(1, 0, 1)
            .unwrap()
            .narrow(2, 0, 1)
            .unwrap()
            .to_dtype(candle_core::DType::F64)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
            / 2.0;
        assert!((drift.truth[0] - sum).abs() < 1e-9 * sum.abs());
    }

    #[test]
    fn bad_options_are_typed_errors_naming_the_setting() {
        let target = ramp(&[1, 2, 4, 4, 4]);
        let temporal = TemporalOptions::default().with_channel(2);
        assert!(matches!(
            TemporalSpectrum::from_tensors(&target, &target, &temporal),
            Err(Error::Config(ConfigError::IndexOutOfRange {
                name: "channel",
                index: 2,
                len: 2
            }))
        ));
        let drift = DriftOptions::default().with_channel(5);
        assert!(matches!(
            ConservationDrift::from_tensors(&target, &target, &drift),
            Err(Error::Config(ConfigError::IndexOutOfRange {
                name: "channel",
                ..
            }))
        ));
        for v in [0.0, -1.0, f64::NAN] {
            let bad = DriftOptions::default().with_cell_volume(v);
            assert!(matches!(
                bad.check(),
                Err(ConfigError::OutOfRange {
                    name: "cell_volume",
                    ..
                })
            ));
            assert!(ConservationDrift::from_tensors(&target, &target, &bad).is_err());
        }
    }
}
