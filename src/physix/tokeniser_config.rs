//! [`PhysixTokeniserConfig`]: the universal discrete tokeniser's datasets, sizes,
//! compression and FSQ levels (paper Section 2.1).

use serde::{Deserialize, Serialize};

use super::fsq::FsqConfig;
use crate::ConfigError;
use crate::data::FieldVocabulary;
use crate::tokeniser::{Compression, DepthChoices, TokeniserConfig};

/// One dataset the universal tokeniser serves: its name (selecting its decoder) and its
/// channels, in the data's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetChannels {
    /// Dataset name (`shear_flow`).
    pub name: String,
    /// Channel names (`tracer`, `pressure`, `velocity_x`, …).
    pub channels: Vec<String>,
}

impl DatasetChannels {
    /// A dataset and its channel names.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        channels: impl IntoIterator<Item = S>,
    ) -> Self {
        DatasetChannels {
            name: name.into(),
            channels: channels.into_iter().map(Into::into).collect(),
        }
    }
}

/// Settings of a [`PhysixTokeniser`](super::PhysixTokeniser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysixTokeniserConfig {
    /// The datasets: the encoder reads the union of their channels, each gets a decoder.
    pub datasets: Vec<DatasetChannels>,
    /// Channel width after each downsampling depth, outermost first.
    pub channels: Vec<usize>,
    /// Residual blocks per level.
    pub res_blocks: usize,
    /// `(time, space)` compression of each depth, outermost first; their products are the
    /// tokeniser's compression (default `(1, 2), (2, 2), (2, 2)`: 4x time, 8x space, as
    /// PhysiX's Cosmos DV 4x8x8).
    pub compression: Vec<(usize, usize)>,
    /// The FSQ bottleneck (its `levels.len()` is the latent width).
    pub fsq: FsqConfig,
    /// `(height, width)` of the learned 2-D tensor standing in for a missing channel; it is
    /// resampled bilinearly to other grids.
    pub missing_grid: (usize, usize),
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for PhysixTokeniserConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl PhysixTokeniserConfig {
    /// PhysiX's sizes (REFERENCE.md, Cosmos DV tokeniser: channels 128 with multipliers
    /// `[2, 4, 4]`, 2 residual blocks, FSQ `[8, 8, 8, 5, 5, 5]`, 4x time and 8x space);
    /// built from the crate's causal-convolution blocks (no attention layers, no Haar
    /// patching), so the count differs from Cosmos's.
    pub fn paper() -> Self {
        Self {
            datasets: Vec::new(),
            channels: vec![256, 512, 512],
            res_blocks: 2,
            compression: vec![(1, 2), (2, 2), (2, 2)],
            fsq: FsqConfig::paper(),
            missing_grid: (256, 256),
            seed: 0,
        }
    }

    /// A CPU size: channels 16 → 32 → 64, one residual block per level, FSQ `[8, 5, 5, 5]`.
    pub fn small() -> Self {
        Self {
            channels: vec![16, 32, 64],
            res_blocks: 1,
            fsq: FsqConfig::small(),
            missing_grid: (64, 64),
            ..Self::paper()
        }
    }

    /// For tests: channels 4 → 4 → 8, no residual blocks, FSQ `[5, 3]`, 16² missing tensors.
    pub fn tiny() -> Self {
        Self {
            channels: vec![4, 4, 8],
            res_blocks: 0,
            fsq: FsqConfig::tiny(),
            missing_grid: (16, 16),
            ..Self::paper()
        }
    }

    /// Sets the datasets.
    pub fn with_datasets(mut self, datasets: impl Into<Vec<DatasetChannels>>) -> Self {
        self.datasets = datasets.into();
        self
    }
    /// Sets the widths.
    pub fn with_channels(mut self, channels: impl Into<Vec<usize>>) -> Self {
        self.channels = channels.into();
        self
    }
    /// Sets the residual blocks per level.
    pub fn with_res_blocks(mut self, n: usize) -> Self {
        self.res_blocks = n;
        self
    }
    /// Sets the per-depth compression.
    pub fn with_compression(mut self, c: impl Into<Vec<(usize, usize)>>) -> Self {
        self.compression = c.into();
        self
    }
    /// Sets the FSQ levels.
    pub fn with_fsq(mut self, fsq: FsqConfig) -> Self {
        self.fsq = fsq;
        self
    }
    /// Sets the grid of the learned missing-channel tensors.
    pub fn with_missing_grid(mut self, height: usize, width: usize) -> Self {
        self.missing_grid = (height, width);
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The union of the datasets' channels, in first-seen order: the encoder's input.
    pub fn vocabulary(&self) -> FieldVocabulary {
        FieldVocabulary::union(self.datasets.iter().map(|d| d.channels.as_slice()))
    }

    /// Temporal compression (product over depths).
    pub fn time_compression(&self) -> usize {
        self.compression.iter().map(|c| c.0).product()
    }

    /// Spatial compression (product over depths).
    pub fn space_compression(&self) -> usize {
        self.compression.iter().map(|c| c.1).product()
    }

    pub(crate) fn compression(&self) -> Compression {
        Compression::new(self.compression.iter().copied())
    }

    /// The crate tokeniser settings the encoder (`total_fields` = the union) or a decoder
    /// (`total_fields` = its dataset's channels) is built from. PhysiX's blocks keep no
    /// residual norm (the tokeniser paper's per-frame group norm is not PhysiX's).
    pub(crate) fn block_config(&self, total_fields: usize) -> TokeniserConfig {
        TokeniserConfig::paper()
            .with_residual_norm(crate::nn::ResidualNorm::None)
            .with_total_fields(total_fields)
            .with_channels(self.channels.clone())
            .with_latent_channels(self.fsq.levels.len())
            .with_res_blocks(self.res_blocks)
            .with_depths(
                self.compression
                    .iter()
                    .map(|&(t, s)| DepthChoices::new([t], [s]))
                    .collect::<Vec<_>>(),
            )
            .with_validation(self.compression())
            .with_seed(self.seed)
    }

    /// Checks: at least one dataset, names unique, every dataset with channels, the block
    /// settings valid, the missing grid positive, the FSQ levels valid.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.datasets.is_empty() {
            return Err(ConfigError::Empty {
                name: "tokeniser datasets",
            });
        }
        for (i, d) in self.datasets.iter().enumerate() {
            if self.datasets[..i].iter().any(|e| e.name == d.name) {
                return Err(ConfigError::Duplicate {
                    name: "tokeniser datasets",
                    value: d.name.clone(),
                });
            }
            if d.channels.is_empty() {
                return Err(ConfigError::Empty {
                    name: "dataset channels",
                });
            }
        }
        for (name, v) in [
            ("missing_grid height", self.missing_grid.0),
            ("missing_grid width", self.missing_grid.1),
        ] {
            if v == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        self.fsq.check()?;
        self.block_config(self.vocabulary().len()).check()
    }
}
