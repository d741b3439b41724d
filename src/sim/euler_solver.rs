//! A 2D compressible Euler finite-volume solver: MUSCL reconstruction of primitive
//! variables with a slope limiter, HLLC Riemann fluxes (Toro, *Riemann Solvers and
//! Numerical Methods for Fluid Dynamics*, §10.4, Davis wave-speed estimates), SSP-RK2
//! (Heun) time stepping with CFL-limited steps, periodic or open (zero-gradient) boundaries.
//!
//! State is kept in `f64` with two ghost cells on every side; arrays are row-major
//! `(nx + 4, ny + 4)` with `x` the slow axis. Conserved variables per cell are
//! `[ρ, ρu, ρv, E]` with `E = p / (γ − 1) + ρ (u² + v²) / 2`.

use serde::{Deserialize, Serialize};

use super::sampling::Sampling;
use super::simulator::Simulator;
use crate::{Error, Result};

const GHOST: usize = 2;

/// Slope limiter of the MUSCL reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Limiter {
    /// `minmod(a, b)`: the most diffusive TVD limiter.
    Minmod,
    /// van Leer's harmonic limiter `2ab / (a + b)`.
    #[default]
    VanLeer,
    /// Monotonised central: `minmod(2a, 2b, (a + b) / 2)`, the sharpest of the three.
    MonotonisedCentral,
}

impl Limiter {
    #[inline(always)]
    fn slope(self, a: f64, b: f64) -> f64 {
        if a * b <= 0.0 {
            return 0.0;
        }
        match self {
            Limiter::Minmod => {
                if a.abs() < b.abs() {
                    a
                } else {
                    b
                }
            }
            Limiter::VanLeer => 2.0 * a * b / (a + b),
            Limiter::MonotonisedCentral => {
                let m = (2.0 * a.abs()).min(2.0 * b.abs()).min(0.5 * (a + b).abs());
                m.copysign(a)
            }
        }
    }
}

/// Boundary treatment of the Euler solver, on both axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum EulerBoundary {
    /// Periodic in x and y (The Well's `euler_multi_quadrants_periodicBC`).
    #[default]
    Periodic,
    /// Open (zero-gradient outflow, Clawpack's `extrap`) on all four sides.
    Open,
}

/// The solver's state and scratch buffers for one trajectory.
#[derive(Debug, Clone)]
pub struct EulerSolver {
    nx: usize,
    ny: usize,
    dx: f64,
    dy: f64,
    gamma: f64,
    cfl: f64,
    limiter: Limiter,
    boundary: EulerBoundary,
    time: f64,
    steps: usize,
    u: Vec<[f64; 4]>,
    u1: Vec<[f64; 4]>,
    prim: Vec<[f64; 4]>,
    slope: Vec<[f64; 4]>,
    rhs: Vec<[f64; 4]>,
}

/// HLLC flux through a face with normal velocity `un` and tangential `ut`.
/// States are primitive `[ρ, un, ut, p]`; returns `[mass, normal mom., tangential mom., energy]`.
#[inline(always)]
fn hllc(l: [f64; 4], r: [f64; 4], gamma: f64) -> [f64; 4] {
    let [rl, ul, vl, pl] = l;
    let [rr, ur, vr, pr] = r;
    let cl = (gamma * pl / rl).sqrt();
    let cr = (gamma * pr / rr).sqrt();
    let el = pl / (gamma - 1.0) + 0.5 * rl * (ul * ul + vl * vl);
    let er = pr / (gamma - 1.0) + 0.5 * rr * (ur * ur + vr * vr);
    let sl = (ul - cl).min(ur - cr);
    let sr = (ul + cl).max(ur + cr);
    let fl = [rl * ul, rl * ul * ul + pl, rl * ul * vl, ul * (el + pl)];
    if sl >= 0.0 {
        return fl;
    }
    let fr = [rr * ur, rr * ur * ur + pr, rr * ur * vr, ur * (er + pr)];
    if sr <= 0.0 {
        return fr;
    }
    let ml = rl * (sl - ul);
    let mr = rr * (sr - ur);
    let s_star = (pr - pl + ul * ml - ur * mr) / (ml - mr);
    // Star state U*_K = ρ_K (S_K − u_K)/(S_K − S*) [1, S*, v_K, E_K/ρ_K + (S* − u_K)(S* + p_K/(ρ_K (S_K − u_K)))].
    let star = |rho: f64, u: f64, v: f64, p: f64, e: f64, s: f64, m: f64| {
        let f = m / (s - s_star);
        [
            f,
            f * s_star,
            f * v,
            f * (e / rho + (s_star - u) * (s_star + p / m)),
        ]
    };
    if s_star >= 0.0 {
        let us = star(rl, ul, vl, pl, el, sl, ml);
        let ul_c = [rl, rl * ul, rl * vl, el];
        std::array::from_fn(|k| fl[k] + sl * (us[k] - ul_c[k]))
    } else {
        let us = star(rr, ur, vr, pr, er, sr, mr);
        let ur_c = [rr, rr * ur, rr * vr, er];
        std::array::from_fn(|k| fr[k] + sr * (us[k] - ur_c[k]))
    }
}

