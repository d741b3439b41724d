//! Bad input to the data layer: every case a typed error naming what is wrong, no panic, no hang.

mod common;

use common::formula_file;
use phystok::Error;
use phystok::data::{Split, WellDataset, WellFile, WellReader, WindowSpec};

fn written(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("f.hdf5");
    formula_file(2, 6, 4, 4).write(&path).unwrap();
    path
}

#[test]
fn missing_file_and_empty_split() {
    let dir = tempfile::tempdir().unwrap();
    let err = WellReader::open(dir.path().join("nope.hdf5")).unwrap_err();
    assert!(
        matches!(err, Error::Io { .. }) && err.to_string().contains("nope.hdf5"),
        "{err}"
    );
    std::fs::create_dir_all(dir.path().join("data/train")).unwrap();
    let err = WellDataset::open(dir.path(), Split::Train, WindowSpec::default()).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    let err = WellDataset::open(dir.path(), Split::Valid, WindowSpec::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
}

#[test]
fn truncated_and_corrupted_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 8, 100, 1000, bytes.len() / 2, bytes.len() - 100] {
        let p = dir.path().join(format!("cut{cut}.hdf5"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        // opening or reading must fail with an error, never panic
        let res = WellReader::open(&p).and_then(|r| r.read_all());
        assert!(res.is_err(), "truncated at {cut} read fine");
    }
    // flip bytes all over the file: errors or (if only padding was hit) a clean read
    for seed in 0..20u64 {
        let mut b = bytes.clone();
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        for _ in 0..16 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % b.len();
            b[i] ^= 0xff;
        }
        let p = dir.path().join(format!("bad{seed}.hdf5"));
        std::fs::write(&p, &b).unwrap();
        let _ = WellReader::open(&p).and_then(|r| r.read_all());
    }
}

#[test]
fn structural_problems_name_the_file_and_the_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = written(dir.path());
    let edit = |f: &dyn Fn(&hdf5::File)| {
        let p = dir.path().join("edit.hdf5");
        std::fs::copy(&path, &p).unwrap();
        let file = hdf5::File::open_rw(&p).unwrap();
        f(&file);
        drop(file);
        p
    };
    // a missing group
    let p = edit(&|f| f.unlink("t1_fields").unwrap());
    let err = WellReader::open(&p).unwrap_err();
    assert!(
        matches!(err, Error::Format { .. }) && err.to_string().contains("t1_fields"),
        "{err}"
    );
    // an attribute of the wrong type
    let p = edit(&|f| {
        f.delete_attr("n_trajectories").unwrap();
        f.new_attr::<f64>()
            .create("n_trajectories")
            .unwrap()
            .write_scalar(&2.5)
            .unwrap();
    });
    let err = WellReader::open(&p).unwrap_err();
    assert!(err.to_string().contains("n_trajectories"), "{err}");
    // a field of the wrong shape
    let p = edit(&|f| {
        let g = f.group("t0_fields").unwrap();
        g.unlink("density").unwrap();
        let ds = g
            .new_dataset::<f32>()
            .shape((2, 6, 4, 3))
            .create("density")
            .unwrap();
        ds.new_attr::<bool>()
            .shape(2)
            .create("dim_varying")
            .unwrap()
            .write_raw(&[true, true])
            .unwrap();
        ds.new_attr::<bool>()
            .create("sample_varying")
            .unwrap()
            .write_scalar(&true)
            .unwrap();
        ds.new_attr::<bool>()
            .create("time_varying")
            .unwrap()
            .write_scalar(&true)
            .unwrap();
    });
    let r = WellReader::open(&p).unwrap();
    let err = r
        .read_window_into(0, 0, 2, 1, &mut vec![0.0; 7 * 2 * 16])
        .unwrap_err();
    assert!(
        err.to_string().contains("density") && err.to_string().contains("[2, 6, 4, 3]"),
        "{err}"
    );
}

#[test]
fn nan_in_a_window_names_channel_and_step() {
    let dir = tempfile::tempdir().unwrap();
    let mut f: WellFile = formula_file(1, 6, 4, 4);
    // velocity_y at t = 3
    let v = f.fields.iter_mut().find(|x| x.name == "velocity").unwrap();
    v.data[(3 * 16 + 5) * 2 + 1] = f32::NAN;
    let path = dir.path().join("nan.hdf5");
    f.write(&path).unwrap();
    let r = WellReader::open(&path).unwrap();
    let mut out = vec![0.0; 7 * 2 * 16];
    r.read_window_into(0, 0, 2, 1, &mut out).unwrap();
    let err = r.read_window_into(0, 2, 2, 1, &mut out).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NonFinite { .. }), "{msg}");
    assert!(
        msg.contains("velocity_y") && msg.contains("time step 3"),
        "{msg}"
    );
    assert!(WellFile::read(&path).is_err());
}
