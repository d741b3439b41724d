//! Scoring any [`Emulator`] on a dataset's windows with The Well's metrics: next-frame
//! predictions ([`score_next_frame`]) and rollouts ([`score_rollouts`], whose grid
//! [`HorizonScores::from_grid`](super::HorizonScores::from_grid) splits into the paper's
//! horizons).
//!
//! Windows are read in batches onto the emulator's device, optionally coarse-grained in
//! space (2x2 block means at `coarsen = 2`), and every predicted frame is scored against the
//! truth; samples keep the order of the windows.

use candle_core::{Device, Tensor};

use super::evaluate::MetricsConfig;
use super::summary::MetricGrid;
use crate::data::{ActiveFields, WellDataset, coarsen_space};
use crate::emulator::Emulator;
use crate::{ConfigError, Result};

/// Which windows of a dataset to score, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowScoring {
    /// Windows scored, spread evenly over the dataset (`None`: all of them).
    pub windows: Option<usize>,
    /// Windows per batch (default 8).
    pub batch_size: usize,
    /// Spatial coarse-graining before prediction (default 1: none).
    pub coarsen: usize,
}

impl Default for WindowScoring {
    fn default() -> Self {
        WindowScoring {
            windows: None,
            batch_size: 8,
            coarsen: 1,
        }
    }
}

impl WindowScoring {
    /// Scores `n` windows spread evenly over the dataset.
    pub fn with_windows(mut self, n: usize) -> Self {
        self.windows = Some(n);
        self
    }
    /// Sets the batch size.
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    /// Sets the coarse-graining factor.
    pub fn with_coarsen(mut self, k: usize) -> Self {
        self.coarsen = k;
        self
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("windows", self.windows.unwrap_or(1)),
            ("batch_size", self.batch_size),
            ("coarsen", self.coarsen),
        ] {
            if v == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        Ok(())
    }

    /// The window indices these settings pick from a dataset of `len` windows.
    pub fn indices(&self, len: usize) -> Vec<usize> {
        spread_indices(len, self.windows.unwrap_or(len))
    }
}

/// Scores `emulator`'s prediction of the first output frame of each window of `dataset`
/// from its context frames (the dataset's `n_steps_input` must be the emulator's).
///
/// # Shapes
/// The grid is `(windows, 1, channels)`.
pub fn score_next_frame(
    emulator: &(impl Emulator + ?Sized),
    dataset: &WellDataset,
    fields: &ActiveFields,
    options: &WindowScoring,
) -> Result<MetricGrid> {
    let t = check_context(emulator, dataset, options)?;
    let indices = options.indices(dataset.len());
    score_windows(dataset, &indices, options, &emulator.device()?, |xs| {
        let pred = emulator.predict_next(&xs.narrow(2, 0, t)?, fields)?;
        Ok((pred, xs.narrow(2, t, 1)?))
    })
}

/// Scores `emulator`'s rollouts over every output frame of each window: the context frames
/// in, the window's `n_steps_output` frames predicted autoregressively.
///
/// # Shapes
/// The grid is `(windows, n_steps_output, channels)`: time index `k` is rollout step `k + 1`.
pub fn score_rollouts(
    emulator: &(impl Emulator + ?Sized),
    dataset: &WellDataset,
    fields: &ActiveFields,
    options: &WindowScoring,
) -> Result<MetricGrid> {
    let t = check_context(emulator, dataset, options)?;
    let indices = options.indices(dataset.len());
    score_windows(dataset, &indices, options, &emulator.device()?, |xs| {
        let steps = xs.dim(2)? - t;
        let pred = emulator.rollout(&xs.narrow(2, 0, t)?, fields, steps)?;
        Ok((pred, xs.narrow(2, t, steps)?))
    })
}

fn check_context(
    emulator: &(impl Emulator + ?Sized),
    dataset: &WellDataset,
    options: &WindowScoring,
) -> Result<usize> {
    options.check()?;
    let t = emulator.n_steps_input();
    if dataset.spec().n_steps_input != t {
        return Err(ConfigError::Mismatch {
            name: "dataset n_steps_input",
            value: format!("{} ({})", dataset.spec().n_steps_input, dataset.name()),
            other: format!("the emulator's {t} context frames"),
        }
        .into());
    }
    Ok(t)
}

/// `n` indices spread evenly over `0..len` (all of them when `n ≥ len`).
pub(crate) fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Reads the windows `indices` of `ds` in batches onto `device`, coarsened, turns each batch
/// into `(prediction, target)` with `predict`, and scores every frame with The Well's
/// metrics; samples in the order of `indices`.
pub(crate) fn score_windows(
    ds: &WellDataset,
    indices: &[usize],
    options: &WindowScoring,
    device: &Device,
    mut predict: impl FnMut(&Tensor) -> Result<(Tensor, Tensor)>,
) -> Result<MetricGrid> {
    let coarsen = options.coarsen.max(1);
    let shape: Vec<usize> = ds.spatial_shape().iter().map(|n| n / coarsen).collect();
    let metrics = MetricsConfig::the_well().build(&shape)?;
    let mut grids = Vec::new();
    for chunk in indices.chunks(options.batch_size.max(1)) {
        let xs = stacked_windows(ds, chunk, coarsen, device)?;
        let (pred, target) = predict(&xs)?;
        grids.push(metrics.evaluate_tensors(&pred, &target, ds.channel_names())?);
    }
    MetricGrid::concat_samples(&grids)
}

/// The windows `indices` of `ds` stacked along a new batch axis on `device`, coarsened
/// `coarsen`-fold in space: `(len(indices), C, T, H / coarsen, W / coarsen)`.
pub(crate) fn stacked_windows(
    ds: &WellDataset,
    indices: &[usize],
    coarsen: usize,
    device: &Device,
) -> Result<Tensor> {
    let windows = indices
        .iter()
        .map(|&i| ds.window(i)?.to_tensor(device))
        .collect::<Result<Vec<_>>>()?;
    coarsen_space(&Tensor::stack(&windows, 0)?, coarsen.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_indices_cover_evenly() {
        assert_eq!(spread_indices(10, 3), [0, 3, 6]);
        assert_eq!(spread_indices(3, 10), [0, 1, 2]);
        assert_eq!(WindowScoring::default().indices(4), [0, 1, 2, 3]);
        assert!(matches!(
            WindowScoring::default().with_batch_size(0).check(),
            Err(ConfigError::NotPositive {
                name: "batch_size",
                ..
            })
        ));
    }
}
