//! Frame-by-frame evaluation: VRMSE, MSE, MAE, NRMSE, L∞ and the three NEPS bands of every
//! (sample, time, channel) frame, in parallel over frames.
//!
//! Definitions follow The Well (`the_well/benchmark/metrics/spatial.py`, `spectral.py`):
//! `VRMSE = sqrt(mean((x̂−x)²) / (std(x)² + ε))` with the unbiased std and `ε = 1e-7`;
//! `NRMSE = sqrt(mean((x̂−x)²) / (mean(x²) + ε))`; per band
//! `mse_band = Σ_{k∈band}|F(x̂−x)|²/N²`, `NEPS_band = mse_band / (Σ_{k∈band}|F(x)|²/N² + 1e-7)`.
//! The paper (Section 2.2) computes these per time frame and per field, then averages.

use candle_core::{DType, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::bins::{Bands, SpectralBins};
use super::fft::{Real, SpectralPlan, SpectralWorkspace};
use super::summary::{FrameScores, MetricGrid};
use crate::{ConfigError, Error, Result};

/// Which band edges split `|k|` into low, mid and high.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum BandEdges {
    /// The Well's `logspace(log10(2π/max N), log10(π√d + 1e-6), 4)`, first edge 0.
    #[default]
    TheWell,
    /// Four explicit, increasing edges `[0, low|mid, mid|high, top]`.
    Custom([f64; 4]),
}

/// Settings of the frame metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Band edges for NEPS.
    pub band_edges: BandEdges,
    /// ε added to the target variance in VRMSE and to `mean(x²)` in NRMSE.
    pub eps: f64,
    /// A target frame whose variance is at most this is reported as zero-variance.
    pub zero_variance_below: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig::the_well()
    }
}

impl MetricsConfig {
    /// The Well's definitions (`eps = 1e-7`, its band edges): the paper's Table 5.
    pub fn the_well() -> Self {
        MetricsConfig {
            band_edges: BandEdges::TheWell,
            eps: 1e-7,
            zero_variance_below: 1e-12,
        }
    }

    /// Sets the band edges.
    pub fn with_band_edges(mut self, band_edges: BandEdges) -> Self {
        self.band_edges = band_edges;
        self
    }

    /// Sets ε.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.eps.is_nan() || self.eps < 0.0 || !self.eps.is_finite() {
            return Err(ConfigError::OutOfRange {
                name: "eps",
                range: "[0, inf)",
                value: self.eps,
            });
        }
        if let BandEdges::Custom(e) = &self.band_edges
            && (e.windows(2).any(|w| w[1].is_nan() || w[1] <= w[0])
                || e.iter().any(|v| !v.is_finite()))
        {
            return Err(ConfigError::OutOfRange {
                name: "band edges",
                range: "finite and strictly increasing",
                value: e[0],
            });
        }
        Ok(())
    }

    /// Builds an evaluator for frames of `spatial_shape` (2-D or 3-D, any sizes).
    pub fn build(&self, spatial_shape: &[usize]) -> Result<FrameEvaluator> {
        self.check()?;
        let bins = match &self.band_edges {
            BandEdges::TheWell => SpectralBins::the_well(spatial_shape)?,
            BandEdges::Custom(e) => SpectralBins::from_edges(e.to_vec())?,
        };
        Ok(FrameEvaluator {
            plan: SpectralPlan::new(spatial_shape, bins)?,
            config: self.clone(),
        })
    }
}

/// The shape of a block of frames in phystok's layout `(batch, channels, time, *spatial)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameLayout {
    /// Samples.
    pub batch: usize,
    /// Channels (field components).
    pub channels: usize,
    /// Time frames.
    pub time: usize,
    /// Spatial shape, `(height, width)` or `(depth, height, width)`.
    pub spatial: Vec<usize>,
}

impl FrameLayout {
    /// From a tensor shape `(batch, channels, time, *spatial)`.
    pub fn from_dims(dims: &[usize]) -> Result<Self> {
        if dims.len() < 4 {
            return Err(Error::Shape {
                what: "metrics input (batch, channels, time, *spatial)".into(),
                left: dims.to_vec(),
                right: vec![0, 0, 0, 0, 0],
            });
        }
        Ok(FrameLayout {
            batch: dims[0],
            channels: dims[1],
            time: dims[2],
            spatial: dims[3..].to_vec(),
        })
    }

