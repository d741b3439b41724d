//! The spectral convolution of Fourier neural operators (Li et al. 2021), dense (FNO) or
//! with Tucker-factorised weights (TFNO, Kossaifi et al. 2023), after neuraloperator's
//! `SpectralConv` as The Well's FNO/TFNO baselines use it.
//!
//! `y = irfft2(W · rfft2(x)) + b`: the kept modes (see [`super::dft`]) of every input
//! channel are mixed by a complex `C_in x C_out` matrix per mode; all other modes are
//! dropped. Weights start as neuraloperator's: complex normal with standard deviation
//! `sqrt(2 / (C_in + C_out))`, the bias normal with the same standard deviation.
//!
//! Departure for TFNO: the Tucker core is complex and the four factor matrices real
//! (tensorly-torch makes the factors complex too); the ranks take the same fraction of
//! each axis, chosen so that core and factors hold about `rank` times the dense weights.

use std::sync::{Arc, Mutex};

use candle_core::{D, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use super::dft::{DftMatrices, height_frequencies, width_modes};
use crate::nn::{Bias, Component};
use crate::{ConfigError, Error, Result};

/// How the spectral weights are stored.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Factorisation {
    /// One complex weight per (input channel, output channel, mode): FNO.
    Dense,
    /// A Tucker decomposition holding about `rank` (a fraction in `(0, 1]`) of the dense
    /// parameters: TFNO (neuraloperator's default rank 0.1).
    Tucker {
        /// Fraction of the dense parameter count.
        rank: f64,
    },
}

/// Settings of a [`SpectralConv2d`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpectralConvConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Modes `[height, width]` as neuraloperator's `n_modes`: `modes[0]` frequencies along
    /// the height, `modes[1] / 2 + 1` along the width.
    pub modes: [usize; 2],
    /// Dense or Tucker weights.
    pub factorisation: Factorisation,
    /// Whether it adds a learned bias per output channel.
    pub bias: Bias,
}

impl SpectralConvConfig {
    /// A dense spectral convolution with a bias.
    pub fn new(in_channels: usize, out_channels: usize, modes: [usize; 2]) -> Self {
        SpectralConvConfig {
            in_channels,
            out_channels,
            modes,
            factorisation: Factorisation::Dense,
            bias: Bias::With,
        }
    }

    /// Sets the weight factorisation.
    pub fn with_factorisation(mut self, factorisation: Factorisation) -> Self {
        self.factorisation = factorisation;
        self
    }

    /// Sets the bias.
    pub fn with_bias(mut self, bias: Bias) -> Self {
        self.bias = bias;
        self
    }

