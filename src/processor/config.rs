//! Processor configuration and presets (paper Appendix C "Processor configuration", Table 2).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::nn::{WALRUS_MAX_DISTANCE, WALRUS_NUM_BUCKETS, WALRUS_ROPE_MAX_FREQ};
use crate::{ConfigError, Result};

/// Settings of the Walrus-style processor and its latent projections.
///
/// The paper's processor ([`ProcessorConfig::paper`]) is six blocks of width 1088 with 16
/// heads and a 4× SwiGLU MLP (hidden 4352); with the two 18 ↔ 1088 projections it holds
/// **99 572 090** parameters (Table 2: "Processor & Projection 100 M"), see
/// [`ProcessorConfig::param_count`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessorConfig {
    /// Channels of the tokeniser latents the projections map from and back to (paper: 18).
    pub latent_channels: usize,
    /// Processor width (embedding dimension; paper: 1088).
    pub dim: usize,
    /// Number of blocks, each full spatial attention then causal temporal attention (paper: 6).
    pub n_blocks: usize,
    /// Attention heads in both attentions, and groups of the RMS group norms (paper: 16).
    pub n_heads: usize,
    /// Width of the SwiGLU MLP's input projection, both halves (paper: 4352 = 4 × 1088); the
    /// gated hidden layer is half of it.
    pub mlp_dim: usize,
    /// Drop-path rate of the last block; block `i` of `n` uses `rate · i / (n − 1)` (paper: 0.05).
    pub drop_path: f64,
    /// Scale of the output projections' initialisation relative to PyTorch's default:
    /// Walrus's implicit layer scale (1e-6).
    pub layer_scale_init: f64,
    /// `max_freq` of the axial rotary embedding (Walrus: 256, frequencies π·linspace(1, 128)).
    pub rope_max_freq: f64,
    /// Buckets of the temporal relative position bias (Walrus: 32).
    pub num_buckets: usize,
    /// Distance at which the temporal buckets saturate (Walrus: 32).
    pub max_distance: usize,
    /// Seed of the weight initialisation (drop-path masks use a stream derived from it).
    pub seed: u64,
}

impl Default for ProcessorConfig {
    /// The paper's processor ([`ProcessorConfig::paper`]).
    fn default() -> Self {
        Self::paper()
    }
}

impl ProcessorConfig {
    /// The paper's processor (Appendix C "Processor configuration"; Walrus settings for what
    /// the paper leaves to Walrus): 6 blocks, width 1088, 16 heads, MLP 4352, drop path
    /// 0 → 0.05, 18 latent channels. 99 572 090 parameters with the projections.
    pub fn paper() -> Self {
        Self {
            latent_channels: 18,
            dim: 1088,
            n_blocks: 6,
            n_heads: 16,
            mlp_dim: 4352,
            drop_path: 0.05,
            layer_scale_init: 1e-6,
            rope_max_freq: WALRUS_ROPE_MAX_FREQ,
            num_buckets: WALRUS_NUM_BUCKETS,
            max_distance: WALRUS_MAX_DISTANCE,
            seed: 0,
        }
    }

    /// A CPU preset for tutorials: 4 blocks, width 128, 4 heads (head 32), MLP 512.
    pub fn small() -> Self {
        Self {
            dim: 128,
            n_blocks: 4,
            n_heads: 4,
            mlp_dim: 512,
            ..Self::paper()
        }
    }

    /// The smallest sensible preset, for tests: 2 blocks, width 32, 4 heads (head 8), MLP 128.
    pub fn tiny() -> Self {
        Self {
            dim: 32,
            n_blocks: 2,
            n_heads: 4,
            mlp_dim: 128,
            ..Self::paper()
        }
    }

    /// Sets the number of latent channels.
    pub fn with_latent_channels(mut self, latent_channels: usize) -> Self {
        self.latent_channels = latent_channels;
        self
    }

