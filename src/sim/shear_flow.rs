//! `shear_flow`: 2D incompressible Navier–Stokes with a passive tracer, two periodic shear
//! layers rolling up by the Kelvin–Helmholtz instability (The Well, Appendix A). Fields as
//! in The Well: `tracer`, `pressure` (t0) and `velocity` (t1); parameters `Reynolds` and
//! `Schmidt`.
//!
//! ```text
//! ∂u/∂t + u·∇u = −∇p + ν∇²u,  ∇·u = 0,  ∂s/∂t + u·∇s = D∇²s,  ν = 1/Re,  D = ν/Sc
//! ```
//!
//! The Well's data (Dedalus, 256 × 512 on 1 × 2, Δt = 0.1) uses Re ∈ {1e4, 5e4, 1e5, 5e5}
//! and Sc ∈ {0.1, 0.2, 0.5, 1, 2, 5, 10}. Here the box is 1 × 1 with layers at y = 1/4 and
//! 3/4: `u = tanh((y − 1/4)/δ) − tanh((y − 3/4)/δ) − 1`, tracer `s = (u + 1)/2`, and a random
//! sum of sinusoidal vertical-velocity modes localised on the layers seeds the roll-up.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::common::{self, FieldSpec, SimStats};
use super::spectral::Fft2;
use super::vorticity::{Coefficients, VorticitySolver};
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const SHEAR_FLOW_NAME: &str = "shear_flow";

/// Configuration of the shear-flow simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShearFlowConfig {
    /// Grid points along x (rows, the streamwise direction).
    pub nx: usize,
    /// Grid points along y (across the layers).
    pub ny: usize,
    /// Number of trajectories.
    pub trajectories: usize,
    /// Output frames per trajectory, the initial state included.
    pub steps: usize,
    /// Time between output frames (The Well: 0.1).
    pub output_interval: f64,
    /// Reynolds number `Re = 1/ν` (unit velocity and length).
    pub reynolds: f64,
    /// Schmidt number `Sc = ν/D`.
    pub schmidt: f64,
    /// Shear-layer half-thickness δ.
    pub layer_width: f64,
    /// Largest amplitude of the seeding vertical-velocity modes.
    pub perturbation: f64,
    /// CFL number of the advective step limit.
    pub cfl: f64,
    /// Seed of the random perturbations.
    pub seed: u64,
}

impl Default for ShearFlowConfig {
    /// 64 × 64, 4 trajectories, 32 frames every 0.1, Re = 5e3, Sc = 1, δ = 0.05.
    fn default() -> Self {
        ShearFlowConfig {
            nx: 64,
            ny: 64,
            trajectories: 4,
            steps: 32,
            output_interval: 0.1,
            reynolds: 5e3,
            schmidt: 1.0,
            layer_width: 0.05,
            perturbation: 0.05,
            cfl: 0.8,
            seed: 0,
        }
    }
}

impl ShearFlowConfig {
    /// The Well's sampling (256 × 512 points, 200 frames every 0.1, 40 trajectories).
    pub fn well() -> Self {
        ShearFlowConfig {
            nx: 256,
            ny: 512,
            steps: 200,
            trajectories: 40,
            reynolds: 1e4,
            layer_width: 0.02,
            ..Self::default()
        }
    }

    /// A tiny setting for tests: 32 × 32, 2 trajectories, 27 frames, Re = 1e3, δ = 0.08.
    pub fn tiny() -> Self {
        ShearFlowConfig {
            nx: 32,
            ny: 32,
            trajectories: 2,
            steps: 27,
            reynolds: 1e3,
            layer_width: 0.08,
            ..Self::default()
        }
    }