    /// Checks the sizes (positive) and the Tucker rank (in `(0, 1]`).
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("modes height", self.modes[0]),
            ("modes width", self.modes[1]),
        ] {
            if value == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        if let Factorisation::Tucker { rank } = self.factorisation
            && (rank.is_nan() || rank <= 0.0 || rank > 1.0)
        {
            return Err(ConfigError::OutOfRange {
                name: "tucker rank",
                range: "(0, 1]",
                value: rank,
            });
        }
        Ok(())
    }

    /// Checks that the modes fit a `height x width` grid ([`ConfigError::ModesExceedGrid`]):
    /// `modes[0] ≤ H` and `modes[1] / 2 + 1 ≤ W / 2 + 1`.
    pub fn check_grid(&self, resolution: [usize; 2]) -> Result<(), ConfigError> {
        let [h, w] = resolution;
        if self.modes[0] > h {
            return Err(ConfigError::ModesExceedGrid {
                axis: "height",
                modes: self.modes[0],
                size: h,
            });
        }
        if width_modes(self.modes[1]) > w / 2 + 1 {
            return Err(ConfigError::ModesExceedGrid {
                axis: "width",
                modes: self.modes[1],
                size: w,
            });
        }
        Ok(())
    }

    /// The dense weight's shape `(C_in, C_out, M_h, M_w)` (kept modes per axis).
    fn dense_shape(&self) -> [usize; 4] {
        [
            self.in_channels,
            self.out_channels,
            height_frequencies(self.modes[0]).len(),
            width_modes(self.modes[1]),
        ]
    }

    /// The Tucker ranks: the same fraction `s` of each axis (at least 1), the largest `s`
    /// whose core and factors stay within `rank` times the dense parameters.
    pub fn tucker_ranks(&self, rank: f64) -> [usize; 4] {
        let dims = self.dense_shape();
        let ranks_at = |s: f64| dims.map(|d| ((s * d as f64).round() as usize).clamp(1, d));
        let count = |r: [usize; 4]| {
            2 * r.iter().product::<usize>() + dims.iter().zip(r).map(|(d, r)| d * r).sum::<usize>()
        };
        let budget = rank * 2.0 * dims.iter().product::<usize>() as f64;
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..50 {
            let mid = 0.5 * (lo + hi);
            if count(ranks_at(mid)) as f64 <= budget {
                lo = mid
            } else {
                hi = mid
            }
        }
        ranks_at(lo)
    }

    /// Number of parameters [`build`](Self::build) creates.
    pub fn n_parameters(&self) -> usize {
        let dims = self.dense_shape();
        let weights = match self.factorisation {
            Factorisation::Dense => 2 * dims.iter().product::<usize>(),
            Factorisation::Tucker { rank } => {
                let r = self.tucker_ranks(rank);
                2 * r.iter().product::<usize>()
                    + dims.iter().zip(r).map(|(d, r)| d * r).sum::<usize>()
            }
        };
        weights
            + if self.bias == Bias::With {
                self.out_channels
            } else {
                0
            }
    }

    /// Builds the layer under `vb` (after [`check`](Self::check)).
    pub fn build(&self, vb: VarBuilder) -> Result<SpectralConv2d> {
        self.check()?;
        let std = (2.0 / (self.in_channels + self.out_channels) as f64).sqrt();
        let complex = Init::Randn {
            mean: 0.0,
            stdev: std / 2f64.sqrt(),
        };
        let dims = self.dense_shape();
        let weights = match self.factorisation {
            Factorisation::Dense => Weights::Dense {
                re: vb.get_with_hints(dims.to_vec(), "weight_re", complex)?,
                im: vb.get_with_hints(dims.to_vec(), "weight_im", complex)?,
            },
            Factorisation::Tucker { rank } => {
                let r = self.tucker_ranks(rank);
                let factor = |i: usize, name: &str| {
                    let init = Init::Randn {
                        mean: 0.0,
                        stdev: 1.0 / (r[i] as f64).sqrt(),
                    };
                    vb.get_with_hints((dims[i], r[i]), name, init)
                };
                Weights::Tucker {
                    core_re: vb.get_with_hints(r.to_vec(), "core_re", complex)?,
                    core_im: vb.get_with_hints(r.to_vec(), "core_im", complex)?,
                    factors: [
                        factor(0, "factor_in")?,
                        factor(1, "factor_out")?,
                        factor(2, "factor_height")?,
                        factor(3, "factor_width")?,
                    ],
                }
            }
        };
        let bias = match self.bias {
            Bias::With => Some(vb.get_with_hints(
                self.out_channels,
                "bias",
                Init::Randn {
                    mean: 0.0,
                    stdev: std,
                },
            )?),
            Bias::Without => None,
        };
        Ok(SpectralConv2d {
            config: *self,
            weights,
            bias,
            dft: Arc::new(Mutex::new(None)),
        })
    }
}

#[derive(Debug, Clone)]
enum Weights {
    Dense {
        re: Tensor,
        im: Tensor,
    },
    Tucker {
        core_re: Tensor,
        core_im: Tensor,
        factors: [Tensor; 4],
    },
}

/// `t ×_dim u`: contracts axis `dim` of `t` (size `r`) with `u (n, r)`, giving size `n` there.
fn mode_product(t: &Tensor, u: &Tensor, dim: usize) -> Result<Tensor> {
    let moved = t.transpose(0, dim)?.contiguous()?;
    let mut dims = moved.dims().to_vec();
    let r = dims[0];
    let rest: usize = dims[1..].iter().product();
    let out = u.matmul(&moved.reshape((r, rest))?)?;
    dims[0] = u.dim(0)?;
    Ok(out.reshape(dims)?.transpose(0, dim)?.contiguous()?)
}

