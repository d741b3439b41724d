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
use super::sampling::Sampling;
use super::simulator::Simulator;
use super::system::System;
use super::vorticity::{Coefficients, VorticitySolver};
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const RAYLEIGH_BENARD_NAME: &str = System::RayleighBenard.name();

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
    /// Grid points (`nx` along x, horizontal and periodic; `ny` along y, between the
    /// walls), trajectories, frames, output interval in free-fall units (The Well: 0.25)
    /// and seed of the random perturbations. Resolution `n` is `2n × n/2`
    /// ([`Simulator::grid_for_resolution`]).
    pub sampling: Sampling,
    /// Horizontal period Lx (the height is 1; The Well: 4).
    pub length_x: f64,
    /// Rayleigh number.
    pub rayleigh: f64,
    /// Prandtl number.
    pub prandtl: f64,
    /// Amplitude of the random initial buoyancy perturbation.
    pub perturbation: f64,
    /// CFL number of the advective step limit.
    pub cfl: f64,
}

impl Default for RayleighBenardConfig {
    /// 128 × 32 on 4 × 1, 4 trajectories, 32 frames every 0.5, Ra = 3e5, Pr = 1, perturbation 0.05.
    fn default() -> Self {
        RayleighBenardConfig {
            sampling: Sampling {
                nx: 128,
                ny: 32,
                trajectories: 4,
                n_steps: 32,
                output_interval: 0.5,
                seed: 0,
            },
            length_x: 4.0,
            rayleigh: 3e5,
            prandtl: 1.0,
            perturbation: 0.05,
            cfl: 0.8,
        }
    }
}

impl RayleighBenardConfig {
    /// The Well's sampling (512 × 128 on 4 × 1, 200 frames every 0.25, 50 trajectories).
    pub fn well() -> Self {
        RayleighBenardConfig {
            rayleigh: 1e6,
            ..Self::default()
        }
        .with_shape(512, 128)
        .with_steps(200)
        .with_output_interval(0.25)
        .with_trajectories(50)
    }

    /// A tiny setting for tests: 64 × 16, 2 trajectories, 27 frames, Ra = 1e5.
    pub fn tiny() -> Self {
        RayleighBenardConfig {
            rayleigh: 1e5,
            ..Self::default()
        }
        .with_shape(64, 16)
        .with_trajectories(2)
        .with_steps(27)
    }

    /// Sets the horizontal period.
    pub fn with_length_x(mut self, length: f64) -> Self {
        self.length_x = length;
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

    /// Initial θ on the doubled `(nx, 2 ny)` box: random low modes `sin(π m y)` with random
    /// horizontal Fourier modes 1..=8, scaled to `perturbation`.
    fn initial_theta(&self, index: usize) -> Vec<f64> {
        let mut rng = common::trajectory_rng(self.sampling.seed, index);
        let ny = self.sampling.ny;
        let (nx, nyd) = (self.sampling.nx, 2 * ny);
        let tau = 2.0 * std::f64::consts::PI;
        let mut modes = Vec::new();
        for kx in 0..=8usize.min(nx / 3) {
            for m in 1..=3usize.min(ny / 3) {
                let a: f64 = rng.random_range(-1.0..1.0);
                let phase: f64 = rng.random_range(0.0..tau);
                modes.push((kx as f64, m as f64, a / (1.0 + kx as f64 + m as f64), phase));
            }
        }
        let mut theta = vec![0.0; nx * nyd];
        for i in 0..nx {
            let x = i as f64 / nx as f64;
            for j in 0..nyd {
                let y = j as f64 / ny as f64;
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
}

impl Simulator for RayleighBenardConfig {
    fn system(&self) -> System {
        System::RayleighBenard
    }

    fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }

    /// `2n × n/2`: the 4 × 1 box with as many points as `n²`.
    fn grid_for_resolution(&self, n: usize) -> (usize, usize) {
        (2 * n, n / 2)
    }

    /// Checks every rule: the sampling's, positive Ra, Pr, Lx, a perturbation ≥ 0, CFL in
    /// (0, 1.5].
    fn check(&self) -> Result<(), ConfigError> {
        self.sampling.check()?;
        common::check_positive("rayleigh", self.rayleigh)?;
        common::check_positive("prandtl", self.prandtl)?;
        common::check_positive("length_x", self.length_x)?;
        common::check_perturbation(self.perturbation)?;
        common::check_cfl(self.cfl, 1.5, "(0, 1.5]")
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let sampling = &self.sampling;
        let (nx, ny) = (sampling.nx, sampling.ny);
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
        let max_dt = 0.1f64.min(sampling.output_interval);
        let (trajectories, stats) = common::run_trajectories(
            sampling.trajectories,
            sampling.n_steps,
            RAYLEIGH_BENARD_NAME,
            nx * nyd,
            |t, bar| {
                let mut solver_steps = 0;
                let theta = self.initial_theta(t);
                let w0 = vec![0.0; nx * nyd];
                let mut solver =
                    VorticitySolver::new(nx, nyd, self.length_x, 2.0, coefficients, &w0, &theta);
                let mut bufs: Vec<Vec<f32>> = (0..2)
                    .map(|_| Vec::with_capacity(nx * ny * sampling.n_steps))
                    .collect();
                bufs.push(Vec::with_capacity(2 * nx * ny * sampling.n_steps));
                for s in 0..sampling.n_steps {
                    if s > 0 {
                        solver_steps += solver.advance(sampling.output_interval, self.cfl, max_dt);
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
        let times = sampling.output_times();
        let mut file = WellFile::new(
            RAYLEIGH_BENARD_NAME,
            &["x", "y"],
            &[nx, ny],
            sampling.trajectories,
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