    /// All dims, `(batch, channels, time, *spatial)`.
    pub fn dims(&self) -> Vec<usize> {
        let mut d = vec![self.batch, self.channels, self.time];
        d.extend(&self.spatial);
        d
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.dims().iter().product()
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Evaluates frames of one grid shape; owns the FFT plans. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct FrameEvaluator {
    plan: SpectralPlan,
    config: MetricsConfig,
}

impl FrameEvaluator {
    /// The FFT plan (bins, counts).
    pub fn plan(&self) -> &SpectralPlan {
        &self.plan
    }

    /// The settings.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Scores one frame; point `i` is `pred[i * stride]`. Allocates nothing.
    pub fn frame<T: Real>(
        &self,
        pred: &[T],
        target: &[T],
        stride: usize,
        ws: &mut SpectralWorkspace,
    ) -> FrameScores {
        let stats = self.plan.load_pair(pred, target, stride, ws);
        self.plan.transform(ws);
        let (mut res, mut tar) = ([0.0; 3], [0.0; 3]);
        self.plan.bin_pair(ws, &mut res, &mut tar);
        let eps = self.config.eps;
        let neps = [0, 1, 2].map(|j| res[j] / (tar[j] + 1e-7));
        FrameScores {
            mse: stats.mse,
            mae: stats.mae,
            nrmse: (stats.mse / (stats.target_mean_square + eps)).sqrt(),
            vrmse: (stats.mse / (stats.target_variance + eps)).sqrt(),
            linf: stats.linf,
            target_variance: stats.target_variance,
            band_mse: Bands::from_array(res),
            band_target: Bands::from_array(tar),
            neps: Bands::from_array(neps),
            pred_non_finite: stats.pred_non_finite,
            target_non_finite: stats.target_non_finite,
        }
    }

    /// Scores every frame of `pred` and `target`, both laid out `(batch, channels, time,
    /// *spatial)` row-major, in parallel over frames.
    pub fn evaluate<T: Real>(
        &self,
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        channel_names: Option<Vec<String>>,
    ) -> Result<MetricGrid> {
        self.check_spatial(&layout.spatial)?;
        for (what, data) in [("prediction", pred), ("target", target)] {
            if data.len() != layout.len() {
                return Err(Error::Shape {
                    what: format!("{what} values vs layout"),
                    left: vec![data.len()],
                    right: layout.dims(),
                });
            }
        }
        let (c_n, t_n, n) = (layout.channels, layout.time, self.plan.frame_len());
        // frames in (batch, time, channel) order; frame (b, t, c) starts at ((b·C + c)·T + t)·N
        let start = |f: usize| {
            let (b, t, c) = (f / (t_n * c_n), (f / c_n) % t_n, f % c_n);
            ((b * c_n + c) * t_n + t) * n
        };
        let scores = self.frames(pred, target, layout.batch * t_n * c_n, start, 1);
        MetricGrid::new(
            layout.batch,
            t_n,
            c_n,
            names_or_default(channel_names, c_n)?,
            scores,
        )
    }

    /// [`evaluate`](Self::evaluate) on candle tensors of shape
    /// `(batch, channels, time, *spatial)` (any float dtype, any device).
    pub fn evaluate_tensors(
        &self,
        pred: &Tensor,
        target: &Tensor,
        channel_names: Option<Vec<String>>,
    ) -> Result<MetricGrid> {
        if pred.dims() != target.dims() {
            return Err(Error::Shape {
                what: "prediction vs target".into(),
                left: pred.dims().to_vec(),
                right: target.dims().to_vec(),
            });
        }
        let layout = FrameLayout::from_dims(pred.dims())?;
        let p: Vec<f32> = pred.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        let t: Vec<f32> = target.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        self.evaluate(&p, &t, &layout, channel_names)
    }

    /// Scores `n_frames` strided frames in parallel; frame `f` starts at `start(f)`.
    pub(crate) fn frames<T: Real>(
        &self,
        pred: &[T],
        target: &[T],
        n_frames: usize,
        start: impl Fn(usize) -> usize + Sync,
        stride: usize,
    ) -> Vec<FrameScores> {
        (0..n_frames)
            .into_par_iter()
            .map_init(
                || self.plan.workspace(),
                |ws, f| {
                    let s = start(f);
                    self.frame(&pred[s..], &target[s..], stride, ws)
                },
            )
            .collect()
    }

    pub(crate) fn check_spatial(&self, spatial: &[usize]) -> Result<()> {
        if spatial != self.plan.spatial_shape() {
            return Err(Error::Shape {
                what: "frame grid vs evaluator grid".into(),
                left: spatial.to_vec(),
                right: self.plan.spatial_shape().to_vec(),
            });
        }
        Ok(())
    }
}

/// One call: The Well's metrics of `pred` against `target`, tensors of shape
/// `(batch, channels, time, *spatial)`.
pub fn evaluate_tensors(pred: &Tensor, target: &Tensor) -> Result<MetricGrid> {
    let layout = FrameLayout::from_dims(target.dims())?;
    MetricsConfig::the_well()
        .build(&layout.spatial)?
        .evaluate_tensors(pred, target, None)
}

fn names_or_default(names: Option<Vec<String>>, channels: usize) -> Result<Vec<String>> {
    match names {
        None => Ok((0..channels).map(|c| format!("c{c}")).collect()),
        Some(v) if v.len() == channels => Ok(v),
        Some(v) => Err(Error::Shape {
            what: "channel names vs channels".into(),
            left: vec![v.len()],
            right: vec![channels],
        }),
    }
}
