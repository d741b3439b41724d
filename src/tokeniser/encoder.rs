//! The tokeniser's encoder: field head → (residual blocks, flexible downsampling) per depth →
//! residual blocks → `1x1x1` bottleneck to the latent channels (paper Appendix B, C).
//!
//! Weight names (`vb.pp` paths): `head`, `levels.{d}.blocks.{i}.conv{1,2}`, `levels.{d}.down`,
//! `mid.{i}.conv{1,2}`, `bottleneck` (with a residual norm also `…blocks.{i}.norm{1,2}`,
//! `mid.{i}.norm{1,2}`) — under the `encoder` prefix the tokeniser gives it.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::compression::Compression;
use super::config::TokeniserConfig;
use crate::Result;
use crate::nn::Component;
use crate::nn::{
    AdaptiveFieldConv, CausalConv3d, CausalConv3dConfig, FieldSide, FlexDownsample, ResidualBlock,
    ResidualNorm,
};

#[derive(Debug, Clone)]
struct Level {
    blocks: Vec<ResidualBlock>,
    down: FlexDownsample,
}

/// Pixels `(batch, fields, T, H, W)` → latents `(batch, latent_channels, T', H', W')`.
#[derive(Debug, Clone)]
pub struct Encoder {
    head: AdaptiveFieldConv,
    levels: Vec<Level>,
    mid: Vec<ResidualBlock>,
    bottleneck: CausalConv3d,
}

pub(super) fn blocks(
    n: usize,
    channels: usize,
    norm: ResidualNorm,
    vb: VarBuilder,
) -> Result<Vec<ResidualBlock>> {
    (0..n)
        .map(|i| ResidualBlock::with_norm(channels, norm, vb.pp(i)))
        .collect()
}

impl Encoder {
    /// Builds the encoder under `vb` (the tokeniser passes `vb.pp("encoder")`).
    pub fn new(config: &TokeniserConfig, vb: VarBuilder) -> Result<Self> {
        let width = config.channels[0];
        let head = AdaptiveFieldConv::new(
            CausalConv3dConfig::new(config.total_fields, width),
            FieldSide::Input,
            vb.pp("head"),
        )?;
        let mut levels = Vec::new();
        let mut c_in = width;
        for (d, (choices, &c_out)) in config.depths.iter().zip(&config.channels).enumerate() {
            let vb = vb.pp("levels").pp(d);
            levels.push(Level {
                blocks: blocks(
                    config.res_blocks,
                    c_in,
                    config.residual_norm,
                    vb.pp("blocks"),
                )?,
                down: FlexDownsample::new(c_in, c_out, choices.largest(), vb.pp("down"))?
                    .with_resize(config.kernel_resize),
            });
            c_in = c_out;
        }
        let mid = blocks(config.res_blocks, c_in, config.residual_norm, vb.pp("mid"))?;
        let bottleneck = CausalConv3dConfig::new(c_in, config.latent_channels)
            .with_kernel(1, 1)
            .build(vb.pp("bottleneck"))?;
        Ok(Self {
            head,
            levels,
            mid,
            bottleneck,
        })
    }

    /// Encodes already-validated input (the [`Tokeniser`](super::Tokeniser) checks shapes).
    pub(crate) fn forward(
        &self,
        xs: &Tensor,
        active: &[usize],
        compression: &Compression,
    ) -> Result<Tensor> {
        let mut h = self.head.forward(xs, active)?;
        for (level, &factor) in self.levels.iter().zip(&compression.factors) {
            for block in &level.blocks {
                h = block.forward(&h)?;
            }
            h = level.down.forward(&h, factor)?;
        }
        for block in &self.mid {
            h = block.forward(&h)?;
        }
        self.bottleneck.forward(&h)
    }

    /// Its components in data-flow order (paths under the tokeniser), for its parameter table.
    pub(crate) fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::new("encoder.head", "adaptive field conv 3x3x3")];
        for (d, level) in self.levels.iter().enumerate() {
            if !level.blocks.is_empty() {
                out.push(Component::new(
                    format!("encoder.levels.{d}.blocks"),
                    format!("{} residual blocks", level.blocks.len()),
                ));
            }
            let base = level.down.base_factor();
            out.push(Component::new(
                format!("encoder.levels.{d}.down"),
                format!("flexible downsampling, base {base}"),
            ));
        }
        if !self.mid.is_empty() {
            out.push(Component::new(
                "encoder.mid",
                format!("{} residual blocks", self.mid.len()),
            ));
        }
        out.push(Component::new(
            "encoder.bottleneck",
            "bottleneck conv 1x1x1",
        ));
        out
    }
}
