//! The CPU kernels of `nn::kernels` against candle's primitive ops, the path CUDA takes.
//!
//! Every test runs through [`test_device!`]: the reference is the op on the CPU with its
//! kernel (forward, then the gradients of `Σ y·r` for a fixed random `r` with respect to every
//! input and parameter); the candidate is the same op on `dev` with the kernels switched off
//! ([`primitive_ops`]). On the CPU that compares the two implementations on the same inputs;
//! on a GPU it compares CUDA's primitive-op path with the CPU kernels. Shapes leave
//! remainders on every tile: the attention's 64-row query blocks, the direct convolution's
//! 16-wide output tiles and 32-row strips, the 16-lane AVX-512 vectors of the channel,
//! norm, RoPE and SwiGLU kernels.

use candle_core::{Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};

use super::attention::attention;
use super::causal_conv::{ConvOptions, ConvStrategy, SpatialPadding, causal_conv3d};
use super::kernels::channel::{add_channel_bias, mul_channel_gain};
use super::kernels::testing::primitive_ops;
use super::mlp::{gelu_erf, silu, swiglu_parts};
use super::norm::{LayerNorm, RmsGroupNorm, Shift};
use super::rope::AxialRope;
use super::seeded_var_builder;
use crate::Result;
use crate::device::test_device;
use crate::device::testing::randn;

/// What one path produced: the output and the gradients (inputs first, then the
/// parameters in name order), all on the CPU.
struct Outcome {
    y: Tensor,
    grads: Vec<(String, Tensor)>,
}

/// Runs `f` on `inputs` (moved to `device`) and a seeded `VarMap` there; returns the output
/// and every gradient of `Σ y·r`.
fn run(
    device: &Device,
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor], VarBuilder) -> Result<Tensor>,
) -> Result<Outcome> {
    let vars = inputs
        .iter()
        .map(|t| Var::from_tensor(&t.to_device(device)?))
        .collect::<candle_core::Result<Vec<_>>>()?;
    let xs: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let vm = VarMap::new();
    let y = f(&xs, seeded_var_builder(&vm, 11, device))?;
    let r = randn(y.dims(), 99, device)?;
    let grads = (&y * &r)?.sum_all()?.backward()?;
    let mut out = Vec::new();
    for (i, v) in vars.iter().enumerate() {
        let g = grads.get(v).ok_or_else(|| crate::Error::MissingVariable {
            what: "parity gradients".into(),
            name: format!("input {i}"),
        })?;
        out.push((format!("input {i}"), g.to_device(&Device::Cpu)?));
    }
    let mut named: Vec<(String, Var)> = vm.data().lock().unwrap().clone().into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, v) in named {
        let g = grads.get(&v).ok_or_else(|| crate::Error::MissingVariable {
            what: "parity gradients".into(),
            name: name.clone(),
        })?;
        out.push((name, g.to_device(&Device::Cpu)?));
    }
    Ok(Outcome {
        y: y.to_device(&Device::Cpu)?,
        grads: out,
    })
}

/// `max |a − b| / max(max |a|, 1e-3)`.
fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
    assert_eq!(a.dims(), b.dims());
    let diff = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    let scale = a.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    Ok(diff / scale.max(1e-3))
}

/// The kernel path on the CPU against the primitive path on `dev`, to `tol` relative to the
/// largest magnitude of each output and gradient.
fn parity(
    dev: &Device,
    inputs: &[Tensor],
    tol: f32,
    f: impl Fn(&[Tensor], VarBuilder) -> Result<Tensor>,
) -> Result<()> {
    let reference = run(&Device::Cpu, inputs, &f)?;
    let candidate = primitive_ops(|| run(dev, inputs, &f))?;
    let e = rel_err(&reference.y, &candidate.y)?;
    assert!(e <= tol, "output differs by {e:e} (relative) on {dev:?}");
    assert_eq!(reference.grads.len(), candidate.grads.len());
    for ((name, g_ref), (_, g)) in reference.grads.iter().zip(&candidate.grads) {
        let e = rel_err(g_ref, g)?;
        assert!(
            e <= tol,
            "gradient of {name} differs by {e:e} (relative) on {dev:?}"
        );
    }
    Ok(())
}

fn cpu_randn(shape: &[usize], seed: u64) -> Result<Tensor> {
    randn(shape, seed, &Device::Cpu)
}

fn conv(
    dev: &Device,
    strategy: ConvStrategy,
    stride: (usize, usize),
    pad: SpatialPadding,
) -> Result<()> {
    // W = 37: two 16-wide output tiles and a remainder; H = 35: one 32-row strip and 3 rows.
    let inputs = [
        cpu_randn(&[2, 5, 6, 35, 37], 1)?,
        cpu_randn(&[7, 5, 3, 3, 3], 2)?,
        cpu_randn(&[7], 3)?,
    ];
    let options = ConvOptions {
        stride_time: stride.0,
        stride_space: stride.1,
        padding: pad,
        strategy,
    };
    parity(dev, &inputs, 1e-4, |x, _| {
        causal_conv3d(&x[0], &x[1], Some(&x[2]), options)
    })
}

