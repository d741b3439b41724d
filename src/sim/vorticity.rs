//! A pseudo-spectral solver of 2D incompressible flow in vorticity–streamfunction form with
//! one advected scalar, shared by `shear_flow` (a passive tracer) and `rayleigh_benard`
//! (the buoyancy perturbation):
//!
//! ```text
//! ∂ω/∂t + u·∇ω = ν ∇²ω + g ∂s/∂x        ω = ∂v/∂x − ∂u/∂y = −∇²ψ
//! ∂s/∂t + u·∇s = κ ∇²s + G v            u = U₀ + ∂ψ/∂y,  v = V₀ − ∂ψ/∂x
//! ```
//!
//! on a periodic box. Velocity comes from the streamfunction, so it is divergence-free to
//! round-off. Products are dealiased by the 2/3 rule; time stepping is Lawson's
//! integrating-factor RK4, which integrates the diffusion exactly. With `odd_y` the fields
//! ω and s are kept odd in y, which turns the periodic box of height 2H into a channel of
//! height H between free-slip, fixed-scalar walls (the sine-series Rayleigh–Bénard problem).

use rustfft::num_complex::Complex64;

use super::spectral::{Fft2, derivative};

type C = Complex64;

/// Physical coefficients of [`VorticitySolver`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Coefficients {
    /// Kinematic viscosity ν.
    pub nu: f64,
    /// Scalar diffusivity κ.
    pub kappa: f64,
    /// Buoyancy coupling g in the vorticity equation.
    pub buoyancy: f64,
    /// Background-gradient coupling G in the scalar equation.
    pub gradient: f64,
    /// Uniform mean velocity (U₀, V₀).
    pub mean: [f64; 2],
    /// Keep ω and s odd in y (walls at y = 0 and y = H of a doubled box).
    pub odd_y: bool,
}

/// The physical fields at one instant, row-major `(nx, ny)`.
pub(crate) struct Snapshot {
    pub u: Vec<f64>,
    pub v: Vec<f64>,
    pub scalar: Vec<f64>,
    pub pressure: Vec<f64>,
}

pub(crate) struct VorticitySolver {
    fft: Fft2,
    c: Coefficients,
    w: Vec<C>,
    s: Vec<C>,
    time: f64,
    // Scratch: spectral work arrays and physical fields.
    spec: Vec<Vec<C>>,
    phys: Vec<Vec<f64>>,
    stage: Vec<Vec<C>>,
}

impl VorticitySolver {
    /// A solver on an `nx × ny` periodic box `lx × ly` from physical ω and s.
    pub fn new(
        nx: usize,
        ny: usize,
        lx: f64,
        ly: f64,
        c: Coefficients,
        w0: &[f64],
        s0: &[f64],
    ) -> Self {
        let mut fft = Fft2::new(nx, ny, lx, ly);
        let n = nx * ny;
        let zero = vec![C::new(0.0, 0.0); n];
        let mut w = zero.clone();
        let mut s = zero.clone();
        fft.forward(w0, &mut w);
        fft.forward(s0, &mut s);
        let mut solver = VorticitySolver {
            fft,
            c,
            w,
            s,
            time: 0.0,
            spec: vec![zero.clone(); 4],
            phys: vec![vec![0.0; n]; 6],
            stage: vec![zero; 10],
        };
        solver.project();
        solver
    }

    /// Dealiases the state and, for walls, enforces odd symmetry in y.
    fn project(&mut self) {
        let (nx, ny) = (self.fft.nx, self.fft.ny);
        for k in 0..nx * ny {
            self.w[k] *= self.fft.dealias[k];
            self.s[k] *= self.fft.dealias[k];
        }
        if self.c.odd_y {
            for field in [&mut self.w, &mut self.s] {
                for i in 0..nx {
                    for j in 0..=ny / 2 {
                        let (a, b) = (i * ny + j, i * ny + (ny - j) % ny);
                        let odd = 0.5 * (field[a] - field[b]);
                        field[a] = odd;
                        field[b] = -odd;
                    }
                }
            }
        }
    }

    #[cfg(test)]
    pub fn time(&self) -> f64 {
        self.time
    }

