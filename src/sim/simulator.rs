//! [`Simulator`]: what every simulator configuration offers — its system, its
//! [`Sampling`], a check, a run — and the sampling setters, written once for all of them.

use super::common::SimStats;
use super::sampling::Sampling;
use super::system::System;
use crate::data::WellFile;
use crate::{ConfigError, Result};

/// A simulator configuration: [`EulerConfig`](super::EulerConfig),
/// [`ShearFlowConfig`](super::ShearFlowConfig),
/// [`RayleighBenardConfig`](super::RayleighBenardConfig),
/// [`GrayScottConfig`](super::GrayScottConfig), or any of them as a
/// [`SimConfig`](super::SimConfig).
///
/// Each configuration embeds a [`Sampling`] (grid, trajectories, frames, interval, seed) and
/// implements the five required methods; the sampling setters (`with_resolution`,
/// `with_shape`, `with_trajectories`, `with_steps`, `with_output_interval`, `with_seed`,
/// `with_sampling`) are provided here, once, through [`Simulator::sampling_mut`].
///
/// Why a trait with provided setters rather than setters on [`Sampling`] reached through
/// each config: a chain stays one chain (`ShearFlowConfig::tiny().with_resolution(16)
/// .with_reynolds(2e3)` mixes shared and own setters, where a shared struct would need
/// `cfg.sampling = cfg.sampling.with_…` in between); `with_resolution` can ask the system
/// for its grid ([`Simulator::grid_for_resolution`]: Rayleigh–Bénard's `2n × n/2`); and
/// code that takes any simulator (`&dyn Simulator`, [`SimConfig`](super::SimConfig),
/// dataset generation) uses the same methods as code that holds a concrete config. The cost
/// is one import: `use phystok::sim::Simulator`. The setters need `Self: Sized`, so the
/// trait stays usable as `&dyn Simulator` for everything else.
///
/// ```
/// use phystok::sim::{GrayScottConfig, RayleighBenardConfig, Simulator, System};
///
/// // The same setters on every system; `with_resolution(n)` is each system's grid for n.
/// let rb = RayleighBenardConfig::tiny().with_resolution(16).with_steps(3);
/// assert_eq!((rb.sampling().nx, rb.sampling().ny), (32, 8)); // 2n × n/2 on the 4 × 1 box
/// let gs = GrayScottConfig::tiny().with_resolution(16).with_steps(3).with_trajectories(1);
///
/// // ... and one way to run any of them.
/// let runs: [&dyn Simulator; 2] = [&rb, &gs];
/// for sim in runs {
///     let file = sim.simulate()?;
///     assert_eq!(file.dataset_name, sim.system().name());
///     assert_eq!(file.n_steps(), 3);
/// }
/// assert_eq!(gs.system(), System::GrayScottReactionDiffusion);
/// # Ok::<(), phystok::Error>(())
/// ```
pub trait Simulator {
    /// Which system this configures (for Euler, by its boundary treatment).
    fn system(&self) -> System;

    /// The grid and time sampling.
    fn sampling(&self) -> &Sampling;

    /// The grid and time sampling, to change in place (what the setters use).
    fn sampling_mut(&mut self) -> &mut Sampling;

    /// Checks every rule, the sampling's ([`Sampling::check`]) first, then the system's own
    /// parameters; each broken rule is a [`ConfigError`] naming its setting.
    fn check(&self) -> Result<(), ConfigError>;

    /// Runs every trajectory (in parallel) into a Well-format file, also returning the
    /// run's cost. Calls [`Simulator::check`] first.
    ///
    /// # Shapes
    /// Fields `(trajectories, n_steps, nx, ny, [2])`, `x` the slow axis.
    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)>;

    /// Runs every trajectory (in parallel) into a Well-format file: [`Self::simulate_with_stats`]
    /// without the cost.
    fn simulate(&self) -> Result<WellFile> {
        self.simulate_with_stats().map(|(file, _)| file)
    }

    /// The grid `(nx, ny)` that resolution `n` means for this system: `n × n`, unless the
    /// system's box is not square (Rayleigh–Bénard: `2n × n/2`, as many points as `n²`).
    fn grid_for_resolution(&self, n: usize) -> (usize, usize) {
        (n, n)
    }

    /// Sets the whole sampling at once.
    fn with_sampling(mut self, sampling: Sampling) -> Self
    where
        Self: Sized,
    {
        *self.sampling_mut() = sampling;
        self
    }

    /// Sets the grid to the system's grid for resolution `n`
    /// ([`Simulator::grid_for_resolution`]).
    fn with_resolution(self, n: usize) -> Self
    where
        Self: Sized,
    {
        let (nx, ny) = self.grid_for_resolution(n);
        self.with_shape(nx, ny)
    }

    /// Sets an `nx × ny` grid.
    fn with_shape(mut self, nx: usize, ny: usize) -> Self
    where
        Self: Sized,
    {
        let s = self.sampling_mut();
        s.nx = nx;
        s.ny = ny;
        self
    }

    /// Sets the number of trajectories.
    fn with_trajectories(mut self, n: usize) -> Self
    where
        Self: Sized,
    {
        self.sampling_mut().trajectories = n;
        self
    }

    /// Sets the number of output frames per trajectory (`n_steps`), the initial one included.
    fn with_steps(mut self, n: usize) -> Self
    where
        Self: Sized,
    {
        self.sampling_mut().n_steps = n;
        self
    }

    /// Sets the time between output frames.
    fn with_output_interval(mut self, dt: f64) -> Self
    where
        Self: Sized,
    {
        self.sampling_mut().output_interval = dt;
        self
    }

    /// Sets the seed.
    fn with_seed(mut self, seed: u64) -> Self
    where
        Self: Sized,
    {
        self.sampling_mut().seed = seed;
        self
    }
}
