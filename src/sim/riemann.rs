//! The exact solution of the 1D Euler Riemann problem (Toro, *Riemann Solvers and
//! Numerical Methods for Fluid Dynamics*, ch. 4): Newton iteration on the star pressure,
//! then sampling the self-similar solution. Used to verify the finite-volume solver on
//! Sod's shock tube, and handy in notebooks for the same comparison.

/// A primitive 1D state `(ρ, u, p)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiemannState {
    /// Density.
    pub rho: f64,
    /// Velocity.
    pub u: f64,
    /// Pressure.
    pub p: f64,
}

/// Sod's shock tube: left `(1, 0, 1)`, right `(0.125, 0, 0.1)`.
pub const SOD: (RiemannState, RiemannState) = (
    RiemannState {
        rho: 1.0,
        u: 0.0,
        p: 1.0,
    },
    RiemannState {
        rho: 0.125,
        u: 0.0,
        p: 0.1,
    },
);

/// Pressure function `f_K(p)` of one side and its derivative (Toro eq. 4.6–4.7).
fn side(p: f64, s: RiemannState, gamma: f64) -> (f64, f64) {
    let c = (gamma * s.p / s.rho).sqrt();
    if p > s.p {
        let a = 2.0 / ((gamma + 1.0) * s.rho);
        let b = (gamma - 1.0) / (gamma + 1.0) * s.p;
        let q = (a / (p + b)).sqrt();
        ((p - s.p) * q, q * (1.0 - 0.5 * (p - s.p) / (b + p)))
    } else {
        let e = (gamma - 1.0) / (2.0 * gamma);
        let r = (p / s.p).powf(e);
        (
            2.0 * c / (gamma - 1.0) * (r - 1.0),
            (p / s.p).powf(-(gamma + 1.0) / (2.0 * gamma)) / (s.rho * c),
        )
    }
}

/// Star-region pressure and velocity.
pub fn star_state(l: RiemannState, r: RiemannState, gamma: f64) -> (f64, f64) {
    let mut p = 0.5 * (l.p + r.p).max(1e-8);
    for _ in 0..100 {
        let (fl, dl) = side(p, l, gamma);
        let (fr, dr) = side(p, r, gamma);
        let next = (p - (fl + fr + r.u - l.u) / (dl + dr)).max(1e-10);
        let done = (next - p).abs() / (0.5 * (next + p)) < 1e-14;
        p = next;
        if done {
            break;
        }
    }
    let (fl, _) = side(p, l, gamma);
    let (fr, _) = side(p, r, gamma);
    (p, 0.5 * (l.u + r.u) + 0.5 * (fr - fl))
}

/// The exact solution at similarity coordinate `xi = (x − x₀) / t`.
pub fn sample(l: RiemannState, r: RiemannState, gamma: f64, xi: f64) -> RiemannState {
    let (ps, us) = star_state(l, r, gamma);
    let g1 = (gamma - 1.0) / (gamma + 1.0);
    // Mirror the right side onto the left so one code path samples both.
    let (s, u_star, sign) = if xi <= us {
        (l, us, 1.0)
    } else {
        (RiemannState { u: -r.u, ..r }, -us, -1.0)
    };
    let xi = sign * xi;
    let c = (gamma * s.p / s.rho).sqrt();
    let out = if ps > s.p {
        // Shock.
        let speed = s.u
            - c * ((gamma + 1.0) / (2.0 * gamma) * ps / s.p + (gamma - 1.0) / (2.0 * gamma)).sqrt();
        if xi < speed {
            s
        } else {
            let rho = s.rho * (ps / s.p + g1) / (g1 * ps / s.p + 1.0);
            RiemannState {
                rho,
                u: u_star,
                p: ps,
            }
        }
    } else {
        // Rarefaction.
        let c_star = c * (ps / s.p).powf((gamma - 1.0) / (2.0 * gamma));
        let (head, tail) = (s.u - c, u_star - c_star);
        if xi < head {
            s
        } else if xi > tail {
            RiemannState {
                rho: s.rho * (ps / s.p).powf(1.0 / gamma),
                u: u_star,
                p: ps,
            }
        } else {
            let k = 2.0 / (gamma + 1.0) + g1 / c * (s.u - xi);
            let rho = s.rho * k.powf(2.0 / (gamma - 1.0));
            let u = 2.0 / (gamma + 1.0) * (c + (gamma - 1.0) / 2.0 * s.u + xi);
            RiemannState {
                rho,
                u,
                p: s.p * k.powf(2.0 * gamma / (gamma - 1.0)),
            }
        }
    };
    RiemannState {
        u: sign * out.u,
        ..out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sod_star_state_matches_toro_table_4_2() {
        // Toro, Table 4.2, test 1: p* = 0.30313, u* = 0.92745.
        let (p, u) = star_state(SOD.0, SOD.1, 1.4);
        assert!((p - 0.30313).abs() < 1e-5, "{p}");
        assert!((u - 0.92745).abs() < 1e-5, "{u}");
        // Left of the rarefaction head and right of the shock: the initial states.
        assert_eq!(sample(SOD.0, SOD.1, 1.4, -2.0), SOD.0);
        assert_eq!(sample(SOD.0, SOD.1, 1.4, 2.0), SOD.1);
        // Between contact and shock (Toro: ρ*R = 0.26557).
        let s = sample(SOD.0, SOD.1, 1.4, 1.2);
        assert!((s.rho - 0.26557).abs() < 1e-5, "{}", s.rho);
    }
}
