//! The Fourier neural operator of The Well's FNO and TFNO baselines
//! (`the_well.benchmark.models.fno` / `.tfno`, wrapping neuraloperator's `FNO` and `TFNO`
//! with their defaults).
//!
//! neuraloperator's layout: the input and its grid coordinates (`x/H`, `y/W` as two extra
//! channels, its "grid" positional embedding) → lifting MLP (1x1 convolutions
//! `C_in + 2 → 2·hidden → hidden`, GELU between) → `n_layers` FNO blocks → projection MLP
//! (`hidden → 2·hidden → C_out`). Each block: `x = spectral(x) + skip(x)` (a 1x1
//! convolution without bias), GELU; `x = channel_mlp(x) + gate ⊙ x` (MLP `hidden →
//! hidden/2 → hidden`, plus the block's input times a per-channel gate starting at one:
//! neuraloperator's soft-gating skip), GELU; the last
//! block has no GELUs. TFNO is the same with Tucker-factorised spectral weights.

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::nn::{
    Component, Factorisation, Linear, LinearConfig, SpectralConv2d, SpectralConvConfig, gelu_erf,
};
use crate::{ConfigError, Result};

/// Settings of an [`Fno`] network.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FnoConfig {
    /// Input channels (without the two grid channels it appends).
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Channels inside the blocks (The Well: 128).
    pub hidden: usize,
    /// Fourier modes `[height, width]` (neuraloperator's `n_modes`; The Well: 16 x 16).
    pub modes: [usize; 2],
    /// FNO blocks (neuraloperator: 4).
    pub n_layers: usize,
    /// Dense (FNO) or Tucker (TFNO) spectral weights.
    pub factorisation: Factorisation,
}

impl FnoConfig {
    /// neuraloperator's FNO defaults with The Well's sizes (hidden 128, modes 16 x 16, 4 blocks).
    pub fn new(in_channels: usize, out_channels: usize) -> Self {
        FnoConfig {
            in_channels,
            out_channels,
            hidden: 128,
            modes: [16, 16],
            n_layers: 4,
            factorisation: Factorisation::Dense,
        }
    }

    /// Sets the hidden channels.
    pub fn with_hidden(mut self, hidden: usize) -> Self {
        self.hidden = hidden;
        self
    }

    /// Sets the Fourier modes.
    pub fn with_modes(mut self, modes: [usize; 2]) -> Self {
        self.modes = modes;
        self
    }

    /// Sets the number of blocks.
    pub fn with_n_layers(mut self, n_layers: usize) -> Self {
        self.n_layers = n_layers;
        self
    }

    /// Sets the spectral weights' factorisation.
    pub fn with_factorisation(mut self, factorisation: Factorisation) -> Self {
        self.factorisation = factorisation;
        self
    }

    fn spectral(&self) -> SpectralConvConfig {
        SpectralConvConfig::new(self.hidden, self.hidden, self.modes)
            .with_factorisation(self.factorisation)
    }

    /// Checks the sizes and that the modes fit `resolution`
    /// ([`ConfigError::ModesExceedGrid`]).
    pub fn check(&self, resolution: [usize; 2]) -> Result<(), ConfigError> {
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("hidden", self.hidden),
            ("n_layers", self.n_layers),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        let spectral = self.spectral();
        spectral.check()?;
        spectral.check_grid(resolution)
    }

    /// Number of parameters [`build`](Self::build) creates.
    pub fn n_parameters(&self) -> usize {
        let lin = |i: usize, o: usize| i * o + o;
        let h = self.hidden;
        let half = (h / 2).max(1);
        let block = self.spectral().n_parameters() + h * h + lin(h, half) + lin(half, h) + h;
        lin(self.in_channels + 2, 2 * h)
            + lin(2 * h, h)
            + self.n_layers * block
            + lin(h, 2 * h)
            + lin(2 * h, self.out_channels)
    }

