//! Writing one simulated Well dataset to disk: [`GenerateConfig::generate`] (what
//! `phystok generate <system>` runs). A set of them under one root, made only where
//! missing, is a [`Collection`](super::Collection).
//!
//! Each parameter configuration becomes one simulation of `trajectories` trajectories,
//! split 0.8 / 0.1 / 0.1 (at least one each) into `train`, `valid` and `test` files, as
//! The Well splits its trajectories.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::sim_config::SimConfig;
use super::simulator::Simulator;
use super::system::System;
use crate::data::{Split, WellFile, write_dataset};
use crate::{ConfigError, Result};

/// What to generate and where: one system's dataset, `configurations` parameter sets of its
/// sweep ([`System::configuration`]) at one resolution, written to `{out}/{system name}/`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateConfig {
    /// The system.
    pub system: System,
    /// Grid size `n` (`n × n`; `2n × n/2` for Rayleigh–Bénard), a power of two in [16, 512].
    pub resolution: usize,
    /// Trajectories per parameter configuration (at least 3, one per split).
    pub trajectories: usize,
    /// Output frames per trajectory (27 fit 9 context + 18 rollout frames).
    pub n_steps: usize,
    /// Base seed; configuration `c` uses `seed + c`.
    pub seed: u64,
    /// Parameter configurations of [`System::configuration`]'s sweep, from the first.
    pub configurations: usize,
    /// Root directory: the dataset goes to `{out}/{system name}/`.
    pub out: PathBuf,
}

impl Default for GenerateConfig {
    /// Euler, 64², 5 trajectories, 32 frames, seed 0, one configuration, into
    /// `data/generated/`.
    fn default() -> Self {
        GenerateConfig {
            system: System::EulerPeriodic,
            resolution: 64,
            trajectories: 5,
            n_steps: 32,
            seed: 0,
            configurations: 1,
            out: PathBuf::from("data/generated"),
        }
    }
}

/// The file [`GenerateConfig::generate`] leaves in every dataset directory it writes.
pub const SIMULATED_MARKER: &str = "phystok_generate.json";

impl GenerateConfig {
    /// The defaults for `system`, written under `out`.
    pub fn new(system: System, out: impl Into<PathBuf>) -> Self {
        GenerateConfig {
            system,
            out: out.into(),
            ..Self::default()
        }
    }

    /// The default collection's setting of `system`: 64², 2 configurations of 5 trajectories
    /// (3 train, 1 valid, 1 test each), 32 frames.
    pub fn default_collection(system: System, out: impl Into<PathBuf>) -> Self {
        GenerateConfig {
            configurations: 2,
            ..Self::new(system, out)
        }
    }

    /// Sets the grid size.
    pub fn with_resolution(mut self, n: usize) -> Self {
        self.resolution = n;
        self
    }

    /// Sets the trajectories per configuration.
    pub fn with_trajectories(mut self, n: usize) -> Self {
        self.trajectories = n;
        self
    }

