//! [`BaselineConfig`]: which of The Well's benchmark models, at what size, for which data.
//!
//! The Well's benchmark convention (`the_well/benchmark`, REFERENCE.md): `n_in = 4`
//! context frames stacked as channels (`b t … c → b (t c) …`), the next frame as target,
//! MSE loss. Sizes: [`BaselineConfig::the_well`] holds the benchmark's model configs,
//! [`BaselineConfig::quick`] small CPU sizes with similar parameter counts across the four
//! families.

use serde::{Deserialize, Serialize};

use super::fno::FnoConfig;
use crate::ConfigError;
use crate::data::RmsGrouping;
use crate::nn::{Factorisation, UNetClassicConfig, UNetConvNextConfig};

/// The four baseline families of The Well's benchmark tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BaselineKind {
    /// Fourier neural operator (neuraloperator `FNO`).
    Fno,
    /// Tucker-factorised FNO (neuraloperator `TFNO`).
    Tfno,
    /// The classic U-Net (`UNetClassic`, "U-net").
    UNetClassic,
    /// The ConvNeXt U-Net (`UNetConvNext`, "CNextU-net").
    UNetConvNext,
}

impl BaselineKind {
    /// All four, in The Well's table order.
    pub const ALL: [BaselineKind; 4] = [
        BaselineKind::Fno,
        BaselineKind::Tfno,
        BaselineKind::UNetClassic,
        BaselineKind::UNetConvNext,
    ];

    /// The name The Well's tables use.
    pub fn label(&self) -> &'static str {
        match self {
            BaselineKind::Fno => "FNO",
            BaselineKind::Tfno => "TFNO",
            BaselineKind::UNetClassic => "U-Net",
            BaselineKind::UNetConvNext => "CNextU-Net",
        }
    }
}

/// The network behind a baseline, without the sizes the data fixes (channels, grid).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Architecture {
    /// FNO or TFNO (by the factorisation).
    Fno {
        /// Channels inside the blocks.
        hidden: usize,
        /// Fourier modes `[height, width]`.
        modes: [usize; 2],
        /// FNO blocks.
        n_layers: usize,
        /// Dense (FNO) or Tucker (TFNO).
        factorisation: Factorisation,
    },
    /// The classic U-Net.
    UNetClassic {
        /// Channels of the first level.
        init_features: usize,
        /// Levels.
        depth: usize,
    },
    /// The ConvNeXt U-Net.
    UNetConvNext {
        /// Channels after the input projection.
        init_features: usize,
        /// Stages.
        stages: usize,
        /// ConvNeXt blocks per stage.
        blocks_per_stage: usize,
        /// ConvNeXt blocks at the neck.
        blocks_at_neck: usize,
    },
}

/// Settings of a [`Baseline`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineConfig {
    /// Which family.
    pub kind: BaselineKind,
    /// The network.
    pub architecture: Architecture,
    /// Channels of one frame of the data (the fields' components).
    pub n_fields: usize,
    /// Context frames stacked as channels (The Well: 4).
    pub n_steps_input: usize,
    /// The grid `[height, width]`.
    pub resolution: [usize; 2],
    /// Which channels share a samplewise RMS scale (phystok's normalisation).
    pub grouping: RmsGrouping,
    /// Seed of every weight.
    pub seed: u64,
}

impl BaselineConfig {
    /// The Well's benchmark sizes (`configs/model/*.yaml`): FNO and TFNO hidden 128, modes
    /// 16 x 16, 4 blocks (TFNO: neuraloperator's Tucker rank 0.1); U-Net 48 features, depth
    /// 4; ConvNeXt U-Net 42 features, 4 stages of 2 blocks, 1 at the neck.
    pub fn the_well(kind: BaselineKind, n_fields: usize, resolution: [usize; 2]) -> Self {
        let architecture = match kind {
            BaselineKind::Fno | BaselineKind::Tfno => Architecture::Fno {
                hidden: 128,
                modes: [16, 16],
                n_layers: 4,
                factorisation: Self::factorisation(kind),
            },
            BaselineKind::UNetClassic => Architecture::UNetClassic {
                init_features: 48,
                depth: 4,
            },
            BaselineKind::UNetConvNext => Architecture::UNetConvNext {
                init_features: 42,
                stages: 4,
                blocks_per_stage: 2,
                blocks_at_neck: 1,
            },
        };
        Self::with_architecture(kind, architecture, n_fields, resolution)
    }

    /// CPU sizes for grids of 32² and up, each near 0.1–0.2 M parameters for a few fields:
    /// FNO hidden 24, modes 8 x 8, 4 blocks (TFNO: Tucker rank 0.5, hidden 32); U-Net 8
    /// features, depth 3; ConvNeXt U-Net 8 features, 3 stages of 1 block.
    pub fn quick(kind: BaselineKind, n_fields: usize, resolution: [usize; 2]) -> Self {
        let architecture = match kind {
            BaselineKind::Fno => Architecture::Fno {
                hidden: 24,
                modes: [8, 8],
                n_layers: 4,
                factorisation: Factorisation::Dense,
            },
            BaselineKind::Tfno => Architecture::Fno {
                hidden: 32,
                modes: [8, 8],
                n_layers: 4,
                factorisation: Factorisation::Tucker { rank: 0.5 },
            },
            BaselineKind::UNetClassic => Architecture::UNetClassic {
                init_features: 8,
                depth: 3,
            },
            BaselineKind::UNetConvNext => Architecture::UNetConvNext {
                init_features: 8,
                stages: 3,
                blocks_per_stage: 1,
                blocks_at_neck: 1,
            },
        };
        Self::with_architecture(kind, architecture, n_fields, resolution)
    }

