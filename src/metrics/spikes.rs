//! Harmonic spikes: patch artefacts in the residual power spectrum (Mukhopadhyay et al.
//! 2025, Section 4.2, Figure 2).
//!
//! A ViT that decodes every `p × p` patch with the same kernel leaves an error pattern that
//! repeats with period `p`; its power sits at the patch harmonics, wavenumber shells
//! `h = m·N/p` (`m ≥ 1`, `N` the largest grid side, shells of [`SpectralBins::fine`]).
//! The score of one field and step is the mean over harmonics of
//! `log10(P(h) / B(h))`, `P` the residual power spectrum (mean over the batch) and `B(h)` the
//! local smooth baseline: a straight line fitted by least squares to `log P` against
//! `log shell` over the shells `h ± 2 ..= h ± w` that are not themselves harmonics (the
//! harmonic's immediate neighbours are skipped, since binning smears a spike into them),
//! evaluated at `h`. A power law therefore scores 0 whatever its slope; a spike ten times
//! above its surroundings scores 1.
//!
//! [`SpectralBins::fine`]: super::SpectralBins::fine

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::spectrum::SpectrumAnalyser;
use crate::{ConfigError, Error, Result};

/// Settings of [`HarmonicSpikes::from_tensors`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpikeOptions {
    /// Patch sizes whose harmonics are scored (their union; a cyclic rollout passes all
    /// of its sizes).
    pub patch_sizes: Vec<usize>,
    /// Half-width `w` of the baseline window in shells (default 4).
    pub half_window: usize,
}

impl SpikeOptions {
    /// Harmonics of `patch_sizes`, baseline half-width 4.
    pub fn new(patch_sizes: Vec<usize>) -> Self {
        SpikeOptions {
            patch_sizes,
            half_window: 4,
        }
    }

    /// Sets the baseline half-width.
    pub fn with_half_window(mut self, half_window: usize) -> Self {
        self.half_window = half_window;
        self
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.patch_sizes.is_empty() {
            return Err(ConfigError::Empty {
                name: "spike patch sizes",
            });
        }
        if let Some(&p) = self.patch_sizes.iter().find(|&&p| p < 2) {
            return Err(ConfigError::OutOfRange {
                name: "spike patch size",
                range: ">= 2 (a patch of 1 has no harmonic below the grid's Nyquist shell)",
                value: p as f64,
            });
        }
        if self.half_window < 2 {
            return Err(ConfigError::OutOfRange {
                name: "half_window",
                range: ">= 2",
                value: self.half_window as f64,
            });
        }
        Ok(())
    }
}

/// Residual power spectra per rollout step and field, and their harmonic-spike scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HarmonicSpikes {
    /// The patch sizes scored.
    pub patch_sizes: Vec<usize>,
    /// Harmonic shells `m·N/p` scored (ascending, unique, within the spectrum).
    pub harmonics: Vec<usize>,
    /// Shell centres in radians per cell (`2π·h/N`).
    pub k: Vec<f64>,
    /// Residual power `[step][field][shell]`, mean over the batch.
    pub spectra: Vec<Vec<Vec<f64>>>,
    /// Spike score `[field][step]`.
    pub scores: Vec<Vec<f64>>,
}

