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
use super::sampling::Sampling;
use super::simulator::Simulator;
use super::spectral::Fft2;
use super::system::System;
use super::vorticity::{Coefficients, VorticitySolver};
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const SHEAR_FLOW_NAME: &str = System::ShearFlow.name();

/// Configuration of the shear-flow simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShearFlowConfig {
    /// Grid points (`nx` along x, the streamwise direction; `ny` across the layers),
    /// trajectories, frames, output interval (The Well: 0.1) and seed of the random
    /// perturbations.
    pub sampling: Sampling,
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
}

impl Default for ShearFlowConfig {
    /// 64 × 64, 4 trajectories, 32 frames every 0.1, Re = 5e3, Sc = 1, δ = 0.05.
    fn default() -> Self {
        ShearFlowConfig {
            sampling: Sampling {
                nx: 64,
                ny: 64,
                trajectories: 4,
                n_steps: 32,
                output_interval: 0.1,
                seed: 0,
            },
            reynolds: 5e3,
            schmidt: 1.0,
            layer_width: 0.05,
            perturbation: 0.05,
            cfl: 0.8,
        }
    }
}

impl ShearFlowConfig {
    /// The Well's sampling (256 × 512 points, 200 frames every 0.1, 40 trajectories).
    pub fn well() -> Self {
        ShearFlowConfig {
            reynolds: 1e4,
            layer_width: 0.02,
            ..Self::default()
        }
        .with_shape(256, 512)
        .with_steps(200)
        .with_trajectories(40)
    }

    /// A tiny setting for tests: 32 × 32, 2 trajectories, 27 frames, Re = 1e3, δ = 0.08.
    pub fn tiny() -> Self {
        ShearFlowConfig {
            reynolds: 1e3,
            layer_width: 0.08,
            ..Self::default()
        }
        .with_shape(32, 32)
        .with_trajectories(2)
        .with_steps(27)
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

    /// Initial `(ω, s, mean velocity)` of trajectory `index`.
    fn initial_state(&self, index: usize) -> (Vec<f64>, Vec<f64>, [f64; 2]) {
        let mut rng = common::trajectory_rng(self.sampling.seed, index);
        let (nx, ny) = (self.sampling.nx, self.sampling.ny);
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
}

impl Simulator for ShearFlowConfig {
    fn system(&self) -> System {
        System::ShearFlow
    }

    fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }

    /// Checks every rule: the sampling's, positive Re, Sc, δ, a perturbation ≥ 0, CFL in
    /// (0, 1.5].
    fn check(&self) -> Result<(), ConfigError> {
        self.sampling.check()?;
        common::check_positive("reynolds", self.reynolds)?;
        common::check_positive("schmidt", self.schmidt)?;
        common::check_positive("layer_width", self.layer_width)?;
        common::check_perturbation(self.perturbation)?;
        common::check_cfl(self.cfl, 1.5, "(0, 1.5]")
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let sampling = &self.sampling;
        let n = sampling.nx * sampling.ny;
        let nu = 1.0 / self.reynolds;
        let (trajectories, stats) = common::run_trajectories(
            sampling.trajectories,
            sampling.n_steps,
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
                let mut solver = VorticitySolver::new(
                    sampling.nx,
                    sampling.ny,
                    1.0,
                    1.0,
                    coefficients,
                    &w0,
                    &s0,
                );
                let mut bufs: Vec<Vec<f32>> = (0..2)
                    .map(|_| Vec::with_capacity(n * sampling.n_steps))
                    .collect();
                bufs.push(Vec::with_capacity(2 * n * sampling.n_steps));
                for s in 0..sampling.n_steps {
                    if s > 0 {
                        solver_steps += solver.advance(
                            sampling.output_interval,
                            self.cfl,
                            sampling.output_interval,
                        );
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
        let times = sampling.output_times();
        let mut file = WellFile::new(
            SHEAR_FLOW_NAME,
            &["x", "y"],
            &[sampling.nx, sampling.ny],
            sampling.trajectories,
            times,
        )?;
        file.coords = vec![grid_points(sampling.nx), grid_points(sampling.ny)];
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
