//! [`TokeniserConfig`]: the MAGVIT-Simple tokeniser's sizes and compression sets.
//!
//! Paper Section 2.5 and Appendices B, C: encoder channels fields → 16 → 32 → 64, a
//! `1x1x1` bottleneck to 18 latent channels, residual blocks of causal `3x3x3` convolutions,
//! three flexible downsampling depths with the factor sets of Table 7; the decoder mirrors it
//! with a kernel-3 bottleneck and depth-to-space upsampling.

use serde::{Deserialize, Serialize};

use super::compression::{Compression, DepthChoices};
use crate::ConfigError;
use crate::nn::{KernelResize, ResidualNorm};

/// Settings of a [`Tokeniser`](super::Tokeniser).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokeniserConfig {
    /// Number of physical fields the heads are learned for (`c_total`); any subset can be active.
    pub total_fields: usize,
    /// Channel width after each downsampling depth, outermost first (paper: 16, 32, 64).
    /// The encoder head maps the fields to `channels[0]`.
    pub channels: Vec<usize>,
    /// Latent channels at the bottleneck (paper: 18).
    pub latent_channels: usize,
    /// Residual blocks at each level (before each downsampling, and at the bottleneck level).
    pub res_blocks: usize,
    /// The compression factors each depth may take (Table 7), outermost first.
    pub depths: Vec<DepthChoices>,
    /// The compression used for validation.
    pub validation: Compression,
    /// Seed of the weight initialisation and of the training-time compression draws.
    pub seed: u64,
    /// Which heads rescale their output by `sqrt(c_total / c_active)`.
    #[serde(default)]
    pub head_scaling: HeadScaling,
    /// How the decoder upsamples (paper: depth-to-space; configs saved before this setting
    /// existed load as depth-to-space).
    #[serde(default)]
    pub upsampling: Upsampling,
    /// The normalisation inside the residual blocks (configs saved before this setting
    /// existed load as none).
    #[serde(default)]
    pub residual_norm: ResidualNorm,
    /// How the flexible layers resize their base kernel to smaller factors (configs saved
    /// before this setting existed load as the adjoint rule).
    #[serde(default = "adjoint")]
    pub kernel_resize: KernelResize,
}

fn adjoint() -> KernelResize {
    KernelResize::Adjoint
}

/// How the decoder's flexible upsampling layers work (paper Appendix B explores both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Upsampling {
    /// A causal `3x3x3` convolution expands the channels by `s_t·s_s²`, rearranged into time
    /// and space ([`FlexUpsample`](crate::nn::FlexUpsample)); the paper's choice.
    #[default]
    DepthToSpace,
    /// A causal transposed convolution with the kernel sizes of Eq. 6, resized from the base
    /// kernel like the downsampling layers, then a causal `3x3x3` convolution
    /// ([`FlexTransposedUpsample`](crate::nn::FlexTransposedUpsample)).
    Transposed,
}

impl Upsampling {
    /// A short name for tables (`depth-to-space`, `transposed`).
    pub fn key(&self) -> &'static str {
        match self {
            Upsampling::DepthToSpace => "depth-to-space",
            Upsampling::Transposed => "transposed",
        }
    }
}

/// Which of the tokeniser's adaptive field heads rescale by `sqrt(c_total / c_active)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HeadScaling {
    /// The encoder head only (its fan-in shrinks with the active fields; Walrus's choice).
    #[default]
    EncoderOnly,
    /// Both heads' outputs, as the paper (Appendix B): the decoder head's too.
    BothHeads,
}

/// Channel groups of the paper preset's per-frame group norm. The paper does not give it
/// (MAGVIT-2 uses 32, wider than the paper's first level of 16 channels); 8 divides every
/// width (16, 32, 64).
pub const PAPER_NORM_GROUPS: usize = 8;

impl Default for TokeniserConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl TokeniserConfig {
    /// The paper's tokeniser (Section 2.5, Table 2 "5 M"; Appendices B, C, Table 7), with
    /// `total_fields = 18`, the union of the fields of the four datasets of Appendix A
    /// (density, energy, pressure, momentum x/y, buoyancy, velocity x/y, tracer,
    /// concentration, the four components of D and of E). Four residual blocks per level,
    /// each with a plain per-frame group norm ([`PAPER_NORM_GROUPS`] groups; the paper drops
    /// only MAGVIT-2's *adaptive* group norm), depth-to-space upsampling ("We use
    /// depth-to-space upsampling", Appendix C) and the adjoint kernel resize give 4,852,196
    /// parameters, the paper's "5 M" (encoder 1.57 M, decoder 3.28 M, of which the innermost
    /// depth-to-space convolution alone holds 1.77 M; the norms 4,096); the heads and
    /// bottlenecks (what the "mostly frozen" strategy trains) hold 47,924 of them, where
    /// Table 3 says 85 k (the paper does not give the layers' exact shapes).
    pub fn paper() -> Self {
        Self {
            total_fields: 18,
            channels: vec![16, 32, 64],
            latent_channels: 18,
            res_blocks: 4,
            depths: vec![
                DepthChoices::new([1], [2]),
                DepthChoices::new([1, 2], [2, 4]),
                DepthChoices::new([1, 2], [2, 4]),
            ],
            validation: Compression::paper_validation(),
            seed: 0,
            head_scaling: HeadScaling::BothHeads,
            upsampling: Upsampling::DepthToSpace,
            residual_norm: ResidualNorm::GroupPerFrame {
                groups: PAPER_NORM_GROUPS,
            },
            kernel_resize: KernelResize::Adjoint,
        }
    }

