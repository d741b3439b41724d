//! The Well data layer: file round trips, windows, datasets, loader, bad input.

mod common;

use std::path::Path;

use common::{formula, formula_file};
use phystok::Error;
use phystok::data::{
    Loader, LoaderConfig, ScalarData, Split, TensorOrder, WellDataset, WellFile, WellReader,
    WindowSpec, write_dataset,
};

#[test]
fn file_round_trip_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = formula_file(2, 5, 4, 8);
    // a constant field and a time-varying scalar, stored with their axes omitted
    let mut constant = f.fields[0].clone();
    constant.name = "mask".into();
    constant.time_varying = false;
    constant.sample_varying = false;
    let frame: Vec<f32> = (0..32).map(|i| i as f32).collect();
    constant.data = frame.iter().copied().cycle().take(2 * 5 * 32).collect();
    f.fields.push(constant);
    f.scalars.push(ScalarData {
        name: "dt".into(),
        time_varying: true,
        sample_varying: false,
        data: (0..10).map(|i| (i % 5) as f32).collect(),
    });
    let path = dir.path().join("f.hdf5");
    f.write(&path).unwrap();
    let back = WellFile::read(&path).unwrap();
    // the file lists fields by tensor order; compare in channel order
    assert_eq!(back.channel_names(), f.channel_names());
    let by_name = |w: &WellFile, n: &str| w.fields.iter().find(|x| x.name == n).unwrap().clone();
    for name in ["density", "velocity", "D", "mask"] {
        assert_eq!(by_name(&back, name), by_name(&f, name), "{name}");
    }
    assert_eq!(back.scalars, f.scalars);
    assert_eq!(back.boundary_conditions, f.boundary_conditions);
    assert_eq!(back.parameters, f.parameters);
    assert_eq!(
        (back.time.clone(), back.coords.clone()),
        (f.time.clone(), f.coords.clone())
    );
    assert_eq!(
        back.channel_names(),
        [
            "density",
            "mask",
            "velocity_x",
            "velocity_y",
            "D_xx",
            "D_xy",
            "D_yx",
            "D_yy"
        ]
    );
}

#[test]
fn window_holds_the_right_frames_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let f = formula_file(3, 12, 4, 8);
    let path = dir.path().join("f.hdf5");
    f.write(&path).unwrap();
    let r = WellReader::open(&path).unwrap();
    let (n, dt, t0, traj) = (3, 2, 4, 2);
    let mut out = vec![0.0; 7 * n * 32];
    r.read_window_into(traj, t0, n, dt, &mut out).unwrap();
    // channel -> (field, component)
    let chans = [(0, 0), (1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (2, 3)];
    for (ch, &(fi, c)) in chans.iter().enumerate() {
        for k in 0..n {
            for x in 0..4 {
                for y in 0..8 {
                    let got = out[((ch * n + k) * 4 + x) * 8 + y];
                    assert_eq!(got, formula(fi, traj, t0 + k * dt, x, y, c));
                }
            }
        }
    }
    // the window past the end is a typed error naming the step
    let err = r.read_window_into(traj, 10, n, dt, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                index: 14,
                len: 12,
                ..
            }
        ),
        "{err}"
    );
    let err = r.read_window_into(3, 0, n, dt, &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                index: 3,
                len: 3,
                ..
            }
        ),
        "{err}"
    );
}

fn make_dataset(root: &Path) -> std::path::PathBuf {
    let a = formula_file(2, 10, 4, 4);
    let b = formula_file(1, 10, 4, 4);
    let c = formula_file(1, 12, 4, 4);
    write_dataset(
        root,
        "formula",
        &[(Split::Train, &a), (Split::Train, &b), (Split::Valid, &c)],
    )
    .unwrap()
}

