//! The simulators as one family (`phystok::sim`): the shared [`Sampling`] with its setters
//! and checks, through the [`Simulator`] trait, for every system; [`SimConfig`]'s dispatch;
//! dataset generation as a method; collections made only where missing, and an incomplete
//! dataset reported. (The physics of each simulator: `tests/sim.rs`.)

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use phystok::data::{Split, WellDataset, WellFile, WindowSpec};
use phystok::sim::{
    Collection, EulerConfig, GenerateConfig, GrayScottConfig, RayleighBenardConfig, Sampling,
    ShearFlowConfig, SimConfig, Simulator, System, select_trajectories, split_ranges,
};
use phystok::{ConfigError, Error};

// ---------------------------------------------------------------- the shared sampling

/// The grid each system documents for resolution 16.
fn grid_16(system: System) -> (usize, usize) {
    match system {
        System::RayleighBenard => (32, 8), // 2n × n/2 on the 4 × 1 box
        _ => (16, 16),
    }
}

/// Every sampling setter of `config` lands in its sampling, and nothing else moves.
fn assert_setters<S: Simulator + Clone + PartialEq + std::fmt::Debug>(config: S) {
    let system = config.system();
    let set = config
        .clone()
        .with_resolution(16)
        .with_trajectories(3)
        .with_steps(5)
        .with_output_interval(0.125)
        .with_seed(42);
    let (nx, ny) = grid_16(system);
    let want = Sampling {
        nx,
        ny,
        trajectories: 3,
        n_steps: 5,
        output_interval: 0.125,
        seed: 42,
    };
    assert_eq!(*set.sampling(), want, "{system}");
    assert_eq!(set.system(), system);
    // Setting the sampling back gives the original config: the setters touched nothing else.
    assert_eq!(
        set.clone().with_sampling(config.sampling().clone()),
        config,
        "{system}"
    );
    let shaped = set.with_shape(8, 32);
    assert_eq!((shaped.sampling().nx, shaped.sampling().ny), (8, 32));
}

#[test]
fn the_shared_setters_set_the_sampling_of_every_system() {
    assert_setters(EulerConfig::default());
    assert_setters(EulerConfig::default().with_boundary(phystok::sim::EulerBoundary::Open));
    assert_setters(ShearFlowConfig::default());
    assert_setters(RayleighBenardConfig::default());
    assert_setters(GrayScottConfig::default());
    for system in System::ALL {
        assert_setters(system.configuration(0));
    }
}

/// `config` with one sampling setting changed by `f`, checked.
fn broken<S: Simulator + Clone>(config: &S, f: impl Fn(S) -> S) -> ConfigError {
    f(config.clone())
        .check()
        .expect_err("the broken setting must be caught")
}

fn assert_sampling_rules<S: Simulator + Clone>(config: S) {
    let system = config.system();
    assert_eq!(config.check(), Ok(()), "{system}: the default passes");
    let cases: [(&str, ConfigError); 9] = [
        ("48 × 16", broken(&config, |c| c.with_shape(48, 16))),
        ("16 × 0", broken(&config, |c| c.with_shape(16, 0))),
        ("4 × 2", broken(&config, |c| c.with_shape(4, 2))),
        ("resolution 48", broken(&config, |c| c.with_resolution(48))),
        (
            "0 trajectories",
            broken(&config, |c| c.with_trajectories(0)),
        ),
        ("0 steps", broken(&config, |c| c.with_steps(0))),
        ("1 step", broken(&config, |c| c.with_steps(1))),
        (
            "interval 0",
            broken(&config, |c| c.with_output_interval(0.0)),
        ),
        (
            "interval NaN",
            broken(&config, |c| c.with_output_interval(f64::NAN)),
        ),
    ];
    let ok = |i: usize, e: &ConfigError| match i {
        0 => matches!(e, ConfigError::NotPowerOfTwo { name: "nx", .. }),
        1 => matches!(e, ConfigError::NotPowerOfTwo { name: "ny", .. }),
        2 => matches!(e, ConfigError::OutOfRange { name: "ny", .. }),
        3 => matches!(e, ConfigError::NotPowerOfTwo { name: "nx", .. }),
        4 => matches!(
            e,
            ConfigError::NotPositive {
                name: "trajectories",
                ..
            }
        ),
        5 | 6 => matches!(
            e,
            ConfigError::OutOfRange {
                name: "n_steps",
                ..
            }
        ),
        _ => matches!(
            e,
            ConfigError::NotPositive {
                name: "output_interval",
                ..
            }
        ),
    };
    for (i, (what, e)) in cases.iter().enumerate() {
        assert!(ok(i, e), "{system}, {what}: {e:?}");
    }
    // A terminal method checks before it runs.
    let bad = config.with_output_interval(-1.0);
    assert!(matches!(
        bad.simulate(),
        Err(Error::Config(ConfigError::NotPositive {
            name: "output_interval",
            ..
        }))
    ));
}

