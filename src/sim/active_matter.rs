//! `active_matter`: rod-like active particles in a Stokes fluid, the continuum kinetic
//! theory of The Well's `active_matter` dataset (Maddu, Weady & Shelley 2023, eqs. 1–5),
//! solved by [`super::active_solver`] (its docs hold the equations and the closure). Fields
//! as in The Well, 11 channels: `concentration` (t0), `velocity` (t1), the orientation
//! tensor `D` and the strain-rate tensor `E` (t2); parameters `alpha`, `beta`, `zeta`.
//!
//! The Well's data: 256² on a 10 × 10 periodic box, 81 frames every 0.25, 5 trajectories
//! per parameter set, α ∈ {−1, …, −5}, β = 0.8, ζ ∈ {1, 3, …, 17}; `c = 1` and `D` a
//! plane-wave perturbation of the isotropic state `I/2` initially. The same here, with a
//! random sum of plane waves per trajectory, and a small plane-wave perturbation of the
//! concentration too: in this model `∂c/∂t + ∇·(u c) = d_T ∇²c` with `∇·u = 0`, so a
//! uniform concentration stays exactly uniform forever (a constant channel whose VRMSE
//! divides by zero variance).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::active_solver::{ActiveParams, ActiveSolver};
use super::common::{self, FieldSpec, SimStats};
use super::sampling::Sampling;
use super::simulator::Simulator;
use super::system::System;
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const ACTIVE_MATTER_NAME: &str = System::ActiveMatter.name();

/// Plane waves summed into each trajectory's initial orientation perturbation.
const INITIAL_WAVES: usize = 6;

fn default_concentration_perturbation() -> f64 {
    0.05
}

/// Configuration of the active-matter simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveMatterConfig {
    /// Grid, trajectories, frames, output interval (The Well: 0.25) and seed.
    pub sampling: Sampling,
    /// Active dipole strength α (negative: pushers; The Well: −1 … −5).
    pub alpha: f64,
    /// Constraint-stress coefficient β (The Well: 0.8).
    pub beta: f64,
    /// Steric alignment strength ζ (The Well: 1 … 17).
    pub zeta: f64,
    /// Translational diffusion d_T.
    pub translational_diffusion: f64,
    /// Rotational diffusion d_R.
    pub rotational_diffusion: f64,
    /// Side of the periodic square box (The Well: 10).
    pub length: f64,
    /// Largest amplitude of the initial plane-wave perturbation of `D` (at most 0.5 / 6,
    /// so that `D` starts positive definite).
    pub perturbation: f64,
    /// Largest amplitude of the initial plane-wave perturbation of the concentration about
    /// 1 (at most 0.5 / 6, so that `c ≥ 1/2`); `D` starts at `c I/2` plus its perturbation,
    /// so `tr D = c` holds. Without it the concentration never leaves 1. The default
    /// gives a spread of about 5 % of the mean; The Well's concentration varies by about
    /// 0.3 %.
    #[serde(default = "default_concentration_perturbation")]
    pub concentration_perturbation: f64,
    /// CFL number of the advective step limit.
    pub cfl: f64,
}

impl Default for ActiveMatterConfig {
    /// 64 × 64 on a 10 × 10 box, 4 trajectories, 32 frames every 0.25, α = −1, β = 0.8,
    /// ζ = 3, d_T = d_R = 0.05, perturbations of D and of c 0.05.
    fn default() -> Self {
        ActiveMatterConfig {
            sampling: Sampling {
                nx: 64,
                ny: 64,
                trajectories: 4,
                n_steps: 32,
                output_interval: 0.25,
                seed: 0,
            },
            alpha: -1.0,
            beta: 0.8,
            zeta: 3.0,
            translational_diffusion: 0.05,
            rotational_diffusion: 0.05,
            length: 10.0,
            perturbation: 0.05,
            concentration_perturbation: default_concentration_perturbation(),
            cfl: 0.5,
        }
    }
}

