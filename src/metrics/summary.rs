//! Per-frame scores and their aggregation as in the paper (Section 2.2): per time frame and
//! per field, then averaged. Warnings (non-finite values, zero-variance targets) are kept
//! beside the numbers, never averaged away: a NaN frame makes its averages NaN.

use serde::{Deserialize, Serialize};

use super::bins::Bands;
use crate::{Error, Result};

/// The scores of one frame (one sample, time step and channel).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FrameScores {
    /// `mean((x̂−x)²)`.
    pub mse: f64,
    /// `mean(|x̂−x|)`.
    pub mae: f64,
    /// `sqrt(mse / (mean(x²) + ε))`.
    pub nrmse: f64,
    /// `sqrt(mse / (std(x)² + ε))`, unbiased std.
    pub vrmse: f64,
    /// `max |x̂−x|`.
    pub linf: f64,
    /// Unbiased variance of the target frame.
    pub target_variance: f64,
    /// Per band `Σ|F(x̂−x)|²/N²`; the three sum to `mse` (Parseval).
    pub band_mse: Bands<f64>,
    /// Per band `Σ|F(x)|²/N²`; the three sum to `mean(x²)`.
    pub band_target: Bands<f64>,
    /// Per band `band_mse / (band_target + 1e-7)`: NEPS low, mid, high.
    pub neps: Bands<f64>,
    /// Whether the prediction holds a NaN or infinity.
    pub pred_non_finite: bool,
    /// Whether the target holds a NaN or infinity.
    pub target_non_finite: bool,
}

/// Where a frame sits: sample, time step and channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameId {
    /// Sample (trajectory) index.
    pub sample: usize,
    /// Time index.
    pub time: usize,
    /// Channel index.
    pub channel: usize,
}

/// Something about the data that makes a number less than it seems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MetricWarning {
    /// The prediction holds NaN or infinity in these frames; their scores are NaN.
    NonFinitePrediction {
        /// The frames.
        frames: Vec<FrameId>,
    },
    /// The target holds NaN or infinity in these frames.
    NonFiniteTarget {
        /// The frames.
        frames: Vec<FrameId>,
    },
    /// The target is constant in these frames: VRMSE is `sqrt(mse / ε)`, defined but huge.
    ZeroVarianceTarget {
        /// The frames.
        frames: Vec<FrameId>,
    },
}

impl std::fmt::Display for MetricWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (what, frames) = match self {
            MetricWarning::NonFinitePrediction { frames } => ("non-finite prediction", frames),
            MetricWarning::NonFiniteTarget { frames } => ("non-finite target", frames),
            MetricWarning::ZeroVarianceTarget { frames } => {
                ("zero-variance target (VRMSE = sqrt(mse/eps))", frames)
            }
        };
        write!(f, "{what} in {} frame(s)", frames.len())?;
        if let Some(id) = frames.first() {
            write!(
                f,
                ", first at sample {} time {} channel {}",
                id.sample, id.time, id.channel
            )?;
        }
        Ok(())
    }
}

/// Averages of frame scores over some set of frames.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreSet {
    /// Mean VRMSE.
    pub vrmse: f64,
    /// Mean MSE.
    pub mse: f64,
    /// Mean MAE.
    pub mae: f64,
    /// Mean NRMSE.
    pub nrmse: f64,
    /// Mean L∞.
    pub linf: f64,
    /// Mean NEPS per band.
    pub neps: Bands<f64>,
    /// Mean per-band MSE (sums to `mse`).
    pub band_mse: Bands<f64>,
}

impl ScoreSet {
    /// The plain mean of these frames' scores (NaN propagates).
    pub fn mean_of<'a>(frames: impl IntoIterator<Item = &'a FrameScores>) -> Self {
        mean_owned(frames.into_iter().map(ScoreSet::from))
    }

    /// The plain mean of score sets (used to average fields with equal weight).
    pub fn mean_of_sets<'a>(sets: impl IntoIterator<Item = &'a ScoreSet>) -> Self {
        mean_owned(sets.into_iter().copied())
    }

    fn scale(mut self, w: f64) -> Self {
        self.vrmse *= w;
        self.mse *= w;
        self.mae *= w;
        self.nrmse *= w;
        self.linf *= w;
        self.neps = self.neps.map(|v| v * w);
        self.band_mse = self.band_mse.map(|v| v * w);
        self
    }
}