    /// A CPU tutorial size: the paper's depths and compression sets, one residual block per
    /// level, channels 8 → 16 → 32, 8 latent channels, 4 fields, the encoder head rescaled
    /// only.
    pub fn small() -> Self {
        Self {
            total_fields: 4,
            channels: vec![8, 16, 32],
            latent_channels: 8,
            res_blocks: 1,
            head_scaling: HeadScaling::EncoderOnly,
            residual_norm: ResidualNorm::None,
            ..Self::paper()
        }
    }

    /// The smallest useful tokeniser, for tests and doc tests: the paper's depths and
    /// compression sets, channels 4 → 4 → 8, 4 latent channels, no residual blocks, 3 fields.
    pub fn tiny() -> Self {
        Self {
            total_fields: 3,
            channels: vec![4, 4, 8],
            latent_channels: 4,
            res_blocks: 0,
            head_scaling: HeadScaling::EncoderOnly,
            residual_norm: ResidualNorm::None,
            ..Self::paper()
        }
    }

    /// Sets the number of fields the heads are learned for.
    pub fn with_total_fields(mut self, total_fields: usize) -> Self {
        self.total_fields = total_fields;
        self
    }

    /// Sets the channel width after each depth (one per depth).
    pub fn with_channels(mut self, channels: impl Into<Vec<usize>>) -> Self {
        self.channels = channels.into();
        self
    }

    /// Sets the number of latent channels.
    pub fn with_latent_channels(mut self, latent_channels: usize) -> Self {
        self.latent_channels = latent_channels;
        self
    }

    /// Sets the number of residual blocks per level.
    pub fn with_res_blocks(mut self, res_blocks: usize) -> Self {
        self.res_blocks = res_blocks;
        self
    }

    /// Sets the compression choices of each depth (one per channel width).
    pub fn with_depths(mut self, depths: impl Into<Vec<DepthChoices>>) -> Self {
        self.depths = depths.into();
        self
    }

    /// Sets the validation compression.
    pub fn with_validation(mut self, validation: Compression) -> Self {
        self.validation = validation;
        self
    }

    /// Sets which heads rescale their output.
    pub fn with_head_scaling(mut self, head_scaling: HeadScaling) -> Self {
        self.head_scaling = head_scaling;
        self
    }

    /// Sets how the decoder upsamples.
    pub fn with_upsampling(mut self, upsampling: Upsampling) -> Self {
        self.upsampling = upsampling;
        self
    }

    /// Sets the residual blocks' normalisation.
    pub fn with_residual_norm(mut self, residual_norm: ResidualNorm) -> Self {
        self.residual_norm = residual_norm;
        self
    }

    /// Sets how the flexible layers resize their base kernel.
    pub fn with_kernel_resize(mut self, kernel_resize: KernelResize) -> Self {
        self.kernel_resize = kernel_resize;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks every rule: positive sizes, one channel width per depth, valid factor sets, and
    /// a validation compression the depths allow.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("total_fields", self.total_fields),
            ("latent_channels", self.latent_channels),
            ("number of depths", self.depths.len()),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if let Some(&c) = self.channels.iter().find(|&&c| c == 0) {
            return Err(ConfigError::NotPositive {
                name: "channels",
                value: c as f64,
            });
        }
        if self.channels.len() != self.depths.len() {
            return Err(ConfigError::Mismatch {
                name: "channels",
                value: format!("{:?}", self.channels),
                other: format!("{} depths (one width per depth)", self.depths.len()),
            });
        }
        for d in &self.depths {
            d.check()?;
        }
        if self.res_blocks > 0 {
            for &c in &self.channels {
                self.residual_norm.check(c, "residual_norm.groups")?;
            }
        }
        self.validation.check(&self.depths)
    }

    /// Every compression the training distribution can draw.
    pub fn all_compressions(&self) -> Vec<Compression> {
        Compression::all(&self.depths)
    }
}
