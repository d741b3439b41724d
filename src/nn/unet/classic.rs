//! The Well's classic U-Net (`the_well.benchmark.models.UNetClassic`, "U-net" in its
//! benchmark tables; adapted there from PDEBench, after Ronneberger et al. 2015).
//!
//! `depth` encoder levels (The Well: 4), each a block of two (3x3 convolution without bias →
//! BatchNorm → tanh) followed by 2x2 max pooling; a bottleneck block at
//! `init_features · 2^depth` channels; `depth` decoder levels, each a 2x2 stride-2
//! transposed convolution halving the channels, concatenation with the encoder's output at
//! that resolution, and a block; a 1x1 output convolution.
//!
//! BatchNorm uses batch statistics in [`Mode::Train`] and running statistics (momentum 0.1)
//! in [`Mode::Eval`]; the running statistics are `VarMap` buffers ([`is_buffer`]).
//! Departure: the output layer is a 1x1 convolution initialised with PyTorch's
//! convolution fan-in (The Well writes it as a kernel-1 transposed convolution: the same
//! map, initialised with the fan-out).

use candle_core::Tensor;
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::layers::{BatchNorm2d, Conv2d, ConvTranspose2x2, max_pool2};
use super::{check_depth, check_input};
#[cfg(doc)]
use crate::nn::is_buffer;
use crate::nn::{Bias, Component, Mode};
use crate::{ConfigError, Result};

/// Settings of a [`UNetClassic`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UNetClassicConfig {
    /// Input channels (The Well: `n_in · fields` plus constant fields).
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Channels of the first level; level `i` works at `init_features · 2^i`.
    pub init_features: usize,
    /// Encoder (and decoder) levels, each halving (doubling) the resolution (The Well: 4).
    pub depth: usize,
    /// The grid `[height, width]` it runs on; each must halve `depth` times.
    pub resolution: [usize; 2],
}

impl Default for UNetClassicConfig {
    /// The Well's class defaults: depth 4, 32 features.
    fn default() -> Self {
        UNetClassicConfig {
            in_channels: 4,
            out_channels: 1,
            init_features: 32,
            depth: 4,
            resolution: [128, 128],
        }
    }
}

impl UNetClassicConfig {
    /// `in_channels → out_channels` on a `height x width` grid, The Well's class defaults.
    pub fn new(in_channels: usize, out_channels: usize, resolution: [usize; 2]) -> Self {
        UNetClassicConfig {
            in_channels,
            out_channels,
            resolution,
            ..Self::default()
        }
    }

    /// The Well's benchmark configuration (`configs/model/unet_classic.yaml`):
    /// `init_features: 48`, depth 4.
    pub fn the_well(in_channels: usize, out_channels: usize, resolution: [usize; 2]) -> Self {
        Self::new(in_channels, out_channels, resolution).with_init_features(48)
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

    /// Sets the channels of the first level.
    pub fn with_init_features(mut self, init_features: usize) -> Self {
        self.init_features = init_features;
        self
    }

    /// Sets the number of levels.
    pub fn with_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Sets the grid `[height, width]`.
    pub fn with_resolution(mut self, resolution: [usize; 2]) -> Self {
        self.resolution = resolution;
        self
    }

    /// Checks every setting: sizes positive and a grid that halves `depth` times
    /// ([`ConfigError::TooDeep`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("init_features", self.init_features),
            ("depth", self.depth),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        check_depth("depth", self.depth, self.resolution)
    }

    fn dim(&self, i: usize) -> usize {
        self.init_features << i
    }

    /// Builds the network under `vb` (after [`check`](Self::check)).
    pub fn build(&self, vb: VarBuilder) -> Result<UNetClassic> {
        self.check()?;
        let mut encoder = Vec::with_capacity(self.depth);
        let mut decoder = Vec::with_capacity(self.depth);
        for i in 0..self.depth {
            let inp = if i == 0 {
                self.in_channels
            } else {
                self.dim(i - 1)
            };
            encoder.push(ConvBlock::new(
                inp,
                self.dim(i),
                vb.pp(format!("encoder.{i}")),
            )?);
            let vb_dec = vb.pp(format!("decoder.{i}"));
            decoder.push(UpLevel {
                upconv: ConvTranspose2x2::new(self.dim(i + 1), self.dim(i), vb_dec.pp("upconv"))?,
                block: ConvBlock::new(2 * self.dim(i), self.dim(i), vb_dec.pp("block"))?,
            });
        }
        let top = self.dim(self.depth);
        Ok(UNetClassic {
            config: self.clone(),
            encoder,
            bottleneck: ConvBlock::new(self.dim(self.depth - 1), top, vb.pp("bottleneck"))?,
            decoder,
            out_conv: Conv2d::same(
                self.init_features,
                self.out_channels,
                1,
                Bias::With,
                vb.pp("out_conv"),
            )?,
        })
    }

