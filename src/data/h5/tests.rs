use super::WellReader;
use super::shape::first_non_finite;
use crate::data::{TensorOrder, WellFile};
use crate::{Error, Result};

/// Direct positioned reads and reads through HDF5 give the same windows.
#[test]
fn first_non_finite_finds_the_first_nan_or_infinity() {
    let mut xs = vec![1.0f32; 5000];
    xs[4999] = -0.0;
    assert_eq!(first_non_finite(&xs), None);
    for (at, bad) in [
        (0, f32::NAN),
        (1023, f32::INFINITY),
        (1024, f32::NEG_INFINITY),
        (4999, -f32::NAN),
    ] {
        let mut ys = xs.clone();
        ys[at] = bad;
        ys[4000] = f32::NAN;
        assert_eq!(first_non_finite(&ys), Some(at.min(4000)), "{bad} at {at}");
    }
    assert_eq!(
        first_non_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE]),
        None
    );
}

#[test]
fn raw_reads_equal_hdf5_reads() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    // frames of 9000 points: components are split across several read chunks
    let (n_traj, n_t, nx, ny) = (2, 7, 100, 90);
    let time = (0..n_t).map(|t| t as f32).collect();
    let mut f = WellFile::new("raw", &["x", "y"], &[nx, ny], n_traj, time)?;
    let values = |k: usize, n: usize| {
        (0..n)
            .map(|i| ((i * 7 + k * 13) % 31) as f32 - 15.0)
            .collect()
    };
    let n = n_traj * n_t * nx * ny;
    f.push_field("density", TensorOrder::Scalar, values(0, n))?
        .push_field("velocity", TensorOrder::Vector, values(1, 2 * n))?
        .push_field("stress", TensorOrder::Tensor, values(2, 4 * n))?;
    let path = dir.path().join("raw.hdf5");
    f.write(&path)?;
    let raw = WellReader::open(&path)?;
    assert!(raw.raw.iter().all(Option::is_some), "fast path not taken");
    let mut slow = WellReader::open(&path)?;
    slow.raw = vec![None; slow.raw.len()];
    for (traj, t0, steps, dt) in [(0, 0, 7, 1), (1, 2, 3, 2), (1, 6, 1, 1), (0, 1, 2, 5)] {
        let len = 7 * steps * nx * ny;
        let (mut a, mut b) = (vec![0.0; len], vec![1.0; len]);
        raw.read_window_into(traj, t0, steps, dt, &mut a)?;
        slow.read_window_into(traj, t0, steps, dt, &mut b)?;
        assert_eq!(a, b, "traj {traj} t0 {t0} steps {steps} dt {dt}");
        // and both equal the values written, channel by channel
        let frame = nx * ny;
        let mut channel = 0;
        for field in &f.fields {
            let comps = field.order.n_components(2);
            for c in 0..comps {
                for i in 0..steps {
                    for p in 0..frame {
                        let src = (((traj * n_t) + t0 + i * dt) * frame + p) * comps + c;
                        let dst = ((channel + c) * steps + i) * frame + p;
                        assert_eq!(a[dst], field.data[src], "{} component {c}", field.name);
                    }
                }
            }
            channel += comps;
        }
    }
    Ok(())
}