    /// Sets the width and a 4× MLP (`mlp_dim = 4 · dim`).
    pub fn with_dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self.mlp_dim = 4 * dim;
        self
    }

    /// Sets the number of blocks.
    pub fn with_n_blocks(mut self, n_blocks: usize) -> Self {
        self.n_blocks = n_blocks;
        self
    }

    /// Sets the number of attention heads.
    pub fn with_n_heads(mut self, n_heads: usize) -> Self {
        self.n_heads = n_heads;
        self
    }

    /// Sets the MLP input width (both SwiGLU halves).
    pub fn with_mlp_dim(mut self, mlp_dim: usize) -> Self {
        self.mlp_dim = mlp_dim;
        self
    }

    /// Sets the last block's drop-path rate.
    pub fn with_drop_path(mut self, drop_path: f64) -> Self {
        self.drop_path = drop_path;
        self
    }

    /// Sets the output projections' initial scale.
    pub fn with_layer_scale_init(mut self, layer_scale_init: f64) -> Self {
        self.layer_scale_init = layer_scale_init;
        self
    }

    /// Sets the initialisation seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Features per attention head, `dim / n_heads`.
    pub fn head_dim(&self) -> usize {
        self.dim / self.n_heads.max(1)
    }

    /// Drop-path rate of block `index`: `drop_path · index / (n_blocks − 1)` (Walrus's
    /// `np.linspace(0, drop_path, n_blocks)`).
    pub fn drop_path_rate(&self, index: usize) -> f64 {
        if self.n_blocks <= 1 {
            0.0
        } else {
            self.drop_path * index as f64 / (self.n_blocks - 1) as f64
        }
    }

    /// Checks every rule; terminal methods call it first.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("latent_channels", self.latent_channels),
            ("dim", self.dim),
            ("n_blocks", self.n_blocks),
            ("n_heads", self.n_heads),
            ("mlp_dim", self.mlp_dim),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if !self.dim.is_multiple_of(self.n_heads) {
            return Err(ConfigError::Mismatch {
                name: "dim",
                value: self.dim.to_string(),
                other: format!("a multiple of n_heads = {}", self.n_heads),
            });
        }
        if self.head_dim() < 8 {
            return Err(ConfigError::OutOfRange {
                name: "head_dim (dim / n_heads)",
                range: ">= 8 (each spatial axis rotates head_dim / 4 features)",
                value: self.head_dim() as f64,
            });
        }
        if !self.mlp_dim.is_multiple_of(2) {
            return Err(ConfigError::Mismatch {
                name: "mlp_dim",
                value: self.mlp_dim.to_string(),
                other: "an even number (SwiGLU halves)".into(),
            });
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return Err(ConfigError::OutOfRange {
                name: "drop_path",
                range: "[0, 1)",
                value: self.drop_path,
            });
        }
        if !(self.layer_scale_init > 0.0 && self.layer_scale_init.is_finite()) {
            return Err(ConfigError::NotPositive {
                name: "layer_scale_init",
                value: self.layer_scale_init,
            });
        }
        if !(self.rope_max_freq > 0.0 && self.rope_max_freq.is_finite()) {
            return Err(ConfigError::NotPositive {
                name: "rope_max_freq",
                value: self.rope_max_freq,
            });
        }
        if self.num_buckets < 2 {
            return Err(ConfigError::OutOfRange {
                name: "num_buckets",
                range: ">= 2",
                value: self.num_buckets as f64,
            });
        }
        if self.max_distance <= self.num_buckets / 2 {
            return Err(ConfigError::Mismatch {
                name: "max_distance",
                value: self.max_distance.to_string(),
                other: format!("more than num_buckets / 2 = {}", self.num_buckets / 2),
            });
        }
        Ok(())
    }

    /// Parameters of one spatial attention: norm gain `d`, fused `d → mlp + 3d` with bias,
    /// q/k layer norms `4·head_dim`, `attn_out` `d²` (no bias), `ff_out` `(mlp/2)·d + d`.
    pub fn spatial_param_count(&self) -> usize {
        let (d, m, hd) = (self.dim, self.mlp_dim, self.head_dim());
        d + (d * (m + 3 * d) + m + 3 * d) + 4 * hd + d * d + (m / 2 * d + d)
    }

    /// Parameters of one temporal attention: norm gain `d`, qkv `d → 3d` with bias, q norm
    /// gain+bias and k norm gain `3·head_dim`, out `d² + d`, bias table `buckets·heads`.
    pub fn temporal_param_count(&self) -> usize {
        let (d, hd) = (self.dim, self.head_dim());
        d + (3 * d * d + 3 * d) + 3 * hd + (d * d + d) + self.num_buckets * self.n_heads
    }

    /// Parameters of the two projections, `latent → dim` and `dim → latent`, with biases.
    pub fn projection_param_count(&self) -> usize {
        let (c, d) = (self.latent_channels, self.dim);
        (c * d + d) + (d * c + c)
    }

    /// Total parameters of the processor with its projections.
    pub fn param_count(&self) -> usize {
        self.n_blocks * (self.spatial_param_count() + self.temporal_param_count())
            + self.projection_param_count()
    }

    /// The configuration as an HTML table.
    pub fn to_html(&self) -> String {
        crate::report::Table::settings("ProcessorConfig", self.rows()).to_html()
    }

    /// Prints the configuration as an HTML table for evcxr.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }

    fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("latent_channels", self.latent_channels.to_string()),
            ("dim", self.dim.to_string()),
            ("n_blocks", self.n_blocks.to_string()),
            (
                "n_heads",
                format!("{} (head_dim {})", self.n_heads, self.head_dim()),
            ),
            ("mlp_dim", self.mlp_dim.to_string()),
            ("drop_path", format!("0 → {}", self.drop_path)),
            ("layer_scale_init", format!("{:e}", self.layer_scale_init)),
            ("rope_max_freq", self.rope_max_freq.to_string()),
            (
                "buckets",
                format!("{} (max_distance {})", self.num_buckets, self.max_distance),
            ),
            ("seed", self.seed.to_string()),
            ("parameters", self.param_count().to_string()),
        ]
    }
}

