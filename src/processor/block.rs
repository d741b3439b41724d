//! One processor block: full spatial attention, then axial causal temporal attention.
//!
//! The paper (Appendix C) orders each block "full spatial attention followed by axial
//! temporal attention"; Walrus's `SpaceTimeSplitBlock` runs time first. We follow the
//! paper. Each branch is added back through its own drop path:
//! `x ← x + DropPath(spatial(x))`, `x ← x + DropPath(temporal(x))`.

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use crate::Result;
use candle_nn::VarBuilder;

use crate::nn::{DropPath, Mode, RopeTables};
use crate::processor::{ProcessorConfig, SpatialAttention, TemporalAttention};

/// Spatial then temporal attention, each a residual branch with drop path.
#[derive(Debug, Clone)]
pub struct ProcessorBlock {
    spatial: SpatialAttention,
    temporal: TemporalAttention,
    drop_path: DropPath,
}

impl ProcessorBlock {
    /// Creates `spatial.*` and `temporal.*` under `vb`; `drop_path` is this block's rate.
    pub fn new(config: &ProcessorConfig, drop_path: f64, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            spatial: SpatialAttention::new(config, vb.pp("spatial"))?,
            temporal: TemporalAttention::new(config, vb.pp("temporal"))?,
            drop_path: DropPath::new(drop_path),
        })
    }

    /// The spatial attention.
    pub fn spatial(&self) -> &SpatialAttention {
        &self.spatial
    }

    /// The temporal attention.
    pub fn temporal(&self) -> &TemporalAttention {
        &self.temporal
    }

    /// This block's drop-path rate.
    pub fn drop_path_rate(&self) -> f64 {
        self.drop_path.rate()
    }

    /// Applies the block.
    ///
    /// # Shapes
    /// `(batch, time, tokens, dim) → (batch, time, tokens, dim)`; `tables` are the rotary
    /// tables of the `[height, width]` grid the tokens come from.
    pub fn forward(
        &self,
        xs: &Tensor,
        tables: &RopeTables,
        mode: Mode,
        rng: &mut ChaCha8Rng,
    ) -> Result<Tensor> {
        let xs = (xs
            + self
                .drop_path
                .forward(&self.spatial.forward(xs, tables)?, mode, rng)?)?;
        Ok((&xs
            + self
                .drop_path
                .forward(&self.temporal.forward(&xs)?, mode, rng)?)?)
    }
}
