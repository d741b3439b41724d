//! The tokeniser's decoder, mirroring the encoder: kernel-3 bottleneck → residual blocks →
//! (flexible depth-to-space upsampling, residual blocks) per depth, innermost first → field
//! head back to the active fields (paper Appendix B, C).
//!
//! Weight names (`vb.pp` paths): `bottleneck`, `mid.{i}.conv{1,2}`, `levels.{d}.up.conv`,
//! `levels.{d}.blocks.{i}.conv{1,2}`, `head` — under the `decoder` prefix (with a residual
//! norm also `…norm{1,2}` in every block; with transposed upsampling `levels.{d}.up.transposed`
//! and `levels.{d}.up.conv` instead of `levels.{d}.up.conv` alone).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::compression::Compression;
use super::config::{HeadScaling, TokeniserConfig, Upsampling};
use super::encoder::blocks;
use crate::Result;
use crate::nn::{
    AdaptiveFieldConv, CausalConv3d, CausalConv3dConfig, FieldSide, FlexTransposedUpsample,
    FlexUpsample, ResidualBlock,
};
use crate::nn::{Component, ScaleFactor};

/// One depth's upsampling layer, as the config chooses.
#[derive(Debug, Clone)]
enum Up {
    DepthToSpace(FlexUpsample),
    Transposed(FlexTransposedUpsample),
}

impl Up {
    fn forward(&self, xs: &Tensor, factor: ScaleFactor) -> Result<Tensor> {
        match self {
            Up::DepthToSpace(up) => up.forward(xs, factor),
            Up::Transposed(up) => up.forward(xs, factor),
        }
    }

    fn base_factor(&self) -> ScaleFactor {
        match self {
            Up::DepthToSpace(up) => up.base_factor(),
            Up::Transposed(up) => up.base_factor(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Up::DepthToSpace(_) => "flexible depth-to-space",
            Up::Transposed(_) => "flexible transposed conv + conv 3x3x3",
        }
    }
}

#[derive(Debug, Clone)]
struct Level {
    up: Up,
    blocks: Vec<ResidualBlock>,
}

/// Latents `(batch, latent_channels, T', H', W')` → fields `(batch, active, T, H, W)`.
#[derive(Debug, Clone)]
pub struct Decoder {
    bottleneck: CausalConv3d,
    mid: Vec<ResidualBlock>,
    levels: Vec<Level>,
    head: AdaptiveFieldConv,
}

impl Decoder {
    /// Builds the decoder under `vb` (the tokeniser passes `vb.pp("decoder")`).
    pub fn new(config: &TokeniserConfig, vb: VarBuilder) -> Result<Self> {
        let n = config.channels.len();
        let inner = config.channels[n - 1];
        let bottleneck =
            CausalConv3dConfig::new(config.latent_channels, inner).build(vb.pp("bottleneck"))?;
        let norm = config.residual_norm;
        let mid = blocks(config.res_blocks, inner, norm, vb.pp("mid"))?;
        // level d upsamples from channels[d] to the encoder's input width of depth d
        let mut levels = Vec::new();
        for d in 0..n {
            let c_out = if d == 0 {
                config.channels[0]
            } else {
                config.channels[d - 1]
            };
            let vb = vb.pp("levels").pp(d);
            let (c_in, base) = (config.channels[d], config.depths[d].largest());
            let up = match config.upsampling {
                Upsampling::DepthToSpace => {
                    Up::DepthToSpace(FlexUpsample::new(c_in, c_out, base, vb.pp("up"))?)
                }
                Upsampling::Transposed => Up::Transposed(
                    FlexTransposedUpsample::new(c_in, c_out, base, vb.pp("up"))?
                        .with_resize(config.kernel_resize),
                ),
            };
            levels.push(Level {
                up,
                blocks: blocks(config.res_blocks, c_out, norm, vb.pp("blocks"))?,
            });
        }
        let mut head = AdaptiveFieldConv::new(
            CausalConv3dConfig::new(config.channels[0], config.total_fields),
            FieldSide::Output,
            vb.pp("head"),
        )?;
        if config.head_scaling == HeadScaling::BothHeads {
            head = head.with_rescaled_output();
        }
        Ok(Self {
            bottleneck,
            mid,
            levels,
            head,
        })
    }

    /// Decodes already-validated latents.
    pub(crate) fn forward(
        &self,
        zs: &Tensor,
        active: &[usize],
        compression: &Compression,
    ) -> Result<Tensor> {
        let mut h = self.bottleneck.forward(zs)?;
        for block in &self.mid {
            h = block.forward(&h)?;
        }
        for (level, &factor) in self.levels.iter().zip(&compression.factors).rev() {
            h = level.up.forward(&h, factor)?;
            for block in &level.blocks {
                h = block.forward(&h)?;
            }
        }
        self.head.forward(&h, active)
    }

    /// Parameter counts per component, innermost first (the order data flows).
    pub(crate) fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::new(
            "decoder.bottleneck",
            "bottleneck conv 3x3x3",
        )];
        if !self.mid.is_empty() {
            out.push(Component::new(
                "decoder.mid",
                format!("{} residual blocks", self.mid.len()),
            ));
        }
        for (d, level) in self.levels.iter().enumerate().rev() {
            let base = level.up.base_factor();
            out.push(Component::new(
                format!("decoder.levels.{d}.up"),
                format!("{}, base {base}", level.up.kind()),
            ));
            if !level.blocks.is_empty() {
                out.push(Component::new(
                    format!("decoder.levels.{d}.blocks"),
                    format!("{} residual blocks", level.blocks.len()),
                ));
            }
        }
        out.push(Component::new("decoder.head", "adaptive field conv 3x3x3"));
        out
    }
}
