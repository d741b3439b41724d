//! [`BenchmarkConfig`]: The Well's baselines on a collection of datasets, at equal steps.

use serde::{Deserialize, Serialize};

use crate::DeviceChoice;
use crate::baselines::{BaselineConfig, BaselineKind};
use crate::sim::System;
use crate::{ConfigError, Result};

/// Which model sizes a benchmark trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelSize {
    /// [`BaselineConfig::quick`]: CPU sizes, similar parameter counts across families.
    Quick,
    /// [`BaselineConfig::the_well`]: The Well's benchmark sizes (for a GPU).
    TheWell,
}

/// Rollout windows of The Well's tables: steps 1, 2–8 and 9–26 (1-based, inclusive).
pub const WELL_WINDOWS: [(usize, usize); 3] = [(1, 1), (2, 8), (9, 26)];

/// Settings of the benchmark study (`phystok reproduce benchmark`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkConfig {
    /// The datasets (directories under the data root), each trained on separately.
    pub datasets: Vec<String>,
    /// The baseline families.
    pub kinds: Vec<BaselineKind>,
    /// Model sizes.
    pub size: ModelSize,
    /// Seeds of the weights and data order; every (family, dataset) trains once per seed.
    pub seeds: Vec<u64>,
    /// Optimiser steps per run (equal for every family).
    pub steps: usize,
    /// Windows per batch.
    pub batch_size: usize,
    /// Peak learning rate of The Well's warmup + cosine recipe.
    pub peak_lr: f64,
    /// Spatial coarse-graining of every window (1: none).
    pub coarsen: usize,
    /// Test windows scored for next-frame VRMSE (spread over the split).
    pub next_frame_windows: usize,
    /// Test windows rolled out 26 steps for the rollout VRMSE.
    pub rollout_windows: usize,
    /// Where the models run.
    pub device: DeviceChoice,
}

impl BenchmarkConfig {
    /// About 10 minutes on 2 CPU cores: the five default datasets coarsened to 32², the four
    /// families at CPU size, 3 seeds, 60 steps of batch 4 at peak 2e-3.
    pub fn quick() -> Self {
        BenchmarkConfig {
            datasets: System::ALL.iter().map(|s| s.name().to_string()).collect(),
            kinds: BaselineKind::ALL.to_vec(),
            size: ModelSize::Quick,
            seeds: vec![0, 1, 2],
            steps: 60,
            batch_size: 4,
            peak_lr: 2e-3,
            coarsen: 2,
            next_frame_windows: 16,
            rollout_windows: 2,
            device: DeviceChoice::Cpu,
        }
    }

    /// The Well's sizes for one GPU: its model configs, batch 16, peak 1e-3 (the middle of
    /// its learning-rate sweep), 40,000 steps (The Well: 12 h or 500 epochs), full
    /// resolution, 3 seeds.
    pub fn paper() -> Self {
        BenchmarkConfig {
            size: ModelSize::TheWell,
            steps: 40_000,
            batch_size: 16,
            peak_lr: 1e-3,
            coarsen: 1,
            next_frame_windows: 256,
            rollout_windows: 64,
            device: DeviceChoice::Cuda(0),
            ..Self::quick()
        }
    }

    /// Sets the datasets.
    pub fn with_datasets(mut self, datasets: Vec<String>) -> Self {
        self.datasets = datasets;
        self
    }

    /// Sets the families.
    pub fn with_kinds(mut self, kinds: Vec<BaselineKind>) -> Self {
        self.kinds = kinds;
        self
    }

    /// Sets the seeds.
    pub fn with_seeds(mut self, seeds: Vec<u64>) -> Self {
        self.seeds = seeds;
        self
    }

    /// Sets the steps per run.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self
    }

    /// Sets the device.
    pub fn with_device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }

    /// Sets the coarse-graining.
    pub fn with_coarsen(mut self, coarsen: usize) -> Self {
        self.coarsen = coarsen;
        self
    }

    /// The model of `kind` for data with `n_fields` channels on a `resolution` grid.
    pub fn model(
        &self,
        kind: BaselineKind,
        n_fields: usize,
        resolution: [usize; 2],
    ) -> BaselineConfig {
        match self.size {
            ModelSize::Quick => BaselineConfig::quick(kind, n_fields, resolution),
            ModelSize::TheWell => BaselineConfig::the_well(kind, n_fields, resolution),
        }
    }

    /// Checks every setting before anything runs.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.datasets.is_empty() {
            return Err(ConfigError::Empty { name: "datasets" });
        }
        if self.kinds.is_empty() {
            return Err(ConfigError::Empty { name: "kinds" });
        }
        if self.seeds.is_empty() {
            return Err(ConfigError::Empty { name: "seeds" });
        }
        for (name, value) in [
            ("steps", self.steps),
            ("batch_size", self.batch_size),
            ("coarsen", self.coarsen),
            ("next_frame_windows", self.next_frame_windows),
            ("rollout_windows", self.rollout_windows),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if self.peak_lr.is_nan() || self.peak_lr <= 0.0 {
            return Err(ConfigError::NotPositive {
                name: "peak_lr",
                value: self.peak_lr,
            });
        }
        Ok(())
    }
}