    /// Spectral velocity `(û, v̂)` (without the mean) of vorticity `w` into `spec[0..2]`.
    fn velocity_hat(fft: &Fft2, w: &[C], u: &mut [C], v: &mut [C]) {
        let ny = fft.ny;
        for k in 0..w.len() {
            let psi = if fft.k2[k] > 0.0 {
                w[k] / fft.k2[k]
            } else {
                C::new(0.0, 0.0)
            };
            let (kx, ky) = (fft.kx[k / ny], fft.ky[k % ny]);
            u[k] = C::new(-ky * psi.im, ky * psi.re); // i ky ψ
            v[k] = C::new(kx * psi.im, -kx * psi.re); // −i kx ψ
        }
    }

    /// Explicit right-hand sides `(N_ω, N_s)` of state `(w, s)`.
    fn rhs(&mut self, w: &[C], s: &[C], nw: &mut [C], ns: &mut [C]) {
        let fft = &mut self.fft;
        let [su, sv, sd, work] = &mut self.spec[..] else {
            unreachable!()
        };
        Self::velocity_hat(fft, w, su, sv);
        let [u, v, wx, wy, sx, sy] = &mut self.phys[..] else {
            unreachable!()
        };
        fft.inverse(su, work, u);
        fft.inverse(sv, work, v);
        derivative(fft, w, true, sd);
        fft.inverse(sd, work, wx);
        derivative(fft, w, false, sd);
        fft.inverse(sd, work, wy);
        derivative(fft, s, true, sd);
        fft.inverse(sd, work, sx);
        derivative(fft, s, false, sd);
        fft.inverse(sd, work, sy);
        let [u0, v0] = self.c.mean;
        for k in 0..u.len() {
            let (uu, vv) = (u[k] + u0, v[k] + v0);
            wx[k] = -(uu * wx[k] + vv * wy[k]);
            sx[k] = -(uu * sx[k] + vv * sy[k]);
        }
        fft.forward(wx, nw);
        fft.forward(sx, ns);
        let ny = fft.ny;
        for k in 0..nw.len() {
            let mask = fft.dealias[k];
            let kx = fft.kx[k / ny];
            let ds = C::new(-kx * s[k].im, kx * s[k].re);
            nw[k] = (nw[k] + self.c.buoyancy * ds) * mask;
            ns[k] = (ns[k] + self.c.gradient * sv[k]) * mask;
        }
    }

    /// Largest `|u|/dx + |v|/dy` of the current state (for the CFL condition).
    pub fn advective_rate(&mut self) -> f64 {
        let snap = self.velocity();
        let (dx, dy) = (self.fft_dx(), self.fft_dy());
        snap.0
            .iter()
            .zip(&snap.1)
            .map(|(u, v)| u.abs() / dx + v.abs() / dy)
            .fold(0.0, f64::max)
    }

    fn fft_dx(&self) -> f64 {
        2.0 * std::f64::consts::PI
            / (self.fft.kx.get(1).copied().unwrap_or(1.0) * self.fft.nx as f64)
    }

    fn fft_dy(&self) -> f64 {
        2.0 * std::f64::consts::PI
            / (self.fft.ky.get(1).copied().unwrap_or(1.0) * self.fft.ny as f64)
    }

    /// Physical velocity `(u, v)`, the mean included.
    pub fn velocity(&mut self) -> (Vec<f64>, Vec<f64>) {
        let n = self.fft.len();
        let [su, sv, _, work] = &mut self.spec[..] else {
            unreachable!()
        };
        Self::velocity_hat(&self.fft, &self.w, su, sv);
        let (mut u, mut v) = (vec![0.0; n], vec![0.0; n]);
        self.fft.inverse(su, work, &mut u);
        self.fft.inverse(sv, work, &mut v);
        for k in 0..n {
            u[k] += self.c.mean[0];
            v[k] += self.c.mean[1];
        }
        (u, v)
    }

    /// Velocity, scalar and pressure. The pressure solves
    /// `∇²p = −∂i∂j(u_i u_j) + g ∂s/∂y` (zero mean).
    pub fn snapshot(&mut self) -> Snapshot {
        let n = self.fft.len();
        let ny = self.fft.ny;
        let (u, v) = self.velocity();
        let mut scalar = vec![0.0; n];
        let [a, b, c, work] = &mut self.spec[..] else {
            unreachable!()
        };
        self.fft.inverse(&self.s, work, &mut scalar);
        let uu: Vec<f64> = u.iter().map(|x| x * x).collect();
        let uv: Vec<f64> = u.iter().zip(&v).map(|(x, y)| x * y).collect();
        let vv: Vec<f64> = v.iter().map(|y| y * y).collect();
        self.fft.forward(&uu, a);
        self.fft.forward(&uv, b);
        self.fft.forward(&vv, c);
        for k in 0..n {
            let (kx, ky, k2) = (self.fft.kx[k / ny], self.fft.ky[k % ny], self.fft.k2[k]);
            work[k] = if k2 > 0.0 {
                let div = kx * kx * a[k] + 2.0 * kx * ky * b[k] + ky * ky * c[k];
                let dsy = C::new(-ky * self.s[k].im, ky * self.s[k].re);
                (-div - self.c.buoyancy * dsy) / k2 * self.fft.dealias[k]
            } else {
                C::new(0.0, 0.0)
            };
        }
        let spec = work.clone();
        let mut pressure = vec![0.0; n];
        self.fft.inverse(&spec, a, &mut pressure);
        Snapshot {
            u,
            v,
            scalar,
            pressure,
        }
    }

