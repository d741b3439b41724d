//! Metrics of the paper (Section 2.2, Table 5, Figures 2 and 3) with The Well's definitions.
//!
//! - [`evaluate`]: VRMSE, MSE, MAE, NRMSE, L∞ and NEPS low/mid/high of every frame of
//!   `(batch, channels, time, *spatial)` data, averaged per frame and per field
//!   ([`MetricGrid::summary`]).
//! - [`bins`], [`fft`]: wavenumbers `2π·fftfreq(n)`, bins over `|k|`, cached FFT plans.
//! - [`spectrum`]: isotropic power spectra, residual spectra and NEPS(k) on fine bins.
//! - [`rollout`]: rollout horizons (Figure 3), The Well's time intervals, the Table 5
//!   protocol of random validation subsets.
//! - [`temporal`]: temporal power spectrum of a rollout's error, mass and energy drift.
//! - [`compare`]: two Well-format files compared frame by frame (`phystok metrics`).

mod bins;
mod compare;
mod display;
mod evaluate;
mod fft;
mod rollout;
mod spectrum;
mod summary;
mod temporal;

pub use bins::{Band, Bands, SpectralBins};
#[cfg(feature = "hdf5")]
pub use compare::compare_well_files;
pub use compare::{FileComparison, compare_well, compare_well_with};
pub use evaluate::{BandEdges, FrameEvaluator, FrameLayout, MetricsConfig, evaluate_tensors};
pub use fft::{Real, SpectralPlan, SpectralWorkspace};
pub use rollout::{
    HorizonScores, RolloutHorizon, SubsetProtocol, SubsetStat, TableRow, the_well_time_intervals,
};
pub use spectrum::{NepsCurve, NepsSpectrum, PowerSpectrum, SpectrumAnalyser};
pub use summary::{
    ChannelScores, FrameId, FrameScores, MetricGrid, MetricSummary, MetricWarning, ScoreSet,
};
pub use temporal::{ConservationDrift, TemporalSpectrum};