    /// Builds the network under `vb` (after [`check`](Self::check) on `resolution`).
    pub fn build(&self, resolution: [usize; 2], vb: VarBuilder) -> Result<Fno> {
        self.check(resolution)?;
        let h = self.hidden;
        let half = (h / 2).max(1);
        let mlp = |i: usize, m: usize, o: usize, vb: VarBuilder| -> Result<[Linear; 2]> {
            Ok([
                LinearConfig::new(i, m).build(vb.pp("fc0"))?,
                LinearConfig::new(m, o).build(vb.pp("fc1"))?,
            ])
        };
        let blocks = (0..self.n_layers)
            .map(|i| {
                let vb = vb.pp(format!("blocks.{i}"));
                Ok(FnoBlock {
                    spectral: self.spectral().build(vb.pp("spectral"))?,
                    skip: LinearConfig::new(h, h)
                        .with_bias(crate::nn::Bias::Without)
                        .build(vb.pp("skip"))?,
                    channel_mlp: mlp(h, half, h, vb.pp("channel_mlp"))?,
                    gate: vb.get_with_hints((1, h, 1, 1), "gate", Init::Const(1.0))?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Fno {
            config: *self,
            lifting: mlp(self.in_channels + 2, 2 * h, h, vb.pp("lifting"))?,
            blocks,
            projection: mlp(h, 2 * h, self.out_channels, vb.pp("projection"))?,
        })
    }
}

/// A 1x1 convolution on `(batch, C, H, W)` with a [`Linear`]'s weights.
fn pointwise(layer: &Linear, xs: &Tensor) -> Result<Tensor> {
    let (b, c, h, w) = xs.dims4()?;
    let weight = layer.weight();
    let o = weight.dim(0)?;
    let ys = weight
        .broadcast_left(b)?
        .matmul(&xs.reshape((b, c, h * w))?)?
        .reshape((b, o, h, w))?;
    Ok(match layer.bias() {
        Some(bias) => ys.broadcast_add(&bias.reshape((1, o, 1, 1))?)?,
        None => ys,
    })
}

fn mlp_forward(mlp: &[Linear; 2], xs: &Tensor) -> Result<Tensor> {
    pointwise(&mlp[1], &gelu_erf(&pointwise(&mlp[0], xs)?)?)
}

#[derive(Debug, Clone)]
struct FnoBlock {
    spectral: SpectralConv2d,
    skip: Linear,
    channel_mlp: [Linear; 2],
    gate: Tensor,
}

/// A Fourier neural operator (see the module docs). Cloning shares the weights.
#[derive(Debug, Clone)]
pub struct Fno {
    config: FnoConfig,
    lifting: [Linear; 2],
    blocks: Vec<FnoBlock>,
    projection: [Linear; 2],
}

impl Fno {
    /// The settings it was built with.
    pub fn config(&self) -> &FnoConfig {
        &self.config
    }

    /// Its parts as [`ParamTable`](crate::nn::ParamTable) rows, paths relative to its `vb`.
    pub fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::new("lifting", "MLP 1x1")];
        for (i, b) in self.blocks.iter().enumerate() {
            out.push(b.spectral.component(&format!("blocks.{i}.spectral")));
            out.push(Component::new(
                format!("blocks.{i}"),
                "skip, channel MLP, gate",
            ));
        }
        out.push(Component::new("projection", "MLP 1x1"));
        out
    }

    /// Applies the operator.
    ///
    /// # Shapes
    /// `(batch, in_channels, H, W) → (batch, out_channels, H, W)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, _, h, w) = xs.dims4()?;
        let grid = |n: usize, other: usize, along_h: bool| -> Result<Tensor> {
            let v: Vec<f32> = (0..n).map(|i| i as f32 / n as f32).collect();
            let t = Tensor::from_vec(v, n, xs.device())?.to_dtype(xs.dtype())?;
            let t = if along_h {
                t.reshape((1, 1, n, 1))?.broadcast_as((b, 1, n, other))?
            } else {
                t.reshape((1, 1, 1, n))?.broadcast_as((b, 1, other, n))?
            };
            Ok(t.contiguous()?)
        };
        let xs = Tensor::cat(&[xs, &grid(h, w, true)?, &grid(w, h, false)?], 1)?;
        let mut xs = mlp_forward(&self.lifting, &xs)?;
        let last = self.blocks.len().saturating_sub(1);
        for (i, block) in self.blocks.iter().enumerate() {
            let skip = pointwise(&block.skip, &xs)?;
            // soft gating of the block's input (neuraloperator's channel-MLP skip)
            let gated = xs.broadcast_mul(&block.gate)?;
            let mut ys = (block.spectral.forward(&xs)? + skip)?;
            if i < last {
                ys = gelu_erf(&ys)?;
            }
            ys = (mlp_forward(&block.channel_mlp, &ys)? + gated)?;
            if i < last {
                ys = gelu_erf(&ys)?;
            }
            xs = ys;
        }
        mlp_forward(&self.projection, &xs)
    }
}