impl ActiveMatterConfig {
    /// The Well's sampling: 256², 81 frames every 0.25, 5 trajectories.
    pub fn well() -> Self {
        Self::default()
            .with_resolution(256)
            .with_steps(81)
            .with_trajectories(5)
    }

    /// A tiny setting for tests: 16², 2 trajectories, 6 frames.
    pub fn tiny() -> Self {
        Self::default()
            .with_resolution(16)
            .with_trajectories(2)
            .with_steps(6)
    }

    /// Sets the active dipole strength α.
    pub fn with_alpha(mut self, alpha: f64) -> Self {
        self.alpha = alpha;
        self
    }

    /// Sets the steric alignment strength ζ.
    pub fn with_zeta(mut self, zeta: f64) -> Self {
        self.zeta = zeta;
        self
    }

    /// Sets the constraint-stress coefficient β.
    pub fn with_beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Sets the translational and rotational diffusion.
    pub fn with_diffusion(mut self, translational: f64, rotational: f64) -> Self {
        self.translational_diffusion = translational;
        self.rotational_diffusion = rotational;
        self
    }

    fn params(&self) -> ActiveParams {
        ActiveParams {
            alpha: self.alpha,
            beta: self.beta,
            zeta: self.zeta,
            d_t: self.translational_diffusion,
            d_r: self.rotational_diffusion,
        }
    }

    /// Initial `(c, [D_xx, D_xy, D_yy])` of trajectory `index`: `c = 1` and `D = c I/2`,
    /// each plus a random sum of plane waves of mode numbers 1–4 (traceless for `D`).
    fn initial_state(&self, index: usize) -> (Vec<f64>, [Vec<f64>; 3]) {
        let mut rng = common::trajectory_rng(self.sampling.seed, index);
        let (nx, ny) = (self.sampling.nx, self.sampling.ny);
        let tau = 2.0 * std::f64::consts::PI;
        let waves: Vec<[f64; 6]> = (0..INITIAL_WAVES)
            .map(|_| {
                [
                    rng.random_range(-4i32..=4) as f64,
                    rng.random_range(-4i32..=4) as f64,
                    rng.random_range(0.0..tau),
                    rng.random_range(-1.0..1.0) * self.perturbation,
                    rng.random_range(-1.0..1.0) * self.perturbation,
                    rng.random_range(-1.0..1.0) * self.concentration_perturbation,
                ]
            })
            .collect();
        let mut c = vec![1.0; nx * ny];
        let mut d = [vec![0.0; nx * ny], vec![0.0; nx * ny], vec![0.0; nx * ny]];
        for i in 0..nx {
            for j in 0..ny {
                let (x, y) = (i as f64 / nx as f64, j as f64 / ny as f64);
                let k = i * ny + j;
                for &[mx, my, phase, a, b, e] in &waves {
                    let wave = (tau * (mx * x + my * y) + phase).cos();
                    c[k] += e * wave;
                    d[0][k] += a * wave;
                    d[1][k] += b * wave;
                    d[2][k] -= a * wave;
                }
                d[0][k] += 0.5 * c[k];
                d[2][k] += 0.5 * c[k];
            }
        }
        (c, d)
    }
}

impl Simulator for ActiveMatterConfig {
    fn system(&self) -> System {
        System::ActiveMatter
    }

    fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }

    /// Checks every rule: the sampling's; finite α; β, ζ, d_T, d_R ≥ 0; a positive box;
    /// both perturbations in `[0, 0.5/6]` (D starts positive definite, `c ≥ 1/2`); CFL in
    /// (0, 1].
    fn check(&self) -> Result<(), ConfigError> {
        self.sampling.check()?;
        if !self.alpha.is_finite() {
            return Err(ConfigError::OutOfRange {
                name: "alpha",
                range: "finite",
                value: self.alpha,
            });
        }
        for (name, value) in [
            ("beta", self.beta),
            ("zeta", self.zeta),
            ("translational_diffusion", self.translational_diffusion),
            ("rotational_diffusion", self.rotational_diffusion),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(ConfigError::OutOfRange {
                    name,
                    range: "[0, ∞)",
                    value,
                });
            }
        }
        common::check_positive("length", self.length)?;
        let max = 0.5 / INITIAL_WAVES as f64;
        for (name, value) in [
            ("perturbation", self.perturbation),
            (
                "concentration_perturbation",
                self.concentration_perturbation,
            ),
        ] {
            if !(value >= 0.0 && value <= max) {
                return Err(ConfigError::OutOfRange {
                    name,
                    range: "[0, 1/12]",
                    value,
                });
            }
        }
        common::check_cfl(self.cfl, 1.0, "(0, 1]")
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let sampling = &self.sampling;
        let (nx, ny) = (sampling.nx, sampling.ny);
        let n = nx * ny;
        let (trajectories, stats) = common::run_trajectories(
            sampling.trajectories,
            sampling.n_steps,
            ACTIVE_MATTER_NAME,
            n,
            |t, bar| {
                let (c0, d0) = self.initial_state(t);
                let mut solver = ActiveSolver::new(
                    nx,
                    ny,
                    (self.length, self.length),
                    self.params(),
                    &c0,
                    [&d0[0], &d0[1], &d0[2]],
                );
                let frames = sampling.n_steps;
                let mut bufs = vec![
                    Vec::with_capacity(n * frames),
                    Vec::with_capacity(2 * n * frames),
                    Vec::with_capacity(4 * n * frames),
                    Vec::with_capacity(4 * n * frames),
                ];
                let mut solver_steps = 0;
                for s in 0..frames {
                    if s > 0 {
                        solver_steps += solver.advance(
                            sampling.output_interval,
                            self.cfl,
                            sampling.output_interval,
                        );
                        if !solver.is_finite() {
                            return Err(Error::NonFinite {
                                what: format!("active_matter trajectory {t} at step {s}"),
                            });
                        }
                    }
                    let f = solver.frame();
                    common::append_f32(&mut bufs[0], &f.c);
                    for k in 0..n {
                        bufs[1].extend([f.u[0][k] as f32, f.u[1][k] as f32]);
                        let (dxx, dxy, dyy) = (f.d[0][k], f.d[1][k], f.d[2][k]);
                        bufs[2].extend([dxx, dxy, dxy, dyy].map(|v| v as f32));
                        let (exx, exy, eyy) = (f.e[0][k], f.e[1][k], f.e[2][k]);
                        bufs[3].extend([exx, exy, exy, eyy].map(|v| v as f32));
                    }
                    bar.inc(1);
                }
                Ok((bufs, solver_steps))
            },
        )?;
        let mut file = WellFile::new(
            ACTIVE_MATTER_NAME,
            &["x", "y"],
            &[nx, ny],
            sampling.trajectories,
            sampling.output_times(),
        )?;
        file.coords = vec![
            common::cell_centres(nx, self.length),
            common::cell_centres(ny, self.length),
        ];
        let specs = [
            FieldSpec {
                name: "concentration",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "velocity",
                order: TensorOrder::Vector,
            },
            FieldSpec {
                name: "D",
                order: TensorOrder::Tensor,
            },
            FieldSpec {
                name: "E",
                order: TensorOrder::Tensor,
            },
        ];
        common::push_fields(&mut file, &specs, trajectories)?;
        file.push_parameter("alpha", self.alpha);
        file.push_parameter("beta", self.beta);
        file.push_parameter("zeta", self.zeta);
        file.push_boundary(0, BoundaryType::Periodic)?;
        file.push_boundary(1, BoundaryType::Periodic)?;
        Ok((file, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel<'a>(file: &'a WellFile, name: &str) -> &'a [f32] {
        &file
            .fields
            .iter()
            .find(|f| f.name == name)
            .expect("field")
            .data
    }

    #[test]
    fn concentration_is_conserved_and_d_is_symmetric_with_trace_c() {
        let config = ActiveMatterConfig::tiny().with_zeta(5.0).with_alpha(-3.0);
        let file = config.simulate().unwrap();
        let n = 16 * 16;
        let frames = 6;
        let c = channel(&file, "concentration");
        let d = channel(&file, "D");
        let e = channel(&file, "E");
        for t in 0..2 {
            let mean = |s: usize| -> f64 {
                let off = (t * frames + s) * n;
                c[off..off + n].iter().map(|&v| v as f64).sum::<f64>() / n as f64
            };
            for s in 1..frames {
                assert!(
                    (mean(s) - mean(0)).abs() < 1e-6,
                    "mean c drifts: {}",
                    mean(s)
                );
                // The concentration varies in space at every frame (a uniform one would stay
                // uniform forever, and its VRMSE would divide by zero variance).
                let off = (t * frames + s) * n;
                let var = c[off..off + n]
                    .iter()
                    .map(|&v| (v as f64 - mean(s)).powi(2))
                    .sum::<f64>()
                    / n as f64;
                assert!(var > 1e-5, "c uniform at frame {s}: variance {var}");
            }
            for p in 0..frames * n {
                let k = t * frames * n + p;
                let dk = &d[4 * k..4 * k + 4];
                assert_eq!(dk[1], dk[2], "D symmetric");
                assert!((dk[0] + dk[3] - c[k]).abs() < 1e-4, "tr D = c");
                let ek = &e[4 * k..4 * k + 4];
                assert_eq!(ek[1], ek[2], "E symmetric");
                assert!((ek[0] + ek[3]).abs() < 1e-5, "tr E = ∇·u = 0");
            }
        }
        // The isotropic state orders (ζ above threshold): |D − c I/2| grows.
        let order = |s: usize| -> f64 {
            (0..n)
                .map(|p| {
                    let k = s * n + p;
                    let dk = &d[4 * k..4 * k + 4];
                    ((dk[0] - dk[3]).powi(2) / 4.0 + dk[1].powi(2)).sqrt() as f64
                })
                .sum::<f64>()
                / n as f64
        };
        assert!(order(frames - 1) > 2.0 * order(0));
    }

    #[test]
    fn fields_and_parameters_follow_the_well() {
        let file = ActiveMatterConfig::tiny().with_steps(2).simulate().unwrap();
        assert_eq!(
            file.channel_names(),
            [
                "concentration",
                "velocity_x",
                "velocity_y",
                "D_xx",
                "D_xy",
                "D_yx",
                "D_yy",
                "E_xx",
                "E_xy",
                "E_yx",
                "E_yy"
            ]
        );
        assert!(
            file.parameters
                .iter()
                .any(|(k, v)| k == "zeta" && *v == 3.0)
        );
    }

    #[test]
    fn bad_settings_are_refused_by_name() {
        let e = ActiveMatterConfig::default()
            .with_zeta(-1.0)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("zeta"), "{e}");
        let c = ActiveMatterConfig {
            perturbation: 0.2,
            ..Default::default()
        };
        assert!(c.check().unwrap_err().to_string().contains("perturbation"));
        let c = ActiveMatterConfig {
            concentration_perturbation: -0.01,
            ..Default::default()
        };
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("concentration_perturbation"), "{e}");
        let e = ActiveMatterConfig::default()
            .with_alpha(f64::NAN)
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("alpha"), "{e}");
    }

    #[test]
    fn trajectories_are_reproducible() {
        let a = ActiveMatterConfig::tiny().with_steps(3).simulate().unwrap();
        let b = ActiveMatterConfig::tiny().with_steps(3).simulate().unwrap();
        assert_eq!(channel(&a, "D"), channel(&b, "D"));
    }
}
