//! What every simulator shares: seeded per-trajectory RNGs, running trajectories in
//! parallel (rayon) under one progress bar (indicatif, hidden when stderr is not a
//! terminal), and gathering their frames into a [`WellFile`].

use std::io::IsTerminal;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::{TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The frames of one trajectory: one buffer per field, each `(n_steps, nx, ny, [2, [2]])`,
/// and the number of solver time steps it took.
pub(crate) type Trajectory = (Vec<Vec<f32>>, usize);

/// The RNG of trajectory `index` for `seed`: one ChaCha8 stream per trajectory, so a
/// trajectory's initial state does not depend on how many threads ran or in what order.
pub(crate) fn trajectory_rng(seed: u64, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index as u64);
    rng
}

/// A progress bar over `total` output frames, drawn only when stderr is a terminal.
pub(crate) fn progress(total: usize, label: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>24} [{bar:30}] {pos}/{len} frames, {elapsed} (eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    bar
}

/// Runs `n_traj` trajectories in parallel; `run(index, bar)` simulates one and ticks `bar`
/// once per output frame. Results come back in trajectory order, with the run's
/// [`SimStats`] (`cells` is the solver's grid size, which may exceed the output's).
pub(crate) fn run_trajectories<F>(
    n_traj: usize,
    n_steps: usize,
    label: &str,
    cells: usize,
    run: F,
) -> Result<(Vec<Vec<Vec<f32>>>, SimStats)>
where
    F: Fn(usize, &ProgressBar) -> Result<Trajectory> + Sync,
{
    let start = Instant::now();
    let bar = progress(n_traj * n_steps, label);
    let out: Result<Vec<Trajectory>> = (0..n_traj).into_par_iter().map(|i| run(i, &bar)).collect();
    bar.finish_and_clear();
    let out = out?;
    let solver_steps = out.iter().map(|t| t.1).sum();
    let stats = SimStats {
        dataset: label.to_string(),
        trajectories: n_traj,
        output_steps: n_steps,
        cells,
        solver_steps,
        seconds: start.elapsed().as_secs_f64(),
    };
    Ok((out.into_iter().map(|t| t.0).collect(), stats))
}

/// What one simulation run cost: solver steps and wall-clock time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    /// Dataset name.
    pub dataset: String,
    /// Trajectories simulated.
    pub trajectories: usize,
    /// Output frames per trajectory.
    pub output_steps: usize,
    /// Cells (grid points) the solver updates per step (the doubled box for Rayleigh–Bénard).
    pub cells: usize,
    /// Solver time steps, summed over trajectories.
    pub solver_steps: usize,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

impl SimStats {
    /// Cell updates (one cell advanced by one full time step) per second of wall-clock time.
    pub fn cell_updates_per_second(&self) -> f64 {
        self.cells as f64 * self.solver_steps as f64 / self.seconds.max(1e-12)
    }

    /// The run as a one-row table.
    pub fn to_table(&self) -> crate::report::Table {
        use crate::report::{Align, Table, group_digits};
        let mut table = Table::new([
            "dataset",
            "trajectories",
            "frames",
            "cells",
            "solver steps",
            "seconds",
            "cell updates/s",
        ])
        .with_align(1..7, Align::Right);
        // the header has seven columns, as this row
        let _ = table.push_row([
            self.dataset.clone(),
            group_digits(self.trajectories),
            group_digits(self.output_steps),
            group_digits(self.cells),
            group_digits(self.solver_steps),
            format!("{:.2}", self.seconds),
            format!("{:.3e}", self.cell_updates_per_second()),
        ]);
        table
    }

    /// Renders in an evcxr notebook as an HTML table.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_table().to_html());
    }
}

impl std::fmt::Display for SimStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} trajectories × {} frames, {} cells, {} solver steps in {:.2} s ({:.3e} cell updates/s)",
            self.dataset,
            self.trajectories,
            self.output_steps,
            self.cells,
            self.solver_steps,
            self.seconds,
            self.cell_updates_per_second()
        )
    }
}

/// One field to put in a file: its name, order and per-trajectory buffers' position.
pub(crate) struct FieldSpec {
    pub name: &'static str,
    pub order: TensorOrder,
}

/// Concatenates trajectories into `file`'s fields, in `specs` order, checking every value
/// is finite (a blown-up simulation is an error, not a dataset).
pub(crate) fn push_fields(
    file: &mut WellFile,
    specs: &[FieldSpec],
    trajectories: Vec<Vec<Vec<f32>>>,
) -> Result<()> {
    for (f, spec) in specs.iter().enumerate() {
        let mut data = Vec::with_capacity(file.field_len(spec.order));
        for (t, traj) in trajectories.iter().enumerate() {
            let buf = &traj[f];
            if let Some(k) = buf.iter().position(|v| !v.is_finite()) {
                return Err(Error::NonFinite {
                    what: format!(
                        "{} field {} of trajectory {t} (value {k}): the simulation blew up; \
                         lower the time step or raise the resolution",
                        file.dataset_name, spec.name
                    ),
                });
            }
            data.extend_from_slice(buf);
        }
        file.push_field(spec.name, spec.order, data)?;
    }
    Ok(())
}

/// Cell-centre coordinates `(i + 1/2) · length / n`.
pub(crate) fn cell_centres(n: usize, length: f64) -> Vec<f32> {
    (0..n)
        .map(|i| ((i as f64 + 0.5) * length / n as f64) as f32)
        .collect()
}

/// Appends an `f64` frame to a trajectory buffer as `f32`.
pub(crate) fn append_f32(buf: &mut Vec<f32>, frame: &[f64]) {
    buf.extend(frame.iter().map(|&v| v as f32));
}

/// Checks a physical parameter is finite and positive.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value > 0.0) {
        return Err(ConfigError::NotPositive { name, value });
    }
    Ok(())
}

/// Checks a perturbation amplitude is finite and not negative.
pub(crate) fn check_perturbation(value: f64) -> Result<(), ConfigError> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(ConfigError::OutOfRange {
            name: "perturbation",
            range: "[0, ∞)",
            value,
        });
    }
    Ok(())
}

/// Checks a CFL number lies in `(0, max]`; `range` spells that interval for the error.
pub(crate) fn check_cfl(value: f64, max: f64, range: &'static str) -> Result<(), ConfigError> {
    if !(value > 0.0 && value <= max) {
        return Err(ConfigError::OutOfRange {
            name: "cfl",
            range,
            value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn trajectory_streams_are_distinct_and_reproducible() {
        let a: u64 = trajectory_rng(7, 0).random();
        let b: u64 = trajectory_rng(7, 1).random();
        let a2: u64 = trajectory_rng(7, 0).random();
        assert_ne!(a, b);
        assert_eq!(a, a2);
    }
}
