//! `rayleigh_benard`: 2D Boussinesq convection between a hot bottom and a cold top wall,
//! periodic in x (The Well, Appendix A). Fields as in The Well: `buoyancy`, `pressure`
//! (t0) and `velocity` (t1); parameters `Rayleigh` and `Prandtl`.
//!
//! ```text
//! ∂b/∂t + u·∇b = κ∇²b,   ∂u/∂t + u·∇u = −∇p + ν∇²u + b ŷ,   ∇·u = 0,
//! κ = (Ra Pr)^(−1/2),  ν = (Ra/Pr)^(−1/2),  b = 1 at y = 0, b = 0 at y = 1
//! ```
//!
//! The Well (Dedalus, no-slip walls, 512 × 128 on 4 × 1, Δt = 0.25) uses
//! Ra ∈ {1e6, …, 1e10}, Pr ∈ {0.1, …, 10}. Here the walls are **free-slip** (stress-free)
//! and isothermal, which makes the problem exactly a sine/cosine series in y: the solver
//! writes `b = 1 − y + θ` and evolves ω and θ, odd in y, on a doubled periodic box (see
//! [`super::vorticity`]). Linear theory then gives Rayleigh's (1916) critical number
//! `Ra_c = 27π⁴/4 ≈ 657.5` at `k = π/√2`, which the tests check. The output grid is
//! `y_j = j/ny` (the bottom wall included) and `x_i = i Lx/nx`. The pressure written is
//! the dynamic part, without the hydrostatic balance of the conduction profile.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::common::{self, FieldSpec, SimStats};
use super::vorticity::{Coefficients, VorticitySolver};
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const RAYLEIGH_BENARD_NAME: &str = "rayleigh_benard";

/// Rayleigh's critical number for free-slip, isothermal walls, `27π⁴/4`.
pub const RAYLEIGH_CRITICAL_FREE_SLIP: f64 = 27.0
    * std::f64::consts::PI
    * std::f64::consts::PI
    * std::f64::consts::PI
    * std::f64::consts::PI
    / 4.0;

/// Configuration of the Rayleigh–Bénard simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RayleighBenardConfig {
    /// Grid points along x (rows, horizontal, periodic).
    pub nx: usize,
    /// Grid points along y (vertical, between the walls).
    pub ny: usize,
    /// Horizontal period Lx (the height is 1; The Well: 4).
    pub length_x: f64,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Output frames per trajectory, the initial state included.
    pub steps: usize,
    /// Time between output frames, in free-fall units (The Well: 0.25).
    pub output_interval: f64,
    /// Rayleigh number.
    pub rayleigh: f64,
    /// Prandtl number.
    pub prandtl: f64,
    /// Amplitude of the random initial buoyancy perturbation.
    pub perturbation: f64,
    /// CFL number of the advective step limit.
    pub cfl: f64,
    /// Seed of the random perturbations.
    pub seed: u64,
}

impl Default for RayleighBenardConfig {
    /// 128 × 32 on 4 × 1, 4 trajectories, 32 frames every 0.5, Ra = 3e5, Pr = 1, perturbation 0.05.
    fn default() -> Self {
        RayleighBenardConfig {
            nx: 128,
            ny: 32,
            length_x: 4.0,
            trajectories: 4,
            steps: 32,
            output_interval: 0.5,
            rayleigh: 3e5,
            prandtl: 1.0,
            perturbation: 0.05,
            cfl: 0.8,
            seed: 0,
        }
    }
}

impl RayleighBenardConfig {
    /// The Well's sampling (512 × 128 on 4 × 1, 200 frames every 0.25, 50 trajectories).
    pub fn well() -> Self {
        RayleighBenardConfig {
            nx: 512,
            ny: 128,
            steps: 200,
            output_interval: 0.25,
            trajectories: 50,
            rayleigh: 1e6,
            ..Self::default()
        }
    }

    /// A tiny setting for tests: 64 × 16, 2 trajectories, 27 frames, Ra = 1e5.
    pub fn tiny() -> Self {
        RayleighBenardConfig {
            nx: 64,
            ny: 16,
            trajectories: 2,
            steps: 27,
            rayleigh: 1e5,
            ..Self::default()
        }
    }

    /// Sets the grid from a resolution `n`: `2n × n/2` on the 4 × 1 box (as many points as n²).
    pub fn with_resolution(mut self, n: usize) -> Self {
        self.nx = 2 * n;
        self.ny = n / 2;
        self
    }

    /// Sets an `nx × ny` grid.
    pub fn with_shape(mut self, nx: usize, ny: usize) -> Self {
        self.nx = nx;
        self.ny = ny;
        self
    }

    /// Sets the horizontal period.
    pub fn with_length_x(mut self, length: f64) -> Self {
        self.length_x = length;
        self
    }

    /// Sets the number of trajectories.
    pub fn with_trajectories(mut self, n: usize) -> Self {
        self.trajectories = n;
        self
    }

    /// Sets the number of output frames.
    pub fn with_steps(mut self, n: usize) -> Self {
        self.steps = n;
        self
    }

    /// Sets the time between output frames.
    pub fn with_output_interval(mut self, dt: f64) -> Self {
        self.output_interval = dt;
        self
    }

    /// Sets the Rayleigh number.
    pub fn with_rayleigh(mut self, ra: f64) -> Self {
        self.rayleigh = ra;
        self
    }

    /// Sets the Prandtl number.
    pub fn with_prandtl(mut self, pr: f64) -> Self {
        self.prandtl = pr;
        self
    }

