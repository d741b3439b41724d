//! Metrics of the paper (Section 2.2, Table 5, Figures 2 and 3) with The Well's definitions.
//!
//! Every metric of a prediction takes candle tensors `(batch, channels, time, *spatial)`
//! and an options struct (`Default`, `with_*` setters):
//!
//! - [`evaluate()`] with [`EvaluateOptions`]: VRMSE, MSE, MAE, NRMSE, L∞ and NEPS
//!   low/mid/high of every frame, averaged per frame and per field
//!   ([`MetricGrid::summary`]).
//! - [`NepsSpectrum::from_tensors`] with [`SpectrumOptions`]: isotropic power spectra,
//!   residual spectra and NEPS(k) on fine bins; [`SpectrumAnalyser`] for the spectrum of one
//!   field; [`SpectralBins`]: wavenumbers `2π·fftfreq(n)` and bins over `|k|` (the FFT plans
//!   behind them are cached per grid shape).
//! - [`TemporalSpectrum::from_tensors`] with [`TemporalOptions`]: the temporal power
//!   spectrum of a rollout's error; [`ConservationDrift::from_tensors`] with
//!   [`DriftOptions`]: mass and energy drift.
//! - [`HorizonScores`], [`SubsetProtocol`]: rollout horizons (Figure 3), The Well's time
//!   intervals, the Table 5 protocol of random validation subsets.
//! - [`score_next_frame`], [`score_rollouts`] with [`WindowScoring`]: any
//!   [`Emulator`](crate::emulator::Emulator) scored on a dataset's windows.
//! - [`HarmonicSpikes::from_tensors`] with [`SpikeOptions`]: residual spectra per rollout
//!   step and the power at patch harmonics `m·N/p` over a local baseline (patch artefacts).
//! - [`compare_well`]: two Well-format files compared frame by frame (`phystok metrics`).

mod bins;
mod compare;
mod display;
mod evaluate;
mod fft;
mod rollout;
mod spectrum;
mod spikes;
mod summary;
mod temporal;
#[cfg(feature = "hdf5")]
mod windows;

pub use bins::{Band, Bands, SpectralBins};
#[cfg(feature = "hdf5")]
pub use compare::compare_well_files;
pub use compare::{FileComparison, compare_well, compare_well_with};
pub use evaluate::{BandEdges, EvaluateOptions, MetricsConfig, evaluate};
pub(crate) use evaluate::{FramePair, channel_names, with_tensor_frames};
pub use fft::Real;
pub use rollout::{
    HorizonScores, RolloutHorizon, SubsetProtocol, SubsetStat, TableRow, the_well_time_intervals,
};
pub use spectrum::{NepsCurve, NepsSpectrum, PowerSpectrum, SpectrumAnalyser, SpectrumOptions};
pub use spikes::{HarmonicSpikes, SpikeOptions};
pub use summary::{
    ChannelScores, FrameId, FrameScores, MetricGrid, MetricSummary, MetricWarning, ScoreSet,
};
pub use temporal::{ConservationDrift, DriftOptions, TemporalOptions, TemporalSpectrum};
#[cfg(feature = "hdf5")]
pub use windows::{WindowScoring, score_next_frame, score_rollouts};
#[cfg(feature = "hdf5")]
pub(crate) use windows::{score_windows, stacked_windows};
