//! The active-matter solver: a pseudo-spectral integrator of the second-moment (D-tensor)
//! kinetic theory of rod-like active particles in a Stokes fluid (Gao, Betterton & Shelley
//! 2017; the model of Maddu, Weady & Shelley 2023, equations 1–5, that The Well's
//! `active_matter` was made with), on a periodic `lx × ly` box, in two dimensions.
//!
//! ```text
//! ∂c/∂t + ∇·(u c) = d_T ∇²c
//! ∂D/∂t + ∇·(u D) − (∇u·D + D·∇uᵀ) + 2 S:E = 4ζ (D·D − S:D) + d_T ∇²D − 4 d_R (D − c I/2)
//! −∇²u + ∇p = ∇·Σ,  ∇·u = 0,  Σ = α D + β S:E − 2ζβ (D·D − S:D)
//! ```
//!
//! `c` is the concentration, `D` the second moment of the orientation distribution
//! (`tr D = c`), `E = (∇u + ∇uᵀ)/2` the strain rate, `(∇u)_ij = ∂u_i/∂x_j`; α < 0 is the
//! active dipole strength of pushers, β the constraint-stress coefficient, ζ the steric
//! alignment strength. The fourth moment `S` is closed by the quadratic closure
//! `S:T = (D:T) D / c` (The Well's data used a Bingham closure; the quadratic one keeps the
//! isotropic state `D = c I/2` a steady state and `tr D = c`, and is far cheaper).
//!
//! Numerics: the four independent unknowns `(c, D_xx, D_xy, D_yy)` in Fourier space, the
//! diffusion `d_T ∇²` exact by an integrating factor, everything else explicit with
//! classical RK4 (IF-RK4), nonlinear terms dealiased by the 2/3 rule. The Stokes problem
//! is linear in `u` but its stress holds `β S:E(u)`: each evaluation solves it by a fixed
//! number of fixed-point sweeps from the last strain rate (a contraction: the Stokes
//! operator maps stress to strain rate with gain ≤ 1/2 and `|S:E| ≤ c |E|`).
//!
//! Linear stability of the isotropic state (`c = 1`, `D = I/2`), as this model reads it:
//! a traceless perturbation `Q` of wavevector `k`, written in the frame `(k̂, k̂⊥)`, has a
//! normal part `[[a, 0], [0, −a]]` that grows at `2ζ − 4 d_R − d_T k²` and a shear part
//! `[[0, b], [b, 0]]` that drives flow and grows at `−(α − ζβ)/2 + 2ζ − 4 d_R − d_T k²`
//! ([`ActiveParams::growth_rates`]); `tests` check both against the solver.

use rustfft::num_complex::Complex64;

use super::spectral::Fft2;

/// Fixed-point sweeps of the Stokes problem per right-hand side.
const STOKES_SWEEPS: usize = 4;

/// The model's coefficients.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ActiveParams {
    /// Active dipole strength α (negative: pushers).
    pub alpha: f64,
    /// Constraint-stress coefficient β.
    pub beta: f64,
    /// Steric alignment strength ζ.
    pub zeta: f64,
    /// Translational diffusion d_T.
    pub d_t: f64,
    /// Rotational diffusion d_R.
    pub d_r: f64,
}

impl ActiveParams {
    /// Growth rates `(normal, shear)` of a small traceless perturbation of wavenumber `k`
    /// about the isotropic state `c = 1, D = I/2` (see the module docs).
    #[cfg(test)]
    pub fn growth_rates(&self, k: f64) -> (f64, f64) {
        let normal = 2.0 * self.zeta - 4.0 * self.d_r - self.d_t * k * k;
        let shear = normal - 0.5 * (self.alpha - self.zeta * self.beta);
        (normal, shear)
    }

    /// The fastest pointwise rate of the explicit terms, bounding the stable step.
    fn stiffness(&self) -> f64 {
        4.0 * self.zeta * (1.0 + self.beta) + 4.0 * self.d_r + self.alpha.abs() + 1.0
    }
}

