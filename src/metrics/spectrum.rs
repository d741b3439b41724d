//! Isotropic power spectra, residual power spectra and NEPS(k) on fine bins (for plots).
//!
//! The paper's eq. (2): `P(k) = (1/|B_k|) Σ_{k'∈B_k} |F{·}(k')|²` (unnormalised DFT, the
//! mean squared Fourier coefficient of a shell), and eq. (3): `NEPS(k) = P_{x−x̂}(k)/P_x(k)`,
//! computed per frame as `Σ|F(x−x̂)|²/N² / (Σ|F(x)|²/N² + 1e-7)` like The Well's bands, then
//! averaged over frames per field. The Well's three band edges travel with every result so
//! plots can mark them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::SpectralBins;
use super::evaluate::FrameLayout;
use super::fft::{Real, SpectralPlan};
use crate::{Error, Result};

/// A power spectrum `P(k)` over bins of `|k|`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerSpectrum {
    /// Bin centres.
    pub k: Vec<f64>,
    /// Bin edges (`k.len() + 1`).
    pub edges: Vec<f64>,
    /// Mean `|F(x)(k')|²` over each bin (NaN where a bin holds no mode).
    pub power: Vec<f64>,
    /// Modes per bin.
    pub counts: Vec<usize>,
    /// The Well's band edges (low | mid | high), to mark on plots.
    pub band_edges: Vec<f64>,
}

/// Per-field residual spectra, target spectra and NEPS(k), averaged over frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NepsCurve {
    /// Field (channel) name, or `mean`.
    pub name: String,
    /// `P_x(k)`: target power spectrum.
    pub target_power: Vec<f64>,
    /// `P_{x−x̂}(k)`: residual power spectrum.
    pub residual_power: Vec<f64>,
    /// `NEPS(k)`: mean over frames of the per-frame ratio.
    pub neps: Vec<f64>,
}

/// NEPS(k) on fine bins for every field and their mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NepsSpectrum {
    /// Bin centres.
    pub k: Vec<f64>,
    /// Bin edges.
    pub edges: Vec<f64>,
    /// Modes per bin.
    pub counts: Vec<usize>,
    /// The Well's band edges (low | mid | high).
    pub band_edges: Vec<f64>,
    /// One curve per channel.
    pub per_channel: Vec<NepsCurve>,
    /// The mean over channels.
    pub mean: NepsCurve,
}

/// Computes fine-binned spectra of one grid shape; owns the FFT plans.
#[derive(Debug, Clone)]
pub struct SpectrumAnalyser {
    plan: SpectralPlan,
    band_edges: Vec<f64>,
}

impl SpectrumAnalyser {
    /// Fine bins ([`SpectralBins::fine`]: one per integer shell) on `spatial_shape`.
    pub fn new(spatial_shape: &[usize]) -> Result<Self> {
        SpectrumAnalyser::with_bins(spatial_shape, SpectralBins::fine(spatial_shape)?)
    }

    /// Any bins on `spatial_shape`.
    pub fn with_bins(spatial_shape: &[usize], bins: SpectralBins) -> Result<Self> {
        let band_edges = SpectralBins::the_well(spatial_shape)?.edges().to_vec();
        Ok(SpectrumAnalyser {
            plan: SpectralPlan::new(spatial_shape, bins)?,
            band_edges,
        })
    }

    /// The plan (bins and counts).
    pub fn plan(&self) -> &SpectralPlan {
        &self.plan
    }

    /// Power spectrum of one field of the analyser's grid, row-major.
    pub fn power_spectrum<T: Real>(&self, field: &[T]) -> Result<PowerSpectrum> {
        let n = self.plan.frame_len();
        if field.len() != n {
            return Err(Error::Shape {
                what: "field vs spectrum grid".into(),
                left: vec![field.len()],
                right: self.plan.spatial_shape().to_vec(),
            });
        }
        let mut ws = self.plan.workspace();
        let mut sums = vec![0.0; self.plan.bins().n_bins()];
        self.plan.load_single(field, 1, &mut ws);
        self.plan.transform(&mut ws);
        self.plan.bin_single(&ws, &mut sums);
        Ok(PowerSpectrum {
            k: self.plan.bins().centres(),
            edges: self.plan.bins().edges().to_vec(),
            power: self.to_mean_power(&sums),
            counts: self.plan.counts().to_vec(),
            band_edges: self.band_edges.clone(),
        })
    }