#[test]
fn each_sampling_rule_is_its_config_error_for_every_system() {
    assert_sampling_rules(EulerConfig::tiny());
    assert_sampling_rules(ShearFlowConfig::tiny());
    assert_sampling_rules(RayleighBenardConfig::tiny());
    assert_sampling_rules(GrayScottConfig::tiny());
    for system in System::ALL {
        assert_sampling_rules(system.configuration(0));
    }
}

#[test]
fn every_system_writes_the_grid_and_frames_it_is_given() {
    for system in System::ALL {
        // Rectangular, both ways round, so that no system mixes up nx and ny.
        for (nx, ny) in [(32, 16), (16, 32)] {
            let config = system
                .configuration(0)
                .with_shape(nx, ny)
                .with_trajectories(2)
                .with_steps(3)
                .with_seed(5);
            let dt = config.sampling().output_interval;
            let file = config.simulate().unwrap();
            assert_eq!(file.dataset_name, system.name());
            assert_eq!(file.spatial_shape, [nx, ny], "{system}");
            assert_eq!(file.n_trajectories, 2);
            assert_eq!(file.time, [0.0, dt as f32, (2.0 * dt) as f32], "{system}");
            assert_eq!(
                [file.coords[0].len(), file.coords[1].len()],
                [nx, ny],
                "{system}"
            );
            for field in &file.fields {
                assert!(field.data.iter().all(|v| v.is_finite()), "{system}");
            }
        }
    }
}

#[test]
fn gray_scott_keeps_its_spacing_on_a_rectangular_grid() {
    // Spacing 1/64 on both axes: a 32 × 16 grid spans 1/2 × 1/4.
    let file = GrayScottConfig::tiny()
        .with_shape(32, 16)
        .with_trajectories(1)
        .with_steps(2)
        .simulate()
        .unwrap();
    for axis in &file.coords {
        assert!((axis[1] - axis[0] - 1.0 / 64.0).abs() < 1e-7, "{axis:?}");
        // centred on the origin, as The Well's [−1, 1]²
        assert!(
            (axis[0] + axis.len() as f32 / 128.0).abs() < 1e-7,
            "{axis:?}"
        );
    }
}

// ---------------------------------------------------------------- SimConfig

#[test]
fn sim_config_dispatches_to_the_config_inside() {
    let small = |c: SimConfig| c.with_resolution(16).with_trajectories(2).with_steps(3);
    let inner: [SimConfig; 4] = [
        EulerConfig::default().into(),
        ShearFlowConfig::default().into(),
        RayleighBenardConfig::default().into(),
        GrayScottConfig::default().into(),
    ];
    for config in inner.map(small) {
        let direct = config.as_simulator();
        assert_eq!(config.system(), direct.system());
        assert_eq!(config.sampling(), direct.sampling());
        assert_eq!(config.check(), direct.check());
        assert_eq!(config.simulate().unwrap(), direct.simulate().unwrap());
    }
    // The setters reach the inner config, with its meaning of a resolution.
    let rb = SimConfig::from(RayleighBenardConfig::default()).with_resolution(16);
    let SimConfig::RayleighBenard(inner) = &rb else {
        panic!("still Rayleigh–Bénard: {rb:?}")
    };
    assert_eq!((inner.sampling.nx, inner.sampling.ny), (32, 8));
    // Euler's two datasets by boundary.
    let open =
        SimConfig::from(EulerConfig::default().with_boundary(phystok::sim::EulerBoundary::Open));
    assert_eq!(open.system(), System::EulerOpen);
}

