//! [`PatchConfig`]: the settings of a compute-adaptive patch model (Mukhopadhyay et al.
//! 2025, Section 3 and Appendix B, Table 4) and their presets.

use serde::{Deserialize, Serialize};

use crate::data::RmsGrouping;
use crate::nn::KernelResize;
use crate::processor::ProcessorConfig;
use crate::{ConfigError, Result};

/// How the patch encoder and decoder change the number of tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PatchStrategy {
    /// Convolutional kernel modulation: one learned base kernel (`base × base`), resized to
    /// `p × p` per call, stride `p` (non-overlapping tokens); the decoder is the transposed
    /// convolution with its own resized kernel.
    Ckm,
    /// Convolutional stride modulation: a fixed `base × base` kernel, stride `p` per call
    /// (overlapping tokens), the input padded by `(base − p)/2` learned values per channel;
    /// the decoder is the transposed convolution at the same stride, cropped.
    Csm,
    /// One patch size (kernel = stride = `base`, the only size): the fixed-patch baseline.
    Fixed,
}

impl PatchStrategy {
    /// Lower-case name (`ckm`, `csm`, `fixed`).
    pub fn key(&self) -> &'static str {
        match self {
            PatchStrategy::Ckm => "ckm",
            PatchStrategy::Csm => "csm",
            PatchStrategy::Fixed => "fixed",
        }
    }
}

/// Settings of a [`PatchModel`](super::PatchModel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchConfig {
    /// Encoder and decoder kind.
    pub strategy: PatchStrategy,
    /// How CKM resizes its base kernels (the paper: PI-resize).
    pub resize: KernelResize,
    /// Base patch size: CKM's learned kernel size, CSM's fixed kernel size, the fixed model's
    /// patch (the paper: 16).
    pub base: usize,
    /// Patch sizes (CKM kernel = stride, CSM stride) a run can ask for, in the cyclic
    /// schedule's order (the paper: 4, 8, 16).
    pub sizes: Vec<usize>,
    /// Grid `(height, width)` the model runs on (every size must divide both).
    pub grid: [usize; 2],
    /// Fields the encoder knows; a batch's channels pick among them.
    pub total_fields: usize,
    /// Context frames (the paper: 6).
    pub n_steps_input: usize,
    /// The spatiotemporal processor; its `latent_channels` is the patch embedding width.
    pub processor: ProcessorConfig,
    /// Samplewise RMS normalisation grouping.
    pub grouping: RmsGrouping,
    /// Weight seed.
    pub seed: u64,
}

impl Default for PatchConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl PatchConfig {
    /// The paper's 25 M shear-flow model (Table 4: embedding 384, MLP 1536, 6 heads, 12
    /// blocks, base patch 16; Section 3: sizes {4, 8, 16}; Table 3: shear_flow 128 × 256,
    /// 4 fields; Section 4: 6 context frames), CKM with PI-resize.
    pub fn paper() -> Self {
        Self::paper_scale(384, 1536, 6)
    }

    /// Table 4's 7.6 M model (embedding 192, MLP 768, 3 heads, 12 blocks).
    pub fn paper_7m() -> Self {
        Self::paper_scale(192, 768, 3)
    }

    /// Table 4's 100 M model (embedding 768, MLP 3072, 12 heads, 12 blocks).
    pub fn paper_100m() -> Self {
        Self::paper_scale(768, 3072, 12)
    }

    fn paper_scale(dim: usize, mlp_dim: usize, n_heads: usize) -> Self {
        let processor = ProcessorConfig::paper()
            .with_dim(dim)
            .with_mlp_dim(mlp_dim)
            .with_n_heads(n_heads)
            .with_n_blocks(12)
            .with_latent_channels(dim);
        PatchConfig {
            strategy: PatchStrategy::Ckm,
            resize: KernelResize::PseudoInverse,
            base: 16,
            sizes: vec![4, 8, 16],
            grid: [128, 256],
            total_fields: 4,
            n_steps_input: 6,
            processor,
            grouping: RmsGrouping::PerField,
            seed: 0,
        }
    }

    /// CPU tutorial sizes: 64² grid, sizes {4, 8, 16} (256, 64, 16 tokens), processor
    /// width 64, 2 blocks, 4 heads, embedding 32, 4 context frames.
    pub fn small() -> Self {
        PatchConfig {
            grid: [64, 64],
            n_steps_input: 4,
            processor: ProcessorConfig::tiny()
                .with_dim(64)
                .with_n_heads(4)
                .with_latent_channels(32)
                .with_drop_path(0.0),
            ..Self::paper()
        }
    }

    /// Test sizes: 16² grid, base 8, sizes {2, 4, 8}, processor `ProcessorConfig::tiny()`
    /// with embedding 16, 3 context frames.
    pub fn tiny() -> Self {
        PatchConfig {
            base: 8,
            sizes: vec![2, 4, 8],
            grid: [16, 16],
            n_steps_input: 3,
            processor: ProcessorConfig::tiny()
                .with_latent_channels(16)
                .with_drop_path(0.0),
            ..Self::paper()
        }
    }