/// Configuration of the quadrant Euler simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EulerConfig {
    /// Cells (`nx` along x, the slow axis), trajectories, frames, output interval (The
    /// Well: 0.015) and seed of the random quadrant states.
    pub sampling: Sampling,
    /// Domain size along x (The Well: 1).
    pub length_x: f64,
    /// Domain size along y (The Well: 1).
    pub length_y: f64,
    /// Ratio of specific heats γ.
    pub gamma: f64,
    /// Boundary treatment.
    pub boundary: EulerBoundary,
    /// MUSCL slope limiter.
    pub limiter: Limiter,
    /// CFL number of the unsplit step, `dt = cfl / max((|u| + c)/dx + (|v| + c)/dy)`.
    pub cfl: f64,
}

impl Default for EulerConfig {
    /// 64 × 64, 4 trajectories, 32 frames every 0.015 (The Well's interval), γ = 1.4, periodic.
    fn default() -> Self {
        EulerConfig {
            sampling: Sampling {
                nx: 64,
                ny: 64,
                trajectories: 4,
                n_steps: 32,
                output_interval: 0.015,
                seed: 0,
            },
            length_x: 1.0,
            length_y: 1.0,
            gamma: 1.4,
            boundary: EulerBoundary::Periodic,
            limiter: Limiter::VanLeer,
            cfl: 0.4,
        }
    }
}

impl EulerSolver {
    /// A solver for `config`'s grid, gas and scheme, all cells at rest with `ρ = p = 1`.
    pub fn new(config: &EulerConfig) -> Result<Self> {
        config.check()?;
        let (nx, ny, gamma) = (config.sampling.nx, config.sampling.ny, config.gamma);
        let len = (nx + 2 * GHOST) * (ny + 2 * GHOST);
        let rest = [1.0, 0.0, 0.0, 1.0 / (gamma - 1.0)];
        Ok(EulerSolver {
            nx,
            ny,
            dx: config.length_x / nx as f64,
            dy: config.length_y / ny as f64,
            gamma,
            cfl: config.cfl,
            limiter: config.limiter,
            boundary: config.boundary,
            time: 0.0,
            steps: 0,
            u: vec![rest; len],
            u1: vec![rest; len],
            prim: vec![[0.0; 4]; len],
            slope: vec![[0.0; 4]; 2 * (ny + 2 * GHOST)],
            rhs: vec![[0.0; 4]; len],
        })
    }

    #[inline(always)]
    fn idx(&self, i: usize, j: usize) -> usize {
        (i + GHOST) * (self.ny + 2 * GHOST) + j + GHOST
    }

    /// Sets cell `(i, j)` from primitive variables `ρ, u, v, p`.
    pub fn set_primitive(&mut self, i: usize, j: usize, rho: f64, vx: f64, vy: f64, p: f64) {
        let k = self.idx(i, j);
        let e = p / (self.gamma - 1.0) + 0.5 * rho * (vx * vx + vy * vy);
        self.u[k] = [rho, rho * vx, rho * vy, e];
    }