#[test]
fn sim_config_keeps_its_serde_enum_shape() {
    let config = System::RayleighBenard.configuration(1).with_seed(3);
    let json = serde_json::to_value(&config).unwrap();
    let object = json.as_object().unwrap();
    assert_eq!(object.keys().collect::<Vec<_>>(), ["RayleighBenard"]);
    assert_eq!(json["RayleighBenard"]["sampling"]["seed"], 3);
    assert_eq!(json["RayleighBenard"]["rayleigh"], 1e5);
    let back: SimConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);
}

#[test]
fn configurations_cycle_through_each_sweep() {
    for system in System::ALL {
        let n = system.n_configurations();
        assert_eq!(system.configuration(n), system.configuration(0));
        assert_ne!(system.configuration(1), system.configuration(0), "{system}");
        assert_eq!(system.configuration(1).system(), system);
    }
}

// ---------------------------------------------------------------- systems and generation

#[test]
fn systems_parse_their_well_names_and_aliases() {
    for system in System::ALL {
        assert_eq!(system.name().parse::<System>().unwrap(), system);
        assert_eq!(System::from_name(system.name()), Some(system));
        assert_eq!(system.to_string(), system.name());
    }
    assert_eq!("rb".parse::<System>().unwrap(), System::RayleighBenard);
    assert_eq!(
        System::from_name("rb"),
        None,
        "a directory name has no aliases"
    );
    assert_eq!("Euler".parse::<System>().unwrap(), System::EulerPeriodic);
    assert_eq!(
        "euler_multi_quadrants_openBC".parse::<System>().unwrap(),
        System::EulerOpen
    );
    assert!(matches!(
        "turbulent_radiative_layer_2D".parse::<System>(),
        Err(ConfigError::Unknown { .. })
    ));
}

#[test]
fn splits_are_80_10_10_with_at_least_one_each() {
    let sizes = |n| split_ranges(n).map(|(_, r)| r.len());
    assert_eq!(sizes(3), [1, 1, 1]);
    assert_eq!(sizes(5), [3, 1, 1]);
    assert_eq!(sizes(10), [8, 1, 1]);
    assert_eq!(sizes(20), [16, 2, 2]);
    assert_eq!(
        split_ranges(20).map(|(s, _)| s),
        [Split::Train, Split::Valid, Split::Test]
    );
}

#[test]
fn generate_checks_its_settings_first() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GenerateConfig::new(System::ShearFlow, dir.path()).with_trajectories(2);
    assert!(matches!(
        bad.check(),
        Err(ConfigError::OutOfRange {
            name: "trajectories",
            ..
        })
    ));
    let bad = GenerateConfig::new(System::ShearFlow, dir.path()).with_resolution(48);
    assert!(matches!(
        bad.check(),
        Err(ConfigError::NotPowerOfTwo {
            name: "resolution",
            ..
        })
    ));
    assert!(matches!(
        bad.generate(),
        Err(Error::Config(ConfigError::NotPowerOfTwo { .. }))
    ));
    assert!(
        !dir.path().join("shear_flow").exists(),
        "nothing is written for a bad config"
    );
}

#[test]
fn generate_seeds_configuration_c_with_seed_plus_c() {
    let config = GenerateConfig::new(System::ShearFlow, "unused")
        .with_resolution(32)
        .with_trajectories(4)
        .with_steps(6)
        .with_seed(10);
    let sim = config.configuration(3);
    assert_eq!(
        *sim.sampling(),
        Sampling {
            nx: 32,
            ny: 32,
            trajectories: 4,
            n_steps: 6,
            output_interval: 0.1,
            seed: 13,
        }
    );
    let SimConfig::ShearFlow(inner) = sim else {
        panic!("shear flow")
    };
    assert_eq!((inner.reynolds, inner.schmidt), (5e3, 0.2));
}