    /// Sets the output frames per trajectory.
    pub fn with_steps(mut self, n: usize) -> Self {
        self.n_steps = n;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the number of parameter configurations.
    pub fn with_configurations(mut self, n: usize) -> Self {
        self.configurations = n;
        self
    }

    /// Checks the sizes and every configuration it would run.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.resolution.is_power_of_two() {
            return Err(ConfigError::NotPowerOfTwo {
                name: "resolution",
                value: self.resolution,
            });
        }
        if !(16..=512).contains(&self.resolution) {
            return Err(ConfigError::OutOfRange {
                name: "resolution",
                range: "[16, 512]",
                value: self.resolution as f64,
            });
        }
        if self.trajectories < 3 {
            return Err(ConfigError::OutOfRange {
                name: "trajectories",
                range: "[3, ∞) (one per split)",
                value: self.trajectories as f64,
            });
        }
        if self.configurations == 0 {
            return Err(ConfigError::NotPositive {
                name: "configurations",
                value: 0.0,
            });
        }
        for c in 0..self.configurations.min(self.system.n_configurations()) {
            self.configuration(c).check()?;
        }
        self.check_size(crate::device::available_memory())
    }

    /// Bytes of field data the dataset holds in memory while it is generated (every
    /// configuration's trajectories, at most [`MAX_CHANNELS`] channels of `f32`).
    pub fn data_bytes(&self) -> u128 {
        let (nx, ny) = self.configuration(0).grid_for_resolution(self.resolution);
        self.configurations as u128
            * self.trajectories as u128
            * self.n_steps.max(1) as u128
            * nx as u128
            * ny as u128
            * MAX_CHANNELS as u128
            * 4
    }

    /// Refuses a dataset larger than `limit` bytes of memory, before anything is allocated.
    pub fn check_size(&self, limit: u128) -> Result<(), ConfigError> {
        let bytes = self.data_bytes();
        if bytes > limit {
            let (nx, ny) = self.configuration(0).grid_for_resolution(self.resolution);
            return Err(ConfigError::TooLarge {
                name: "trajectories × steps × resolution",
                what: format!(
                    "{} configuration(s) × {} trajectories × {} frames × {nx}×{ny} × up to {MAX_CHANNELS} channels of f32",
                    self.configurations, self.trajectories, self.n_steps
                ),
                bytes,
                limit,
            });
        }
        Ok(())
    }

    /// The simulator configuration of parameter configuration `c`: the sweep's `c`-th
    /// parameters ([`System::configuration`]) at this resolution, with these trajectories
    /// and frames, and seed `seed + c`.
    pub fn configuration(&self, c: usize) -> SimConfig {
        self.system
            .configuration(c)
            .with_resolution(self.resolution)
            .with_trajectories(self.trajectories)
            .with_steps(self.n_steps)
            .with_seed(self.seed.wrapping_add(c as u64))
    }

    /// The dataset directory, `{out}/{system name}`.
    pub fn dataset_dir(&self) -> PathBuf {
        self.out.join(self.system.name())
    }

    /// Simulates every configuration and writes the dataset
    /// `{out}/{name}/data/{train,valid,test}/{name}_{k:02}.hdf5` plus `{out}/{name}/stats.yaml`
    /// (written last: a directory without it is an interrupted run). Checks first, so
    /// nothing is written for a bad config. Returns the dataset directory.
    ///
    /// Files of the same names are overwritten; a [`Collection`](super::Collection) makes
    /// datasets only where they are missing. The directory also gets
    /// [`SIMULATED_MARKER`], this config as JSON, so that simulated data is never taken for
    /// a download of The Well ([`GenerateConfig::was_simulated`]).
    pub fn generate(&self) -> Result<PathBuf> {
        self.check()?;
        let mut files = Vec::new();
        for c in 0..self.configurations {
            let file = self.configuration(c).simulate()?;
            for (split, range) in split_ranges(self.trajectories) {
                files.push((split, select_trajectories(&file, range)));
            }
        }
        let refs: Vec<(Split, &WellFile)> = files.iter().map(|(s, f)| (*s, f)).collect();
        let dir = self.dataset_dir();
        std::fs::create_dir_all(&dir).map_err(|e| crate::Error::io(&dir, e))?;
        let marker = dir.join(SIMULATED_MARKER);
        let record = serde_json::json!({
            "generated_by": format!("phystok {}", env!("CARGO_PKG_VERSION")),
            "config": self,
        });
        std::fs::write(&marker, serde_json::to_string_pretty(&record)?)
            .map_err(|e| crate::Error::io(&marker, e))?;
        write_dataset(&self.out, self.system.name(), &refs)
    }

    /// Whether the dataset directory `dir` holds data phystok simulated (it has
    /// [`SIMULATED_MARKER`]), rather than, say, a download of The Well.
    pub fn was_simulated(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join(SIMULATED_MARKER).is_file()
    }
}

/// The most channels a system has (active matter: concentration, two velocity components,
/// the four components of D and of E).
pub const MAX_CHANNELS: usize = 11;

/// Trajectory ranges of the train, valid and test splits of `n` trajectories: 10 % each
/// (rounded, at least one) for valid and test, the rest for train.
pub fn split_ranges(n: usize) -> [(Split, Range<usize>); 3] {
    let small = ((n as f64 * 0.1).round() as usize).max(1);
    let train = n.saturating_sub(2 * small);
    [
        (Split::Train, 0..train),
        (Split::Valid, train..train + small),
        (Split::Test, train + small..(train + 2 * small).min(n)),
    ]
}

/// The trajectories `range` of `file`, as a file of their own.
pub fn select_trajectories(file: &WellFile, range: Range<usize>) -> WellFile {
    let mut out = file.clone();
    out.n_trajectories = range.len();
    for field in &mut out.fields {
        let per = field.data.len() / file.n_trajectories.max(1);
        field.data = field.data[range.start * per..range.end * per].to_vec();
    }
    for scalar in &mut out.scalars {
        if scalar.sample_varying {
            let per = scalar.data.len() / file.n_trajectories.max(1);
            scalar.data = scalar.data[range.start * per..range.end * per].to_vec();
        }
    }
    out
}