test_device!(
    fn conv_direct_matches_primitive(dev) {
        conv(dev, ConvStrategy::Direct, (1, 1), SpatialPadding::Same)
    }
);

test_device!(
    fn conv_gemm_matches_primitive(dev) {
        conv(dev, ConvStrategy::Gemm, (1, 1), SpatialPadding::Same)
    }
);

test_device!(
    fn strided_conv_matches_primitive(dev) {
        conv(dev, ConvStrategy::Gemm, (2, 2), SpatialPadding::Valid)
    }
);

test_device!(
    fn attention_matches_primitive(dev) {
        // 70 queries: one 64-row block and 6; head_dim 20: one 16-lane vector and 4.
        let inputs = [
            cpu_randn(&[2, 3, 70, 20], 4)?,
            cpu_randn(&[2, 3, 45, 20], 5)?,
            cpu_randn(&[2, 3, 45, 20], 6)?,
            cpu_randn(&[1, 3, 70, 45], 7)?,
        ];
        parity(dev, &inputs, 1e-4, |x, _| attention(&x[0], &x[1], &x[2], Some(&x[3])))
    }
);

test_device!(
    fn rms_group_norm_matches_primitive(dev) {
        let inputs = [cpu_randn(&[2, 3, 29, 21], 8)?];
        parity(dev, &inputs, 1e-4, |x, vb| RmsGroupNorm::new(3, 21, vb.pp("norm"))?.forward(&x[0]))
    }
);

test_device!(
    fn layer_norm_matches_primitive(dev) {
        let inputs = [cpu_randn(&[3, 41, 19], 9)?];
        parity(dev, &inputs, 1e-4, |x, vb| {
            // a non-trivial gain and shift, so their gradients and broadcasts are checked
            let z = (&x[0] * 1.5)?;
            LayerNorm::new(19, Shift::GainAndBias, vb.pp("norm"))?.forward(&z)
        })
    }
);

test_device!(
    fn channel_maps_match_primitive(dev) {
        let inputs = [cpu_randn(&[2, 19, 5, 7], 10)?, cpu_randn(&[19], 11)?, cpu_randn(&[19], 12)?];
        parity(dev, &inputs, 1e-5, |x, _| {
            Ok(add_channel_bias(&mul_channel_gain(&x[0], &x[1], 1)?, &x[2], 1)?)
        })
    }
);

test_device!(
    fn axial_rope_matches_primitive(dev) {
        // head_dim 24 on a 2D grid: 3/4 of it rotated, the rest passed through
        let rope = AxialRope::new(24, 16.0);
        let inputs = [cpu_randn(&[2, 3, 5 * 7, 24], 13)?];
        parity(dev, &inputs, 1e-5, |x, _| {
            let tables = rope.tables(&[5, 7], x[0].device())?;
            rope.apply(&x[0], &tables)
        })
    }
);

test_device!(
    fn swiglu_matches_primitive(dev) {
        let inputs = [cpu_randn(&[3, 13, 37], 14)?, cpu_randn(&[3, 13, 37], 15)?];
        parity(dev, &inputs, 1e-5, |x, _| swiglu_parts(&x[0], &x[1]))
    }
);

test_device!(
    fn silu_matches_primitive(dev) {
        let inputs = [(cpu_randn(&[3, 5, 4, 9, 37], 16)? * 4.0)?];
        parity(dev, &inputs, 1e-6, |x, _| silu(&x[0]))
    }
);

test_device!(
    fn gelu_erf_matches_primitive(dev) {
        let inputs = [(cpu_randn(&[3, 13, 37], 17)? * 4.0)?];
        parity(dev, &inputs, 1e-6, |x, _| gelu_erf(&x[0]))
    }
);

/// The switch really changes the path: forced primitive ops on the CPU give results that
/// are close to the kernels' but not bit-identical for the attention (different summation
/// order), so the parity tests above do compare two implementations.
#[test]
fn primitive_switch_changes_the_path() -> Result<()> {
    let inputs = [
        cpu_randn(&[1, 2, 70, 20], 4)?,
        cpu_randn(&[1, 2, 45, 20], 5)?,
        cpu_randn(&[1, 2, 45, 20], 6)?,
    ];
    let f = |x: &[Tensor], _: VarBuilder| attention(&x[0], &x[1], &x[2], None);
    let kernel = run(&Device::Cpu, &inputs, &f)?;
    let primitive = primitive_ops(|| run(&Device::Cpu, &inputs, &f))?;
    let diff = (&kernel.y - &primitive.y)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    assert!(
        diff > 0.0,
        "the two paths gave bit-identical attention outputs"
    );
    assert!(rel_err(&kernel.y, &primitive.y)? < 1e-5);
    Ok(())
}
