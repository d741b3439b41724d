//! Isotropic power spectra, residual power spectra and NEPS(k) on fine bins (for plots).
//!
//! The paper's eq. (2): `P(k) = (1/|B_k|) Σ_{k'∈B_k} |F{·}(k')|²` (unnormalised DFT, the
//! mean squared Fourier coefficient of a shell), and eq. (3): `NEPS(k) = P_{x−x̂}(k)/P_x(k)`,
//! computed per frame as `Σ|F(x−x̂)|²/N² / (Σ|F(x)|²/N² + 1e-7)` like The Well's bands, then
//! averaged over frames per field. The Well's three band edges travel with every result so
//! plots can mark them.
//!
//! [`NepsSpectrum::from_tensors`] computes them from a prediction and its target;
//! [`SpectrumAnalyser::power_spectrum`] gives the spectrum of one field.

use candle_core::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::SpectralBins;
use super::evaluate::{FramePair, channel_names, with_tensor_frames};
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

    /// Residual spectra and NEPS(k) of `frames`, averaged over samples and times per
    /// channel; `names` holds one name per channel.
    pub(crate) fn neps<T: Real>(
        &self,
        frames: &FramePair<'_, T>,
        names: Vec<String>,
    ) -> Result<NepsSpectrum> {
        let (pred, target, layout) = (frames.pred, frames.target, &frames.layout);
        if layout.spatial != self.plan.spatial_shape() {
            return Err(Error::Shape {
                what: "prediction grid vs spectrum grid".into(),
                left: layout.spatial.clone(),
                right: self.plan.spatial_shape().to_vec(),
            });
        }
        let names = channel_names(Some(&names), layout.channels)?;
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
        let per = (layout.batch * t_n) as f64;
        let per_channel: Vec<NepsCurve> = (0..c_n)
            .map(|c| {
                let a = &acc[c * 3 * nb..(c + 1) * 3 * nb];
                let mean = |s: &[f64]| s.iter().map(|v| v / per).collect::<Vec<_>>();
                NepsCurve {
                    name: names[c].clone(),
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

/// Settings of [`NepsSpectrum::from_tensors`] (and of the figure drawn from it).
///
/// | setting | default |
/// |---|---|
/// | `channel_names` | `None`: channels are named `c0`, `c1`, … |
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpectrumOptions {
    /// One name per channel, in channel order (`None`: `c0`, `c1`, …).
    pub channel_names: Option<Vec<String>>,
}

impl SpectrumOptions {
    /// Names the channels (one name per channel of the tensors, in order).
    pub fn with_channel_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.channel_names = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

impl NepsSpectrum {
    /// Residual spectra and NEPS(k) on fine bins (one per integer shell) of `pred` against
    /// `target`, averaged over samples and times per channel.
    ///
    /// # Shapes
    /// `pred` and `target`: `(batch, channels, time, *spatial)`, any float dtype and device.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ; [`ConfigError::Mismatch`](crate::ConfigError::Mismatch) naming
    /// `channel_names` when there is not one name per channel.
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::metrics::{NepsSpectrum, SpectrumOptions};
    ///
    /// // Offset by 1 so that the k = 0 shell (a single mode) never has near-zero power,
    /// // where the ratio's 1e-7 guard would show.
    /// let target = (Tensor::randn(0f32, 1.0, (1, 2, 3, 16, 16), &Device::Cpu)? + 1.0)?;
    /// let pred = (&target * 0.5)?; // half the amplitude: NEPS = 0.25 at every k
    /// let options = SpectrumOptions::default().with_channel_names(["a", "b"]);
    /// let s = NepsSpectrum::from_tensors(&pred, &target, &options)?;
    /// assert!(s.mean.neps.iter().all(|v| (v - 0.25).abs() < 1e-3));
    /// assert_eq!(s.per_channel[1].name, "b");
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(
        pred: &Tensor,
        target: &Tensor,
        options: &SpectrumOptions,
    ) -> Result<NepsSpectrum> {
        with_tensor_frames(pred, target, |frames| {
            let names = channel_names(options.channel_names.as_deref(), frames.layout.channels)?;
            SpectrumAnalyser::new(&frames.layout.spatial)?.neps(frames, names)
        })
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::ConfigError;
    use crate::metrics::evaluate::FrameLayout;

    fn ramp(dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32).sin()).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    #[test]
    fn tensor_spectrum_equals_the_slice_spectrum_with_numbered_channels() {
        assert_eq!(SpectrumOptions::default().channel_names, None);
        let dims = [2, 3, 2, 8, 8];
        let target = ramp(&dims);
        let pred = (target.clone() * 0.7).unwrap().sin().unwrap();
        let from_t =
            NepsSpectrum::from_tensors(&pred, &target, &SpectrumOptions::default()).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let (p, t) = (flat(&pred), flat(&target));
        let frames = FramePair::new(&p, &t, FrameLayout::from_dims(&dims).unwrap()).unwrap();
        let names: Vec<String> = ["c0", "c1", "c2"].map(String::from).to_vec();
        let from_s = SpectrumAnalyser::new(&[8, 8])
            .unwrap()
            .neps(&frames, names)
            .unwrap();
        assert_eq!(from_t, from_s);
    }

    #[test]
    fn bad_spectrum_options_are_typed_errors_naming_the_setting() {
        let a = ramp(&[1, 2, 2, 8, 8]);
        let one_name = SpectrumOptions::default().with_channel_names(["only"]);
        assert!(matches!(
            NepsSpectrum::from_tensors(&a, &a, &one_name),
            Err(Error::Config(ConfigError::Mismatch {
                name: "channel_names",
                ..
            }))
        ));
        let b = ramp(&[1, 2, 2, 8, 4]);
        assert!(matches!(
            NepsSpectrum::from_tensors(&a, &b, &SpectrumOptions::default()),
            Err(Error::Shape { .. })
        ));
    }
}