/// The fields of one state on the grid, real space, row-major `(nx, ny)`.
pub(crate) struct ActiveFrame {
    /// Concentration.
    pub c: Vec<f64>,
    /// Velocity components.
    pub u: [Vec<f64>; 2],
    /// Orientation tensor `(xx, xy, yy)` (`yx = xy`).
    pub d: [Vec<f64>; 3],
    /// Strain-rate tensor `(xx, xy, yy)` (`yx = xy`).
    pub e: [Vec<f64>; 3],
}

/// The pointwise contractions of `D = (xx, xy, yy)` and `E = (xx, xy, yy)` (both
/// symmetric) that the stress and the D equation share.
struct Point {
    /// D's components.
    dv: [f64; 3],
    /// E's components.
    e: [f64; 3],
    /// The concentration.
    c: f64,
    /// `D:E`.
    d_e: f64,
    /// `D:D`.
    d_d: f64,
    /// `D·D`'s components.
    dd: [f64; 3],
}

impl Point {
    fn at(d: &[Vec<f64>; 3], e: &[Vec<f64>; 3], c: &[f64], idx: usize) -> Self {
        let [dxx, dxy, dyy] = [d[0][idx], d[1][idx], d[2][idx]];
        let [exx, exy, eyy] = [e[0][idx], e[1][idx], e[2][idx]];
        Point {
            dv: [dxx, dxy, dyy],
            e: [exx, exy, eyy],
            c: c[idx],
            d_e: dxx * exx + 2.0 * dxy * exy + dyy * eyy,
            d_d: dxx * dxx + 2.0 * dxy * dxy + dyy * dyy,
            dd: [
                dxx * dxx + dxy * dxy,
                dxy * (dxx + dyy),
                dxy * dxy + dyy * dyy,
            ],
        }
    }
}

/// The solver's state and work buffers.
pub(crate) struct ActiveSolver {
    fft: Fft2,
    params: ActiveParams,
    /// `(c, D_xx, D_xy, D_yy)` in Fourier space.
    state: [Vec<Complex64>; 4],
    /// The last strain rate `(xx, xy, yy)`: the next Stokes solve starts from it.
    strain: [Vec<f64>; 3],
    dx: f64,
    time: f64,
}

type Spec = Vec<Complex64>;

fn zeros(n: usize) -> Spec {
    vec![Complex64::new(0.0, 0.0); n]
}

impl ActiveSolver {
    /// A solver on an `nx × ny` grid of an `lx × ly` periodic box from real fields `c` and
    /// `d = (D_xx, D_xy, D_yy)`.
    pub fn new(
        nx: usize,
        ny: usize,
        (lx, ly): (f64, f64),
        params: ActiveParams,
        c: &[f64],
        d: [&[f64]; 3],
    ) -> Self {
        let mut fft = Fft2::new(nx, ny, lx, ly);
        let n = nx * ny;
        let mut state = [zeros(n), zeros(n), zeros(n), zeros(n)];
        fft.forward(c, &mut state[0]);
        for (s, f) in state[1..].iter_mut().zip(d) {
            fft.forward(f, s);
        }
        ActiveSolver {
            fft,
            params,
            state,
            strain: [vec![0.0; n], vec![0.0; n], vec![0.0; n]],
            dx: (lx / nx as f64).min(ly / ny as f64),
            time: 0.0,
        }
    }

    /// The Fourier coefficient of unknown `field` (0 = c, 1 = D_xx, 2 = D_xy, 3 = D_yy) at
    /// spectral index `(i, j)`, unnormalised.
    #[cfg(test)]
    pub fn coefficient(&self, field: usize, i: usize, j: usize) -> Complex64 {
        self.state[field][i * self.fft.ny + j]
    }

    fn real(&mut self, spec: &[Complex64]) -> Vec<f64> {
        let mut work = zeros(spec.len());
        let mut out = vec![0.0; spec.len()];
        self.fft.inverse(spec, &mut work, &mut out);
        out
    }