    /// Current simulation time.
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Number of time steps taken so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// Grid size `(nx, ny)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.nx, self.ny)
    }

    /// Interior values, row-major `(nx, ny)`, of `f([ρ, ρu, ρv, E], p)`.
    pub fn interior<F: Fn([f64; 4], f64) -> f64>(&self, f: F) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.nx * self.ny);
        for i in 0..self.nx {
            for j in 0..self.ny {
                let c = self.u[self.idx(i, j)];
                out.push(f(c, self.pressure(c)));
            }
        }
        out
    }

    /// Totals of the conserved variables `∫ [ρ, ρu, ρv, E] dA` over the interior.
    pub fn totals(&self) -> [f64; 4] {
        let mut t = [0.0; 4];
        for i in 0..self.nx {
            for j in 0..self.ny {
                let c = self.u[self.idx(i, j)];
                for k in 0..4 {
                    t[k] += c[k] * self.dx * self.dy;
                }
            }
        }
        t
    }

    #[inline(always)]
    fn pressure(&self, c: [f64; 4]) -> f64 {
        (self.gamma - 1.0) * (c[3] - 0.5 * (c[1] * c[1] + c[2] * c[2]) / c[0])
    }

    fn fill_ghosts(&mut self, which: Stage) {
        let (nx, ny, w) = (self.nx, self.ny, self.ny + 2 * GHOST);
        let periodic = self.boundary == EulerBoundary::Periodic;
        let u = match which {
            Stage::Base => &mut self.u,
            Stage::Intermediate => &mut self.u1,
        };
        let src = |g: usize, n: usize| -> usize {
            // Interior index (in padded coordinates) that padded index g copies.
            if periodic {
                (g + n - GHOST) % n + GHOST
            } else {
                g.clamp(GHOST, n + GHOST - 1)
            }
        };
        for i in GHOST..nx + GHOST {
            for g in (0..GHOST).chain(ny + GHOST..ny + 2 * GHOST) {
                u[i * w + g] = u[i * w + src(g, ny)];
            }
        }
        for g in (0..GHOST).chain(nx + GHOST..nx + 2 * GHOST) {
            let s = src(g, nx);
            for j in 0..w {
                u[g * w + j] = u[s * w + j];
            }
        }
    }

    /// Computes `rhs = −∇·F(U)` from `u` (or `u1`), whose ghosts must be filled.
    fn compute_rhs(&mut self, which: Stage) -> Result<()> {
        let (nx, ny, w) = (self.nx, self.ny, self.ny + 2 * GHOST);
        let gamma = self.gamma;
        let lim = self.limiter;
        let u = match which {
            Stage::Base => &self.u,
            Stage::Intermediate => &self.u1,
        };
        for (p, c) in self.prim.iter_mut().zip(u) {
            let inv = 1.0 / c[0];
            let (vx, vy) = (c[1] * inv, c[2] * inv);
            *p = [
                c[0],
                vx,
                vy,
                (gamma - 1.0) * (c[3] - 0.5 * c[0] * (vx * vx + vy * vy)),
            ];
        }
        if let Some(bad) = u
            .iter()
            .zip(&self.prim)
            .position(|(c, p)| !(c[0] > 0.0 && p[3] > 0.0))
        {
            return Err(Error::NonFinite {
                what: format!(
                    "euler state at padded cell {bad}, step {}, time {:.4}: density or pressure \
                     not positive",
                    self.steps, self.time
                ),
            });
        }
        let prim = &self.prim;
        let rhs = &mut self.rhs;
        let slope_of = |a: &[f64; 4], b: &[f64; 4], c: &[f64; 4]| -> [f64; 4] {
            std::array::from_fn(|k| lim.slope(b[k] - a[k], c[k] - b[k]))
        };
        // y sweep (contiguous): one pass per row, faces between columns j and j + 1,
        // carrying the previous face's flux so that rhs[j] = (F_{j−1/2} − F_{j+1/2}) / dy.
        let inv_dy = 1.0 / self.dy;
        for i in GHOST..nx + GHOST {
            let p = &prim[i * w..(i + 1) * w];
            let r = &mut rhs[i * w..(i + 1) * w];
            let mut s_left = slope_of(&p[GHOST - 2], &p[GHOST - 1], &p[GHOST]);
            let mut f_prev = [0.0; 4];
            for j in GHOST - 1..ny + GHOST {
                let s_right = slope_of(&p[j], &p[j + 1], &p[j + 2]);
                let (pl, pr) = (&p[j], &p[j + 1]);
                // Normal velocity is v (index 2), tangential u (index 1).
                let l = [
                    pl[0] + 0.5 * s_left[0],
                    pl[2] + 0.5 * s_left[2],
                    pl[1] + 0.5 * s_left[1],
                    pl[3] + 0.5 * s_left[3],
                ];
                let rr = [
                    pr[0] - 0.5 * s_right[0],
                    pr[2] - 0.5 * s_right[2],
                    pr[1] - 0.5 * s_right[1],
                    pr[3] - 0.5 * s_right[3],
                ];
                let f = hllc(l, rr, gamma);
                let flux = [f[0] * inv_dy, f[2] * inv_dy, f[1] * inv_dy, f[3] * inv_dy];
                if j >= GHOST {
                    r[j] = std::array::from_fn(|k| f_prev[k] - flux[k]);
                }
                f_prev = flux;
                s_left = s_right;
            }
        }
        // x sweep: faces between rows i − 1 and i, slopes of two rows kept in `slope`.
        let inv_dx = 1.0 / self.dx;
        let (s_prev, s_cur) = self.slope.split_at_mut(w);
        for j in GHOST..ny + GHOST {
            s_prev[j] = slope_of(
                &prim[(GHOST - 2) * w + j],
                &prim[(GHOST - 1) * w + j],
                &prim[GHOST * w + j],
            );
        }
        for i in GHOST..=nx + GHOST {
            let (above, rest) = prim[(i - 1) * w..(i + 2) * w].split_at(w);
            let (row, below) = rest.split_at(w);
            for j in GHOST..ny + GHOST {
                s_cur[j] = slope_of(&above[j], &row[j], &below[j]);
            }
            let (r_above, r_row) = rhs[(i - 1) * w..(i + 1) * w].split_at_mut(w);
            for j in GHOST..ny + GHOST {
                let (pl, sl, pr, sr) = (&above[j], &s_prev[j], &row[j], &s_cur[j]);
                let l: [f64; 4] = std::array::from_fn(|k| pl[k] + 0.5 * sl[k]);
                let r: [f64; 4] = std::array::from_fn(|k| pr[k] - 0.5 * sr[k]);
                let f = hllc(l, r, gamma);
                for k in 0..4 {
                    let g = f[k] * inv_dx;
                    if i > GHOST {
                        r_above[j][k] -= g;
                    }
                    if i < nx + GHOST {
                        r_row[j][k] += g;
                    }
                }
            }
            s_prev.copy_from_slice(s_cur);
        }
        Ok(())
    }

    /// The CFL-limited time step `cfl / max(|u| + c)/dx + (|v| + c)/dy)` of the current state.
    pub fn stable_dt(&self) -> f64 {
        let mut rate: f64 = 0.0;
        for i in 0..self.nx {
            for j in 0..self.ny {
                let c = self.u[self.idx(i, j)];
                let p = self.pressure(c);
                let snd = (self.gamma * p / c[0]).sqrt();
                let r =
                    ((c[1] / c[0]).abs() + snd) / self.dx + ((c[2] / c[0]).abs() + snd) / self.dy;
                rate = rate.max(r);
            }
        }
        self.cfl / rate
    }

    /// One SSP-RK2 step of size `dt`: `U¹ = U + dt L(U)`, `U ← (U + U¹ + dt L(U¹)) / 2`.
    pub fn step(&mut self, dt: f64) -> Result<()> {
        self.fill_ghosts(Stage::Base);
        self.compute_rhs(Stage::Base)?;
        for ((u1, u), r) in self.u1.iter_mut().zip(&self.u).zip(&self.rhs) {
            *u1 = std::array::from_fn(|k| u[k] + dt * r[k]);
        }
        self.fill_ghosts(Stage::Intermediate);
        self.compute_rhs(Stage::Intermediate)?;
        for ((u, u1), r) in self.u.iter_mut().zip(&self.u1).zip(&self.rhs) {
            *u = std::array::from_fn(|k| 0.5 * (u[k] + u1[k] + dt * r[k]));
        }
        self.time += dt;
        self.steps += 1;
        Ok(())
    }

    /// Steps with CFL-limited steps until `t_end` exactly (the last step is shortened).
    pub fn advance_to(&mut self, t_end: f64) -> Result<()> {
        while self.time < t_end * (1.0 - 1e-12) {
            let dt = self.stable_dt();
            if !(dt.is_finite() && dt > 0.0) {
                return Err(Error::NonFinite {
                    what: format!("euler time step at time {}", self.time),
                });
            }
            let dt = dt.min(t_end - self.time);
            self.step(dt)?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Stage {
    Base,
    Intermediate,
}
