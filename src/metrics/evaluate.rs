//! Frame-by-frame evaluation: VRMSE, MSE, MAE, NRMSE, L∞ and the three NEPS bands of every
//! (sample, time, channel) frame, in parallel over frames.
//!
//! Definitions follow The Well (`the_well/benchmark/metrics/spatial.py`, `spectral.py`):
//! `VRMSE = sqrt(mean((x̂−x)²) / (std(x)² + ε))` with the unbiased std and `ε = 1e-7`;
//! `NRMSE = sqrt(mean((x̂−x)²) / (mean(x²) + ε))`; per band
//! `mse_band = Σ_{k∈band}|F(x̂−x)|²/N²`, `NEPS_band = mse_band / (Σ_{k∈band}|F(x)|²/N² + 1e-7)`.
//! The paper (Section 2.2) computes these per time frame and per field, then averages.
//!
//! [`evaluate()`] is the one public way in: candle tensors and [`EvaluateOptions`]. Inside the
//! crate a `FrameEvaluator` (FFT plans built once per grid shape) scores slices of
//! values, so that loops over batches (validation in training, file comparison) plan once.

use std::ops::Range;

use candle_core::{DType, Storage, StorageRef, Tensor};
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
    pub(crate) fn build(&self, spatial_shape: &[usize]) -> Result<FrameEvaluator> {
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

/// Settings of [`evaluate()`]: the metric definitions and the names of the channels.
///
/// | setting | default |
/// |---|---|
/// | `metrics` | [`MetricsConfig::the_well`] |
/// | `channel_names` | `None`: channels are named `c0`, `c1`, … |
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EvaluateOptions {
    /// The metric definitions.
    pub metrics: MetricsConfig,
    /// One name per channel, in channel order (`None`: `c0`, `c1`, …).
    pub channel_names: Option<Vec<String>>,
}

impl EvaluateOptions {
    /// Sets the metric definitions.
    pub fn with_metrics(mut self, metrics: MetricsConfig) -> Self {
        self.metrics = metrics;
        self
    }

    /// Names the channels (one name per channel of the tensors, in order).
    pub fn with_channel_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.channel_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the settings that do not depend on the data.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.metrics.check()
    }
}

/// The Well's metrics (VRMSE, MSE, MAE, NRMSE, L∞ and NEPS low/mid/high) of every frame of
/// `pred` against `target`.
///
/// # Shapes
/// `pred` and `target`: `(batch, channels, time, *spatial)`, 2-D or 3-D space, any float
/// dtype, any device. The result holds one [`FrameScores`] per `(sample, time, channel)`.
///
/// # Errors
/// [`Error::Shape`] when the shapes differ or have fewer than four dims;
/// [`ConfigError::Mismatch`] naming `channel_names` when there is not one name per channel;
/// the [`MetricsConfig`]'s own errors.
///
/// # Example
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::metrics::{EvaluateOptions, evaluate};
///
/// let target = Tensor::randn(0f32, 1.0, (2, 2, 3, 16, 16), &Device::Cpu)?;
/// let pred = (&target * 0.9)?;
/// let options = EvaluateOptions::default().with_channel_names(["density", "pressure"]);
/// let grid = evaluate(&pred, &target, &options)?;
/// assert_eq!(grid.dims(), (2, 3, 2)); // (samples, times, channels)
/// let summary = grid.summary();
/// assert_eq!(summary.per_channel[1].name, "pressure");
/// assert!((summary.mean.neps.low - 0.01).abs() < 1e-4); // 10 % error in amplitude
/// # Ok::<(), phystok::Error>(())
/// ```
pub fn evaluate(pred: &Tensor, target: &Tensor, options: &EvaluateOptions) -> Result<MetricGrid> {
    options.check()?;
    with_tensor_frames(pred, target, |frames| {
        let names = channel_names(options.channel_names.as_deref(), frames.layout.channels)?;
        options
            .metrics
            .build(&frames.layout.spatial)?
            .evaluate(frames, names)
    })
}

/// The shape of a block of frames in phystok's layout `(batch, channels, time, *spatial)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameLayout {
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

/// A prediction and its target, row-major values of one [`FrameLayout`].
#[derive(Debug, Clone)]
pub(crate) struct FramePair<'a, T> {
    /// The prediction's values.
    pub pred: &'a [T],
    /// The target's values.
    pub target: &'a [T],
    /// Their shape.
    pub layout: FrameLayout,
}

