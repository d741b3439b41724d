//! Normalisation layers with exact gradients.
//!
//! candle's fused `LayerNorm::forward` and `RmsNorm::forward` silently drop the gradient
//! to their input on contiguous tensors (see REFERENCE.md). Here `f32` CPU tensors go
//! through phystok's own op with its own exact backward (`kernels::norm`), and every other
//! device and dtype through `sqr`/`sum_keepdim`/`broadcast_div`, whose backward passes are
//! exact; the tests hold the two to each other.
//!
//! - [`RmsGroupNorm`]: Walrus's block normalisation (`walrus/models/shared_utils/normalization.py`):
//!   channels split into groups; each group is divided by its root mean square over the
//!   group's channels *and all spatial positions* of one frame; no mean subtraction; a
//!   per-channel gain, no bias; eps = `torch.finfo(float32).eps` as `F.rms_norm` uses.
//! - [`LayerNorm`]: ordinary layer normalisation over the last axis (PyTorch eps 1e-5), used
//!   for the QK normalisation of attention heads.

use candle_core::{D, Tensor};

use candle_nn::{Init, VarBuilder};

use crate::nn::kernels::channel::{add_channel_bias, mul_channel_gain};
use crate::nn::kernels::norm::{NormOp, NormalizeOp};
use crate::{ConfigError, Result};

/// Epsilon of [`RmsGroupNorm`]: `torch.finfo(torch.float32).eps`, what `F.rms_norm` uses
/// when Walrus passes none.
pub const RMS_GROUP_NORM_EPS: f64 = f32::EPSILON as f64;

/// Epsilon of [`LayerNorm`]: PyTorch's `nn.LayerNorm` default.
pub const LAYER_NORM_EPS: f64 = 1e-5;

/// RMS group normalisation over tokens, as in Walrus.
#[derive(Debug, Clone)]
pub struct RmsGroupNorm {
    weight: Tensor,
    n_groups: usize,
}

impl RmsGroupNorm {
    /// Creates the per-channel gain `weight` `(channels)`, initialised to ones.
    ///
    /// `channels` must be a multiple of `n_groups`.
    pub fn new(n_groups: usize, channels: usize, vb: VarBuilder) -> Result<Self> {
        if n_groups == 0 || !channels.is_multiple_of(n_groups) {
            return Err(ConfigError::Mismatch {
                name: "channels",
                value: channels.to_string(),
                other: format!("a multiple of n_groups = {n_groups}"),
            }
            .into());
        }
        let weight = vb.get_with_hints(channels, "weight", Init::Const(1.0))?;
        Ok(Self { weight, n_groups })
    }

    /// Normalises each group of channels by its RMS over all tokens of one frame.
    ///
    /// # Shapes
    /// `(…, tokens, channels) → (…, tokens, channels)`: the statistics are taken over the
    /// last two axes (tokens and the group's channels), separately for every leading index
    /// (batch, time) and group.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let rank = dims.len();
        if rank < 2 {
            return Err(crate::Error::Shape {
                what: "RmsGroupNorm input (…, tokens, channels)".into(),
                left: dims,
                right: vec![0, self.weight.elem_count()],
            });
        }
        let z = if fused_cpu(xs) {
            NormalizeOp(NormOp::Rms {
                groups: self.n_groups,
                eps: RMS_GROUP_NORM_EPS,
            })
            .apply(xs)?
        } else {
            self.normalise_primitive(xs)?
        };
        Ok(mul_channel_gain(&z, &self.weight, rank - 1)?)
    }

    /// The normalisation (no gain) from candle primitives: the path on other devices and
    /// dtypes, and the reference the fused CPU op is tested against.
    fn normalise_primitive(&self, xs: &Tensor) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let rank = dims.len();
        let (n_tokens, channels) = (dims[rank - 2], dims[rank - 1]);
        let per_group = channels / self.n_groups;
        let mut grouped = dims[..rank - 1].to_vec();
        grouped.extend([self.n_groups, per_group]);
        let x = xs.reshape(grouped)?;
        let mean_sq = (x.sqr()?.sum_keepdim(D::Minus1)?.sum_keepdim(rank - 2)?
            / (n_tokens * per_group) as f64)?;
        let x = x.broadcast_div(&(mean_sq + RMS_GROUP_NORM_EPS)?.sqrt()?)?;
        Ok(x.reshape(dims)?)
    }
}