    /// Residual spectra and NEPS(k) of `pred` against `target`, both
    /// `(batch, channels, time, *spatial)`, averaged over samples and times per channel.
    pub fn neps<T: Real>(
        &self,
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        channel_names: Option<Vec<String>>,
    ) -> Result<NepsSpectrum> {
        if layout.spatial != self.plan.spatial_shape() || pred.len() != layout.len() {
            return Err(Error::Shape {
                what: "prediction vs spectrum layout".into(),
                left: vec![pred.len()],
                right: layout.dims(),
            });
        }
        if target.len() != pred.len() {
            return Err(Error::Shape {
                what: "prediction vs target".into(),
                left: vec![pred.len()],
                right: vec![target.len()],
            });
        }
        let nb = self.plan.bins().n_bins();
        let (c_n, t_n, n) = (layout.channels, layout.time, self.plan.frame_len());
        let n_frames = layout.batch * c_n * t_n;
        if n_frames == 0 {
            return Err(Error::Empty {
                what: "frames for NEPS".into(),
            });
        }
        // accumulator per channel: [residual sums | target sums | neps sums], each nb long
        let acc = (0..n_frames)
            .into_par_iter()
            .fold(
                || {
                    (
                        self.plan.workspace(),
                        vec![0.0; c_n * 3 * nb],
                        vec![0.0; 2 * nb],
                    )
                },
                |(mut ws, mut acc, mut tmp), f| {
                    let c = (f / t_n) % c_n;
                    self.plan
                        .load_pair(&pred[f * n..], &target[f * n..], 1, &mut ws);
                    self.plan.transform(&mut ws);
                    let (res, tar) = tmp.split_at_mut(nb);
                    self.plan.bin_pair(&ws, res, tar);
                    let a = &mut acc[c * 3 * nb..(c + 1) * 3 * nb];
                    for j in 0..nb {
                        a[j] += res[j];
                        a[nb + j] += tar[j];
                        a[2 * nb + j] += res[j] / (tar[j] + 1e-7);
                    }
                    (ws, acc, tmp)
                },
            )
            .map(|(_, acc, _)| acc)
            .reduce(
                || vec![0.0; c_n * 3 * nb],
                |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
            );
        let names = channel_names.unwrap_or_else(|| (0..c_n).map(|c| format!("c{c}")).collect());
        let per = (layout.batch * t_n) as f64;
        let per_channel: Vec<NepsCurve> = (0..c_n)
            .map(|c| {
                let a = &acc[c * 3 * nb..(c + 1) * 3 * nb];
                let mean = |s: &[f64]| s.iter().map(|v| v / per).collect::<Vec<_>>();
                NepsCurve {
                    name: names.get(c).cloned().unwrap_or_else(|| format!("c{c}")),
                    residual_power: self.to_mean_power(&mean(&a[..nb])),
                    target_power: self.to_mean_power(&mean(&a[nb..2 * nb])),
                    neps: mean(&a[2 * nb..]),
                }
            })
            .collect();
        let avg = |get: fn(&NepsCurve) -> &Vec<f64>| -> Vec<f64> {
            (0..nb)
                .map(|j| per_channel.iter().map(|c| get(c)[j]).sum::<f64>() / c_n as f64)
                .collect()
        };
        let mean = NepsCurve {
            name: "mean".into(),
            target_power: avg(|c| &c.target_power),
            residual_power: avg(|c| &c.residual_power),
            neps: avg(|c| &c.neps),
        };
        Ok(NepsSpectrum {
            k: self.plan.bins().centres(),
            edges: self.plan.bins().edges().to_vec(),
            counts: self.plan.counts().to_vec(),
            band_edges: self.band_edges.clone(),
            per_channel,
            mean,
        })
    }

    /// `Σ|F|²/N²` per bin → mean `|F|²` per bin (eq. 2), NaN for empty bins.
    fn to_mean_power(&self, sums: &[f64]) -> Vec<f64> {
        let n2 = (self.plan.frame_len() as f64).powi(2);
        sums.iter()
            .zip(self.plan.counts())
            .map(|(s, &c)| if c == 0 { f64::NAN } else { s * n2 / c as f64 })
            .collect()
    }
}

impl PowerSpectrum {
    /// `Σ_k |B_k|·P(k) / N²`, which equals `mean(x²)` (Plancherel) when the bins cover
    /// every mode.
    pub fn total_energy(&self, frame_len: usize) -> f64 {
        self.power
            .iter()
            .zip(&self.counts)
            .filter(|(_, c)| **c > 0)
            .map(|(p, &c)| p * c as f64)
            .sum::<f64>()
            / (frame_len as f64).powi(2)
    }
}
