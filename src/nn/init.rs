//! Seeded weight initialisation for `VarBuilder`s.
//!
//! candle's CPU random number generator cannot be seeded (`Device::Cpu.set_seed` fails), so
//! `VarBuilder::from_varmap` gives different weights on every run. [`seeded_var_builder`]
//! wraps a [`VarMap`] in a backend that draws every new variable from a
//! [`ChaCha8Rng`] seeded by the caller and builds it from a `Vec<f32>`: the same seed and
//! the same construction order give bit-identical weights on every machine and thread count.
//! Variables already in the `VarMap` (say, loaded from a checkpoint) are returned unchanged.
//!
//! Modules ask for their parameters with the usual hints ([`Init`]); [`conv_uniform`] is the
//! PyTorch convolution default, `U(-1/sqrt(fan_in), 1/sqrt(fan_in))` for weight and bias.

use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::{Init, VarBuilder, VarMap, var_builder::SimpleBackend};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The PyTorch default for a convolution with `fan_in = in_channels · kernel volume`:
/// uniform on `±1/sqrt(fan_in)` (kaiming uniform with `a = sqrt(5)`), used for weight and bias.
pub fn conv_uniform(fan_in: usize) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// A `VarBuilder` whose new variables come from a `ChaCha8Rng` seeded with `seed` and are
/// stored in `varmap` (so an optimiser can train them and a checkpoint can save them).
pub fn seeded_var_builder(
    varmap: &VarMap,
    seed: u64,
    dtype: DType,
    device: &Device,
) -> VarBuilder<'static> {
    let backend = SeededVarMap {
        varmap: varmap.clone(),
        rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
    };
    VarBuilder::from_backend(Box::new(backend), dtype, device.clone())
}

/// A [`VarMap`] whose missing variables are drawn from a seeded generator.
struct SeededVarMap {
    varmap: VarMap,
    rng: Mutex<ChaCha8Rng>,
}

impl SeededVarMap {
    fn draw(&self, shape: &Shape, init: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..=up) as f32).collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| {
                    (mean
                        + stdev * {
                            let z: f64 = StandardNormal.sample(&mut *rng);
                            z
                        }) as f32
                })
                .collect(),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
                match dist {
                    candle_nn::init::NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        (0..n)
                            .map(|_| rng.random_range(-bound..=bound) as f32)
                            .collect()
                    }
                    candle_nn::init::NormalOrUniform::Normal => (0..n)
                        .map(|_| {
                            (std * {
                                let z: f64 = StandardNormal.sample(&mut *rng);
                                z
                            }) as f32
                        })
                        .collect(),
                }
            }
        }
    }
}

impl SimpleBackend for SeededVarMap {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(var) = data.get(name) {
            if var.shape() != &shape {
                candle_core::bail!("shape mismatch on {name}: {shape:?} <> {:?}", var.shape())
            }
            return Ok(var.as_tensor().clone());
        }
        let values = self.draw(&shape, init);
        let tensor = Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        match data.get(name) {
            Some(var) => Ok(var.as_tensor().clone()),
            None => candle_core::bail!("no variable named {name}"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.varmap
            .data()
            .lock()
            .map(|d| d.contains_key(name))
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(seed: u64) -> (VarMap, Tensor) {
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, seed, DType::F32, &Device::Cpu);
        let t = vb
            .pp("layer")
            .get_with_hints((4, 3), "weight", conv_uniform(3))
            .unwrap();
        (varmap, t)
    }

    #[test]
    fn same_seed_same_weights_and_bounds_hold() {
        let (varmap, a) = build(7);
        let (_, b) = build(7);
        let (_, c) = build(8);
        let va: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(va, b.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        assert_ne!(va, c.flatten_all().unwrap().to_vec1::<f32>().unwrap());
        let bound = 1.0 / 3f32.sqrt();
        assert!(va.iter().all(|v| v.abs() <= bound));
        assert!(varmap.data().lock().unwrap().contains_key("layer.weight"));
    }
}
