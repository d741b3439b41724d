//! `gray_scott_reaction_diffusion`: the Gray–Scott reaction–diffusion system (The Well's
//! dataset of that name). Fields `A` and `B` (t0); parameters `F` and `k`; periodic.
//!
//! ```text
//! ∂A/∂t = D_A ∇²A − A B² + F (1 − A),     ∂B/∂t = D_B ∇²B + A B² − (F + k) B
//! ```
//!
//! with The Well's `D_A = 2·10⁻⁵`, `D_B = 10⁻⁵` and grid spacing `2/128` (its 128² grid on
//! `[−1, 1]²`; here an `nx × ny` grid spans `nx/64 × ny/64`). Pseudo-spectral in space, Lawson
//! integrating-factor RK4 in time (diffusion exact), step 1 (The Well's). The initial state
//! is `A = 1, B = 0` with random Gaussian spots of `B`.

use rand::Rng;
use rustfft::num_complex::Complex64;
use serde::{Deserialize, Serialize};

use super::common::{self, FieldSpec, SimStats};
use super::sampling::Sampling;
use super::simulator::Simulator;
use super::spectral::Fft2;
use super::system::System;
use crate::data::{BoundaryType, TensorOrder, WellFile};
use crate::{ConfigError, Error, Result};

/// The Well's name of this dataset.
pub const GRAY_SCOTT_NAME: &str = System::GrayScottReactionDiffusion.name();

/// Diffusivity of A (The Well).
pub const GRAY_SCOTT_DIFFUSION_A: f64 = 2e-5;
/// Diffusivity of B (The Well).
pub const GRAY_SCOTT_DIFFUSION_B: f64 = 1e-5;

/// The Well's six `(F, k)` patterns: gliders, bubbles, maze, worms, spirals, spots.
pub const GRAY_SCOTT_WELL_PATTERNS: [(&str, f64, f64); 6] = [
    ("gliders", 0.014, 0.054),
    ("bubbles", 0.098, 0.057),
    ("maze", 0.029, 0.057),
    ("worms", 0.058, 0.065),
    ("spirals", 0.018, 0.051),
    ("spots", 0.03, 0.062),
];

/// Configuration of the Gray–Scott simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrayScottConfig {
    /// Grid points (spacing 1/64 on both axes, so an `nx × ny` grid spans
    /// `nx/64 × ny/64`), trajectories, frames, output interval (The Well: 10) and seed of
    /// the random spots.
    pub sampling: Sampling,
    /// Feed rate F.
    pub feed: f64,
    /// Kill rate k.
    pub kill: f64,
    /// Time step of the integrator (The Well: 1).
    pub dt: f64,
}

impl Default for GrayScottConfig {
    /// 64 × 64, 4 trajectories, 32 frames every 40, the "spots" pattern (F = 0.03, k = 0.062).
    fn default() -> Self {
        GrayScottConfig {
            sampling: Sampling {
                nx: 64,
                ny: 64,
                trajectories: 4,
                n_steps: 32,
                output_interval: 40.0,
                seed: 0,
            },
            feed: 0.03,
            kill: 0.062,
            dt: 1.0,
        }
    }
}

impl GrayScottConfig {
    /// The Well's sampling (128 × 128, 1001 frames every 10, 200 trajectories per pattern).
    pub fn well() -> Self {
        Self::default()
            .with_shape(128, 128)
            .with_steps(1001)
            .with_output_interval(10.0)
            .with_trajectories(200)
    }

    /// A tiny setting for tests: 32 × 32, 2 trajectories, 27 frames.
    pub fn tiny() -> Self {
        Self::default()
            .with_shape(32, 32)
            .with_trajectories(2)
            .with_steps(27)
    }