impl<'a, T> FramePair<'a, T> {
    /// Checks that both hold `layout.len()` values.
    pub fn new(pred: &'a [T], target: &'a [T], layout: FrameLayout) -> Result<Self> {
        for (what, data) in [("prediction", pred), ("target", target)] {
            if data.len() != layout.len() {
                return Err(Error::Shape {
                    what: format!("{what} values vs layout"),
                    left: vec![data.len()],
                    right: layout.dims(),
                });
            }
        }
        Ok(FramePair {
            pred,
            target,
            layout,
        })
    }
}

/// The values of a tensor as `f32`: borrowed from a contiguous `f32` tensor on the CPU (no
/// copy: the metrics read tens of megabytes per call), else copied.
enum F32Values<'a> {
    Borrowed(StorageRef<'a>, Range<usize>),
    Owned(Vec<f32>),
}

impl<'a> F32Values<'a> {
    fn of(t: &'a Tensor) -> Result<Self> {
        if t.dtype() == DType::F32 {
            let (storage, layout) = t.storage_and_layout();
            let range = match (&*storage, layout.contiguous_offsets()) {
                (Storage::Cpu(_), Some((start, end))) => Some(start..end),
                _ => None,
            };
            if let Some(range) = range {
                return Ok(F32Values::Borrowed(storage, range));
            }
        }
        Ok(F32Values::Owned(
            t.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?,
        ))
    }

    fn as_slice(&self) -> Result<&[f32]> {
        match self {
            F32Values::Borrowed(storage, range) => match &**storage {
                Storage::Cpu(cpu) => Ok(&cpu.as_slice::<f32>()?[range.clone()]),
                _ => Err(Error::Msg(
                    "borrowed tensor values are not on the CPU".into(),
                )),
            },
            F32Values::Owned(v) => Ok(v),
        }
    }
}

