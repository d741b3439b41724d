//! The Well's ConvNeXt U-Net (`the_well.benchmark.models.UNetConvNext`, "CNextU-net" in
//! its benchmark tables; the refinement network of PhysiX).
//!
//! A 3x3 input projection to `init_features` channels; `stages` encoder stages, each
//! `blocks_per_stage` ConvNeXt blocks (Liu et al. 2022: depthwise 7x7 convolution →
//! LayerNorm over channels → Linear `C → 4C` → GELU → Linear `4C → C` → layer scale
//! (init 1e-6) → residual) followed by a downsampling (channel L2 norm → 2x2 stride-2
//! convolution doubling the channels); a neck of `blocks_at_neck` blocks at
//! `init_features · 2^stages` channels; `stages` decoder stages, each (except the first)
//! concatenating the encoder's skip at its resolution and projecting `2C → C` with a 1x1
//! convolution, then its blocks, then an upsampling (channel L2 norm → 2x2 stride-2
//! transposed convolution halving the channels); a 3x3 output projection. As in The Well,
//! the full-resolution skip (the input projection's output) is not used.
//!
//! Departures: the blocks' LayerNorm uses eps 1e-5 (phystok's [`LayerNorm`]; The Well
//! 1e-6), and the resampling norms have no bias (The Well creates one and never uses it).

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use super::layers::{ChannelL2Norm, Conv2d, ConvTranspose2x2, DepthwiseConv};
use super::{check_depth, check_input};
use crate::nn::{Bias, Component, LayerNorm, Linear, LinearConfig, Shift, gelu_erf};
use crate::{ConfigError, Result};

/// Settings of a [`UNetConvNext`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UNetConvNextConfig {
    /// Input channels (The Well: `n_in · fields` plus constant fields).
    pub in_channels: usize,
    /// Output channels (The Well: the fields of one frame).
    pub out_channels: usize,
    /// Channels after the input projection; stage `i` works at `init_features · 2^i`.
    pub init_features: usize,
    /// Encoder (and decoder) stages, each halving (doubling) the resolution.
    pub stages: usize,
    /// ConvNeXt blocks per encoder and decoder stage.
    pub blocks_per_stage: usize,
    /// ConvNeXt blocks at the neck.
    pub blocks_at_neck: usize,
    /// Kernel of the depthwise convolutions (ConvNeXt: 7).
    pub kernel_size: usize,
    /// Initial value of every block's layer scale (ConvNeXt: 1e-6).
    pub layer_scale_init: f64,
    /// The grid `[height, width]` it runs on; each must halve `stages` times.
    pub resolution: [usize; 2],
}

impl Default for UNetConvNextConfig {
    /// The Well's class defaults: 4 stages, 1 block per stage and at the neck, 32 features.
    fn default() -> Self {
        UNetConvNextConfig {
            in_channels: 4,
            out_channels: 1,
            init_features: 32,
            stages: 4,
            blocks_per_stage: 1,
            blocks_at_neck: 1,
            kernel_size: 7,
            layer_scale_init: 1e-6,
            resolution: [128, 128],
        }
    }
}

impl UNetConvNextConfig {
    /// `in_channels → out_channels` on a `height x width` grid, The Well's class defaults.
    pub fn new(in_channels: usize, out_channels: usize, resolution: [usize; 2]) -> Self {
        UNetConvNextConfig {
            in_channels,
            out_channels,
            resolution,
            ..Self::default()
        }
    }

    /// The Well's benchmark configuration (`configs/model/unet_convnext.yaml`):
    /// `init_features: 42`, `blocks_per_stage: 2`, 4 stages, 1 block at the neck.
    pub fn the_well(in_channels: usize, out_channels: usize, resolution: [usize; 2]) -> Self {
        Self::new(in_channels, out_channels, resolution)
            .with_init_features(42)
            .with_blocks_per_stage(2)
    }

    /// PhysiX's refinement network (REFERENCE.md: 4 stages x 4 blocks, 64 features).
    pub fn physix_refinement(
        in_channels: usize,
        out_channels: usize,
        resolution: [usize; 2],
    ) -> Self {
        Self::new(in_channels, out_channels, resolution)
            .with_init_features(64)
            .with_blocks_per_stage(4)
    }

    /// Sets the input channels.
    pub fn with_in_channels(mut self, in_channels: usize) -> Self {
        self.in_channels = in_channels;
        self
    }

    /// Sets the output channels.
    pub fn with_out_channels(mut self, out_channels: usize) -> Self {
        self.out_channels = out_channels;
        self
    }

    /// Sets the channels after the input projection.
    pub fn with_init_features(mut self, init_features: usize) -> Self {
        self.init_features = init_features;
        self
    }

    /// Sets the number of stages.
    pub fn with_stages(mut self, stages: usize) -> Self {
        self.stages = stages;
        self
    }

    /// Sets the blocks per stage.
    pub fn with_blocks_per_stage(mut self, blocks_per_stage: usize) -> Self {
        self.blocks_per_stage = blocks_per_stage;
        self
    }

