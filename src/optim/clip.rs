//! Gradient clipping by global L2 norm (PyTorch's `torch.nn.utils.clip_grad_norm_`).
//!
//! The global norm is `sqrt(Σ_p ‖g_p‖²)` over every gradient present. When it exceeds
//! `max_norm`, every gradient is multiplied by `max_norm / norm`, so the clipped global
//! norm equals `max_norm` (PyTorch divides by `norm + 1e-6`, a relative difference of
//! `1e-6 / norm`; we scale exactly). Optimisers apply this inside their `step` through
//! [`crate::optim::GradClip`]; [`clip_grad_norm`] does it on a `GradStore` in place for
//! callers that want the clipped gradients themselves.

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};

use crate::{ConfigError, Error, Result};

/// Global L2 norm of the gradients of `vars` present in `grads` (missing ones count 0).
pub fn global_grad_norm(grads: &GradStore, vars: &[Var]) -> Result<f64> {
    let present: Vec<&Tensor> = vars
        .iter()
        .filter_map(|v| grads.get(v.as_tensor()))
        .collect();
    global_norm_of(&present)
}

/// Clips the gradients of `vars` in `grads` to global norm `max_norm` and returns the norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    if !(max_norm > 0.0 && max_norm.is_finite()) {
        return Err(ConfigError::NotPositive {
            name: "clip max norm",
            value: max_norm,
        }
        .into());
    }
    let norm = global_grad_norm(grads, vars)?;
    if !norm.is_finite() {
        return Err(Error::NonFinite {
            what: "gradient norm".into(),
        });
    }
    let scale = clip_scale(norm, max_norm);
    if scale != 1.0 {
        for var in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let clipped = g.affine(scale, 0.0)?;
                grads.insert(var.as_tensor(), clipped);
            }
        }
    }
    Ok(norm)
}

/// The factor that brings `norm` down to `max_norm` (1 when already within).
pub(crate) fn clip_scale(norm: f64, max_norm: f64) -> f64 {
    if norm > max_norm {
        max_norm / norm
    } else {
        1.0
    }
}

/// `sqrt(Σ ‖t‖²)` over the tensors: each tensor's sum of squares in f32 on its device,
/// the sum over tensors in f64, with a single device-to-host transfer.
pub(crate) fn global_norm_of(tensors: &[&Tensor]) -> Result<f64> {
    let Some(first) = tensors.first() else {
        return Ok(0.0);
    };
    let sums = tensors
        .iter()
        .map(|t| {
            t.to_dtype(DType::F32)?
                .sqr()?
                .sum_all()?
                .to_device(first.device())
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    let total = Tensor::stack(&sums, 0)?
        .to_dtype(DType::F64)?
        .sum_all()?
        .to_scalar::<f64>()?;
    Ok(total.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn clipping_scales_global_norm_to_max_exactly() -> Result<()> {
        let dev = Device::Cpu;
        let a = Var::from_vec(vec![1.0f32, 2.0, 3.0], 3, &dev)?;
        let b = Var::from_vec(vec![-4.0f32, 0.5], 2, &dev)?;
        let loss = (a.as_tensor().sqr()?.sum_all()? + b.as_tensor().sqr()?.sum_all()?)?;
        let mut grads = loss.backward()?;
        // d/dx x² = 2x: norm = 2 * sqrt(1 + 4 + 9 + 16 + 0.25).
        let expected = 2.0 * 30.25f64.sqrt();
        let vars = [a.clone(), b.clone()];
        let norm = clip_grad_norm(&mut grads, &vars, 1.5)?;
        assert!((norm - expected).abs() < 1e-5);
        let after = global_grad_norm(&grads, &vars)?;
        assert!((after - 1.5).abs() < 1e-6, "clipped norm {after}");
        let ga = grads.get(a.as_tensor()).unwrap().to_vec1::<f32>()?;
        assert!(
            (ga[1] as f64 - 4.0 * 1.5 / expected).abs() < 1e-6,
            "direction kept"
        );
        // Within the limit nothing changes.
        let norm2 = clip_grad_norm(&mut grads, &vars, 10.0)?;
        assert!((norm2 - 1.5).abs() < 1e-6);
        assert_eq!(grads.get(a.as_tensor()).unwrap().to_vec1::<f32>()?, ga);
        Ok(())
    }

    #[test]
    fn bad_max_norm_is_a_config_error() {
        let mut grads = Tensor::new(1.0f32, &Device::Cpu)
            .unwrap()
            .backward()
            .unwrap();
        let e = clip_grad_norm(&mut grads, &[], 0.0).unwrap_err();
        assert!(matches!(e, Error::Config(ConfigError::NotPositive { .. })));
    }
}
