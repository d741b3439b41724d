//! Verification of the embedded simulators (`phystok::sim`): conservation, exact and
//! analytic solutions, stability thresholds, determinism and the Well format.

use phystok::data::{TensorOrder, WellFile};
use phystok::sim::riemann::{self, SOD};
use phystok::sim::{EulerBoundary, EulerConfig, EulerSolver};

/// Sums of a scalar field over space, per (trajectory, step).
fn field_totals(file: &WellFile, name: &str) -> Vec<f64> {
    let f = file.fields.iter().find(|f| f.name == name).expect("field present");
    assert_eq!(f.order, TensorOrder::Scalar);
    f.data.chunks(file.frame_len()).map(|c| c.iter().map(|&v| v as f64).sum()).collect()
}

#[test]
fn euler_conserves_mass_momentum_energy_with_periodic_boundaries() {
    let config = EulerConfig::tiny().with_trajectories(1);
    let mut solver = config.initial_solver(0).unwrap();
    let before = solver.totals();
    solver.advance_to(0.2).unwrap();
    assert!(solver.steps() > 20, "shocks should need many steps, took {}", solver.steps());
    let after = solver.totals();
    let scale = [before[0], before[0], before[0], before[3]];
    for k in 0..4 {
        let rel = (after[k] - before[k]).abs() / scale[k];
        assert!(rel < 1e-12, "conserved variable {k}: {} -> {} (rel {rel:e})", before[k], after[k]);
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
    assert!(change > 0.05, "density barely changes: mean |Δρ| = {change}");
}

/// L1 density error of Sod's shock tube at t = 0.2 on `nx` cells along x.
fn sod_error(nx: usize) -> f64 {
    let config = EulerConfig::default()
        .with_shape(nx, 4)
        .with_boundary(EulerBoundary::Open)
        .with_gamma(1.4);
    let mut solver = EulerSolver::new(&config).unwrap();
    for i in 0..nx {
        let s = if (i as f64 + 0.5) / (nx as f64) < 0.5 { SOD.0 } else { SOD.1 };
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
            assert!((rho[i * 4 + j] - rho[i * 4]).abs() < 1e-12, "Sod must stay 1D");
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
        assert!(w[1] < 0.75 * w[0], "L1 errors must fall with resolution: {errors:?}");
    }
}

#[test]
fn euler_transposed_initial_state_gives_the_transposed_solution() {
    let config = EulerConfig::tiny().with_shape(16, 16).with_boundary(EulerBoundary::Open);
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
    let config = EulerConfig::tiny().with_shape(16, 8).with_boundary(EulerBoundary::Open);
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
    assert_eq!(a.channel_names(), ["density", "energy", "pressure", "momentum_x", "momentum_y"]);
    assert_eq!(a.parameters, vec![("gamma".to_string(), 1.4)]);
}
