//! Verification of the embedded simulators (`phystok::sim`): conservation, exact and
//! analytic solutions, stability thresholds, determinism and the Well format. (The shared
//! configuration, the `Simulator` trait, generation and collections: `tests/sim_family.rs`.)

use phystok::data::{TensorOrder, WellFile};
use phystok::sim::riemann::{self, SOD};
use phystok::sim::{EulerBoundary, EulerConfig, EulerSolver, Simulator};

/// Sums of a scalar field over space, per (trajectory, step).
fn field_totals(file: &WellFile, name: &str) -> Vec<f64> {
    let f = file
        .fields
        .iter()
        .find(|f| f.name == name)
        .expect("field present");
    assert_eq!(f.order, TensorOrder::Scalar);
    f.data
        .chunks(file.frame_len())
        .map(|c| c.iter().map(|&v| v as f64).sum())
        .collect()
}

#[test]
fn euler_conserves_mass_momentum_energy_with_periodic_boundaries() {
    let config = EulerConfig::tiny().with_trajectories(1);
    let mut solver = config.initial_solver(0).unwrap();
    let before = solver.totals();
    solver.advance_to(0.2).unwrap();
    assert!(
        solver.steps() > 20,
        "shocks should need many steps, took {}",
        solver.steps()
    );
    let after = solver.totals();
    let scale = [before[0], before[0], before[0], before[3]];
    for k in 0..4 {
        let rel = (after[k] - before[k]).abs() / scale[k];
        assert!(
            rel < 1e-12,
            "conserved variable {k}: {} -> {} (rel {rel:e})",
            before[k],
            after[k]
        );
    }
    // The same through the f32 file: total mass and energy per frame, to ~1e-6.
    let file = config.simulate().unwrap();
    for name in ["density", "energy"] {
        let totals = field_totals(&file, name);
        for (s, t) in totals.iter().enumerate() {
            let rel = (t - totals[0]).abs() / totals[0];
            assert!(rel < 2e-6, "{name} total at step {s}: rel change {rel:e}");
        }
    }
    // ... while the state itself changes a lot.
    let rho = &file.fields[0].data;
    let n = file.frame_len();
    let last = (file.n_steps() - 1) * n;
    let change: f32 = (0..n).map(|k| (rho[last + k] - rho[k]).abs()).sum::<f32>() / n as f32;
    assert!(
        change > 0.05,
        "density barely changes: mean |Δρ| = {change}"
    );
}

/// L1 density error of Sod's shock tube at t = 0.2 on `nx` cells along x.
fn sod_error(nx: usize) -> f64 {
    let config = EulerConfig::default()
        .with_shape(nx, 4)
        .with_boundary(EulerBoundary::Open)
        .with_gamma(1.4);
    let mut solver = EulerSolver::new(&config).unwrap();
    for i in 0..nx {
        let s = if (i as f64 + 0.5) / (nx as f64) < 0.5 {
            SOD.0
        } else {
            SOD.1
        };
        for j in 0..4 {
            solver.set_primitive(i, j, s.rho, s.u, 0.0, s.p);
        }
    }
    solver.advance_to(0.2).unwrap();
    let rho = solver.interior(|c, _| c[0]);
    let mut err = 0.0;
    for i in 0..nx {
        let x = (i as f64 + 0.5) / nx as f64;
        let exact = riemann::sample(SOD.0, SOD.1, 1.4, (x - 0.5) / 0.2);
        for j in 0..4 {
            assert!(
                (rho[i * 4 + j] - rho[i * 4]).abs() < 1e-12,
                "Sod must stay 1D"
            );
        }
        err += (rho[i * 4] - exact.rho).abs() / nx as f64;
    }
    err
}

#[test]
fn euler_sod_shock_tube_converges_to_the_exact_riemann_solution() {
    let errors: Vec<f64> = [64, 128, 256].iter().map(|&n| sod_error(n)).collect();
    eprintln!("Sod L1 density errors at 64, 128, 256 cells: {errors:?}");
    // First order at discontinuities: the L1 error roughly halves per refinement.
    assert!(errors[0] < 0.02, "{errors:?}");
    for w in errors.windows(2) {
        assert!(
            w[1] < 0.75 * w[0],
            "L1 errors must fall with resolution: {errors:?}"
        );
    }
}

#[test]
fn euler_transposed_initial_state_gives_the_transposed_solution() {
    let config = EulerConfig::tiny()
        .with_shape(16, 16)
        .with_boundary(EulerBoundary::Open);
    let mut a = config.initial_solver(3).unwrap();
    let mut b = EulerSolver::new(&config).unwrap();
    let state = a.interior(|c, p| c[0] + 0.0 * p);
    let (mx, my) = (a.interior(|c, _| c[1]), a.interior(|c, _| c[2]));
    let p = a.interior(|_, p| p);
    for i in 0..16 {
        for j in 0..16 {
            let k = i * 16 + j;
            b.set_primitive(j, i, state[k], my[k] / state[k], mx[k] / state[k], p[k]);
        }
    }
    a.advance_to(0.1).unwrap();
    b.advance_to(0.1).unwrap();
    let (ra, rb) = (a.interior(|c, _| c[0]), b.interior(|c, _| c[0]));
    let (xa, yb) = (a.interior(|c, _| c[1]), b.interior(|c, _| c[2]));
    for i in 0..16 {
        for j in 0..16 {
            assert!((ra[i * 16 + j] - rb[j * 16 + i]).abs() < 1e-10);
            assert!((xa[i * 16 + j] - yb[j * 16 + i]).abs() < 1e-10);
        }
    }
}

