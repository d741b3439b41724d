//! [`PatchCodec`]: the patch encoder and decoder of CKM, CSM and the fixed-patch baseline
//! (Mukhopadhyay et al. 2025, Section 3, Appendix C, Algorithms 1 and 2).
//!
//! * **CKM / fixed**: kernel = stride = `p`, so the convolution is a patchify followed by one
//!   matmul with the `(E, C·p·p)` kernel, and the transposed convolution one matmul followed
//!   by the inverse rearrangement — the same arithmetic as `conv2d`/`conv_transpose2d` at
//!   `k = s` (tested), with plain-op gradients. CKM's `p × p` kernels are its learned
//!   `base × base` kernels resized by [`KernelResizer`] (PI-resize by default).
//! * **CSM**: the `base × base` kernels stay; the stride is `p`. The input is padded by
//!   `(base − p)/2` learned values per field (the paper's learned padding) so that each axis
//!   gets `N/p` overlapping tokens; the decoder's transposed convolution at stride `p` is
//!   cropped by the same margin.
//!
//! # Departure
//! The reference (`patch-modulator`, `FlexiEncoder`/`VstrideEncoder`) stacks two
//! convolutions (hierarchical patching, GroupNorm and GELU between them) and resizes with
//! bicubic interpolation; here each side is one convolution and the resize is bilinear
//! (REFERENCE.md's FlexiViT rule), which keeps the kernel resize a single exact PI-resize.
//! Kernels cover all `total_fields`; a batch's channels select their slices (the
//! reference's `state_labels`).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use super::config::{PatchConfig, PatchStrategy};
use crate::nn::{KernelResizer, check_active_fields, conv_uniform};
use crate::{Error, Result};

/// Encoder and decoder weights of one patch model.
#[derive(Debug, Clone)]
pub struct PatchCodec {
    strategy: PatchStrategy,
    base: usize,
    embed_dim: usize,
    total_fields: usize,
    resizer: KernelResizer,
    enc_weight: Tensor,
    enc_bias: Tensor,
    dec_weight: Tensor,
    dec_bias: Tensor,
    pad: Option<Tensor>,
}

impl PatchCodec {
    /// Creates `encoder.weight (E, F, base, base)`, `encoder.bias (E)`,
    /// `decoder.weight (E, F, base, base)` (transposed-convolution layout), `decoder.bias (F)`
    /// and, for CSM, `encoder.pad (F)` under `vb`.
    pub(crate) fn new(config: &PatchConfig, vb: VarBuilder) -> Result<Self> {
        let (e, f, k) = (config.embed_dim(), config.total_fields, config.base);
        let fan_in = f * k * k;
        let enc = vb.pp("encoder");
        let dec = vb.pp("decoder");
        let enc_weight = enc.get_with_hints((e, f, k, k), "weight", conv_uniform(fan_in))?;
        let enc_bias = enc.get_with_hints(e, "bias", conv_uniform(fan_in))?;
        let dec_weight = dec.get_with_hints((e, f, k, k), "weight", conv_uniform(fan_in))?;
        let dec_bias = dec.get_with_hints(f, "bias", conv_uniform(fan_in))?;
        let pad = match config.strategy {
            PatchStrategy::Csm => {
                Some(enc.get_with_hints(f, "pad", candle_nn::Init::Const(0.0))?)
            }
            _ => None,
        };
        Ok(PatchCodec {
            strategy: config.strategy,
            base: k,
            embed_dim: e,
            total_fields: f,
            resizer: KernelResizer::new(config.resize),
            enc_weight,
            enc_bias,
            dec_weight,
            dec_bias,
            pad,
        })
    }

    /// The resizer (its cache holds one matrix per size used).
    pub fn resizer(&self) -> &KernelResizer {
        &self.resizer
    }

    /// The `(E, C, k, k)` kernel of `weight` used at patch size `p` for `channels`.
    fn kernel(&self, weight: &Tensor, p: usize, channels: &[usize]) -> Result<Tensor> {
        check_active_fields(channels, self.total_fields)?;
        let w = match self.strategy {
            PatchStrategy::Ckm => self.resizer.resize(weight, p)?,
            PatchStrategy::Csm | PatchStrategy::Fixed => weight.clone(),
        };
        let idx: Vec<u32> = channels.iter().map(|&c| c as u32).collect();
        let idx = Tensor::from_vec(idx, channels.len(), w.device())?;
        Ok(w.contiguous()?.index_select(&idx, 1)?)
    }

    fn check_grid(&self, h: usize, w: usize, p: usize) -> Result<()> {
        for (name, grid) in [("height", h), ("width", w)] {
            if p == 0 || !grid.is_multiple_of(p) {
                return Err(crate::ConfigError::PatchDoesNotDivide {
                    name,
                    value: p,
                    grid,
                }
                .into());
            }
        }
        if p > self.base {
            return Err(crate::ConfigError::PatchAboveBase {
                value: p,
                base: self.base,
            }
            .into());
        }
        Ok(())
    }

