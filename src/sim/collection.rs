//! [`Collection`]: simulated datasets under one root, and [`Collection::ensure`], the one
//! place that makes sure they exist — what the experiment's data step, `phystok generate
//! default`, `phystok quickstart` and the notebooks use instead of checking for
//! `stats.yaml` themselves.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::generate::GenerateConfig;
use super::system::System;
use crate::data::Split;
use crate::{ConfigError, Error, Result};

/// Simulated datasets under one root: dataset `name` is `{root}/{name}/`, made by its
/// [`GenerateConfig`].
///
/// [`Collection::default_collection`] is the embedded default data every example, notebook
/// and test can use with no download: every [`System`] at
/// [`GenerateConfig::default_collection`]'s setting (64², two parameter sets of five
/// trajectories, 32 frames).
///
/// ```no_run
/// use phystok::sim::{Collection, System};
/// let root = tempfile::tempdir().unwrap();
/// // Makes shear_flow and rayleigh_benard under `root` unless they are there already.
/// let dirs = Collection::default_collection(root.path())
///     .with_systems([System::ShearFlow, System::RayleighBenard])
///     .ensure()?;
/// assert_eq!(dirs[0], root.path().join("shear_flow"));
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Collection {
    /// Where the datasets are.
    pub root: PathBuf,
    /// How each dataset is made; each is written under `root` (see [`Collection::with_dataset`]).
    pub datasets: Vec<GenerateConfig>,
}

impl Default for Collection {
    /// The default collection under `data/generated/` (git-ignored; `data/sample/` holds
    /// the small tracked samples).
    fn default() -> Self {
        Collection::default_collection("data/generated")
    }
}

impl Collection {
    /// An empty collection under `root`; add datasets with [`Collection::with_systems`] or
    /// [`Collection::with_dataset`].
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Collection {
            root: root.into(),
            datasets: Vec::new(),
        }
    }

    /// The default collection under `root`: every [`System`], in [`System::ALL`]'s order, at
    /// [`GenerateConfig::default_collection`]'s setting.
    pub fn default_collection(root: impl Into<PathBuf>) -> Self {
        Collection::new(root).with_systems(System::ALL)
    }

    /// Sets the datasets to `systems`, each at [`GenerateConfig::default_collection`]'s
    /// setting, in the order given.
    pub fn with_systems(mut self, systems: impl IntoIterator<Item = System>) -> Self {
        self.datasets = systems
            .into_iter()
            .map(|s| GenerateConfig::default_collection(s, &self.root))
            .collect();
        self
    }

    /// Adds a dataset made by `config`; its `out` is set to the collection's root.
    pub fn with_dataset(mut self, config: GenerateConfig) -> Self {
        self.datasets.push(GenerateConfig {
            out: self.root.clone(),
            ..config
        });
        self
    }

    /// The dataset directories, `{root}/{name}`, in the collection's order.
    pub fn dataset_dirs(&self) -> Vec<PathBuf> {
        self.datasets
            .iter()
            .map(|d| self.root.join(d.system.name()))
            .collect()
    }

    /// Checks every dataset's config ([`GenerateConfig::check`]) and that no system comes
    /// twice ([`ConfigError::Duplicate`]: both would write one directory).
    pub fn check(&self) -> Result<(), ConfigError> {
        for (i, d) in self.datasets.iter().enumerate() {
            if self.datasets[..i].iter().any(|e| e.system == d.system) {
                return Err(ConfigError::Duplicate {
                    name: "datasets",
                    value: d.system.name().to_string(),
                });
            }
            d.check()?;
        }
        Ok(())
    }

    /// Makes sure every dataset exists, generating only the missing ones, and returns the
    /// dataset directories in the collection's order.
    ///
    /// A dataset is missing when its directory does not exist. A directory that exists is
    /// kept as it is, never rewritten, and must be complete — `stats.yaml` and at least one
    /// `.hdf5` file in each of `data/train`, `data/valid` and `data/test` — or this returns
    /// [`Error::IncompleteDataset`] naming the directory and the missing part, before
    /// anything is simulated. (An interrupted generation leaves such a directory; so may a
    /// partial download. Removing it has it generated again; it is never deleted here.)
    /// Only the layout is checked, not that the files match the config.
    ///
    /// Checks the configs first ([`Collection::check`]).
    pub fn ensure(&self) -> Result<Vec<PathBuf>> {
        self.check()?;
        let dirs = self.dataset_dirs();
        let mut missing = Vec::new();
        for (config, dir) in self.datasets.iter().zip(&dirs) {
            if dir.try_exists().map_err(|e| Error::io(dir, e))? {
                if let Some(part) = missing_part(dir)? {
                    return Err(Error::IncompleteDataset {
                        dir: dir.clone(),
                        missing: part,
                    });
                }
            } else {
                missing.push(GenerateConfig {
                    out: self.root.clone(),
                    ..config.clone()
                });
            }
        }
        for config in missing {
            config.generate()?;
        }
        Ok(dirs)
    }
}

/// The first part of The Well's layout that `dir` lacks, if any: `stats.yaml`, then
/// `data/{split}/*.hdf5` for each split.
fn missing_part(dir: &Path) -> Result<Option<String>> {
    if !dir.join("stats.yaml").is_file() {
        return Ok(Some("stats.yaml".into()));
    }
    for split in Split::ALL {
        let split_dir = dir.join("data").join(split.as_str());
        let has_file = match std::fs::read_dir(&split_dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|x| x == "hdf5") && e.path().is_file()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(Error::io(split_dir, e)),
        };
        if !has_file {
            return Ok(Some(format!("data/{split}/*.hdf5")));
        }
    }
    Ok(None)
}