    /// Sets the blocks at the neck.
    pub fn with_blocks_at_neck(mut self, blocks_at_neck: usize) -> Self {
        self.blocks_at_neck = blocks_at_neck;
        self
    }

    /// Sets the depthwise kernel size (odd).
    pub fn with_kernel_size(mut self, kernel_size: usize) -> Self {
        self.kernel_size = kernel_size;
        self
    }

    /// Sets the layer-scale initial value (`> 0`).
    pub fn with_layer_scale_init(mut self, layer_scale_init: f64) -> Self {
        self.layer_scale_init = layer_scale_init;
        self
    }

    /// Sets the grid `[height, width]`.
    pub fn with_resolution(mut self, resolution: [usize; 2]) -> Self {
        self.resolution = resolution;
        self
    }

    /// Checks every setting: sizes positive, an odd kernel, a positive layer scale, and a
    /// grid that halves `stages` times ([`ConfigError::TooDeep`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("init_features", self.init_features),
            ("stages", self.stages),
            ("kernel_size", self.kernel_size),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if self.kernel_size.is_multiple_of(2) {
            return Err(ConfigError::Mismatch {
                name: "kernel_size",
                value: self.kernel_size.to_string(),
                other: "same padding (an odd kernel)".into(),
            });
        }
        if self.layer_scale_init.is_nan() || self.layer_scale_init <= 0.0 {
            return Err(ConfigError::NotPositive {
                name: "layer_scale_init",
                value: self.layer_scale_init,
            });
        }
        check_depth("stages", self.stages, self.resolution)
    }

    /// Channels of the encoder stage `i` (`init_features · 2^i`).
    fn dim(&self, i: usize) -> usize {
        self.init_features << i
    }

    /// Builds the network under `vb` (after [`check`](Self::check)).
    pub fn build(&self, vb: VarBuilder) -> Result<UNetConvNext> {
        self.check()?;
        let f = self.init_features;
        let in_proj = Conv2d::same(self.in_channels, f, 3, Bias::With, vb.pp("in_proj"))?;
        let out_proj = Conv2d::same(f, self.out_channels, 3, Bias::With, vb.pp("out_proj"))?;
        let mut encoder = Vec::with_capacity(self.stages);
        let mut decoder = Vec::with_capacity(self.stages);
        for i in 0..self.stages {
            let (d_in, d_out) = (self.dim(i), self.dim(i + 1));
            let vb_enc = vb.pp(format!("encoder.{i}"));
            let blocks = self.blocks_per_stage;
            encoder.push(Stage::new(
                self,
                (d_in, d_out),
                Resample::Down,
                blocks,
                vb_enc,
            )?);
            let (u_in, u_out) = (self.dim(self.stages - i), self.dim(self.stages - i - 1));
            let vb_dec = vb.pp(format!("decoder.{i}"));
            let up = Resample::Up {
                skip_project: i > 0,
            };
            decoder.push(Stage::new(self, (u_in, u_out), up, blocks, vb_dec)?);
        }
        let top = self.dim(self.stages);
        let neck = Stage::new(
            self,
            (top, top),
            Resample::None,
            self.blocks_at_neck,
            vb.pp("neck"),
        )?;
        Ok(UNetConvNext {
            config: self.clone(),
            in_proj,
            encoder,
            neck,
            decoder,
            out_proj,
        })
    }

    /// Number of parameters [`build`](Self::build) creates.
    pub fn n_parameters(&self) -> usize {
        let k2 = self.kernel_size.pow(2);
        let block = |c: usize| c * k2 + c + 2 * c + (4 * c * c + 4 * c) + (4 * c * c + c) + c;
        let conv = |i: usize, o: usize, k: usize| i * o * k * k + o;
        let mut n = conv(self.in_channels, self.init_features, 3)
            + conv(self.init_features, self.out_channels, 3);
        for i in 0..self.stages {
            let (d_in, d_out) = (self.dim(i), self.dim(i + 1));
            n += self.blocks_per_stage * block(d_in) + d_in + conv(d_in, d_out, 2);
            let (u_in, u_out) = (self.dim(self.stages - i), self.dim(self.stages - i - 1));
            n += self.blocks_per_stage * block(u_in) + u_in + u_in * u_out * 4 + u_out;
            if i > 0 {
                n += conv(2 * u_in, u_in, 1);
            }
        }
        n + self.blocks_at_neck * block(self.dim(self.stages))
    }
}

/// How a stage ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resample {
    Down,
    /// Upsampling, after a 1x1 projection of the concatenated skip when `skip_project`.
    Up {
        skip_project: bool,
    },
    None,
}

#[derive(Debug, Clone)]
enum Resampler {
    Down(ChannelL2Norm, Conv2d),
    Up(ChannelL2Norm, ConvTranspose2x2),
    None,
}

/// One ConvNeXt block.
#[derive(Debug, Clone)]
struct Block {
    dwconv: DepthwiseConv,
    norm: LayerNorm,
    pwconv1: Linear,
    pwconv2: Linear,
    gamma: Tensor,
}