    /// One of [`GRAY_SCOTT_WELL_PATTERNS`] by name.
    pub fn with_pattern(self, name: &str) -> Result<Self, ConfigError> {
        let (_, feed, kill) = GRAY_SCOTT_WELL_PATTERNS
            .iter()
            .find(|p| p.0 == name)
            .ok_or_else(|| ConfigError::Unknown {
                kind: "gray-scott pattern",
                name: name.to_string(),
                known: GRAY_SCOTT_WELL_PATTERNS
                    .iter()
                    .map(|p| p.0)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(GrayScottConfig {
            feed: *feed,
            kill: *kill,
            ..self
        })
    }

    /// Sets the feed and kill rates.
    pub fn with_rates(mut self, feed: f64, kill: f64) -> Self {
        self.feed = feed;
        self.kill = kill;
        self
    }

    /// The box `(lx, ly) = (nx/64, ny/64)` (The Well's spacing `2/128`).
    fn lengths(&self) -> (f64, f64) {
        (
            self.sampling.nx as f64 / 64.0,
            self.sampling.ny as f64 / 64.0,
        )
    }

    /// Initial `(A, B)`: 4 to 10 Gaussian spots of B (radius 0.04) with A = 1 − B.
    fn initial_state(&self, index: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = common::trajectory_rng(self.sampling.seed, index);
        let (nx, ny) = (self.sampling.nx, self.sampling.ny);
        let (lx, ly) = self.lengths();
        let count = rng.random_range(4..=10);
        let spots: Vec<(f64, f64)> = (0..count)
            .map(|_| (rng.random_range(0.0..lx), rng.random_range(0.0..ly)))
            .collect();
        let mut b = vec![0.0; nx * ny];
        for i in 0..nx {
            for j in 0..ny {
                let (x, y) = (i as f64 * lx / nx as f64, j as f64 * ly / ny as f64);
                let mut v: f64 = 0.0;
                for &(cx, cy) in &spots {
                    // Periodic distance.
                    let dx = (x - cx).abs().min(lx - (x - cx).abs());
                    let dy = (y - cy).abs().min(ly - (y - cy).abs());
                    v += 0.5 * (-(dx * dx + dy * dy) / (0.04f64 * 0.04)).exp();
                }
                b[i * ny + j] = v.min(0.5);
            }
        }
        let a = b.iter().map(|v| 1.0 - v).collect();
        (a, b)
    }
}

impl Simulator for GrayScottConfig {
    fn system(&self) -> System {
        System::GrayScottReactionDiffusion
    }

    fn sampling(&self) -> &Sampling {
        &self.sampling
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        &mut self.sampling
    }

    /// Checks every rule: the sampling's, positive F, k and dt, dt ≤ 2 (RK4 on the reaction).
    fn check(&self) -> Result<(), ConfigError> {
        self.sampling.check()?;
        common::check_positive("feed", self.feed)?;
        common::check_positive("kill", self.kill)?;
        if !(self.dt > 0.0 && self.dt <= 2.0) {
            return Err(ConfigError::OutOfRange {
                name: "dt",
                range: "(0, 2]",
                value: self.dt,
            });
        }
        Ok(())
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.check()?;
        let sampling = &self.sampling;
        let (nx, ny) = (sampling.nx, sampling.ny);
        let (lx, ly) = self.lengths();
        let substeps = (sampling.output_interval / self.dt).ceil().max(1.0) as usize;
        let h = sampling.output_interval / substeps as f64;
        let (trajectories, stats) = common::run_trajectories(
            sampling.trajectories,
            sampling.n_steps,
            GRAY_SCOTT_NAME,
            nx * ny,
            |t, bar| {
                let mut solver_steps = 0;
                let (a, b) = self.initial_state(t);
                let fft = Fft2::new(nx, ny, lx, ly);
                let mut solver = GrayScottSolver::new(fft, self.feed, self.kill, h, &a, &b);
                let mut bufs: Vec<Vec<f32>> = (0..2)
                    .map(|_| Vec::with_capacity(nx * ny * sampling.n_steps))
                    .collect();
                for s in 0..sampling.n_steps {
                    if s > 0 {
                        for _ in 0..substeps {
                            solver.step();
                        }
                        solver_steps += substeps;
                    }
                    let (a, b) = solver.physical();
                    if a.iter().chain(&b).any(|v| !v.is_finite()) {
                        return Err(Error::NonFinite {
                            what: format!("gray_scott trajectory {t} at step {s}"),
                        });
                    }
                    common::append_f32(&mut bufs[0], &a);
                    common::append_f32(&mut bufs[1], &b);
                    bar.inc(1);
                }
                Ok((bufs, solver_steps))
            },
        )?;
        let mut file = WellFile::new(
            GRAY_SCOTT_NAME,
            &["x", "y"],
            &[nx, ny],
            sampling.trajectories,
            sampling.output_times(),
        )?;
        // Centred on the origin, as The Well's [−1, 1]².
        let coords = |n: usize, l: f64| -> Vec<f32> {
            (0..n)
                .map(|i| (i as f64 * l / n as f64 - l / 2.0) as f32)
                .collect()
        };
        file.coords = vec![coords(nx, lx), coords(ny, ly)];
        let specs = [
            FieldSpec {
                name: "A",
                order: TensorOrder::Scalar,
            },
            FieldSpec {
                name: "B",
                order: TensorOrder::Scalar,
            },
        ];
        common::push_fields(&mut file, &specs, trajectories)?;
        file.push_parameter("F", self.feed);
        file.push_parameter("k", self.kill);
        file.push_boundary(0, BoundaryType::Periodic)?;
        file.push_boundary(1, BoundaryType::Periodic)?;
        Ok((file, stats))
    }
}

/// Spectral Gray–Scott state with a fixed step `h`.
struct GrayScottSolver {
    fft: Fft2,
    feed: f64,
    kill: f64,
    h: f64,
    a: Vec<Complex64>,
    b: Vec<Complex64>,
    // exp(−D k² h) and exp(−D k² h/2) for A and B.
    ea: (Vec<f64>, Vec<f64>),
    eb: (Vec<f64>, Vec<f64>),
}

impl GrayScottSolver {
    /// The state `(a0, b0)` (row-major on `fft`'s grid) of rates `feed`, `kill`, stepped by `h`.
    fn new(mut fft: Fft2, feed: f64, kill: f64, h: f64, a0: &[f64], b0: &[f64]) -> Self {
        let zero = vec![Complex64::new(0.0, 0.0); fft.len()];
        let (mut a, mut b) = (zero.clone(), zero);
        fft.forward(a0, &mut a);
        fft.forward(b0, &mut b);
        let factors = |d: f64| -> (Vec<f64>, Vec<f64>) {
            fft.k2
                .iter()
                .map(|k2| ((-d * k2 * h).exp(), (-d * k2 * h / 2.0).exp()))
                .unzip()
        };
        let ea = factors(GRAY_SCOTT_DIFFUSION_A);
        let eb = factors(GRAY_SCOTT_DIFFUSION_B);
        GrayScottSolver {
            fft,
            feed,
            kill,
            h,
            a,
            b,
            ea,
            eb,
        }
    }

    fn physical(&mut self) -> (Vec<f64>, Vec<f64>) {
        let n = self.fft.len();
        let mut work = vec![Complex64::new(0.0, 0.0); n];
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        self.fft.inverse(&self.a, &mut work, &mut a);
        self.fft.inverse(&self.b, &mut work, &mut b);
        (a, b)
    }

    /// Reaction terms of spectral `(a, b)`, in spectral space.
    fn reaction(&mut self, a: &[Complex64], b: &[Complex64]) -> (Vec<Complex64>, Vec<Complex64>) {
        let n = self.fft.len();
        let mut work = vec![Complex64::new(0.0, 0.0); n];
        let (mut pa, mut pb) = (vec![0.0; n], vec![0.0; n]);
        self.fft.inverse(a, &mut work, &mut pa);
        self.fft.inverse(b, &mut work, &mut pb);
        for k in 0..n {
            let abb = pa[k] * pb[k] * pb[k];
            pa[k] = -abb + self.feed * (1.0 - pa[k]);
            pb[k] = abb - (self.feed + self.kill) * pb[k];
        }
        let (mut ra, mut rb) = (work.clone(), work);
        self.fft.forward(&pa, &mut ra);
        self.fft.forward(&pb, &mut rb);
        (ra, rb)
    }

    /// One Lawson IF-RK4 step.
    fn step(&mut self) {
        let h = self.h;
        let (a0, b0) = (self.a.clone(), self.b.clone());
        let n = a0.len();
        let stage = |x0: &[Complex64], e: &[f64], f: &[Complex64], c: f64| -> Vec<Complex64> {
            (0..n).map(|k| e[k] * (x0[k] + c * f[k])).collect()
        };
        let (ka, kb) = self.reaction(&a0, &b0);
        let (a1, b1) = (
            stage(&a0, &self.ea.1, &ka, h / 2.0),
            stage(&b0, &self.eb.1, &kb, h / 2.0),
        );
        let (la, lb) = self.reaction(&a1, &b1);
        let a2: Vec<Complex64> = (0..n)
            .map(|k| self.ea.1[k] * a0[k] + h / 2.0 * la[k])
            .collect();
        let b2: Vec<Complex64> = (0..n)
            .map(|k| self.eb.1[k] * b0[k] + h / 2.0 * lb[k])
            .collect();
        let (ma, mb) = self.reaction(&a2, &b2);
        let a3: Vec<Complex64> = (0..n)
            .map(|k| self.ea.0[k] * a0[k] + h * self.ea.1[k] * ma[k])
            .collect();
        let b3: Vec<Complex64> = (0..n)
            .map(|k| self.eb.0[k] * b0[k] + h * self.eb.1[k] * mb[k])
            .collect();
        let (na, nb) = self.reaction(&a3, &b3);
        for k in 0..n {
            let (e, eh) = (self.ea.0[k], self.ea.1[k]);
            self.a[k] = e * a0[k] + h / 6.0 * (e * ka[k] + 2.0 * eh * (la[k] + ma[k]) + na[k]);
            let (e, eh) = (self.eb.0[k], self.eb.1[k]);
            self.b[k] = e * b0[k] + h / 6.0 * (e * kb[k] + 2.0 * eh * (lb[k] + mb[k]) + nb[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uniform_state_follows_the_reaction_ode() {
        // Reference: classical RK4 on dA/dt = −AB² + F(1 − A), dB/dt = AB² − (F + k)B with a
        // step 20× smaller than the solver's.
        let (feed, kill) = (0.03, 0.062);
        let (n, h) = (8, 1.0);
        let mut solver = GrayScottSolver::new(
            Fft2::new(n, n, 0.125, 0.125),
            feed,
            kill,
            h,
            &vec![0.6; n * n],
            &vec![0.3; n * n],
        );
        for _ in 0..50 {
            solver.step();
        }
        let f = |a: f64, b: f64| (-a * b * b + feed * (1.0 - a), a * b * b - (feed + kill) * b);
        let (mut a, mut b) = (0.6, 0.3);
        let dt = h / 20.0;
        for _ in 0..50 * 20 {
            let k1 = f(a, b);
            let k2 = f(a + dt / 2.0 * k1.0, b + dt / 2.0 * k1.1);
            let k3 = f(a + dt / 2.0 * k2.0, b + dt / 2.0 * k2.1);
            let k4 = f(a + dt * k3.0, b + dt * k3.1);
            a += dt / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
            b += dt / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        }
        let (pa, pb) = solver.physical();
        for k in 0..n * n {
            assert!(
                (pa[k] - a).abs() < 1e-6 && (pb[k] - b).abs() < 1e-6,
                "{} {} vs {a} {b}",
                pa[k],
                pb[k]
            );
        }
        assert!((a - 0.6).abs() > 0.05, "the reaction should act: {a}");
    }

    #[test]
    fn small_perturbations_of_the_trivial_state_decay_at_the_linear_rates() {
        // About A = 1, B = 0: δA ∝ exp(−(D_A k² + F) t), δB ∝ exp(−(D_B k² + F + k) t).
        let (feed, kill, n) = (0.03, 0.062, 16);
        let l = 0.25;
        let kw = 2.0 * std::f64::consts::PI * 3.0 / l;
        let wave: Vec<f64> = (0..n * n)
            .map(|i| (kw * (i / n) as f64 * l / n as f64).cos())
            .collect();
        let a0: Vec<f64> = wave.iter().map(|w| 1.0 + 1e-6 * w).collect();
        let b0: Vec<f64> = wave.iter().map(|w| 1e-6 * w).collect();
        let mut solver = GrayScottSolver::new(Fft2::new(n, n, l, l), feed, kill, 1.0, &a0, &b0);
        for _ in 0..20 {
            solver.step();
        }
        let (a, b) = solver.physical();
        let ra = (-(GRAY_SCOTT_DIFFUSION_A * kw * kw + feed) * 20.0).exp();
        let rb = (-(GRAY_SCOTT_DIFFUSION_B * kw * kw + feed + kill) * 20.0).exp();
        for k in 0..n * n {
            assert!((a[k] - 1.0 - 1e-6 * ra * wave[k]).abs() < 1e-11, "A at {k}");
            assert!((b[k] - 1e-6 * rb * wave[k]).abs() < 1e-11, "B at {k}");
        }
    }
}