    fn spectral(&mut self, real: &[f64]) -> Spec {
        let mut out = zeros(real.len());
        self.fft.forward(real, &mut out);
        out
    }

    /// The velocity (spectral) and strain rate (real) for real `c` and `d`, by the
    /// fixed-point sweeps from `self.strain`, which it updates.
    fn stokes(&mut self, c: &[f64], d: &[Vec<f64>; 3]) -> [Spec; 2] {
        let p = self.params;
        let n = c.len();
        let mut u_hat = [zeros(n), zeros(n)];
        for _ in 0..STOKES_SWEEPS {
            let per_point: Vec<[f64; 3]> = (0..n)
                .map(|idx| {
                    let Point {
                        dv,
                        c: ci,
                        d_e,
                        d_d,
                        dd,
                        ..
                    } = Point::at(d, &self.strain, c, idx);
                    std::array::from_fn(|m| {
                        let steric = dd[m] - d_d * dv[m] / ci;
                        p.alpha * dv[m] + p.beta * d_e * dv[m] / ci - 2.0 * p.zeta * p.beta * steric
                    })
                })
                .collect();
            let sigma: [Vec<f64>; 3] =
                std::array::from_fn(|m| per_point.iter().map(|v| v[m]).collect());
            let s = sigma.map(|f| self.spectral(&f));
            let ny = self.fft.ny;
            let mut e_hat = [zeros(n), zeros(n), zeros(n)];
            for idx in 0..n {
                let (kx, ky) = (self.fft.kx[idx / ny], self.fft.ky[idx % ny]);
                let k2 = kx * kx + ky * ky;
                if k2 == 0.0 {
                    u_hat[0][idx] = Complex64::new(0.0, 0.0);
                    u_hat[1][idx] = Complex64::new(0.0, 0.0);
                    continue;
                }
                let i = Complex64::new(0.0, 1.0);
                // f = ∇·Σ, then u = (I − k kᵀ/k²) f / k²
                let fx = i * (s[0][idx] * kx + s[1][idx] * ky);
                let fy = i * (s[1][idx] * kx + s[2][idx] * ky);
                let kf = (fx * kx + fy * ky) / k2;
                let ux = (fx - kf * kx) / k2;
                let uy = (fy - kf * ky) / k2;
                u_hat[0][idx] = ux;
                u_hat[1][idx] = uy;
                e_hat[0][idx] = i * ux * kx;
                e_hat[1][idx] = i * (ux * ky + uy * kx) * 0.5;
                e_hat[2][idx] = i * uy * ky;
            }
            let strain = e_hat.map(|e| self.real(&e));
            self.strain = strain;
        }
        u_hat
    }