/// Whether a [`LayerNorm`] has a learned shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shift {
    /// Learned gain and bias (PyTorch's `nn.LayerNorm` default).
    GainAndBias,
    /// Learned gain only. Used where a bias could never receive a gradient (for the keys of
    /// an attention without positional rotation, `softmax` ignores a shift common to all keys).
    GainOnly,
}

/// Layer normalisation over the last axis, `(x − mean) / sqrt(var + 1e-5) · gain + bias`.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl LayerNorm {
    /// Creates `weight` (ones) and, with [`Shift::GainAndBias`], `bias` (zeros).
    pub fn new(size: usize, shift: Shift, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get_with_hints(size, "weight", Init::Const(1.0))?;
        let bias = match shift {
            Shift::GainAndBias => Some(vb.get_with_hints(size, "bias", Init::Const(0.0))?),
            Shift::GainOnly => None,
        };
        Ok(Self { weight, bias })
    }

    /// Normalises over the last axis.
    ///
    /// # Shapes
    /// `(…, size) → (…, size)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let last = xs.rank().saturating_sub(1);
        let z = if fused_cpu(xs) && xs.rank() > 0 {
            NormalizeOp(NormOp::Layer {
                eps: LAYER_NORM_EPS,
            })
            .apply(xs)?
        } else {
            Self::normalise_primitive(xs)?
        };
        let ys = mul_channel_gain(&z, &self.weight, last)?;
        Ok(match &self.bias {
            Some(b) => add_channel_bias(&ys, b, last)?,
            None => ys,
        })
    }

    /// `(x − mean) / sqrt(var + eps)` from candle primitives (other devices and dtypes; the
    /// reference of the fused CPU op).
    fn normalise_primitive(xs: &Tensor) -> Result<Tensor> {
        let size = xs.dim(D::Minus1)? as f64;
        let centred = xs.broadcast_sub(&(xs.sum_keepdim(D::Minus1)? / size)?)?;
        let var = (centred.sqr()?.sum_keepdim(D::Minus1)? / size)?;
        Ok(centred.broadcast_div(&(var + LAYER_NORM_EPS)?.sqrt()?)?)
    }
}