    /// One Lawson IF-RK4 step of size `h`.
    pub fn step(&mut self, h: f64) {
        let n = self.fft.len();
        let mut st = std::mem::take(&mut self.stage);
        let (ew_h, es_h): (Vec<f64>, Vec<f64>) = self
            .fft
            .k2
            .iter()
            .map(|k2| ((-self.c.nu * k2 * h).exp(), (-self.c.kappa * k2 * h).exp()))
            .unzip();
        let ew_half: Vec<f64> = ew_h.iter().map(|e| e.sqrt()).collect();
        let es_half: Vec<f64> = es_h.iter().map(|e| e.sqrt()).collect();
        let (w0, s0) = (self.w.clone(), self.s.clone());
        let [aw, as_, bw, bs, cw, cs, dw, ds, qw, qs] = &mut st[..] else {
            unreachable!()
        };
        self.rhs(&w0, &s0, aw, as_);
        for k in 0..n {
            qw[k] = ew_half[k] * (w0[k] + 0.5 * h * aw[k]);
            qs[k] = es_half[k] * (s0[k] + 0.5 * h * as_[k]);
        }
        self.rhs(qw, qs, bw, bs);
        for k in 0..n {
            qw[k] = ew_half[k] * w0[k] + 0.5 * h * bw[k];
            qs[k] = es_half[k] * s0[k] + 0.5 * h * bs[k];
        }
        self.rhs(qw, qs, cw, cs);
        for k in 0..n {
            qw[k] = ew_h[k] * w0[k] + h * ew_half[k] * cw[k];
            qs[k] = es_h[k] * s0[k] + h * es_half[k] * cs[k];
        }
        self.rhs(qw, qs, dw, ds);
        for k in 0..n {
            self.w[k] = ew_h[k] * w0[k]
                + h / 6.0 * (ew_h[k] * aw[k] + 2.0 * ew_half[k] * (bw[k] + cw[k]) + dw[k]);
            self.s[k] = es_h[k] * s0[k]
                + h / 6.0 * (es_h[k] * as_[k] + 2.0 * es_half[k] * (bs[k] + cs[k]) + ds[k]);
        }
        self.stage = st;
        self.project();
        self.time += h;
    }

    /// Advances by `interval` in equal steps no longer than `max_dt` and no longer than
    /// `cfl / max(|u|/dx + |v|/dy)` of the state at the start of the interval.
    /// Returns the number of steps taken.
    pub fn advance(&mut self, interval: f64, cfl: f64, max_dt: f64) -> usize {
        let rate = self.advective_rate();
        let dt = if rate > 0.0 {
            (cfl / rate).min(max_dt)
        } else {
            max_dt
        };
        let n = (interval / dt).ceil().max(1.0) as usize;
        for _ in 0..n {
            self.step(interval / n as f64);
        }
        n
    }