    /// Sets a square `n × n` grid.
    pub fn with_resolution(mut self, n: usize) -> Self {
        self.nx = n;
        self.ny = n;
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

    /// Sets the Reynolds number.
    pub fn with_reynolds(mut self, re: f64) -> Self {
        self.reynolds = re;
        self
    }

    /// Sets the Schmidt number.
    pub fn with_schmidt(mut self, sc: f64) -> Self {
        self.schmidt = sc;
        self
    }

    /// Sets the shear-layer half-thickness.
    pub fn with_layer_width(mut self, width: f64) -> Self {
        self.layer_width = width;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every rule: power-of-two grid, positive Re, Sc, δ, CFL in (0, 1.5].
    pub fn check(&self) -> Result<(), ConfigError> {
        common::check_resolution("nx", self.nx)?;
        common::check_resolution("ny", self.ny)?;
        common::check_run(self.trajectories, self.steps, self.output_interval)?;
        common::check_positive("reynolds", self.reynolds)?;
        common::check_positive("schmidt", self.schmidt)?;
        common::check_positive("layer_width", self.layer_width)?;
        common::check_perturbation(self.perturbation)?;
        common::check_cfl(self.cfl, 1.5, "(0, 1.5]")
    }

    /// Initial `(ω, s, mean velocity)` of trajectory `index`.
    fn initial_state(&self, index: usize) -> (Vec<f64>, Vec<f64>, [f64; 2]) {
        let mut rng = common::trajectory_rng(self.seed, index);
        let (nx, ny) = (self.nx, self.ny);
        let tau = 2.0 * std::f64::consts::PI;
        let modes: Vec<(f64, f64, f64)> = (1..=4)
            .map(|m| {
                (
                    m as f64,
                    rng.random_range(0.0..1.0) * self.perturbation / m as f64,
                    rng.random_range(0.0..tau),
                )
            })
            .collect();
        let mut u = vec![0.0; nx * ny];
        let mut v = vec![0.0; nx * ny];
        let mut s = vec![0.0; nx * ny];
        let d = self.layer_width;
        for i in 0..nx {
            let x = i as f64 / nx as f64;
            for j in 0..ny {
                let y = j as f64 / ny as f64;
                let k = i * ny + j;
                u[k] = ((y - 0.25) / d).tanh() - ((y - 0.75) / d).tanh() - 1.0;
                s[k] = 0.5 * (u[k] + 1.0);
                let envelope =
                    (-((y - 0.25) / 0.1).powi(2)).exp() + (-((y - 0.75) / 0.1).powi(2)).exp();
                v[k] = envelope
                    * modes
                        .iter()
                        .map(|(m, a, ph)| a * (tau * m * x + ph).sin())
                        .sum::<f64>();
            }
        }
        let mean = [
            u.iter().sum::<f64>() / u.len() as f64,
            v.iter().sum::<f64>() / v.len() as f64,
        ];
        (vorticity(nx, ny, 1.0, 1.0, &u, &v), s, mean)
    }

    /// Runs every trajectory (in parallel) into a Well-format file.
    pub fn simulate(&self) -> Result<WellFile> {
        self.simulate_with_stats().map(|(file, _)| file)
    }

    /// [`Self::simulate`], also returning the run's cost.
    pub fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let n = self.nx * self.ny;
        let nu = 1.0 / self.reynolds;
        let (trajectories, stats) = common::run_trajectories(
            self.trajectories,
            self.steps,
            SHEAR_FLOW_NAME,
            n,
            |t, bar| {
                let mut solver_steps = 0;
                let (w0, s0, mean) = self.initial_state(t);
                let coefficients = Coefficients {
                    nu,
                    kappa: nu / self.schmidt,
                    buoyancy: 0.0,
                    gradient: 0.0,
                    mean,
                    odd_y: false,
                };
                let mut solver =
                    VorticitySolver::new(self.nx, self.ny, 1.0, 1.0, coefficients, &w0, &s0);
                let mut bufs: Vec<Vec<f32>> =
                    (0..2).map(|_| Vec::with_capacity(n * self.steps)).collect();
                bufs.push(Vec::with_capacity(2 * n * self.steps));
                for s in 0..self.steps {
                    if s > 0 {
                        solver_steps +=
                            solver.advance(self.output_interval, self.cfl, self.output_interval);
                        if !solver.is_finite() {
                            return Err(Error::NonFinite {
                                what: format!("shear_flow trajectory {t} at step {s}"),
                            });
                        }
                    }
                    let snap = solver.snapshot();
                    common::append_f32(&mut bufs[0], &snap.scalar);
                    common::append_f32(&mut bufs[1], &snap.pressure);
                    bufs[2].extend(
                        snap.u
                            .iter()
                            .zip(&snap.v)
                            .flat_map(|(&a, &b)| [a as f32, b as f32]),
                    );
                    bar.inc(1);
                }
                Ok((bufs, solver_steps))
            },
        )?;
        let times = common::output_times(self.steps, self.output_interval);
        let mut file = WellFile::new(
            SHEAR_FLOW_NAME,
            &["x", "y"],
            &[self.nx, self.ny],
            self.trajectories,
            times,
        )?;
        file.coords = vec![grid_points(self.nx), grid_points(self.ny)];
        let specs = [
            FieldSpec {
                name: "tracer",
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
        file.push_parameter("Reynolds", self.reynolds);
        file.push_parameter("Schmidt", self.schmidt);
        file.push_boundary(0, BoundaryType::Periodic)?;
        file.push_boundary(1, BoundaryType::Periodic)?;
        Ok((file, stats))
    }
}

/// Grid points `i / n` of the unit periodic interval.
fn grid_points(n: usize) -> Vec<f32> {
    (0..n).map(|i| i as f32 / n as f32).collect()
}

/// Spectral vorticity `∂v/∂x − ∂u/∂y` of a periodic velocity field.
pub(crate) fn vorticity(nx: usize, ny: usize, lx: f64, ly: f64, u: &[f64], v: &[f64]) -> Vec<f64> {
    use super::spectral::derivative;
    use rustfft::num_complex::Complex64;
    let mut fft = Fft2::new(nx, ny, lx, ly);
    let zero = vec![Complex64::new(0.0, 0.0); nx * ny];
    let (mut uh, mut vh, mut du, mut dv, mut work) =
        (zero.clone(), zero.clone(), zero.clone(), zero.clone(), zero);
    fft.forward(u, &mut uh);
    fft.forward(v, &mut vh);
    derivative(&fft, &vh, true, &mut dv);
    derivative(&fft, &uh, false, &mut du);
    let curl: Vec<Complex64> = dv.iter().zip(&du).map(|(a, b)| a - b).collect();
    let mut out = vec![0.0; nx * ny];
    fft.inverse(&curl, &mut work, &mut out);
    out
}