/// Whether the fused CPU normalisation ([`NormalizeOp`]) applies: `f32` on the CPU.
fn fused_cpu(xs: &Tensor) -> bool {
    crate::nn::kernels::applies(&[xs])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_core::{Device, Var};
    use candle_nn::VarMap;

    /// The fused CPU op equals the candle-primitive normalisation, values and input
    /// gradients under a random projection, for both norms and several shapes.
    #[test]
    fn fused_normalisation_equals_primitives() -> Result<()> {
        let dev = Device::Cpu;
        let vm = VarMap::new();
        let p = crate::nn::seeded_var_builder(&vm, 2, &dev);
        let values = |n: usize, k: f32| -> Vec<f32> {
            (0..n)
                .map(|i| (k * i as f32).sin() + 0.3 * (0.11 * i as f32).cos())
                .collect()
        };
        let check = |x: &Var, fused: Tensor, plain: Tensor| -> Result<()> {
            let n = fused.elem_count();
            let proj = Tensor::from_vec(values(n, 0.71), fused.dims(), &dev)?;
            let gf = (&fused * &proj)?.sum_all()?.backward()?;
            let gp = (&plain * &proj)?.sum_all()?.backward()?;
            let max = |t: Tensor| -> Result<f32> {
                Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
            };
            assert!(max((&fused - &plain)?)? < 1e-5);
            let (a, b) = (gf.get(x).unwrap(), gp.get(x).unwrap());
            assert!(max((a - b)?)? < 1e-4 * max(b.clone())?.max(1.0));
            Ok(())
        };
        let cases = [(vec![2, 3, 5, 8], 4), (vec![6, 12], 3), (vec![2, 1, 16], 1)];
        for (case, (dims, groups)) in cases.into_iter().enumerate() {
            let n = dims.iter().product();
            let x = Var::from_vec(values(n, 0.37), dims.clone(), &dev)?;
            let norm = RmsGroupNorm::new(groups, dims[dims.len() - 1], p.pp(format!("rms{case}")))?;
            let fused = NormalizeOp(NormOp::Rms {
                groups,
                eps: RMS_GROUP_NORM_EPS,
            })
            .apply(x.as_tensor())?;
            check(&x, fused, norm.normalise_primitive(x.as_tensor())?)?;
            let fused = NormalizeOp(NormOp::Layer {
                eps: LAYER_NORM_EPS,
            })
            .apply(x.as_tensor())?;
            check(&x, fused, LayerNorm::normalise_primitive(x.as_tensor())?)?;
        }
        Ok(())
    }

    test_device!(
        fn rms_group_norm_matches_naive_loop(dev) {
            let (b, n, c, g) = (2, 3, 4, 2);
            let vm = VarMap::new();
            let norm = RmsGroupNorm::new(g, c, crate::nn::seeded_var_builder(&vm, 0, dev))?;
            let data: Vec<f32> = (0..b * n * c)
                .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3)
                .collect();
            let xs = Tensor::from_vec(data.clone(), (b, n, c), dev)?;
            let ys: Vec<f32> = norm.forward(&xs)?.flatten_all()?.to_vec1()?;
            for bi in 0..b {
                for gi in 0..g {
                    let idx = |t: usize, ch: usize| bi * n * c + t * c + gi * (c / g) + ch;
                    let ms: f64 = (0..n)
                        .flat_map(|t| (0..c / g).map(move |ch| (t, ch)))
                        .map(|(t, ch)| (data[idx(t, ch)] as f64).powi(2))
                        .sum::<f64>()
                        / (n * c / g) as f64;
                    for t in 0..n {
                        for ch in 0..c / g {
                            let want = data[idx(t, ch)] as f64 / (ms + RMS_GROUP_NORM_EPS).sqrt();
                            assert!((ys[idx(t, ch)] as f64 - want).abs() < 1e-5);
                        }
                    }
                }
            }
            assert!(
                RmsGroupNorm::new(
                    3,
                    4,
                    crate::nn::seeded_var_builder(&vm, 0, dev).pp("bad")
                )
                .is_err()
            );
            Ok(())
        }
    );

    test_device!(
        fn gradients_reach_input_and_parameters(dev) {
            let vm = VarMap::new();
            let p = crate::nn::seeded_var_builder(&vm, 0, dev);
            let rms = RmsGroupNorm::new(2, 4, p.pp("rms"))?;
            let ln = LayerNorm::new(4, Shift::GainAndBias, p.pp("ln"))?;
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 4), dev)?)?;
            let target = Tensor::randn(0f32, 1.0, (2, 3, 4), dev)?;
            let ys = ln.forward(&rms.forward(x.as_tensor())?)?;
            let loss = (ys - target)?.sqr()?.sum_all()?;
            let grads = loss.backward()?;
            for v in vm.all_vars().iter().chain([&x]) {
                let g = grads.get(v.as_tensor()).expect("gradient present");
                assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
            }
            // layer norm output has zero mean and unit variance per row before the gain
            let y: Vec<f32> = ln.forward(x.as_tensor())?.flatten_all()?.to_vec1()?;
            for row in y.chunks(4) {
                let m: f32 = row.iter().sum::<f32>() / 4.0;
                let v: f32 = row.iter().map(|a| (a - m).powi(2)).sum::<f32>() / 4.0;
                assert!(m.abs() < 1e-5 && (v - 1.0).abs() < 1e-3);
            }
            Ok(())
        }
    );
}
