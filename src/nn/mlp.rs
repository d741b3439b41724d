//! Linear layers over the last axis and the SwiGLU activation.
//!
//! [`Linear`] stores its weight as PyTorch does, `(out_features, in_features)`, so that
//! weights map one to one onto a PyTorch reference; it applies to any tensor whose last
//! axis holds the features (`(…, in) → (…, out)`), by one GEMM on the flattened rows.
//! [`swiglu`] is the gated activation of the parallel PaLM-style block of Walrus
//! (`x, gate = chunk(2); silu(gate) * x`, Shazeer 2020).

use candle_core::{D, Tensor};

use candle_nn::{Init, VarBuilder};

use crate::Result;
use crate::nn::kernels::channel::add_channel_bias;
use crate::nn::kernels::gelu::GeluOp;
use crate::nn::kernels::silu::SiluOp;
use crate::nn::kernels::swiglu::SwigluOp;

/// How a [`Linear`] layer's weights start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LinearInit {
    /// PyTorch's default: weight and bias uniform in `±1/sqrt(in_features)`.
    Default,
    /// The default scaled by this factor. Walrus's output projections use `1e-6`: an
    /// implicit layer scale, so each residual branch starts almost switched off.
    Scaled(f64),
}

/// Whether a layer ([`Linear`], a convolution) adds a learned bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Bias {
    /// `y = x Wᵀ + b` (the default, as PyTorch's layers).
    #[default]
    With,
    /// `y = x Wᵀ`.
    Without,
}

/// Settings of a [`Linear`] layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearConfig {
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// Whether it adds a learned bias (default: [`Bias::With`]).
    pub bias: Bias,
    /// How its weights start (default: [`LinearInit::Default`]).
    pub init: LinearInit,
}

impl LinearConfig {
    /// `in_features → out_features` with a bias and PyTorch's default initialisation.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        LinearConfig {
            in_features,
            out_features,
            bias: Bias::With,
            init: LinearInit::Default,
        }
    }

    /// Sets the bias.
    pub fn with_bias(mut self, bias: Bias) -> Self {
        self.bias = bias;
        self
    }

    /// Sets the initialisation.
    pub fn with_init(mut self, init: LinearInit) -> Self {
        self.init = init;
        self
    }

    /// Creates `weight` `(out_features, in_features)` and, with [`Bias::With`], `bias`
    /// `(out_features)` under `vb`, both uniform in `±scale/sqrt(in_features)`.
    pub fn build(&self, vb: VarBuilder) -> Result<Linear> {
        let scale = match self.init {
            LinearInit::Default => 1.0,
            LinearInit::Scaled(s) => s,
        };
        let bound = scale / (self.in_features as f64).sqrt();
        let init = Init::Uniform {
            lo: -bound,
            up: bound,
        };
        let weight = vb.get_with_hints((self.out_features, self.in_features), "weight", init)?;
        let bias = match self.bias {
            Bias::With => Some(vb.get_with_hints(self.out_features, "bias", init)?),
            Bias::Without => None,
        };
        Ok(Linear { weight, bias })
    }
}

/// A fully connected layer over the last axis.
#[derive(Debug, Clone)]
pub struct Linear {
    weight: Tensor,
    bias: Option<Tensor>,
}

impl Linear {
    /// The weight, `(out_features, in_features)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The bias, `(out_features)`, if any.
    pub fn bias(&self) -> Option<&Tensor> {
        self.bias.as_ref()
    }

    /// Applies the layer.
    ///
    /// # Shapes
    /// `(…, in_features) → (…, out_features)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let out = self.weight.dim(0)?;
        self.forward_outputs(xs, 0, out)
    }

    /// Output features `start..start + len` alone: `x · W[start..start + len]ᵀ (+ b[..])`.
    ///
    /// Equal to `forward(xs).narrow(D::Minus1, start, len)`, without the full product: for a
    /// fused projection split into parts (as `[ff | q | k | v]` in the processor), one call
    /// per part gives each part's input gradient at the input's size, where candle's
    /// `narrow` backward zero-pads every part's gradient to the full output and adds them.
    ///
    /// # Shapes
    /// `(…, in_features) → (…, len)`.
    pub fn forward_outputs(&self, xs: &Tensor, start: usize, len: usize) -> Result<Tensor> {
        let dims = xs.dims().to_vec();
        let (out, inp) = self.weight.dims2()?;
        let (weight, bias) = if start == 0 && len == out {
            (self.weight.clone(), self.bias.clone())
        } else {
            let bias = self
                .bias
                .as_ref()
                .map(|b| b.narrow(0, start, len))
                .transpose()?;
            (self.weight.narrow(0, start, len)?, bias)
        };
        let rows = xs.elem_count() / inp.max(1);
        let ys = xs.reshape((rows, inp))?.matmul(&weight.t()?)?;
        let ys = match &bias {
            Some(b) => add_channel_bias(&ys, b, 1)?,
            None => ys,
        };
        let mut out_dims = dims;
        if let Some(last) = out_dims.last_mut() {
            *last = len;
        }
        Ok(ys.reshape(out_dims)?)
    }
}

/// `silu(x) = x · σ(x)`: one rayon pass forward and one backward ([`SiluOp`]) for `f32`
/// CPU tensors, candle's `silu` elsewhere. The same bits as candle's, values and gradients.
pub fn silu(x: &Tensor) -> Result<Tensor> {
    if crate::nn::kernels::applies(&[x]) {
        return Ok(SiluOp::apply(x)?);
    }
    Ok(x.silu()?)
}