    /// The explicit right-hand side of `(c, D_xx, D_xy, D_yy)` in Fourier space, dealiased,
    /// and the largest speed.
    fn rhs(&mut self, state: &[Spec; 4]) -> ([Spec; 4], f64) {
        let p = self.params;
        let c = self.real(&state[0]);
        let d = [
            self.real(&state[1]),
            self.real(&state[2]),
            self.real(&state[3]),
        ];
        let u_hat = self.stokes(&c, &d);
        let ux = self.real(&u_hat[0]);
        let uy = self.real(&u_hat[1]);
        let ny = self.fft.ny;
        let n = c.len();
        let i = Complex64::new(0.0, 1.0);
        let omega_hat: Spec = (0..n)
            .map(|idx| {
                let (kx, ky) = (self.fft.kx[idx / ny], self.fft.ky[idx % ny]);
                i * (u_hat[1][idx] * kx - u_hat[0][idx] * ky)
            })
            .collect();
        let omega = self.real(&omega_hat);
        let mut local = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        let mut speed: f64 = 0.0;
        for idx in 0..n {
            let Point {
                dv,
                e,
                c: ci,
                d_e,
                d_d,
                dd,
            } = Point::at(&d, &self.strain, &c, idx);
            let [dxx, dxy, dyy] = dv;
            let (gxx, gyy) = (e[0], e[2]);
            let gxy = e[1] - 0.5 * omega[idx]; // ∂u_x/∂y
            let gyx = e[1] + 0.5 * omega[idx]; // ∂u_y/∂x
            let stretch = [
                2.0 * (gxx * dxx + gxy * dxy),
                (gxx + gyy) * dxy + gxy * dyy + gyx * dxx,
                2.0 * (gyx * dxy + gyy * dyy),
            ];
            let iso = [0.5 * ci, 0.0, 0.5 * ci];
            for m in 0..3 {
                local[m][idx] = stretch[m] - 2.0 * d_e * dv[m] / ci
                    + 4.0 * p.zeta * (dd[m] - d_d * dv[m] / ci)
                    - 4.0 * p.d_r * (dv[m] - iso[m]);
            }
            speed = speed.max(ux[idx].hypot(uy[idx]));
        }
        // −∇·(u q) for q = c, D_xx, D_xy, D_yy, plus the local terms of D.
        let fields = [&c, &d[0], &d[1], &d[2]];
        let mut out = [zeros(n), zeros(n), zeros(n), zeros(n)];
        for (q, field) in fields.iter().enumerate() {
            let fx: Vec<f64> = field.iter().zip(&ux).map(|(a, b)| a * b).collect();
            let fy: Vec<f64> = field.iter().zip(&uy).map(|(a, b)| a * b).collect();
            let fx_hat = self.spectral(&fx);
            let fy_hat = self.spectral(&fy);
            let local_hat = if q > 0 {
                Some(self.spectral(&local[q - 1]))
            } else {
                None
            };
            for idx in 0..n {
                let (kx, ky) = (self.fft.kx[idx / ny], self.fft.ky[idx % ny]);
                let mut v = -i * (fx_hat[idx] * kx + fy_hat[idx] * ky);
                if let Some(l) = &local_hat {
                    v += l[idx];
                }
                out[q][idx] = v * self.fft.dealias[idx];
            }
        }
        (out, speed)
    }

    /// One IF-RK4 step of length `h`; returns the largest speed at its start.
    pub fn step(&mut self, h: f64) -> f64 {
        let n = self.fft.len();
        let d_t = self.params.d_t;
        let half: Vec<f64> = self
            .fft
            .k2
            .iter()
            .map(|k2| (-d_t * k2 * h * 0.5).exp())
            .collect();
        let full: Vec<f64> = half.iter().map(|e| e * e).collect();
        let u0 = self.state.clone();
        let (k1, speed) = self.rhs(&u0);
        let combine = |f: &dyn Fn(usize, usize) -> Complex64| -> [Spec; 4] {
            std::array::from_fn(|q| (0..n).map(|idx| f(q, idx)).collect())
        };
        let ua = combine(&|q, i| half[i] * (u0[q][i] + k1[q][i] * (0.5 * h)));
        let (k2, _) = self.rhs(&ua);
        let ub = combine(&|q, i| half[i] * u0[q][i] + k2[q][i] * (0.5 * h));
        let (k3, _) = self.rhs(&ub);
        let uc = combine(&|q, i| full[i] * u0[q][i] + half[i] * k3[q][i] * h);
        let (k4, _) = self.rhs(&uc);
        self.state = combine(&|q, i| {
            full[i] * u0[q][i]
                + (full[i] * k1[q][i] + (k2[q][i] + k3[q][i]) * (2.0 * half[i]) + k4[q][i])
                    * (h / 6.0)
        });
        self.time += h;
        speed
    }

    /// Advances by `interval` in steps no longer than `max_dt`, the advective CFL limit
    /// (`cfl · dx / max speed`) or the explicit terms' stability limit; returns the steps.
    pub fn advance(&mut self, interval: f64, cfl: f64, max_dt: f64) -> usize {
        let end = self.time + interval;
        let limit = max_dt.min(1.0 / self.params.stiffness());
        let mut speed = 0.0;
        let mut steps = 0;
        while end - self.time > 1e-12 * interval.max(1.0) {
            let advective = if speed > 0.0 {
                cfl * self.dx / speed
            } else {
                f64::INFINITY
            };
            let h = limit.min(advective).min(end - self.time);
            speed = self.step(h);
            steps += 1;
        }
        self.time = end;
        steps
    }