#[test]
fn generated_datasets_load_in_the_data_layer_with_9_plus_18_frame_windows() {
    let dir = tempfile::tempdir().unwrap();
    for system in System::ALL {
        let config = GenerateConfig::new(system, dir.path())
            .with_resolution(16)
            .with_trajectories(3)
            .with_steps(27);
        let root = config.generate().unwrap();
        assert_eq!(root, dir.path().join(system.name()));
        assert_eq!(root, config.dataset_dir());
        assert!(root.join("stats.yaml").is_file());
        // The file written for the valid split equals trajectory 1 of the simulation.
        let sim = config.configuration(0).simulate().unwrap();
        let path = root
            .join("data/valid")
            .join(format!("{}_00.hdf5", system.name()));
        let read = WellFile::read(&path).unwrap();
        assert_eq!(read, select_trajectories(&sim, 1..2), "{}", path.display());
        for split in Split::ALL {
            let ds = WellDataset::open(&root, split, WindowSpec::new(9, 18)).unwrap();
            assert_eq!(
                ds.len(),
                1,
                "{system} {split}: one trajectory, one 27-frame window"
            );
            let window = ds.window(0).unwrap();
            assert_eq!(window.shape[0], sim.channel_names().len());
            assert_eq!(window.shape[1], 27);
            assert!(window.data.iter().all(|v| v.is_finite()));
        }
    }
}

// ---------------------------------------------------------------- collections

/// A small dataset of `system` (16², 3 trajectories of 3 frames): a second or less.
fn small(system: System, root: &Path) -> GenerateConfig {
    GenerateConfig::new(system, root)
        .with_resolution(16)
        .with_trajectories(3)
        .with_steps(3)
}

/// Every file under `dir` with its modification time, sorted by path.
fn files_with_times(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let time = path.metadata().unwrap().modified().unwrap();
                out.push((path, time));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_default_collection_is_every_system_at_the_default_setting() {
    let root = Path::new("some/root");
    let c = Collection::default_collection(root);
    assert_eq!(c.root, root);
    assert_eq!(c.datasets.len(), System::ALL.len());
    for (d, system) in c.datasets.iter().zip(System::ALL) {
        assert_eq!(*d, GenerateConfig::default_collection(system, root));
        // The sizes every notebook's data depends on.
        assert_eq!(
            (
                d.resolution,
                d.trajectories,
                d.n_steps,
                d.seed,
                d.configurations
            ),
            (64, 5, 32, 0, 2)
        );
    }
    assert_eq!(
        c.dataset_dirs(),
        System::ALL.map(|s| root.join(s.name())).to_vec()
    );
    let two = Collection::default_collection(root)
        .with_systems([System::RayleighBenard, System::ShearFlow]);
    assert_eq!(
        two.dataset_dirs(),
        [root.join("rayleigh_benard"), root.join("shear_flow")]
    );
    assert_eq!(
        Collection::default(),
        Collection::default_collection("data/generated")
    );
}

#[test]
fn ensure_generates_only_the_missing_datasets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let first = small(System::GrayScottReactionDiffusion, root)
        .generate()
        .unwrap();
    // A mark that a rewrite would remove, besides the modification times.
    let stats = first.join("stats.yaml");
    let marked = std::fs::read_to_string(&stats).unwrap() + "# kept\n";
    std::fs::write(&stats, &marked).unwrap();
    let before = files_with_times(&first);

    let collection = Collection::new(root)
        .with_dataset(small(System::GrayScottReactionDiffusion, root))
        .with_dataset(small(System::ShearFlow, Path::new("elsewhere")));
    let dirs = collection.ensure().unwrap();
    assert_eq!(
        dirs,
        [
            root.join("gray_scott_reaction_diffusion"),
            root.join("shear_flow")
        ]
    );
    assert_eq!(std::fs::read_to_string(&stats).unwrap(), marked);
    assert_eq!(files_with_times(&first), before, "the first was rewritten");
    // The second was made, under the collection's root, as its config makes it.
    let second = &dirs[1];
    assert!(!Path::new("elsewhere").exists());
    let valid = WellFile::read(second.join("data/valid/shear_flow_00.hdf5")).unwrap();
    let sim = small(System::ShearFlow, root)
        .configuration(0)
        .simulate()
        .unwrap();
    assert_eq!(valid, select_trajectories(&sim, 1..2));
    // Once everything is there, ensuring again touches nothing.
    let made = files_with_times(second);
    assert_eq!(collection.ensure().unwrap(), dirs);
    assert_eq!(files_with_times(second), made);
    assert_eq!(files_with_times(&first), before);
}