impl HarmonicSpikes {
    /// Spectra and scores of `pred − target`.
    ///
    /// # Shapes
    /// `pred`, `target`: `(batch, fields, steps, H, W)`.
    pub fn from_tensors(pred: &Tensor, target: &Tensor, options: &SpikeOptions) -> Result<Self> {
        options.check()?;
        if pred.dims() != target.dims() || pred.rank() != 5 {
            return Err(Error::Shape {
                what: "spike analysis prediction vs target (batch, fields, steps, H, W)".into(),
                left: pred.dims().to_vec(),
                right: target.dims().to_vec(),
            });
        }
        let (b, c, t, h, w) = pred.dims5()?;
        let residual: Vec<f32> = (pred.to_dtype(DType::F32)? - target.to_dtype(DType::F32)?)?
            .flatten_all()?
            .to_vec1()?;
        let analyser = SpectrumAnalyser::new(&[h, w])?;
        let frame = h * w;
        let mut spectra = vec![vec![Vec::new(); c]; t];
        let mut k = Vec::new();
        for (step, row) in spectra.iter_mut().enumerate() {
            for (field, out) in row.iter_mut().enumerate() {
                let mut mean: Vec<f64> = Vec::new();
                for batch in 0..b {
                    let at = ((batch * c + field) * t + step) * frame;
                    let s = analyser.power_spectrum(&residual[at..at + frame])?;
                    if mean.is_empty() {
                        mean = vec![0.0; s.power.len()];
                        k = s.k.clone();
                    }
                    for (m, p) in mean.iter_mut().zip(&s.power) {
                        *m += p / b as f64;
                    }
                }
                *out = mean;
            }
        }
        let n = h.max(w);
        let n_shells = k.len();
        let mut harmonics: Vec<usize> = options
            .patch_sizes
            .iter()
            .flat_map(|&p| (1..).map(move |m| m * n / p).take_while(|&s| s < n_shells))
            .filter(|&s| s >= 1 && s <= n / 2)
            .collect();
        harmonics.sort_unstable();
        harmonics.dedup();
        if harmonics.is_empty() {
            return Err(Error::Empty {
                what: format!(
                    "patch harmonics of {:?} on a {h}x{w} grid",
                    options.patch_sizes
                ),
            });
        }
        let scores = (0..c)
            .map(|field| {
                (0..t)
                    .map(|step| spike_score(&spectra[step][field], &harmonics, options.half_window))
                    .collect()
            })
            .collect();
        Ok(HarmonicSpikes {
            patch_sizes: options.patch_sizes.clone(),
            harmonics,
            k,
            spectra,
            scores,
        })
    }

    /// Mean score over fields, per step.
    pub fn per_step(&self) -> Vec<f64> {
        let steps = self.scores.first().map_or(0, Vec::len);
        (0..steps)
            .map(|s| mean(self.scores.iter().map(|f| f[s])))
            .collect()
    }

    /// Mean score over fields and steps.
    pub fn mean_score(&self) -> f64 {
        mean(self.scores.iter().flatten().copied())
    }

    /// Residual power of one step, mean over fields.
    pub fn mean_spectrum(&self, step: usize) -> Vec<f64> {
        let Some(fields) = self.spectra.get(step) else {
            return Vec::new();
        };
        let n = fields.first().map_or(0, Vec::len);
        (0..n).map(|i| mean(fields.iter().map(|f| f[i]))).collect()
    }
}

impl HarmonicSpikes {
    /// Scores per field (rows) and step (columns), with the mean over steps.
    pub fn to_table(&self) -> crate::report::Table {
        let steps = self.scores.first().map_or(0, Vec::len);
        let mut header = vec!["field".to_string(), "mean".into()];
        header.extend((1..=steps).map(|s| format!("step {s}")));
        let mut table = crate::report::Table::new(header).with_caption(format!(
            "Harmonic-spike scores (log10 power at m·N/p over the local baseline), p in {:?}",
            self.patch_sizes
        ));
        for (field, row) in self.scores.iter().enumerate() {
            let mut cells = vec![
                field.to_string(),
                format!("{:.3}", mean(row.iter().copied())),
            ];
            cells.extend(row.iter().map(|v| format!("{v:.3}")));
            let _ = table.push_row(cells);
        }
        table
    }

    /// Shows the score table in evcxr.
    pub fn evcxr_display(&self) {
        self.to_table().evcxr_display()
    }
}

impl std::fmt::Display for HarmonicSpikes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.to_table())
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Mean over `harmonics` of `log10(P(h)/B(h))`, skipping shells with no usable baseline.
fn spike_score(power: &[f64], harmonics: &[usize], half_window: usize) -> f64 {
    let usable = |i: usize| power.get(i).copied().filter(|v| v.is_finite() && *v > 0.0);
    let mut logs = Vec::new();
    for &h in harmonics {
        let Some(ph) = usable(h) else { continue };
        // (ln shell, ln power) of the usable neighbours; shell 0 has no logarithm
        let points: Vec<(f64, f64)> = (2..=half_window)
            .flat_map(|d| [h.checked_sub(d), Some(h + d)])
            .flatten()
            .filter(|&i| i >= 1 && !harmonics.contains(&i))
            .filter_map(|i| usable(i).map(|v| ((i as f64).ln(), v.ln())))
            .collect();
        let Some(ln_baseline) = log_line_at(&points, (h as f64).ln()) else {
            continue;
        };
        logs.push((ph.ln() - ln_baseline) / std::f64::consts::LN_10);
    }
    mean(logs.into_iter())
}