    /// Encodes every frame into `(H/p)·(W/p)` tokens of width `E`.
    ///
    /// # Shapes
    /// `(batch, channels, time, H, W)` → `(batch, E, time, H/p, W/p)`.
    pub fn encode(&self, xs: &Tensor, channels: &[usize], p: usize) -> Result<Tensor> {
        let (b, c, t, h, w) = xs.dims5()?;
        self.check_grid(h, w, p)?;
        if c != channels.len() {
            return Err(Error::Shape {
                what: "patch encoder channels vs active fields".into(),
                left: xs.dims().to_vec(),
                right: vec![channels.len()],
            });
        }
        let kernel = self.kernel(&self.enc_weight, p, channels)?;
        let e = self.embed_dim;
        let (nh, nw) = (h / p, w / p);
        let ys = match self.strategy {
            PatchStrategy::Ckm | PatchStrategy::Fixed => {
                let patches = xs
                    .reshape(vec![b, c, t, nh, p, nw, p])?
                    .permute(vec![0, 2, 3, 5, 1, 4, 6])?
                    .reshape((b * t * nh * nw, c * p * p))?;
                let ys = patches.matmul(&kernel.reshape((e, c * p * p))?.t()?)?;
                ys.reshape((b, t, nh, nw, e))?.permute((0, 4, 1, 2, 3))?
            }
            PatchStrategy::Csm => {
                let padded = self.pad_input(xs, channels, (self.base - p) / 2)?;
                let (hp, wp) = padded.dims5().map(|d| (d.3, d.4))?;
                let frames = padded
                    .permute((0, 2, 1, 3, 4))?
                    .reshape((b * t, c, hp, wp))?;
                let ys = frames.conv2d(&kernel, 0, p, 1, 1)?;
                ys.reshape((b, t, e, nh, nw))?.permute((0, 2, 1, 3, 4))?
            }
        };
        Ok(ys
            .broadcast_add(&self.enc_bias.reshape((1, e, 1, 1, 1))?)?
            .contiguous()?)
    }

    /// Pads space by `pad` learned values per field.
    fn pad_input(&self, xs: &Tensor, channels: &[usize], pad: usize) -> Result<Tensor> {
        let Some(values) = &self.pad else {
            return Ok(xs.clone());
        };
        if pad == 0 {
            return Ok(xs.clone());
        }
        let (b, c, t, h, w) = xs.dims5()?;
        let idx: Vec<u32> = channels.iter().map(|&c| c as u32).collect();
        let idx = Tensor::from_vec(idx, channels.len(), xs.device())?;
        let v = values.index_select(&idx, 0)?.reshape((1, c, 1, 1, 1))?;
        let rows = v.broadcast_as((b, c, t, pad, w))?;
        let xs = Tensor::cat(&[&rows, xs, &rows], 3)?;
        let cols = v.broadcast_as((b, c, t, h + 2 * pad, pad))?;
        Ok(Tensor::cat(&[&cols, &xs, &cols], 4)?)
    }

    /// Decodes tokens back to frames (the transposed convolution of the resized kernel).
    ///
    /// # Shapes
    /// `(batch, E, time, H/p, W/p)` → `(batch, channels, time, H, W)`.
    pub fn decode(&self, zs: &Tensor, channels: &[usize], p: usize) -> Result<Tensor> {
        let (b, e, t, nh, nw) = zs.dims5()?;
        let (h, w) = (nh * p, nw * p);
        self.check_grid(h, w, p)?;
        if e != self.embed_dim {
            return Err(Error::Shape {
                what: "patch decoder embedding".into(),
                left: zs.dims().to_vec(),
                right: vec![self.embed_dim],
            });
        }
        let kernel = self.kernel(&self.dec_weight, p, channels)?;
        let c = channels.len();
        let ys = match self.strategy {
            PatchStrategy::Ckm | PatchStrategy::Fixed => {
                let tokens = zs.permute((0, 2, 3, 4, 1))?.reshape((b * t * nh * nw, e))?;
                let patches = tokens.matmul(&kernel.reshape((e, c * p * p))?)?;
                patches
                    .reshape(vec![b, t, nh, nw, c, p, p])?
                    .permute(vec![0, 4, 1, 2, 5, 3, 6])?
                    .reshape((b, c, t, h, w))?
            }
            PatchStrategy::Csm => {
                let pad = (self.base - p) / 2;
                let frames = zs
                    .permute((0, 2, 1, 3, 4))?
                    .reshape((b * t, e, nh, nw))?
                    .contiguous()?;
                let ys = frames.conv_transpose2d(&kernel, pad, 0, p, 1)?;
                ys.reshape((b, t, c, h, w))?.permute((0, 2, 1, 3, 4))?
            }
        };
        let idx: Vec<u32> = channels.iter().map(|&c| c as u32).collect();
        let idx = Tensor::from_vec(idx, c, zs.device())?;
        let bias = self
            .dec_bias
            .index_select(&idx, 0)?
            .reshape((1, c, 1, 1, 1))?;
        Ok(ys.broadcast_add(&bias)?.contiguous()?)
    }
}