#[test]
fn an_incomplete_dataset_is_reported_before_anything_is_simulated() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let gs = small(System::GrayScottReactionDiffusion, root)
        .generate()
        .unwrap();
    let collection = Collection::new(root)
        .with_dataset(small(System::ShearFlow, root))
        .with_dataset(small(System::GrayScottReactionDiffusion, root));
    let incomplete = |want: &str| match collection.ensure() {
        Err(Error::IncompleteDataset { dir, missing }) => {
            assert_eq!(dir, gs);
            assert_eq!(missing, want);
        }
        other => panic!("want an incomplete-dataset error for {want}, got {other:?}"),
    };

    // The valid split's files gone, then the directory itself.
    for f in std::fs::read_dir(gs.join("data/valid")).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    incomplete("data/valid/*.hdf5");
    std::fs::remove_dir(gs.join("data/valid")).unwrap();
    incomplete("data/valid/*.hdf5");
    // shear_flow comes first in the collection but is not made: the check runs first.
    assert!(!root.join("shear_flow").exists());
    let message = collection.ensure().unwrap_err().to_string();
    assert!(
        message.contains("gray_scott_reaction_diffusion") && message.contains("data/valid"),
        "{message}"
    );

    // An interrupted run leaves no stats.yaml (written last).
    std::fs::remove_dir_all(&gs).unwrap();
    small(System::GrayScottReactionDiffusion, root)
        .generate()
        .unwrap();
    std::fs::remove_file(gs.join("stats.yaml")).unwrap();
    incomplete("stats.yaml");
    // Nothing under it was removed or rewritten either.
    assert!(gs.join("data/train").is_dir());
}

#[test]
fn a_collection_checks_its_datasets_first() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let twice = Collection::new(root)
        .with_dataset(small(System::ShearFlow, root))
        .with_dataset(small(System::ShearFlow, root).with_seed(1));
    assert!(matches!(
        twice.check(),
        Err(ConfigError::Duplicate {
            name: "datasets",
            ..
        })
    ));
    let bad = Collection::new(root)
        .with_dataset(small(System::ShearFlow, root))
        .with_dataset(small(System::RayleighBenard, root).with_trajectories(2));
    assert!(matches!(
        bad.ensure(),
        Err(Error::Config(ConfigError::OutOfRange {
            name: "trajectories",
            ..
        }))
    ));
    assert_eq!(
        std::fs::read_dir(root).unwrap().count(),
        0,
        "nothing is written"
    );
    assert_eq!(
        Collection::new(root).ensure().unwrap(),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn the_experiment_data_step_generates_nothing_when_all_is_there() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let gs = small(System::GrayScottReactionDiffusion, root)
        .generate()
        .unwrap();
    // A dataset the simulators do not make, already downloaded.
    std::fs::create_dir_all(root.join("turbulent_radiative_layer_2D/data")).unwrap();
    let before = files_with_times(root);
    let names = [
        "gray_scott_reaction_diffusion".to_string(),
        "turbulent_radiative_layer_2D".to_string(),
        "gray_scott_reaction_diffusion".to_string(),
    ];
    phystok::experiment::ensure_data(root, &names).unwrap();
    assert_eq!(files_with_times(root), before);
    // A missing one the simulators cannot make is named, before anything is simulated.
    let names = ["shear_flow".to_string(), "turbulence".to_string()];
    let e = phystok::experiment::ensure_data(root, &names).unwrap_err();
    assert!(
        e.to_string().contains("dataset `turbulence` is not under")
            && e.to_string().contains("not one the simulators make"),
        "{e}"
    );
    assert!(!root.join("shear_flow").exists());
    // An incomplete simulated one is reported, not regenerated over.
    std::fs::remove_file(gs.join("stats.yaml")).unwrap();
    let names = ["gray_scott_reaction_diffusion".to_string()];
    assert!(matches!(
        phystok::experiment::ensure_data(root, &names),
        Err(Error::IncompleteDataset { .. })
    ));
}