impl Weights {
    /// The dense complex weights `(re, im)`, `(C_in, C_out, M_h, M_w)` each.
    fn dense(&self) -> Result<(Tensor, Tensor)> {
        match self {
            Weights::Dense { re, im } => Ok((re.clone(), im.clone())),
            Weights::Tucker {
                core_re,
                core_im,
                factors,
            } => {
                let expand = |core: &Tensor| -> Result<Tensor> {
                    let mut t = core.clone();
                    for (dim, u) in factors.iter().enumerate() {
                        t = mode_product(&t, u, dim)?;
                    }
                    Ok(t)
                };
                Ok((expand(core_re)?, expand(core_im)?))
            }
        }
    }
}

/// A spectral convolution layer (see the module docs). Cloning shares the weights.
#[derive(Debug, Clone)]
pub struct SpectralConv2d {
    config: SpectralConvConfig,
    weights: Weights,
    bias: Option<Tensor>,
    /// The DFT matrices of the last grid seen.
    dft: Arc<Mutex<Option<DftMatrices>>>,
}

/// `y = irfft2(W · rfft2(x))` with the complex weights `(w_re, w_im)` `(C_in, C_out, M_h,
/// M_w)`, for any float dtype (the tests run it in `f64` against finite differences).
///
/// # Shapes
/// `xs (batch, C_in, H, W)` → `(batch, C_out, H, W)`.
pub fn spectral_conv2d(
    xs: &Tensor,
    w_re: &Tensor,
    w_im: &Tensor,
    modes: [usize; 2],
) -> Result<Tensor> {
    let (_, _, h, w) = xs.dims4()?;
    let dft = DftMatrices::new(h, w, modes[0], modes[1], xs.dtype(), xs.device())?;
    mix(&dft, xs, w_re, w_im)
}

fn mix(dft: &DftMatrices, xs: &Tensor, w_re: &Tensor, w_im: &Tensor) -> Result<Tensor> {
    let (c, o, mh, mw) = w_re.dims4()?;
    let f = dft.forward(xs)?; // (P, b, 2c)
    let arrange =
        |t: &Tensor| -> Result<Tensor> { Ok(t.permute((3, 2, 0, 1))?.reshape((mw * mh, c, o))?) };
    let (wr, wi) = (arrange(w_re)?, arrange(w_im)?);
    // [Fr | Fi] · [[Wr, Wi], [−Wi, Wr]] = [Fr Wr − Fi Wi | Fr Wi + Fi Wr]
    let top = Tensor::cat(&[&wr, &wi], D::Minus1)?;
    let bottom = Tensor::cat(&[&wi.neg()?, &wr], D::Minus1)?;
    let block = Tensor::cat(&[&top, &bottom], 1)?;
    dft.inverse(&f.matmul(&block)?)
}

impl SpectralConv2d {
    /// The settings it was built with.
    pub fn config(&self) -> &SpectralConvConfig {
        &self.config
    }

    /// Its row in a [`ParamTable`](crate::nn::ParamTable) at `path`.
    pub fn component(&self, path: &str) -> Component {
        let kind = match self.config.factorisation {
            Factorisation::Dense => "spectral conv",
            Factorisation::Tucker { .. } => "spectral conv (Tucker)",
        };
        Component::new(
            path,
            format!(
                "{kind} {}x{} modes",
                self.config.modes[0], self.config.modes[1]
            ),
        )
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// `(batch, C_in, H, W) → (batch, C_out, H, W)`.
    ///
    /// # Errors
    /// [`ConfigError::ModesExceedGrid`] when the modes do not fit the input's grid; a shape
    /// error for a wrong channel count.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = xs.dims4()?;
        if c != self.config.in_channels {
            return Err(Error::Shape {
                what: "spectral conv input channels".into(),
                left: vec![c],
                right: vec![self.config.in_channels],
            });
        }
        self.config.check_grid([h, w])?;
        let dft = {
            let mut cached = self.dft.lock().unwrap_or_else(|e| e.into_inner());
            match cached.as_ref() {
                Some(d) if d.fits(h, w, xs.dtype(), xs.device()) => d.clone(),
                _ => {
                    let d = DftMatrices::new(
                        h,
                        w,
                        self.config.modes[0],
                        self.config.modes[1],
                        xs.dtype(),
                        xs.device(),
                    )?;
                    *cached = Some(d.clone());
                    d
                }
            }
        };
        let (re, im) = self.weights.dense()?;
        let ys = mix(&dft, xs, &re, &im)?;
        Ok(match &self.bias {
            Some(b) => ys.broadcast_add(&b.reshape((1, self.config.out_channels, 1, 1))?)?,
            None => ys,
        })
    }
}