    fn factorisation(kind: BaselineKind) -> Factorisation {
        match kind {
            BaselineKind::Tfno => Factorisation::Tucker { rank: 0.1 },
            _ => Factorisation::Dense,
        }
    }

    fn with_architecture(
        kind: BaselineKind,
        architecture: Architecture,
        n_fields: usize,
        resolution: [usize; 2],
    ) -> Self {
        BaselineConfig {
            kind,
            architecture,
            n_fields,
            n_steps_input: 4,
            resolution,
            grouping: RmsGrouping::PerField,
            seed: 0,
        }
    }

    /// Sets the network.
    pub fn with_architecture_of(mut self, architecture: Architecture) -> Self {
        self.architecture = architecture;
        self
    }

    /// Sets the context length.
    pub fn with_n_steps_input(mut self, n_steps_input: usize) -> Self {
        self.n_steps_input = n_steps_input;
        self
    }

    /// Sets the grid.
    pub fn with_resolution(mut self, resolution: [usize; 2]) -> Self {
        self.resolution = resolution;
        self
    }

    /// Sets the channels per frame.
    pub fn with_n_fields(mut self, n_fields: usize) -> Self {
        self.n_fields = n_fields;
        self
    }

    /// Sets the RMS grouping.
    pub fn with_grouping(mut self, grouping: RmsGrouping) -> Self {
        self.grouping = grouping;
        self
    }

    /// Sets the seed of every weight.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Input channels of the network: `n_steps_input · n_fields`.
    pub fn in_channels(&self) -> usize {
        self.n_steps_input * self.n_fields
    }

    pub(crate) fn fno(&self) -> Option<FnoConfig> {
        match self.architecture {
            Architecture::Fno {
                hidden,
                modes,
                n_layers,
                factorisation,
            } => Some(
                FnoConfig::new(self.in_channels(), self.n_fields)
                    .with_hidden(hidden)
                    .with_modes(modes)
                    .with_n_layers(n_layers)
                    .with_factorisation(factorisation),
            ),
            _ => None,
        }
    }

    pub(crate) fn unet_classic(&self) -> Option<UNetClassicConfig> {
        match self.architecture {
            Architecture::UNetClassic {
                init_features,
                depth,
            } => Some(
                UNetClassicConfig::new(self.in_channels(), self.n_fields, self.resolution)
                    .with_init_features(init_features)
                    .with_depth(depth),
            ),
            _ => None,
        }
    }

    pub(crate) fn unet_convnext(&self) -> Option<UNetConvNextConfig> {
        match self.architecture {
            Architecture::UNetConvNext {
                init_features,
                stages,
                blocks_per_stage,
                blocks_at_neck,
            } => Some(
                UNetConvNextConfig::new(self.in_channels(), self.n_fields, self.resolution)
                    .with_init_features(init_features)
                    .with_stages(stages)
                    .with_blocks_per_stage(blocks_per_stage)
                    .with_blocks_at_neck(blocks_at_neck),
            ),
            _ => None,
        }
    }

    /// Checks every setting: sizes positive, the network's own rules (modes larger than the
    /// grid: [`ConfigError::ModesExceedGrid`]; a depth too deep for the grid:
    /// [`ConfigError::TooDeep`]), and that the kind matches the architecture.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("n_fields", self.n_fields),
            ("n_steps_input", self.n_steps_input),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        let kind_fits = matches!(
            (self.kind, self.architecture),
            (
                BaselineKind::Fno,
                Architecture::Fno {
                    factorisation: Factorisation::Dense,
                    ..
                }
            ) | (
                BaselineKind::Tfno,
                Architecture::Fno {
                    factorisation: Factorisation::Tucker { .. },
                    ..
                }
            ) | (BaselineKind::UNetClassic, Architecture::UNetClassic { .. })
                | (
                    BaselineKind::UNetConvNext,
                    Architecture::UNetConvNext { .. }
                )
        );
        if !kind_fits {
            return Err(ConfigError::Mismatch {
                name: "baseline kind",
                value: self.kind.label().into(),
                other: format!("architecture {:?}", self.architecture),
            });
        }
        if let Some(c) = self.fno() {
            c.check(self.resolution)?;
        }
        if let Some(c) = self.unet_classic() {
            c.check()?;
        }
        if let Some(c) = self.unet_convnext() {
            c.check()?;
        }
        Ok(())
    }

    /// Number of trainable parameters of the network.
    pub fn n_parameters(&self) -> usize {
        if let Some(c) = self.fno() {
            c.n_parameters()
        } else if let Some(c) = self.unet_classic() {
            c.n_parameters()
        } else if let Some(c) = self.unet_convnext() {
            c.n_parameters()
        } else {
            0
        }
    }
}