/// `gelu(x) = x · Φ(x)` in its exact erf form: one rayon pass forward and one backward
/// ([`GeluOp`]) for `f32` CPU tensors, candle's `gelu_erf` elsewhere. The same bits as
/// candle's, values and gradients.
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    if crate::nn::kernels::applies(&[x]) {
        return Ok(GeluOp::apply(x)?);
    }
    Ok(x.gelu_erf()?)
}

/// `silu(gate) · x`: the SwiGLU product of the two halves [`swiglu`] splits.
///
/// One fused op ([`SwigluOp`]) for `f32` CPU tensors of one shape, candle's `silu` and `mul`
/// elsewhere.
pub fn swiglu_parts(x: &Tensor, gate: &Tensor) -> Result<Tensor> {
    if crate::nn::kernels::applies(&[x, gate]) && x.dims() == gate.dims() {
        return Ok(SwigluOp::apply(x, gate)?);
    }
    Ok((gate.silu()? * x)?)
}

/// SwiGLU: splits the last axis into halves `(x, gate)` and returns `silu(gate) · x`.
///
/// # Shapes
/// `(…, 2n) → (…, n)`.
pub fn swiglu(xs: &Tensor) -> Result<Tensor> {
    let n = xs.dim(D::Minus1)? / 2;
    swiglu_parts(&xs.narrow(D::Minus1, 0, n)?, &xs.narrow(D::Minus1, n, n)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_core::Var;
    use candle_nn::VarMap;

    use crate::nn::seeded_var_builder;

    test_device!(
        /// A part of the output equals the narrowed full output, and the input gradient of the
        /// parts together equals that of the full product.
        fn output_parts_equal_the_narrowed_product(dev) {
            let vm = VarMap::new();
            let vb = seeded_var_builder(&vm, 5, dev);
            let lin = LinearConfig::new(4, 7).build(vb.pp("lin"))?;
            let x = Var::from_tensor(&Tensor::arange(0f32, 24.0, dev)?.reshape((2, 3, 4))?)?;
            let full = lin.forward(x.as_tensor())?;
            let parts = [(0, 3), (3, 1), (4, 3)];
            let mut summed = Vec::new();
            for (start, len) in parts {
                let part = lin.forward_outputs(x.as_tensor(), start, len)?;
                let diff = (&part - full.narrow(D::Minus1, start, len)?)?
                    .abs()?
                    .sum_all()?;
                assert!(diff.to_scalar::<f32>()? < 1e-5);
                summed.push(part.sqr()?.sum_all()?);
            }
            let loss_parts = (&summed[0] + &summed[1])?.add(&summed[2])?;
            let g_parts = loss_parts.backward()?.get(&x).unwrap().clone();
            let g_full = full.sqr()?.sum_all()?.backward()?.get(&x).unwrap().clone();
            let diff = (g_parts - g_full)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(diff < 1e-3, "input gradients differ by {diff}");
            Ok(())
        }
    );

    test_device!(
        fn linear_matches_naive_sum_and_swiglu_matches_formula(dev) {
            let vm = VarMap::new();
            let vb = seeded_var_builder(&vm, 3, dev);
            let lin = LinearConfig::new(3, 2).build(vb.pp("lin"))?;
            let xs = Tensor::arange(0f32, 12.0, dev)?.reshape((2, 2, 3))?;
            let ys = lin.forward(&xs)?;
            assert_eq!(ys.dims(), &[2, 2, 2]);
            let w: Vec<Vec<f32>> = lin.weight().to_vec2()?;
            let b: Vec<f32> = lin.bias().unwrap().to_vec1()?;
            let x: Vec<f32> = xs.flatten_all()?.to_vec1()?;
            let y: Vec<f32> = ys.flatten_all()?.to_vec1()?;
            for r in 0..4 {
                for o in 0..2 {
                    let naive: f32 = (0..3).map(|i| w[o][i] * x[r * 3 + i]).sum::<f32>() + b[o];
                    assert!((naive - y[r * 2 + o]).abs() < 1e-5);
                }
            }

            let s = Tensor::new(&[[1f32, -2.0, 0.5, 3.0]], dev)?;
            let got: Vec<f32> = swiglu(&s)?.flatten_all()?.to_vec1()?;
            let silu = |v: f32| v / (1.0 + (-v).exp());
            assert!((got[0] - silu(0.5) * 1.0).abs() < 1e-6);
            assert!((got[1] - silu(3.0) * -2.0).abs() < 1e-6);
            Ok(())
        }
    );

    test_device!(
        fn gradients_reach_input_weight_and_bias(dev) {
            let vm = VarMap::new();
            let vb = seeded_var_builder(&vm, 4, dev);
            let lin = LinearConfig::new(4, 6)
                .with_init(LinearInit::Scaled(1e-6))
                .build(vb)?;
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 4), dev)?)?;
            let loss = swiglu(&lin.forward(x.as_tensor())?)?.sqr()?.sum_all()?;
            let grads = loss.backward()?;
            for v in vm.all_vars().iter().chain([&x]) {
                let g = grads.get(v.as_tensor()).expect("gradient present");
                assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
            }
            Ok(())
        }
    );
}