/// Runs `f` on the values of `pred` and `target`, tensors of one shape
/// `(batch, channels, time, *spatial)`, as `f32`.
///
/// # Errors
/// [`Error::Shape`] when the shapes differ (naming both) or have fewer than four dims.
pub(crate) fn with_tensor_frames<R>(
    pred: &Tensor,
    target: &Tensor,
    f: impl FnOnce(&FramePair<'_, f32>) -> Result<R>,
) -> Result<R> {
    if pred.dims() != target.dims() {
        return Err(Error::Shape {
            what: "prediction vs target".into(),
            left: pred.dims().to_vec(),
            right: target.dims().to_vec(),
        });
    }
    let layout = FrameLayout::from_dims(target.dims())?;
    let (p, t) = (F32Values::of(pred)?, F32Values::of(target)?);
    f(&FramePair::new(p.as_slice()?, t.as_slice()?, layout)?)
}

/// The names of `channels` channels: `names` when there is one per channel, `c0`, `c1`, …
/// when `None`.
///
/// # Errors
/// [`ConfigError::Mismatch`] naming `channel_names` when the count is wrong.
pub(crate) fn channel_names(names: Option<&[String]>, channels: usize) -> Result<Vec<String>> {
    match names {
        None => Ok((0..channels).map(|c| format!("c{c}")).collect()),
        Some(v) if v.len() == channels => Ok(v.to_vec()),
        Some(v) => Err(ConfigError::Mismatch {
            name: "channel_names",
            value: format!("{} names", v.len()),
            other: format!("{channels} channels of the data"),
        }
        .into()),
    }
}

/// Evaluates frames of one grid shape; owns the FFT plans. Cheap to share across threads.
#[derive(Debug, Clone)]
pub(crate) struct FrameEvaluator {
    plan: SpectralPlan,
    config: MetricsConfig,
}

impl FrameEvaluator {
    /// Scores one frame; point `i` is `pred[i * stride]`. Allocates nothing.
    fn frame<T: Real>(
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

    /// Scores every frame of `frames` in parallel over frames; `names` holds one name per
    /// channel.
    pub fn evaluate<T: Real>(
        &self,
        frames: &FramePair<'_, T>,
        names: Vec<String>,
    ) -> Result<MetricGrid> {
        let layout = &frames.layout;
        self.check_spatial(&layout.spatial)?;
        let (c_n, t_n, n) = (layout.channels, layout.time, self.plan.frame_len());
        // frames in (batch, time, channel) order; frame (b, t, c) starts at ((b·C + c)·T + t)·N
        let start = |f: usize| {
            let (b, t, c) = (f / (t_n * c_n), (f / c_n) % t_n, f % c_n);
            ((b * c_n + c) * t_n + t) * n
        };
        let scores = self.frames(
            frames.pred,
            frames.target,
            layout.batch * t_n * c_n,
            start,
            1,
        );
        MetricGrid::new(
            layout.batch,
            t_n,
            c_n,
            channel_names(Some(&names), c_n)?,
            scores,
        )
    }

    /// [`evaluate`](Self::evaluate) on candle tensors of shape
    /// `(batch, channels, time, *spatial)` (any float dtype, any device).
    pub fn evaluate_tensors(
        &self,
        pred: &Tensor,
        target: &Tensor,
        names: &[String],
    ) -> Result<MetricGrid> {
        with_tensor_frames(pred, target, |frames| self.evaluate(frames, names.to_vec()))
    }

    /// Scores `n_frames` strided frames in parallel; frame `f` starts at `start(f)`.
    pub fn frames<T: Real>(
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

    fn check_spatial(&self, spatial: &[usize]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn ramp(dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32).sin()).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    #[test]
    fn evaluate_options_default_to_the_well_and_numbered_channels() {
        let o = EvaluateOptions::default();
        assert_eq!(o.metrics, MetricsConfig::the_well());
        assert_eq!(o.channel_names, None);
        let target = ramp(&[1, 3, 2, 8, 8]);
        let pred = (&target * 0.5).unwrap();
        let grid = evaluate(&pred, &target, &o).unwrap();
        assert_eq!(grid.channel_names(), ["c0", "c1", "c2"]);
        let named = o.with_channel_names(["a", "b", "c"]);
        assert_eq!(
            evaluate(&pred, &target, &named).unwrap().channel_names(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn bad_evaluate_options_are_typed_errors_naming_the_setting() {
        let target = ramp(&[1, 2, 2, 8, 8]);
        let pred = (&target * 0.5).unwrap();
        let three = EvaluateOptions::default().with_channel_names(["a", "b", "c"]);
        assert!(matches!(
            evaluate(&pred, &target, &three),
            Err(Error::Config(ConfigError::Mismatch {
                name: "channel_names",
                ..
            }))
        ));
        let eps = EvaluateOptions::default().with_metrics(MetricsConfig::the_well().with_eps(-1.0));
        assert!(matches!(
            evaluate(&pred, &target, &eps),
            Err(Error::Config(ConfigError::OutOfRange { name: "eps", .. }))
        ));
    }

    #[test]
    fn borrowed_copied_and_strided_tensors_score_alike() {
        let target = ramp(&[2, 2, 3, 8, 8]);
        let pred = (&target * 0.7).unwrap().sin().unwrap();
        let o = EvaluateOptions::default();
        let borrowed = evaluate(&pred, &target, &o).unwrap();
        // f64 tensors are converted (copied); a transposed view is not contiguous
        let as_f64 = |t: &Tensor| t.to_dtype(DType::F64).unwrap();
        assert_eq!(
            evaluate(&as_f64(&pred), &as_f64(&target), &o).unwrap(),
            borrowed
        );
        let strided = |t: &Tensor| {
            t.transpose(3, 4)
                .unwrap()
                .contiguous()
                .unwrap()
                .transpose(3, 4)
                .unwrap()
        };
        assert!(!strided(&pred).is_contiguous());
        assert_eq!(
            evaluate(&strided(&pred), &strided(&target), &o).unwrap(),
            borrowed
        );
        // a narrowed view starts at an offset into its storage
        let (p2, t2) = (
            pred.narrow(0, 1, 1).unwrap(),
            target.narrow(0, 1, 1).unwrap(),
        );
        let second = evaluate(&p2, &t2, &o).unwrap();
        assert_eq!(second.at(0, 2, 1), borrowed.at(1, 2, 1));
        // the same tensor on both sides: zero error
        assert_eq!(
            evaluate(&target, &target, &o).unwrap().summary().mean.mse,
            0.0
        );
    }
}
