//! `euler_multi_quadrants`: 2D compressible Euler flow from random piecewise-constant
//! quadrant states (The Well, Appendix A of the paper; Kurganov & Tadmor's quadrant
//! Riemann problems). Fields as in The Well: `density`, `energy`, `pressure` (t0) and
//! `momentum` (t1); parameter `gamma`; periodic or open boundaries. As in The Well, the two
//! boundary treatments are two datasets, `euler_multi_quadrants_periodicBC` and
//! `euler_multi_quadrants_openBC` (the names `the_well`'s `WellDataset` accepts).
//!
//! The Well's data (Clawpack, 512², Δt = 0.015, t ∈ [0, 1.5]) varies γ over
//! {1.13, 1.22, 1.3, 1.33, 1.365, 1.4, 1.404, 1.453, 1.597, 1.76}; the solver is
//! [`EulerSolver`] (MUSCL–HLLC–SSP-RK2).

use rand::Rng;

use super::common::{self, FieldSpec, SimStats};
use super::euler_solver::{EulerBoundary, EulerConfig, EulerSolver, Limiter};
use super::sampling::Sampling;
use super::simulator::Simulator;
use super::system::System;

use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Result};

/// The Well's name of the periodic-boundary dataset.
pub const EULER_PERIODIC_NAME: &str = System::EulerPeriodic.name();

/// The Well's name of the open-boundary dataset.
pub const EULER_OPEN_NAME: &str = System::EulerOpen.name();

/// The gas constants of The Well's `euler_multi_quadrants` configurations.
pub const EULER_WELL_GAMMAS: [f64; 10] =
    [1.3, 1.4, 1.13, 1.22, 1.33, 1.76, 1.365, 1.404, 1.453, 1.597];

impl EulerConfig {
    /// The Well's setting (512 × 512, 100 frames every 0.015, 500 trajectories per γ).
    pub fn well() -> Self {
        Self::default()
            .with_shape(512, 512)
            .with_trajectories(500)
            .with_steps(100)
    }

    /// A tiny setting for tests: 32 × 32, 2 trajectories, 27 frames.
    pub fn tiny() -> Self {
        Self::default()
            .with_shape(32, 32)
            .with_trajectories(2)
            .with_steps(27)
    }

    /// Sets γ.
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.gamma = gamma;
        self
    }

    /// Sets the boundaries.
    pub fn with_boundary(mut self, boundary: EulerBoundary) -> Self {
        self.boundary = boundary;
        self
    }

    /// Sets the slope limiter.
    pub fn with_limiter(mut self, limiter: Limiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// Sets the CFL number.
    pub fn with_cfl(mut self, cfl: f64) -> Self {
        self.cfl = cfl;
        self
    }

    /// A solver for trajectory `index`, set to its random quadrant initial state: a split
    /// point uniform in `[0.3, 0.7]²` of the box, and per quadrant a density and pressure
    /// log-uniform in `[0.1, 2]` and velocity components uniform in `[−0.75, 0.75]`.
    pub fn initial_solver(&self, index: usize) -> Result<EulerSolver> {
        let mut rng = common::trajectory_rng(self.sampling.seed, index);
        let mut solver = EulerSolver::new(self)?;
        let (nx, ny) = (self.sampling.nx, self.sampling.ny);
        let split = [rng.random_range(0.3..0.7), rng.random_range(0.3..0.7)];
        let states: Vec<[f64; 4]> = (0..4)
            .map(|_| {
                let rho = (rng.random_range(0.1f64.ln()..2f64.ln())).exp();
                let p = (rng.random_range(0.1f64.ln()..2f64.ln())).exp();
                [
                    rho,
                    rng.random_range(-0.75..0.75),
                    rng.random_range(-0.75..0.75),
                    p,
                ]
            })
            .collect();
        for i in 0..nx {
            for j in 0..ny {
                let upper_x = (i as f64 + 0.5) / nx as f64 >= split[0];
                let upper_y = (j as f64 + 0.5) / ny as f64 >= split[1];
                let [rho, u, v, p] = states[2 * upper_x as usize + upper_y as usize];
                solver.set_primitive(i, j, rho, u, v, p);
            }
        }
        Ok(solver)
    }
}

impl Simulator for EulerConfig {
    fn system(&self) -> System {
        match self.boundary {
            EulerBoundary::Periodic => System::EulerPeriodic,
            EulerBoundary::Open => System::EulerOpen,
        }
    }

    fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }

    /// Checks every rule: the sampling's, positive box lengths, γ in (1, 3], CFL in (0, 0.5].
    fn check(&self) -> Result<(), ConfigError> {
        self.sampling.check()?;
        common::check_positive("length_x", self.length_x)?;
        common::check_positive("length_y", self.length_y)?;
        if !(self.gamma > 1.0 && self.gamma <= 3.0) {
            return Err(ConfigError::OutOfRange {
                name: "gamma",
                range: "(1, 3]",
                value: self.gamma,
            });
        }
        common::check_cfl(self.cfl, 0.5, "(0, 0.5]")
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let sampling = &self.sampling;
        let n = sampling.nx * sampling.ny;
        let (trajectories, stats) = common::run_trajectories(
            sampling.trajectories,
            sampling.n_steps,
            self.system().name(),
            n,
            |t, bar| {
                let mut solver_steps = 0;
                let mut solver = self.initial_solver(t)?;
                let mut bufs: Vec<Vec<f32>> = [1, 1, 1, 2]
                    .iter()
                    .map(|c| Vec::with_capacity(c * n * sampling.n_steps))
                    .collect();
                for s in 0..sampling.n_steps {
                    solver.advance_to(s as f64 * sampling.output_interval)?;
                    solver_steps = solver.steps();
                    common::append_f32(&mut bufs[0], &solver.interior(|c, _| c[0]));
                    common::append_f32(&mut bufs[1], &solver.interior(|c, _| c[3]));
                    common::append_f32(&mut bufs[2], &solver.interior(|_, p| p));
                    let mx = solver.interior(|c, _| c[1]);
                    let my = solver.interior(|c, _| c[2]);
                    bufs[3].extend(mx.iter().zip(&my).flat_map(|(&a, &b)| [a as f32, b as f32]));
                    bar.inc(1);
                }
                Ok((bufs, solver_steps))
            },
        )?;
        let times = sampling.output_times();
        let mut file = WellFile::new(
            self.system().name(),
            &["x", "y"],
            &[sampling.nx, sampling.ny],
            sampling.trajectories,
            times,
        )?;
        file.coords = vec![
            common::cell_centres(sampling.nx, self.length_x),
            common::cell_centres(sampling.ny, self.length_y),
        ];
        let specs = [
            FieldSpec {
                name: "density",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "energy",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "pressure",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "momentum",
                order: TensorOrder::Vector,
            },
        ];
        common::push_fields(&mut file, &specs, trajectories)?;
        file.push_parameter("gamma", self.gamma);
        let bc = match self.boundary {
            EulerBoundary::Periodic => BoundaryType::Periodic,
            EulerBoundary::Open => BoundaryType::Open,
        };
        file.push_boundary(0, bc)?;
        file.push_boundary(1, bc)?;
        Ok((file, stats))
    }
}