/// The least-squares line through `points` evaluated at `x` (their mean when they share one
/// `x`); `None` for no points.
fn log_line_at(points: &[(f64, f64)], x: f64) -> Option<f64> {
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx < 1e-12 {
        return Some(my);
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(my + sxy / sxx * (x - mx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use rand::{Rng, SeedableRng};

    /// A smooth field on a 64² grid: a few low wavenumbers.
    fn smooth(n: usize, phase: f64) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * n);
        for i in 0..n {
            for j in 0..n {
                let (x, y) = (
                    2.0 * std::f64::consts::PI * i as f64 / n as f64,
                    2.0 * std::f64::consts::PI * j as f64 / n as f64,
                );
                let v =
                    (x + phase).sin() + 0.5 * (2.0 * y).cos() + 0.2 * (3.0 * x - y + phase).sin();
                out.push(v as f32);
            }
        }
        out
    }

    fn tensor(frames: Vec<Vec<f32>>, n: usize) -> Result<Tensor> {
        let t = frames.len();
        let data: Vec<f32> = frames.into_iter().flatten().collect();
        Ok(Tensor::from_vec(data, (1, 1, t, n, n), &Device::Cpu)?)
    }

    #[test]
    fn block_artefact_scores_high_and_smooth_error_low() -> Result<()> {
        let n = 64;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let block: Vec<f32> = (0..64).map(|_| rng.random::<f32>() - 0.5).collect();
        let noise = |rng: &mut rand_chacha::ChaCha8Rng| -> Vec<f32> {
            (0..n * n)
                .map(|_| 0.01 * (rng.random::<f32>() - 0.5))
                .collect()
        };
        let target = tensor(vec![smooth(n, 0.0), smooth(n, 0.3)], n)?;
        // the same 8x8 pattern in every patch, on a smooth error plus faint white noise
        let mut artefact = Vec::new();
        let mut smooth_err = Vec::new();
        for s in 0..2 {
            let base = smooth(n, 0.3 * s as f64);
            let err = smooth(n, 1.0 + s as f64);
            let white = noise(&mut rng);
            let with_blocks: Vec<f32> = (0..n * n)
                .map(|i| {
                    let (y, x) = (i / n, i % n);
                    base[i] + 0.1 * err[i] + white[i] + 0.2 * block[(y % 8) * 8 + x % 8]
                })
                .collect();
            let smooth_only: Vec<f32> = (0..n * n)
                .map(|i| base[i] + 0.1 * err[i] + white[i])
                .collect();
            artefact.push(with_blocks);
            smooth_err.push(smooth_only);
        }
        let options = SpikeOptions::new(vec![8]);
        let high = HarmonicSpikes::from_tensors(&tensor(artefact, n)?, &target, &options)?;
        let low = HarmonicSpikes::from_tensors(&tensor(smooth_err, n)?, &target, &options)?;
        assert_eq!(high.harmonics, vec![8, 16, 24, 32]);
        assert_eq!(high.scores.len(), 1);
        assert_eq!(high.scores[0].len(), 2);
        assert!(high.to_string().contains("step 2"));
        for s in high.per_step() {
            assert!(s > 1.0, "block artefact scored {s}");
        }
        for s in low.per_step() {
            assert!(s.abs() < 0.5, "smooth error scored {s}");
        }
        Ok(())
    }

    #[test]
    fn a_power_law_scores_zero_whatever_its_slope() {
        let harmonics = [8, 16, 24];
        for slope in [-1.0, -3.0, -5.0] {
            let power: Vec<f64> = (0..40)
                .map(|i| if i == 0 { 1.0 } else { (i as f64).powf(slope) })
                .collect();
            let s = spike_score(&power, &harmonics, 4);
            assert!(s.abs() < 1e-9, "slope {slope}: {s}");
            let mut spiked = power.clone();
            for &h in &harmonics {
                spiked[h] *= 10.0;
            }
            let s = spike_score(&spiked, &harmonics, 4);
            assert!((s - 1.0).abs() < 1e-9, "slope {slope} spiked: {s}");
        }
    }

    #[test]
    fn bad_options_are_named() {
        assert!(matches!(
            SpikeOptions::new(vec![]).check(),
            Err(ConfigError::Empty { .. })
        ));
        assert!(matches!(
            SpikeOptions::new(vec![1]).check(),
            Err(ConfigError::OutOfRange { .. })
        ));
    }
}