#[test]
fn euler_open_boundaries_keep_a_uniform_flow_uniform() {
    let config = EulerConfig::tiny()
        .with_shape(16, 8)
        .with_boundary(EulerBoundary::Open);
    let mut solver = EulerSolver::new(&config).unwrap();
    for i in 0..16 {
        for j in 0..8 {
            solver.set_primitive(i, j, 0.7, 0.4, -0.3, 1.3);
        }
    }
    solver.advance_to(0.3).unwrap();
    for rho in solver.interior(|c, _| c[0]) {
        assert!((rho - 0.7).abs() < 1e-12);
    }
}

#[test]
fn euler_simulate_is_deterministic_for_a_seed() {
    let config = EulerConfig::tiny().with_shape(16, 16).with_steps(3);
    let a = config.simulate().unwrap();
    let b = config.simulate().unwrap();
    assert_eq!(a, b);
    let c = config.clone().with_seed(1).simulate().unwrap();
    assert_ne!(a.fields[0].data, c.fields[0].data);
    assert_eq!(
        a.channel_names(),
        ["density", "energy", "pressure", "momentum_x", "momentum_y"]
    );
    assert_eq!(a.parameters, vec![("gamma".to_string(), 1.4)]);
}

// ---------------------------------------------------------------- shear_flow

use phystok::sim::{RAYLEIGH_CRITICAL_FREE_SLIP, RayleighBenardConfig, ShearFlowConfig};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex64;

/// Spectral `∂f/∂x` (`along_x`) or `∂f/∂y` of a periodic `n × n` field on the unit square.
fn spectral_derivative(f: &[f64], n: usize, along_x: bool) -> Vec<f64> {
    let mut planner = FftPlanner::<f64>::new();
    let (fwd, inv) = (planner.plan_fft_forward(n), planner.plan_fft_inverse(n));
    let mut data: Vec<Complex64> = f.iter().map(|&v| Complex64::new(v, 0.0)).collect();
    // Transform along the chosen axis only: rows are contiguous (y), columns strided (x).
    let mut line = vec![Complex64::new(0.0, 0.0); n];
    for l in 0..n {
        let at = |m: usize| if along_x { m * n + l } else { l * n + m };
        for m in 0..n {
            line[m] = data[at(m)];
        }
        fwd.process(&mut line);
        for (m, c) in line.iter_mut().enumerate() {
            let mode = if m < n / 2 {
                m as f64
            } else if m == n / 2 {
                0.0
            } else {
                m as f64 - n as f64
            };
            let k = 2.0 * std::f64::consts::PI * mode;
            *c = Complex64::new(-k * c.im, k * c.re) / n as f64;
        }
        inv.process(&mut line);
        for m in 0..n {
            data[at(m)] = line[m];
        }
    }
    data.iter().map(|c| c.re).collect()
}

/// Components `c` of a vector field's frame `(traj, step)`.
fn vector_frame(file: &WellFile, name: &str, traj: usize, step: usize, c: usize) -> Vec<f64> {
    let f = file
        .fields
        .iter()
        .find(|f| f.name == name)
        .expect("field present");
    let n = file.frame_len();
    let start = (traj * file.n_steps() + step) * n * 2;
    f.data[start..start + 2 * n]
        .iter()
        .skip(c)
        .step_by(2)
        .map(|&v| v as f64)
        .collect()
}

#[test]
fn shear_flow_velocity_is_divergence_free_and_kelvin_helmholtz_grows() {
    let file = ShearFlowConfig::tiny()
        .with_trajectories(1)
        .simulate()
        .unwrap();
    assert_eq!(
        file.channel_names(),
        ["tracer", "pressure", "velocity_x", "velocity_y"]
    );
    let n = 32;
    for step in [0, 13, 26] {
        let (u, v) = (
            vector_frame(&file, "velocity", 0, step, 0),
            vector_frame(&file, "velocity", 0, step, 1),
        );
        let (ux, vy) = (
            spectral_derivative(&u, n, true),
            spectral_derivative(&v, n, false),
        );
        let (uy, _) = (spectral_derivative(&u, n, false), ());
        let div = ux
            .iter()
            .zip(&vy)
            .map(|(a, b)| (a + b).abs())
            .fold(0.0, f64::max);
        let shear = uy.iter().map(|a| a.abs()).fold(0.0, f64::max);
        // Round-off of f32 storage relative to the velocity gradients.
        assert!(
            div < 1e-5 * shear,
            "step {step}: max |div u| = {div:e}, max |du/dy| = {shear}"
        );
    }
    // The seeded cross-stream velocity grows by the Kelvin–Helmholtz instability.
    let vmax = |s| {
        vector_frame(&file, "velocity", 0, s, 1)
            .iter()
            .map(|v| v.abs())
            .fold(0.0, f64::max)
    };
    assert!(
        vmax(13) > 4.0 * vmax(0),
        "v grows: {} -> {}",
        vmax(0),
        vmax(13)
    );
}