    /// Number of trainable parameters [`build`](Self::build) creates (buffers not counted).
    pub fn n_parameters(&self) -> usize {
        let block = |i: usize, o: usize| i * o * 9 + 2 * o + o * o * 9 + 2 * o;
        let mut n = self.init_features * self.out_channels + self.out_channels;
        for i in 0..self.depth {
            let inp = if i == 0 {
                self.in_channels
            } else {
                self.dim(i - 1)
            };
            n += block(inp, self.dim(i));
            n += self.dim(i + 1) * self.dim(i) * 4 + self.dim(i);
            n += block(2 * self.dim(i), self.dim(i));
        }
        n + block(self.dim(self.depth - 1), self.dim(self.depth))
    }
}

/// Two (3x3 convolution without bias → BatchNorm → tanh).
#[derive(Debug, Clone)]
struct ConvBlock {
    conv1: Conv2d,
    norm1: BatchNorm2d,
    conv2: Conv2d,
    norm2: BatchNorm2d,
}

impl ConvBlock {
    fn new(inp: usize, out: usize, vb: VarBuilder) -> Result<Self> {
        Ok(ConvBlock {
            conv1: Conv2d::same(inp, out, 3, Bias::Without, vb.pp("conv1"))?,
            norm1: BatchNorm2d::new(out, vb.pp("norm1"))?,
            conv2: Conv2d::same(out, out, 3, Bias::Without, vb.pp("conv2"))?,
            norm2: BatchNorm2d::new(out, vb.pp("norm2"))?,
        })
    }

    fn forward(&self, xs: &Tensor, mode: Mode) -> Result<Tensor> {
        let xs = self.norm1.forward(&self.conv1.forward(xs)?, mode)?.tanh()?;
        Ok(self
            .norm2
            .forward(&self.conv2.forward(&xs)?, mode)?
            .tanh()?)
    }
}

/// A transposed convolution up, then a block on `[up, skip]`.
#[derive(Debug, Clone)]
struct UpLevel {
    upconv: ConvTranspose2x2,
    block: ConvBlock,
}

/// The Well's classic U-Net (see the module docs). Cloning shares the weights and the
/// running statistics.
#[derive(Debug, Clone)]
pub struct UNetClassic {
    config: UNetClassicConfig,
    encoder: Vec<ConvBlock>,
    bottleneck: ConvBlock,
    /// Level `i` maps `init_features · 2^(i+1)` channels up to `init_features · 2^i`.
    decoder: Vec<UpLevel>,
    out_conv: Conv2d,
}

impl UNetClassic {
    /// The settings it was built with.
    pub fn config(&self) -> &UNetClassicConfig {
        &self.config
    }

    /// Its parts as [`ParamTable`](crate::nn::ParamTable) rows, paths relative to its `vb`.
    pub fn components(&self) -> Vec<Component> {
        let mut out = Vec::new();
        for i in 0..self.config.depth {
            out.push(Component::new(
                format!("encoder.{i}"),
                "2 x (conv 3x3, BatchNorm, tanh)",
            ));
        }
        out.push(Component::new(
            "bottleneck",
            "2 x (conv 3x3, BatchNorm, tanh)",
        ));
        for i in 0..self.config.depth {
            out.push(Component::new(format!("decoder.{i}"), "up-conv 2x2, block"));
        }
        out.push(Component::new("out_conv", "conv 1x1"));
        out
    }

    /// Applies the network; [`Mode::Train`] normalises with batch statistics and updates the
    /// running statistics, [`Mode::Eval`] uses them.
    ///
    /// # Shapes
    /// `(batch, in_channels, H, W) → (batch, out_channels, H, W)`, `H` and `W` divisible by
    /// `2^depth`.
    ///
    /// # Errors
    /// [`ConfigError::TooDeep`] when the input's grid does not halve `depth` times, and a
    /// shape error for a wrong channel count.
    pub fn forward(&self, xs: &Tensor, mode: Mode) -> Result<Tensor> {
        check_input(xs, self.config.in_channels, "depth", self.config.depth)?;
        let mut skips = Vec::with_capacity(self.encoder.len());
        let mut xs = xs.clone();
        for block in &self.encoder {
            let ys = block.forward(&xs, mode)?;
            xs = max_pool2(&ys)?;
            skips.push(ys);
        }
        xs = self.bottleneck.forward(&xs, mode)?;
        for (level, skip) in self.decoder.iter().zip(&skips).rev() {
            let up = level.upconv.forward(&xs)?;
            xs = level.block.forward(&Tensor::cat(&[&up, skip], 1)?, mode)?;
        }
        self.out_conv.forward(&xs)
    }
}
