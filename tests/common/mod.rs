//! Helpers shared by the integration tests.
#![allow(dead_code)]

use phystok::data::{BoundaryType, TensorOrder, WellFile};

/// The value the formula file holds at (trajectory, time, x, y, component) of field `f`.
pub fn formula(f: usize, traj: usize, t: usize, x: usize, y: usize, c: usize) -> f32 {
    (f as f32 + 1.0) * 100.0
        + traj as f32 * 10.0
        + t as f32
        + x as f32 * 0.01
        + y as f32 * 0.0001
        + c as f32 * 0.1
}

/// A file whose every value is [`formula`]: fields `density` (t0), `velocity` (t1), `D` (t2).
pub fn formula_file(n_traj: usize, n_t: usize, nx: usize, ny: usize) -> WellFile {
    let mut f = WellFile::new(
        "formula",
        &["x", "y"],
        &[nx, ny],
        n_traj,
        (0..n_t).map(|t| t as f32 * 0.5).collect(),
    )
    .unwrap();
    for (fi, (name, order)) in [
        ("density", TensorOrder::Scalar),
        ("velocity", TensorOrder::Vector),
        ("D", TensorOrder::Tensor),
    ]
    .into_iter()
    .enumerate()
    {
        let comps = order.n_components(2);
        let mut data = Vec::new();
        for b in 0..n_traj {
            for t in 0..n_t {
                for x in 0..nx {
                    for y in 0..ny {
                        for c in 0..comps {
                            data.push(formula(fi, b, t, x, y, c));
                        }
                    }
                }
            }
        }
        f.push_field(name, order, data).unwrap();
    }
    f.push_parameter("gamma", 1.4);
    f.push_boundary(0, BoundaryType::Periodic).unwrap();
    f.push_boundary(1, BoundaryType::Wall).unwrap();
    f
}