impl From<&FrameScores> for ScoreSet {
    fn from(f: &FrameScores) -> Self {
        ScoreSet {
            vrmse: f.vrmse,
            mse: f.mse,
            mae: f.mae,
            nrmse: f.nrmse,
            linf: f.linf,
            neps: f.neps,
            band_mse: f.band_mse,
        }
    }
}

fn mean_owned(sets: impl Iterator<Item = ScoreSet>) -> ScoreSet {
    let mut s = ScoreSet::default();
    let mut n = 0usize;
    for x in sets {
        s.vrmse += x.vrmse;
        s.mse += x.mse;
        s.mae += x.mae;
        s.nrmse += x.nrmse;
        s.linf += x.linf;
        s.neps = add_bands(s.neps, x.neps);
        s.band_mse = add_bands(s.band_mse, x.band_mse);
        n += 1;
    }
    s.scale(1.0 / n as f64)
}

fn add_bands(a: Bands<f64>, b: Bands<f64>) -> Bands<f64> {
    Bands {
        low: a.low + b.low,
        mid: a.mid + b.mid,
        high: a.high + b.high,
    }
}

/// Scores of every frame, `(sample, time, channel)` as The Well's metrics return them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricGrid {
    samples: usize,
    times: usize,
    channels: usize,
    channel_names: Vec<String>,
    scores: Vec<FrameScores>,
}

impl MetricGrid {
    /// From scores in `(sample, time, channel)` order.
    pub(crate) fn new(
        samples: usize,
        times: usize,
        channels: usize,
        channel_names: Vec<String>,
        scores: Vec<FrameScores>,
    ) -> Result<Self> {
        if scores.len() != samples * times * channels || channel_names.len() != channels {
            return Err(Error::Shape {
                what: "frame scores vs (samples, times, channels)".into(),
                left: vec![scores.len(), channel_names.len()],
                right: vec![samples, times, channels],
            });
        }
        if scores.is_empty() {
            return Err(Error::Empty {
                what: "metric grid".into(),
            });
        }
        Ok(MetricGrid {
            samples,
            times,
            channels,
            channel_names,
            scores,
        })
    }

