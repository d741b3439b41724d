//! The tokeniser's decoder, mirroring the encoder: kernel-3 bottleneck → residual blocks →
//! (flexible depth-to-space upsampling, residual blocks) per depth, innermost first → field
//! head back to the active fields (paper Appendix B, C).
//!
//! Weight names (`vb.pp` paths): `bottleneck`, `mid.{i}.conv{1,2}`, `levels.{d}.up.conv`,
//! `levels.{d}.blocks.{i}.conv{1,2}`, `head` — under the `decoder` prefix.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::compression::Compression;
use super::config::{HeadScaling, TokeniserConfig};
use crate::Result;
use crate::nn::Component;
use crate::nn::{
    AdaptiveFieldConv, CausalConv3d, CausalConv3dConfig, FieldSide, FlexUpsample, ResidualBlock,
};

#[derive(Debug, Clone)]
struct Level {
    up: FlexUpsample,
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

fn blocks(n: usize, channels: usize, vb: VarBuilder) -> Result<Vec<ResidualBlock>> {
    (0..n)
        .map(|i| ResidualBlock::new(channels, vb.pp(i)))
        .collect()
}

impl Decoder {
    /// Builds the decoder under `vb` (the tokeniser passes `vb.pp("decoder")`).
    pub fn new(config: &TokeniserConfig, vb: VarBuilder) -> Result<Self> {
        let n = config.channels.len();
        let inner = config.channels[n - 1];
        let bottleneck =
            CausalConv3dConfig::new(config.latent_channels, inner).build(vb.pp("bottleneck"))?;
        let mid = blocks(config.res_blocks, inner, vb.pp("mid"))?;
        // level d upsamples from channels[d] to the encoder's input width of depth d
        let mut levels = Vec::new();
        for d in 0..n {
            let c_out = if d == 0 {
                config.channels[0]
            } else {
                config.channels[d - 1]
            };
            let vb = vb.pp("levels").pp(d);
            levels.push(Level {
                up: FlexUpsample::new(
                    config.channels[d],
                    c_out,
                    config.depths[d].largest(),
                    vb.pp("up"),
                )?,
                blocks: blocks(config.res_blocks, c_out, vb.pp("blocks"))?,
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
                format!("flexible depth-to-space, base {base}"),
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