    /// Whether every spectral coefficient is finite.
    pub fn is_finite(&self) -> bool {
        self.w
            .iter()
            .chain(&self.s)
            .all(|c| c.re.is_finite() && c.im.is_finite())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn coefficients(nu: f64, kappa: f64, mean: [f64; 2]) -> Coefficients {
        Coefficients {
            nu,
            kappa,
            buoyancy: 0.0,
            gradient: 0.0,
            mean,
            odd_y: false,
        }
    }

    fn grid(n: usize, l: f64) -> impl Iterator<Item = (f64, f64)> {
        (0..n * n).map(move |k| ((k / n) as f64 * l / n as f64, (k % n) as f64 * l / n as f64))
    }

    fn energy(solver: &mut VorticitySolver) -> f64 {
        let (u, v) = solver.velocity();
        0.5 * u.iter().zip(&v).map(|(a, b)| a * a + b * b).sum::<f64>() / u.len() as f64
    }

    #[test]
    fn taylor_green_energy_decays_at_the_analytic_rate() {
        // u = sin x cos y, v = −cos x sin y, ω = 2 sin x sin y: E(t) = E(0) exp(−4νt).
        let (n, nu) = (32, 0.05);
        let w0: Vec<f64> = grid(n, 2.0 * PI)
            .map(|(x, y)| 2.0 * x.sin() * y.sin())
            .collect();
        let s0: Vec<f64> = grid(n, 2.0 * PI).map(|(x, _)| x.cos()).collect();
        let mut solver = VorticitySolver::new(
            n,
            n,
            2.0 * PI,
            2.0 * PI,
            coefficients(nu, nu, [0.0; 2]),
            &w0,
            &s0,
        );
        let e0 = energy(&mut solver);
        assert!((e0 - 0.25).abs() < 1e-12, "{e0}");
        let mut steps = 0;
        for _ in 0..10 {
            steps += solver.advance(0.1, 0.5, 0.1);
        }
        assert!(steps > 10);
        let want = e0 * (-4.0 * nu * solver.time()).exp();
        let got = energy(&mut solver);
        assert!((got - want).abs() / want < 1e-10, "{got} vs {want}");
        // The velocity field is still exactly the decayed Taylor–Green vortex.
        let (u, _) = solver.velocity();
        let amp = (-2.0 * nu * solver.time()).exp();
        for ((x, y), u) in grid(n, 2.0 * PI).zip(&u) {
            assert!((u - amp * x.sin() * y.cos()).abs() < 1e-10);
        }
    }

    #[test]
    fn inviscid_flow_conserves_energy_and_enstrophy() {
        // Galerkin-truncated 2D Euler conserves both quadratic invariants; RK4 errs O(dt⁴).
        let n = 32;
        let w0: Vec<f64> = grid(n, 2.0 * PI)
            .map(|(x, y)| {
                (x + 0.3).sin() * (2.0 * y).cos()
                    + 0.7 * (3.0 * x - y).cos()
                    + 0.4 * (x + 2.0 * y).sin()
            })
            .collect();
        let s0 = vec![0.0; n * n];
        let mut solver = VorticitySolver::new(
            n,
            n,
            2.0 * PI,
            2.0 * PI,
            coefficients(0.0, 0.0, [0.0; 2]),
            &w0,
            &s0,
        );
        let enstrophy = |s: &VorticitySolver| s.w.iter().map(|c| c.norm_sqr()).sum::<f64>();
        let (e0, z0) = (energy(&mut solver), enstrophy(&solver));
        for _ in 0..10 {
            solver.advance(0.1, 0.3, 0.1);
        }
        let (e1, z1) = (energy(&mut solver), enstrophy(&solver));
        assert!((e1 - e0).abs() / e0 < 1e-7, "energy {e0} -> {e1}");
        assert!((z1 - z0).abs() / z0 < 1e-6, "enstrophy {z0} -> {z1}");
        // ... while the vorticity field itself has changed (the nonlinear term acts).
        let mut w1 = vec![0.0; n * n];
        let mut work = solver.w.clone();
        solver.fft.inverse(&solver.w.clone(), &mut work, &mut w1);
        let change = w0
            .iter()
            .zip(&w1)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(change > 0.1, "{change}");
    }

    #[test]
    fn a_uniform_mean_flow_translates_the_tracer() {
        let n = 32;
        let (u0, v0) = (0.3, -0.2);
        let tau = 2.0 * PI;
        let s0: Vec<f64> = grid(n, 1.0)
            .map(|(x, y)| (tau * x).sin() * (2.0 * tau * y).cos())
            .collect();
        let w0 = vec![0.0; n * n];
        let mut solver =
            VorticitySolver::new(n, n, 1.0, 1.0, coefficients(0.0, 0.0, [u0, v0]), &w0, &s0);
        solver.advance(0.7, 0.1, 0.05); // RK4 phase error ~ (ωh)⁵: small steps
        let snap = solver.snapshot();
        let t = solver.time();
        for ((x, y), s) in grid(n, 1.0).zip(&snap.scalar) {
            let want = (tau * (x - u0 * t)).sin() * (2.0 * tau * (y - v0 * t)).cos();
            assert!((s - want).abs() < 1e-7, "{s} vs {want}");
        }
        assert!(snap.pressure.iter().all(|p| p.abs() < 1e-12));
    }
}