    /// Sets the strategy.
    pub fn with_strategy(mut self, strategy: PatchStrategy) -> Self {
        self.strategy = strategy;
        self
    }
    /// The fixed-patch baseline at `p`: strategy [`PatchStrategy::Fixed`], base and the only
    /// size `p`.
    pub fn fixed(mut self, p: usize) -> Self {
        self.strategy = PatchStrategy::Fixed;
        self.base = p;
        self.sizes = vec![p];
        self
    }
    /// Sets the kernel resize rule.
    pub fn with_resize(mut self, resize: KernelResize) -> Self {
        self.resize = resize;
        self
    }
    /// Sets the base patch size.
    pub fn with_base(mut self, base: usize) -> Self {
        self.base = base;
        self
    }
    /// Sets the patch sizes.
    pub fn with_sizes(mut self, sizes: Vec<usize>) -> Self {
        self.sizes = sizes;
        self
    }
    /// Sets the grid.
    pub fn with_grid(mut self, height: usize, width: usize) -> Self {
        self.grid = [height, width];
        self
    }
    /// Sets the number of fields.
    pub fn with_total_fields(mut self, total_fields: usize) -> Self {
        self.total_fields = total_fields;
        self
    }
    /// Sets the number of context frames.
    pub fn with_n_steps_input(mut self, n: usize) -> Self {
        self.n_steps_input = n;
        self
    }
    /// Sets the processor.
    pub fn with_processor(mut self, processor: ProcessorConfig) -> Self {
        self.processor = processor;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Patch embedding width (the processor's `latent_channels`).
    pub fn embed_dim(&self) -> usize {
        self.processor.latent_channels
    }

    /// Tokens per frame at patch size `p`: `(H/p)·(W/p)`.
    pub fn tokens(&self, p: usize) -> usize {
        (self.grid[0] / p.max(1)) * (self.grid[1] / p.max(1))
    }

    /// Checks every rule; `init` calls it first.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.processor.check()?;
        for (name, value) in [
            ("base", self.base),
            ("total_fields", self.total_fields),
            ("n_steps_input", self.n_steps_input),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if self.sizes.is_empty() {
            return Err(ConfigError::Empty {
                name: "patch sizes",
            });
        }
        for (k, &p) in self.sizes.iter().enumerate() {
            if p == 0 {
                return Err(ConfigError::NotPositive {
                    name: "patch size",
                    value: 0.0,
                });
            }
            if self.sizes[..k].contains(&p) {
                return Err(ConfigError::Duplicate {
                    name: "patch sizes",
                    value: p.to_string(),
                });
            }
            if p > self.base {
                return Err(ConfigError::PatchAboveBase {
                    value: p,
                    base: self.base,
                });
            }
            for (name, grid) in [("height", self.grid[0]), ("width", self.grid[1])] {
                if !grid.is_multiple_of(p) {
                    return Err(ConfigError::PatchDoesNotDivide {
                        name,
                        value: p,
                        grid,
                    });
                }
            }
            if self.strategy == PatchStrategy::Csm && !(self.base - p).is_multiple_of(2) {
                return Err(ConfigError::Mismatch {
                    name: "csm stride",
                    value: p.to_string(),
                    other: format!("base kernel {} (base − stride must be even)", self.base),
                });
            }
        }
        if self.strategy == PatchStrategy::Fixed && self.sizes != [self.base] {
            return Err(ConfigError::Mismatch {
                name: "fixed patch sizes",
                value: format!("{:?}", self.sizes),
                other: format!("the one size base = {}", self.base),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_check() {
        for c in [
            PatchConfig::paper(),
            PatchConfig::paper_7m(),
            PatchConfig::paper_100m(),
            PatchConfig::small(),
            PatchConfig::tiny(),
            PatchConfig::tiny().with_strategy(PatchStrategy::Csm),
            PatchConfig::tiny().fixed(4),
        ] {
            assert_eq!(c.check(), Ok(()), "{c:?}");
        }
        assert_eq!(PatchConfig::paper().tokens(4), 2048);
        assert_eq!(PatchConfig::paper().tokens(16), 128);
    }

    #[test]
    fn bad_sizes_are_named() {
        let c = PatchConfig::tiny().with_grid(16, 12).with_sizes(vec![2, 8]);
        assert!(matches!(
            c.check(),
            Err(ConfigError::PatchDoesNotDivide {
                name: "width",
                value: 8,
                grid: 12
            })
        ));
        let c = PatchConfig::tiny().with_sizes(vec![]);
        assert!(matches!(c.check(), Err(ConfigError::Empty { .. })));
        let c = PatchConfig::tiny().with_sizes(vec![4, 16]);
        assert!(matches!(
            c.check(),
            Err(ConfigError::PatchAboveBase { value: 16, base: 8 })
        ));
        let c = PatchConfig::tiny().with_sizes(vec![4, 4]);
        assert!(matches!(c.check(), Err(ConfigError::Duplicate { .. })));
    }
}
