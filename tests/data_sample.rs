//! `data/sample/`: the tracked sample of every simulated system is complete, opens in the
//! data layer, and is what the code makes with the command in `data/README.md`.

use std::path::{Path, PathBuf};

use phystok::data::{Split, WellDataset, WellFile, WindowSpec};
use phystok::sim::{GenerateConfig, System};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

#[test]
fn every_system_has_a_sample_that_opens_in_every_split() {
    for system in System::ALL {
        let dir = sample().join(system.name());
        assert!(GenerateConfig::was_simulated(&dir), "{}", dir.display());
        for split in Split::ALL {
            let ds = WellDataset::open(&dir, split, WindowSpec::new(9, 1)).unwrap();
            assert_eq!(
                ds.len(),
                3,
                "{} {split}: 12 frames give 3 windows",
                system.name()
            );
        }
    }
}

#[test]
fn the_sample_is_what_the_recorded_command_makes() {
    let tmp = tempfile::tempdir().unwrap();
    for system in [System::ShearFlow, System::ActiveMatter] {
        let made = GenerateConfig::new(system, tmp.path())
            .with_resolution(32)
            .with_trajectories(3)
            .with_steps(12)
            .with_seed(0)
            .generate()
            .unwrap();
        for split in Split::ALL {
            let file = format!("data/{split}/{}_00.hdf5", system.name());
            let ours = WellFile::read(made.join(&file)).unwrap();
            let stored = WellFile::read(sample().join(system.name()).join(&file)).unwrap();
            assert_eq!(ours.channel_names(), stored.channel_names());
            for (a, b) in ours.fields.iter().zip(&stored.fields) {
                assert_eq!(a.data, b.data, "{} {split} {}", system.name(), a.name);
            }
        }
    }
}