    /// `(samples, times, channels)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.samples, self.times, self.channels)
    }

    /// Channel names.
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    /// The scores of one frame.
    pub fn at(&self, sample: usize, time: usize, channel: usize) -> Option<&FrameScores> {
        (sample < self.samples && time < self.times && channel < self.channels)
            .then(|| &self.scores[(sample * self.times + time) * self.channels + channel])
    }

    /// The grids of several batches of the same times and channels as one grid, samples in
    /// order (so metrics of a validation set read in batches equal those of one big batch).
    pub fn concat_samples(grids: &[MetricGrid]) -> Result<MetricGrid> {
        let first = grids.first().ok_or_else(|| Error::Empty {
            what: "metric grids to concatenate".into(),
        })?;
        let mut scores = Vec::new();
        let mut samples = 0;
        for g in grids {
            if (g.times, g.channels) != (first.times, first.channels)
                || g.channel_names != first.channel_names
            {
                return Err(Error::Shape {
                    what: "metric grids to concatenate (times, channels)".into(),
                    left: vec![first.times, first.channels],
                    right: vec![g.times, g.channels],
                });
            }
            samples += g.samples;
            scores.extend(g.scores.iter().cloned());
        }
        MetricGrid::new(
            samples,
            first.times,
            first.channels,
            first.channel_names.clone(),
            scores,
        )
    }

    /// All frames with their ids.
    pub fn iter(&self) -> impl Iterator<Item = (FrameId, &FrameScores)> {
        let (t_n, c_n) = (self.times, self.channels);
        self.scores.iter().enumerate().map(move |(i, s)| {
            (
                FrameId {
                    sample: i / (t_n * c_n),
                    time: (i / c_n) % t_n,
                    channel: i % c_n,
                },
                s,
            )
        })
    }

    /// Mean over samples and times of one channel.
    pub fn channel_mean(&self, channel: usize) -> ScoreSet {
        ScoreSet::mean_of(
            self.iter()
                .filter(|(id, _)| id.channel == channel)
                .map(|(_, s)| s),
        )
    }

    /// Mean over samples and channels at each time step (rollout curves).
    pub fn per_time(&self) -> Vec<ScoreSet> {
        (0..self.times)
            .map(|t| ScoreSet::mean_of(self.iter().filter(|(id, _)| id.time == t).map(|(_, s)| s)))
            .collect()
    }

    /// Mean over times and channels of each sample (for resampling subsets).
    pub fn per_sample(&self) -> Vec<ScoreSet> {
        let per = self.times * self.channels;
        self.scores.chunks(per).map(ScoreSet::mean_of).collect()
    }

    /// A grid restricted to time steps `range` (e.g. a rollout horizon).
    pub fn time_slice(&self, range: std::ops::Range<usize>) -> Result<MetricGrid> {
        if range.start >= range.end || range.end > self.times {
            return Err(Error::OutOfRange {
                what: "time range of metric grid".into(),
                index: range.end,
                len: self.times,
            });
        }
        let scores = self
            .iter()
            .filter(|(id, _)| range.contains(&id.time))
            .map(|(_, s)| *s)
            .collect();
        MetricGrid::new(
            self.samples,
            range.len(),
            self.channels,
            self.channel_names.clone(),
            scores,
        )
    }

    /// Warnings: non-finite predictions or targets, zero-variance targets.
    pub fn warnings(&self, zero_variance_below: f64) -> Vec<MetricWarning> {
        let pick = |f: &dyn Fn(&FrameScores) -> bool| -> Vec<FrameId> {
            self.iter()
                .filter(|(_, s)| f(s))
                .map(|(id, _)| id)
                .collect()
        };
        let mut out = Vec::new();
        let frames = pick(&|s| s.pred_non_finite);
        if !frames.is_empty() {
            out.push(MetricWarning::NonFinitePrediction { frames });
        }
        let frames = pick(&|s| s.target_non_finite);
        if !frames.is_empty() {
            out.push(MetricWarning::NonFiniteTarget { frames });
        }
        let frames = pick(&|s| s.target_variance <= zero_variance_below);
        if !frames.is_empty() {
            out.push(MetricWarning::ZeroVarianceTarget { frames });
        }
        out
    }

    /// The paper's aggregate: per channel mean over samples and times, then the mean of
    /// the channels. Zero variance is judged with The Well's threshold (`1e-12`).
    pub fn summary(&self) -> MetricSummary {
        let per_channel: Vec<ChannelScores> = (0..self.channels)
            .map(|c| ChannelScores {
                name: self.channel_names[c].clone(),
                scores: self.channel_mean(c),
            })
            .collect();
        let mean = ScoreSet::mean_of_sets(per_channel.iter().map(|c| &c.scores));
        MetricSummary {
            per_channel,
            mean,
            n_frames: self.scores.len(),
            warnings: self.warnings(1e-12),
        }
    }
}

/// One channel's averaged scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelScores {
    /// Channel name (`density`, `velocity_x`, …).
    pub name: String,
    /// Its scores averaged over samples and times.
    pub scores: ScoreSet,
}

/// Per-channel and mean scores, with warnings: what a table row or the CLI shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// Per channel, in channel order.
    pub per_channel: Vec<ChannelScores>,
    /// The mean over channels.
    pub mean: ScoreSet,
    /// Number of frames scored.
    pub n_frames: usize,
    /// What to know before trusting the numbers.
    pub warnings: Vec<MetricWarning>,
}

impl MetricSummary {
    /// An error naming the first non-finite prediction frame, if any.
    pub fn ensure_finite(&self) -> Result<()> {
        for w in &self.warnings {
            if let MetricWarning::NonFinitePrediction { .. }
            | MetricWarning::NonFiniteTarget { .. } = w
            {
                return Err(Error::NonFinite {
                    what: w.to_string(),
                });
            }
        }
        Ok(())
    }
}