    /// Whether every unknown is finite.
    pub fn is_finite(&self) -> bool {
        self.state
            .iter()
            .flatten()
            .all(|z| z.re.is_finite() && z.im.is_finite())
    }

    /// The current fields, with the velocity and strain rate of the current state.
    pub fn frame(&mut self) -> ActiveFrame {
        let state = self.state.clone();
        let c = self.real(&state[0]);
        let d = [
            self.real(&state[1]),
            self.real(&state[2]),
            self.real(&state[3]),
        ];
        let u_hat = self.stokes(&c, &d);
        let u = [self.real(&u_hat[0]), self.real(&u_hat[1])];
        ActiveFrame {
            c,
            u,
            d,
            e: self.strain.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: f64 = 10.0;

    fn params(alpha: f64, zeta: f64) -> ActiveParams {
        ActiveParams {
            alpha,
            beta: 0.8,
            zeta,
            d_t: 0.05,
            d_r: 0.5,
        }
    }

    /// The measured growth rate of a plane-wave perturbation along x (mode 1), normal
    /// (`D_xx − D_yy`) or shear (`D_xy`), over time `t`.
    fn measured_rate(p: ActiveParams, shear: bool, t: f64) -> f64 {
        let (nx, ny) = (16, 8);
        let eps = 1e-6;
        let k = 2.0 * std::f64::consts::PI / L;
        let c = vec![1.0; nx * ny];
        let wave: Vec<f64> = (0..nx * ny)
            .map(|idx| eps * (k * (idx / ny) as f64 * L / nx as f64).cos())
            .collect();
        let (dxx, dxy, dyy): (Vec<f64>, Vec<f64>, Vec<f64>) = if shear {
            (vec![0.5; nx * ny], wave.clone(), vec![0.5; nx * ny])
        } else {
            (
                wave.iter().map(|w| 0.5 + w).collect(),
                vec![0.0; nx * ny],
                wave.iter().map(|w| 0.5 - w).collect(),
            )
        };
        let mut s = ActiveSolver::new(nx, ny, (L, L), p, &c, [&dxx, &dxy, &dyy]);
        let field = if shear { 2 } else { 1 };
        let a0 = s.coefficient(field, 1, 0).norm();
        s.advance(t, 0.5, 0.005);
        (s.coefficient(field, 1, 0).norm() / a0).ln() / t
    }

    #[test]
    fn plane_waves_grow_at_the_analytic_rates() {
        let k = 2.0 * std::f64::consts::PI / L;
        for (alpha, zeta) in [(-1.0, 0.5), (-5.0, 0.5), (-3.0, 0.1), (-12.0, 0.2)] {
            let p = params(alpha, zeta);
            let (normal, shear) = p.growth_rates(k);
            let got_n = measured_rate(p, false, 0.5);
            let got_s = measured_rate(p, true, 0.5);
            assert!(
                (got_n - normal).abs() < 1e-3 * (1.0 + normal.abs()),
                "{got_n} vs {normal}"
            );
            assert!(
                (got_s - shear).abs() < 1e-3 * (1.0 + shear.abs()),
                "{got_s} vs {shear}"
            );
        }
    }

    #[test]
    fn the_stability_threshold_is_where_the_analytic_rate_changes_sign() {
        // ζ = 0: the shear mode's rate is −α/2 − 4 d_R − d_T k², zero at α_c.
        let k = 2.0 * std::f64::consts::PI / L;
        let base = params(0.0, 0.0);
        let alpha_c = -2.0 * (4.0 * base.d_r + base.d_t * k * k);
        assert!(measured_rate(params(alpha_c + 0.2, 0.0), true, 1.0) < 0.0);
        assert!(measured_rate(params(alpha_c - 0.2, 0.0), true, 1.0) > 0.0);
    }
}