impl Block {
    fn new(config: &UNetConvNextConfig, dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            dwconv: DepthwiseConv::new(dim, config.kernel_size, vb.pp("dwconv"))?,
            norm: LayerNorm::new(dim, Shift::GainAndBias, vb.pp("norm"))?,
            pwconv1: LinearConfig::new(dim, 4 * dim).build(vb.pp("pwconv1"))?,
            pwconv2: LinearConfig::new(4 * dim, dim).build(vb.pp("pwconv2"))?,
            gamma: vb.get_with_hints(dim, "gamma", Init::Const(config.layer_scale_init))?,
        })
    }

    /// `(batch, dim, H, W) → (batch, dim, H, W)`.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let hs = self.dwconv.forward(xs)?.permute((0, 2, 3, 1))?;
        let hs = self.norm.forward(&hs)?;
        let hs = gelu_erf(&self.pwconv1.forward(&hs)?)?;
        let hs = self.pwconv2.forward(&hs)?.broadcast_mul(&self.gamma)?;
        Ok((xs + hs.permute((0, 3, 1, 2))?)?)
    }
}

/// Blocks at one resolution, an optional skip projection before them and a resampling after.
#[derive(Debug, Clone)]
struct Stage {
    skip_proj: Option<Conv2d>,
    blocks: Vec<Block>,
    resample: Resampler,
}

impl Stage {
    fn new(
        config: &UNetConvNextConfig,
        (dim_in, dim_out): (usize, usize),
        resample: Resample,
        n_blocks: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        let skip_proj = if resample == (Resample::Up { skip_project: true }) {
            Some(Conv2d::same(
                2 * dim_in,
                dim_in,
                1,
                Bias::With,
                vb.pp("skip_proj"),
            )?)
        } else {
            None
        };
        let resample = match resample {
            Resample::Down => Resampler::Down(
                ChannelL2Norm::new(dim_in, vb.pp("resample.norm"))?,
                Conv2d::down2(dim_in, dim_out, vb.pp("resample.conv"))?,
            ),
            Resample::Up { .. } => Resampler::Up(
                ChannelL2Norm::new(dim_in, vb.pp("resample.norm"))?,
                ConvTranspose2x2::new(dim_in, dim_out, vb.pp("resample.conv"))?,
            ),
            Resample::None => Resampler::None,
        };
        let blocks = (0..n_blocks)
            .map(|j| Block::new(config, dim_in, vb.pp(format!("blocks.{j}"))))
            .collect::<Result<_>>()?;
        Ok(Stage {
            skip_proj,
            blocks,
            resample,
        })
    }

    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let mut xs = match &self.skip_proj {
            Some(p) => p.forward(xs)?,
            None => xs.clone(),
        };
        for block in &self.blocks {
            xs = block.forward(&xs)?;
        }
        match &self.resample {
            Resampler::Down(norm, conv) => conv.forward(&norm.forward(&xs)?),
            Resampler::Up(norm, conv) => conv.forward(&norm.forward(&xs)?),
            Resampler::None => Ok(xs),
        }
    }
}

/// The Well's ConvNeXt U-Net (see the module docs). Cloning shares the weights.
#[derive(Debug, Clone)]
pub struct UNetConvNext {
    config: UNetConvNextConfig,
    in_proj: Conv2d,
    encoder: Vec<Stage>,
    neck: Stage,
    decoder: Vec<Stage>,
    out_proj: Conv2d,
}

impl UNetConvNext {
    /// The settings it was built with.
    pub fn config(&self) -> &UNetConvNextConfig {
        &self.config
    }

    /// Its parts as [`ParamTable`](crate::nn::ParamTable) rows, paths relative to its `vb`.
    pub fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::new("in_proj", "conv 3x3")];
        for i in 0..self.config.stages {
            out.push(Component::new(
                format!("encoder.{i}"),
                "ConvNeXt stage, down",
            ));
        }
        out.push(Component::new("neck", "ConvNeXt stage"));
        for i in 0..self.config.stages {
            out.push(Component::new(format!("decoder.{i}"), "ConvNeXt stage, up"));
        }
        out.push(Component::new("out_proj", "conv 3x3"));
        out
    }

    /// Applies the network.
    ///
    /// # Shapes
    /// `(batch, in_channels, H, W) → (batch, out_channels, H, W)`, `H` and `W` divisible by
    /// `2^stages`.
    ///
    /// # Errors
    /// [`ConfigError::TooDeep`] when the input's grid does not halve `stages` times, and a
    /// shape error for a wrong channel count.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        check_input(xs, self.config.in_channels, "stages", self.config.stages)?;
        let mut xs = self.in_proj.forward(xs)?;
        let mut skips = Vec::with_capacity(self.encoder.len());
        for stage in &self.encoder {
            skips.push(xs.clone());
            xs = stage.forward(&xs)?;
        }
        xs = self.neck.forward(&xs)?;
        for (j, stage) in self.decoder.iter().enumerate() {
            if j > 0 {
                xs = Tensor::cat(&[&xs, &skips[skips.len() - j]], 1)?;
            }
            xs = stage.forward(&xs)?;
        }
        self.out_proj.forward(&xs)
    }
}