#[test]
fn dataset_indexes_windows_with_the_well_formula() {
    let root = tempfile::tempdir().unwrap();
    let dir = make_dataset(root.path());
    assert!(dir.join("stats.yaml").is_file());
    assert!(dir.join("data/train/formula_00.hdf5").is_file());
    let spec = WindowSpec::new(3, 1).with_dt(2);
    // windows per trajectory = T - (1 + dt (n_in + n_out - 1)) + 1 = 10 - 7 + 1 = 4
    assert_eq!(spec.windows_per_trajectory(10), 4);
    assert_eq!(spec.windows_per_trajectory(6), 0);
    let ds = WellDataset::open(&dir, Split::Train, spec).unwrap();
    assert_eq!(ds.len(), 3 * 4);
    assert_eq!(ds.n_trajectories(), 3);
    assert_eq!(ds.window_shape(), [7, 4, 4, 4]);
    // window 9: file 1 (offset 8), trajectory 0, t0 = 1
    assert_eq!(ds.locate(9).unwrap(), (1, 0, 1));
    let w = ds.window(9).unwrap();
    assert_eq!(w.data[0], formula(0, 0, 1, 0, 0, 0));
    assert_eq!(w.data[16], formula(0, 0, 3, 0, 0, 0)); // next frame is dt = 2 later
    assert!(matches!(
        ds.window(12),
        Err(Error::OutOfRange {
            index: 12,
            len: 12,
            ..
        })
    ));
    let t = w.to_tensor(&candle_core::Device::Cpu).unwrap();
    assert_eq!(t.dims(), [7, 4, 4, 4]);
    // the summary table: one property per row, counts as the dataset holds them
    let table = ds.to_table();
    let value = |k: &str| {
        let row = table.rows().iter().find(|r| r[0] == k);
        row.unwrap_or_else(|| panic!("no row {k}"))[1].clone()
    };
    assert_eq!(value("files"), "2");
    assert_eq!(value("trajectories"), "3");
    assert_eq!(value("windows"), "12");
    assert!(
        table
            .to_html()
            .contains("<th style=\"text-align:left\">windows</th>")
    );
}

#[test]
fn stats_yaml_matches_the_data() {
    let root = tempfile::tempdir().unwrap();
    let f = formula_file(1, 3, 2, 2);
    let dir = write_dataset(root.path(), "s", &[(Split::Train, &f)]).unwrap();
    let yaml = std::fs::read_to_string(dir.join("stats.yaml")).unwrap();
    // density mean: 100 + mean(t) + mean(x)*0.01 + mean(y)*1e-4 = 100 + 1 + 0.005 + 0.00005
    let line = yaml.lines().skip_while(|l| *l != "mean:").nth(1).unwrap();
    let v: f64 = line
        .trim()
        .strip_prefix("density: ")
        .unwrap()
        .parse()
        .unwrap();
    assert!((v - 101.00505).abs() < 1e-4, "{line}");
    // mean_delta of density is exactly 1 per step
    let line = yaml
        .lines()
        .skip_while(|l| *l != "mean_delta:")
        .nth(1)
        .unwrap();
    assert_eq!(line.trim(), "density: 1.0");
    assert!(yaml.contains("  velocity: ["));
    assert!(yaml.contains("  D: [["));
}

#[test]
fn loader_batches_are_deterministic_and_match_windows() {
    let root = tempfile::tempdir().unwrap();
    let dir = make_dataset(root.path());
    let spec = WindowSpec::new(2, 1);
    let open = || WellDataset::open(&dir, Split::Train, spec).unwrap();
    let cfg = LoaderConfig::new(3).with_seed(11).with_prefetch(2);
    let mut a = Loader::new(vec![open()], cfg.clone()).unwrap();
    let mut b = Loader::new(vec![open()], cfg.with_prefetch(0)).unwrap();
    let reference = open();
    for _ in 0..5 {
        let (x, y) = (a.next().unwrap(), b.next().unwrap());
        assert_eq!(x, y, "prefetching changes nothing");
        assert_eq!(x.shape, [3, 7, 3, 4, 4]);
        let w = reference.window(x.windows[1]).unwrap();
        assert_eq!(&x.data[w.data.len()..2 * w.data.len()], w.data.as_slice());
    }
}

#[test]
fn mixture_has_the_union_of_channels() {
    let root = tempfile::tempdir().unwrap();
    let dir = make_dataset(root.path());
    let mut other = WellFile::new(
        "other",
        &["x", "y"],
        &[4, 4],
        2,
        (0..6).map(|t| t as f32).collect(),
    )
    .unwrap();
    other
        .push_field("density", TensorOrder::Scalar, vec![1.0; 2 * 6 * 16])
        .unwrap();
    other
        .push_field("tracer", TensorOrder::Scalar, vec![2.0; 2 * 6 * 16])
        .unwrap();
    let odir = write_dataset(root.path(), "other", &[(Split::Train, &other)]).unwrap();
    let spec = WindowSpec::new(2, 1);
    let sets = vec![
        WellDataset::open(&dir, Split::Train, spec).unwrap(),
        WellDataset::open(&odir, Split::Train, spec).unwrap(),
    ];
    let mut l = Loader::new(sets, LoaderConfig::new(2).with_seed(0)).unwrap();
    assert_eq!(l.channel_names().len(), 8);
    assert_eq!(l.channel_names()[7], "tracer");
    let mut seen = [false; 2];
    for _ in 0..20 {
        let b = l.next().unwrap();
        seen[b.dataset] = true;
        let want: Vec<usize> = if b.dataset == 0 {
            (0..7).collect()
        } else {
            vec![0, 7]
        };
        assert_eq!(b.active_channels, want);
        assert_eq!(b.shape[1], want.len());
    }
    assert_eq!(seen, [true, true]);
}