    /// Sets the initial perturbation amplitude.
    pub fn with_perturbation(mut self, amplitude: f64) -> Self {
        self.perturbation = amplitude;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every rule: power-of-two grid, positive Ra, Pr, Lx, CFL in (0, 1.5].
    pub fn check(&self) -> Result<(), ConfigError> {
        common::check_resolution("nx", self.nx)?;
        common::check_resolution("ny", self.ny)?;
        common::check_run(self.trajectories, self.steps, self.output_interval)?;
        common::check_positive("rayleigh", self.rayleigh)?;
        common::check_positive("prandtl", self.prandtl)?;
        common::check_positive("length_x", self.length_x)?;
        common::check_perturbation(self.perturbation)?;
        common::check_cfl(self.cfl, 1.5, "(0, 1.5]")
    }

    /// Initial θ on the doubled `(nx, 2 ny)` box: random low modes `sin(π m y)` with random
    /// horizontal Fourier modes 1..=8, scaled to `perturbation`.
    fn initial_theta(&self, index: usize) -> Vec<f64> {
        let mut rng = common::trajectory_rng(self.seed, index);
        let (nx, nyd) = (self.nx, 2 * self.ny);
        let tau = 2.0 * std::f64::consts::PI;
        let mut modes = Vec::new();
        for kx in 0..=8usize.min(nx / 3) {
            for m in 1..=3usize.min(self.ny / 3) {
                let a: f64 = rng.random_range(-1.0..1.0);
                let phase: f64 = rng.random_range(0.0..tau);
                modes.push((kx as f64, m as f64, a / (1.0 + kx as f64 + m as f64), phase));
            }
        }
        let mut theta = vec![0.0; nx * nyd];
        for i in 0..nx {
            let x = i as f64 / nx as f64;
            for j in 0..nyd {
                let y = j as f64 / self.ny as f64;
                theta[i * nyd + j] = modes
                    .iter()
                    .map(|(kx, m, a, ph)| {
                        a * (tau * kx * x + ph).cos() * (std::f64::consts::PI * m * y).sin()
                    })
                    .sum::<f64>();
            }
        }
        let peak = theta.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
        theta.iter().map(|v| v * self.perturbation / peak).collect()
    }

    /// Runs every trajectory (in parallel) into a Well-format file.
    pub fn simulate(&self) -> Result<WellFile> {
        self.simulate_with_stats().map(|(file, _)| file)
    }

    /// [`Self::simulate`], also returning the run's cost.
    pub fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let (nx, ny) = (self.nx, self.ny);
        let nyd = 2 * ny;
        let coefficients = Coefficients {
            nu: (self.prandtl / self.rayleigh).sqrt(),
            kappa: 1.0 / (self.rayleigh * self.prandtl).sqrt(),
            buoyancy: 1.0,
            gradient: 1.0,
            mean: [0.0, 0.0],
            odd_y: true,
        };
        // Buoyancy oscillations (frequency ≤ 1 in free-fall units) bound the step too.
        let max_dt = 0.1f64.min(self.output_interval);
        let (trajectories, stats) = common::run_trajectories(
            self.trajectories,
            self.steps,
            RAYLEIGH_BENARD_NAME,
            nx * nyd,
            |t, bar| {
                let mut solver_steps = 0;
                let theta = self.initial_theta(t);
                let w0 = vec![0.0; nx * nyd];
                let mut solver =
                    VorticitySolver::new(nx, nyd, self.length_x, 2.0, coefficients, &w0, &theta);
                let mut bufs: Vec<Vec<f32>> = (0..2)
                    .map(|_| Vec::with_capacity(nx * ny * self.steps))
                    .collect();
                bufs.push(Vec::with_capacity(2 * nx * ny * self.steps));
                for s in 0..self.steps {
                    if s > 0 {
                        solver_steps += solver.advance(self.output_interval, self.cfl, max_dt);
                        if !solver.is_finite() {
                            return Err(Error::NonFinite {
                                what: format!("rayleigh_benard trajectory {t} at step {s}"),
                            });
                        }
                    }
                    let snap = solver.snapshot();
                    for i in 0..nx {
                        for j in 0..ny {
                            let k = i * nyd + j;
                            let y = j as f64 / ny as f64;
                            bufs[0].push((1.0 - y + snap.scalar[k]) as f32);
                            bufs[1].push(snap.pressure[k] as f32);
                            bufs[2].extend([snap.u[k] as f32, snap.v[k] as f32]);
                        }
                    }
                    bar.inc(1);
                }
                Ok((bufs, solver_steps))
            },
        )?;
        let times = common::output_times(self.steps, self.output_interval);
        let mut file = WellFile::new(
            RAYLEIGH_BENARD_NAME,
            &["x", "y"],
            &[nx, ny],
            self.trajectories,
            times,
        )?;
        file.coords = vec![
            (0..nx)
                .map(|i| (i as f64 * self.length_x / nx as f64) as f32)
                .collect(),
            (0..ny).map(|j| j as f32 / ny as f32).collect(),
        ];
        let specs = [
            FieldSpec {
                name: "buoyancy",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "pressure",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "velocity",
                order: TensorOrder::Vector,
            },
        ];
        common::push_fields(&mut file, &specs, trajectories)?;
        file.push_parameter("Rayleigh", self.rayleigh);
        file.push_parameter("Prandtl", self.prandtl);
        file.push_boundary(0, BoundaryType::Periodic)?;
        file.push_boundary(1, BoundaryType::Wall)?;
        Ok((file, stats))
    }
}