impl fmt::Display for ProcessorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ProcessorConfig")?;
        let rows = self.rows();
        for (i, (k, v)) in rows.iter().enumerate() {
            write!(f, "  {k:<16} {v}")?;
            if i + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_pass_and_rules_are_enforced() {
        for c in [
            ProcessorConfig::paper(),
            ProcessorConfig::small(),
            ProcessorConfig::tiny(),
        ] {
            c.check().unwrap();
        }
        let p = ProcessorConfig::paper();
        assert_eq!(
            (p.head_dim(), p.drop_path_rate(0), p.drop_path_rate(5)),
            (68, 0.0, 0.05)
        );
        assert!((p.drop_path_rate(1) - 0.01).abs() < 1e-12);
        assert!(matches!(
            p.clone().with_n_heads(15).check(),
            Err(ConfigError::Mismatch { name: "dim", .. })
        ));
        assert!(matches!(
            p.clone().with_n_heads(272).check(),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.clone().with_mlp_dim(4353).check(),
            Err(ConfigError::Mismatch {
                name: "mlp_dim",
                ..
            })
        ));
        assert!(matches!(
            p.clone().with_drop_path(1.0).check(),
            Err(ConfigError::OutOfRange { .. })
        ));
        assert!(matches!(
            p.clone().with_n_blocks(0).check(),
            Err(ConfigError::NotPositive { .. })
        ));
        assert!(matches!(
            p.with_layer_scale_init(0.0).check(),
            Err(ConfigError::NotPositive { .. })
        ));
    }

    #[test]
    fn paper_parameter_count_is_about_100_million() {
        let p = ProcessorConfig::paper();
        // spatial 10d² + 9d + 4·hd, temporal 4d² + 5d + 3·hd + 32·16, projections 2·18·d + d + 18
        assert_eq!(p.spatial_param_count(), 11_847_504);
        assert_eq!(p.temporal_param_count(), 4_741_132);
        assert_eq!(p.projection_param_count(), 40_274);
        assert_eq!(p.param_count(), 99_572_090);
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(serde_json::from_str::<ProcessorConfig>(&json).unwrap(), p);
    }
}