#[test]
fn shear_flow_is_deterministic_and_seed_dependent() {
    let config = ShearFlowConfig::tiny().with_resolution(16).with_steps(3);
    let a = config.simulate().unwrap();
    assert_eq!(a, config.simulate().unwrap());
    assert_ne!(
        a.fields[2].data,
        config.clone().with_seed(9).simulate().unwrap().fields[2].data
    );
    assert_eq!(
        a.parameters,
        vec![("Reynolds".to_string(), 1e3), ("Schmidt".to_string(), 1.0)]
    );
}

// ---------------------------------------------------------------- rayleigh_benard

/// Kinetic-energy growth rate between t = 20 and t = 40 of a tiny perturbation in a box of
/// period 2√2 (whose first mode k = π/√2 is Rayleigh's critical wavenumber).
fn rb_growth_rate(rayleigh: f64, prandtl: f64) -> f64 {
    let file = RayleighBenardConfig::tiny()
        .with_shape(16, 8)
        .with_length_x(2.0 * 2f64.sqrt())
        .with_trajectories(1)
        .with_steps(21)
        .with_output_interval(2.0)
        .with_perturbation(1e-4)
        .with_rayleigh(rayleigh)
        .with_prandtl(prandtl)
        .simulate()
        .unwrap();
    let ke = |s| {
        let (u, v) = (
            vector_frame(&file, "velocity", 0, s, 0),
            vector_frame(&file, "velocity", 0, s, 1),
        );
        u.iter().zip(&v).map(|(a, b)| a * a + b * b).sum::<f64>()
    };
    (ke(20) / ke(10)).ln() / (2.0 * 20.0)
}

/// Linear growth rate of the free-slip mode (k, π): the larger root of
/// `(σ + νq²)(σ + κq²) = k²/q²`, `q² = k² + π²`.
fn rb_linear_rate(rayleigh: f64, prandtl: f64) -> f64 {
    let (nu, kappa) = (
        (prandtl / rayleigh).sqrt(),
        1.0 / (rayleigh * prandtl).sqrt(),
    );
    let k2 = std::f64::consts::PI.powi(2) / 2.0;
    let q2 = k2 + std::f64::consts::PI.powi(2);
    let b = (nu + kappa) * q2;
    (-b + ((nu - kappa).powi(2) * q2 * q2 + 4.0 * k2 / q2).sqrt()) / 2.0
}

#[test]
fn rayleigh_benard_perturbations_decay_below_and_grow_above_the_critical_rayleigh_number() {
    assert!((RAYLEIGH_CRITICAL_FREE_SLIP - 657.511).abs() < 1e-3);
    for (ra, pr) in [(600.0, 1.0), (720.0, 1.0), (800.0, 3.0)] {
        let (got, want) = (rb_growth_rate(ra, pr), rb_linear_rate(ra, pr));
        eprintln!("Ra {ra} Pr {pr}: growth rate {got:.5} (linear theory {want:.5})");
        assert_eq!(
            got > 0.0,
            ra > RAYLEIGH_CRITICAL_FREE_SLIP,
            "Ra {ra}: rate {got}"
        );
        assert!(
            (got - want).abs() < 1e-3 * want.abs(),
            "Ra {ra} Pr {pr}: {got} vs {want}"
        );
    }
}

#[test]
fn rayleigh_benard_convects_and_keeps_the_wall_values() {
    let file = RayleighBenardConfig::tiny()
        .with_trajectories(1)
        .simulate()
        .unwrap();
    assert_eq!(
        file.channel_names(),
        ["buoyancy", "pressure", "velocity_x", "velocity_y"]
    );
    assert_eq!(file.spatial_shape, [64, 16]);
    let b = &file.fields[0].data;
    let n = file.frame_len();
    let last = (file.n_steps() - 1) * n;
    // y = 0 (the bottom wall, j = 0) stays at b = 1 and no flow crosses it.
    for i in 0..64 {
        assert!((b[last + i * 16] - 1.0).abs() < 1e-5);
        assert!(vector_frame(&file, "velocity", 0, file.n_steps() - 1, 1)[i * 16].abs() < 1e-5);
    }
    // Ra = 1e5 ≫ Ra_c: convection carries heat, the flow is O(0.1) or more by the end.
    let vmax = vector_frame(&file, "velocity", 0, file.n_steps() - 1, 1)
        .iter()
        .map(|v| v.abs())
        .fold(0.0, f64::max);
    assert!(vmax > 0.1, "{vmax}");
}
