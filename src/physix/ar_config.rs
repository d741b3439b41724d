//! [`ArConfig`]: the autoregressive token model's sizes (PhysiX Section 2.2).

use serde::{Deserialize, Serialize};

use crate::ConfigError;

/// Settings of an [`ArModel`](super::ArModel): a causal transformer over flattened token
/// grids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArConfig {
    /// Token vocabulary (the tokeniser's FSQ codebook size).
    pub vocab_size: usize,
    /// Model width.
    pub dim: usize,
    /// Transformer blocks.
    pub n_layers: usize,
    /// Attention heads (`dim / n_heads` features each, even and at least 6).
    pub n_heads: usize,
    /// MLP hidden width as a multiple of `dim`.
    pub mlp_ratio: usize,
    /// Largest token grid `[latent frames, height, width]` the RoPE tables cover; smaller
    /// grids use the truncated tables.
    pub max_grid: [usize; 3],
    /// RoPE base `θ`.
    pub rope_theta: f64,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for ArConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl ArConfig {
    /// PhysiX's 4.5 B model is NVIDIA Cosmos-1.0-Autoregressive-4B (paper Section 2.2):
    /// a Llama-style decoder of width 4096, 16 layers, 32 heads, vocabulary 64,000, over
    /// 5 latent frames of 40 x 64 tokens. The crate's blocks (pre-norm LayerNorm, full
    /// multi-head attention, GELU MLP of ratio 4, no grouped KV heads) at those sizes.
    pub fn paper() -> Self {
        Self {
            vocab_size: 64_000,
            dim: 4096,
            n_layers: 16,
            n_heads: 32,
            mlp_ratio: 4,
            max_grid: [5, 40, 64],
            rope_theta: 10_000.0,
            seed: 0,
        }
    }

    /// A CPU size: width 96, 3 layers, 4 heads, FSQ `[8, 5, 5, 5]`'s 1,000 tokens, grids
    /// up to 8 x 16 x 16.
    pub fn small() -> Self {
        Self {
            vocab_size: 1000,
            dim: 96,
            n_layers: 3,
            n_heads: 4,
            max_grid: [8, 16, 16],
            ..Self::paper()
        }
    }

    /// For tests: width 24, 2 layers, 2 heads, 15 tokens, grids up to 4 x 4 x 4.
    pub fn tiny() -> Self {
        Self {
            vocab_size: 15,
            dim: 24,
            n_layers: 2,
            n_heads: 2,
            max_grid: [4, 4, 4],
            ..Self::paper()
        }
    }

    /// Sets the vocabulary.
    pub fn with_vocab_size(mut self, n: usize) -> Self {
        self.vocab_size = n;
        self
    }
    /// Sets the width.
    pub fn with_dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self
    }
    /// Sets the number of blocks.
    pub fn with_n_layers(mut self, n: usize) -> Self {
        self.n_layers = n;
        self
    }
    /// Sets the number of heads.
    pub fn with_n_heads(mut self, n: usize) -> Self {
        self.n_heads = n;
        self
    }
    /// Sets the largest grid.
    pub fn with_max_grid(mut self, grid: [usize; 3]) -> Self {
        self.max_grid = grid;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Features per head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads.max(1)
    }

    /// Checks: positive sizes, heads dividing the width, head features even and at least
    /// 6 (three rotated axes), a positive grid and `θ`.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("dim", self.dim),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("mlp_ratio", self.mlp_ratio),
            ("max_grid frames", self.max_grid[0]),
            ("max_grid height", self.max_grid[1]),
            ("max_grid width", self.max_grid[2]),
        ] {
            if v == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return Err(ConfigError::Mismatch {
                name: "dim",
                value: self.dim.to_string(),
                other: format!("{} heads (must divide it)", self.n_heads),
            });
        }
        let hd = self.head_dim();
        if hd < 6 || !hd.is_multiple_of(2) {
            return Err(ConfigError::OutOfRange {
                name: "head_dim (dim / n_heads)",
                range: "even and at least 6",
                value: hd as f64,
            });
        }
        if self.rope_theta.is_nan() || self.rope_theta <= 1.0 {
            return Err(ConfigError::OutOfRange {
                name: "rope_theta",
                range: "above 1",
                value: self.rope_theta,
            });
        }
        Ok(())
    }
}
