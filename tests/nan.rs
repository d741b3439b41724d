//! NaN and infinity travel through phystok's fused CPU kernels exactly as through the plain
//! candle ops they replace: the same output (and gradient) positions are NaN, and finite
//! positions stay finite. Inputs hold NaN or ±∞ in attention scores (through the bias and
//! the queries), values, SwiGLU gates, norms' inputs and convolution inputs.

use candle_core::{D, Device, Tensor, Var};
use candle_nn::VarMap;
use phystok::nn::{
    AttentionKernel, ConvOptions, ConvStrategy, LayerNorm, RmsGroupNorm, Shift, SpatialPadding,
    attention_with, causal_conv3d, seeded_var_builder, swiglu_parts,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn var(v: Vec<f32>, shape: &[usize]) -> Var {
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// The same NaN positions, the same infinities, and (where both are finite) values within
/// float32 rounding.
fn same_non_finite(what: &str, fused: &[f32], plain: &[f32]) {
    assert_eq!(fused.len(), plain.len(), "{what}: lengths");
    let mut nans = 0;
    for (i, (a, b)) in fused.iter().zip(plain).enumerate() {
        assert_eq!(
            a.is_nan(),
            b.is_nan(),
            "{what}[{i}]: fused {a} vs plain {b}"
        );
        nans += a.is_nan() as usize;
        if a.is_infinite() || b.is_infinite() {
            assert_eq!(a, b, "{what}[{i}]: fused {a} vs plain {b}");
        } else if !a.is_nan() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}[{i}]: fused {a} vs plain {b}"
            );
        }
    }
    let _ = nans;
}

/// Runs attention and its gradients with both kernels and compares them.
fn attention_case(what: &str, poison: impl Fn(&mut [f32], &mut [f32], &mut [f32], &mut [f32])) {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (b, h, lq, lk, d) = (2, 2, 67, 70, 8);
    let mut q = random(&mut rng, &[b, h, lq, d]);
    let mut k = random(&mut rng, &[b, h, lk, d]);
    let mut v = random(&mut rng, &[b, h, lk, d]);
    let mut bias = random(&mut rng, &[b, h, lq, lk]);
    poison(&mut q, &mut k, &mut v, &mut bias);
    let up = Tensor::from_vec(
        random(&mut rng, &[b, h, lq, d]),
        (b, h, lq, d),
        &Device::Cpu,
    )
    .unwrap();
    let run = |kernel| {
        let (q, k, v) = (
            var(q.clone(), &[b, h, lq, d]),
            var(k.clone(), &[b, h, lk, d]),
            var(v.clone(), &[b, h, lk, d]),
        );
        let bias = var(bias.clone(), &[b, h, lq, lk]);
        let o = attention_with(
            q.as_tensor(),
            k.as_tensor(),
            v.as_tensor(),
            Some(bias.as_tensor()),
            kernel,
        )
        .unwrap();
        let g = (&o * &up).unwrap().sum_all().unwrap().backward().unwrap();
        let grad = |x: &Var| values(g.get(x).unwrap());
        (values(&o), grad(&q), grad(&k), grad(&v), grad(&bias))
    };
    let fused = run(AttentionKernel::Fused);
    let plain = run(AttentionKernel::Matmul);
    assert!(
        fused.0.iter().any(|x| x.is_nan()),
        "{what}: the case must produce NaN"
    );
    same_non_finite(&format!("{what} output"), &fused.0, &plain.0);
    same_non_finite(&format!("{what} dq"), &fused.1, &plain.1);
    same_non_finite(&format!("{what} dk"), &fused.2, &plain.2);
    same_non_finite(&format!("{what} dv"), &fused.3, &plain.3);
    same_non_finite(&format!("{what} dbias"), &fused.4, &plain.4);
}

#[test]
fn attention_nan_score_poisons_its_row_as_in_plain_softmax() {
    attention_case("NaN score", |_, _, _, bias| bias[3 * 70 + 10] = f32::NAN);
}

#[test]
fn attention_all_nan_row_is_nan_not_uniform() {
    attention_case("all-NaN row", |_, _, _, bias| {
        bias[70 * 5..70 * 6].iter_mut().for_each(|x| *x = f32::NAN)
    });
}

#[test]
fn attention_nan_query_and_value() {
    attention_case("NaN query", |q, _, _, _| q[8 * 9 + 2] = f32::NAN);
    attention_case("NaN value", |_, _, v, _| v[8 * 4 + 1] = f32::NAN);
}

#[test]
fn attention_infinite_scores() {
    attention_case("+inf score", |_, _, _, bias| {
        bias[70 * 7 + 3] = f32::INFINITY
    });
    attention_case("masked row", |_, _, _, bias| {
        bias[70 * 9..70 * 10]
            .iter_mut()
            .for_each(|x| *x = f32::NEG_INFINITY)
    });
}

#[test]
fn swiglu_nan_and_infinite_gates() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let shape = [3, 37];
    let mut x = random(&mut rng, &shape);
    let mut g = random(&mut rng, &shape);
    g[4] = f32::NAN;
    g[20] = f32::INFINITY;
    g[21] = f32::NEG_INFINITY;
    g[40] = 80.0;
    g[41] = -80.0;
    x[60] = f32::NAN;
    x[70] = f32::INFINITY;
    let up = Tensor::from_vec(random(&mut rng, &shape), &shape, &Device::Cpu).unwrap();
    let run = |fused: bool| {
        let (xv, gv) = (var(x.clone(), &shape), var(g.clone(), &shape));
        let y = if fused {
            swiglu_parts(xv.as_tensor(), gv.as_tensor()).unwrap()
        } else {
            (gv.as_tensor().silu().unwrap() * xv.as_tensor()).unwrap()
        };
        let grads = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
        (
            values(&y),
            values(grads.get(&xv).unwrap()),
            values(grads.get(&gv).unwrap()),
        )
    };
    let (fused, plain) = (run(true), run(false));
    same_non_finite("swiglu", &fused.0, &plain.0);
    assert!(fused.0[4].is_nan() && fused.0[60].is_nan());
    same_non_finite("swiglu dx", &fused.1, &plain.1);
    // candle's silu gradient differs from the exact one at ±∞ (it forms ∞·0); compare NaN
    // positions where the gate is finite
    let finite_gate: Vec<usize> = (0..g.len()).filter(|&i| g[i].is_finite()).collect();
    let pick = |v: &[f32]| finite_gate.iter().map(|&i| v[i]).collect::<Vec<_>>();
    same_non_finite("swiglu dgate", &pick(&fused.2), &pick(&plain.2));
}

#[test]
fn norms_propagate_nan_like_plain_ops() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let shape = [2, 3, 5, 8];
    let mut x = random(&mut rng, &shape);
    x[17] = f32::NAN;
    x[100] = f32::INFINITY;
    let xt = Tensor::from_vec(x, &shape, &Device::Cpu).unwrap();
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, 1, &Device::Cpu);
    let ln = LayerNorm::new(8, Shift::GainAndBias, vb.pp("ln")).unwrap();
    let rms = RmsGroupNorm::new(2, 8, vb.pp("rms")).unwrap();
    // the plain candle formulas (gain 1, bias 0 at initialisation)
    let n = 8f64;
    let centred = xt
        .broadcast_sub(&(xt.sum_keepdim(D::Minus1).unwrap() / n).unwrap())
        .unwrap();
    let var_ = (centred.sqr().unwrap().sum_keepdim(D::Minus1).unwrap() / n).unwrap();
    let plain_ln = centred
        .broadcast_div(&(var_ + 1e-5).unwrap().sqrt().unwrap())
        .unwrap();
    same_non_finite(
        "layer norm",
        &values(&ln.forward(&xt).unwrap()),
        &values(&plain_ln),
    );
    let g = xt.reshape((2, 3, 5, 2, 4)).unwrap();
    let ms = (g
        .sqr()
        .unwrap()
        .sum_keepdim(4)
        .unwrap()
        .sum_keepdim(2)
        .unwrap()
        / 20.0)
        .unwrap();
    let plain_rms = g
        .broadcast_div(&(ms + 1e-5).unwrap().sqrt().unwrap())
        .unwrap()
        .reshape(shape.as_slice())
        .unwrap();
    let fused_rms = values(&rms.forward(&xt).unwrap());
    let plain_rms = values(&plain_rms);
    for (i, (a, b)) in fused_rms.iter().zip(&plain_rms).enumerate() {
        assert_eq!(a.is_nan(), b.is_nan(), "rms norm [{i}]: {a} vs {b}");
    }
    assert!(fused_rms.iter().any(|v| v.is_nan()));
}

#[test]
fn convolutions_propagate_nan_like_candle_conv2d() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let xs = [2, 3, 4, 9, 21];
    let ws = [5, 3, 3, 3, 3];
    let mut x = random(&mut rng, &xs);
    x[3 * 9 * 21 + 40] = f32::NAN;
    x[1000] = f32::INFINITY;
    let w = random(&mut rng, &ws);
    let bias = random(&mut rng, &[5]);
    let run = |strategy| {
        let (xv, wv, bv) = (
            var(x.clone(), &xs),
            var(w.clone(), &ws),
            var(bias.clone(), &[5]),
        );
        let opts = ConvOptions {
            padding: SpatialPadding::Same,
            strategy,
            ..ConvOptions::default()
        };
        let y = causal_conv3d(xv.as_tensor(), wv.as_tensor(), Some(bv.as_tensor()), opts).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        (
            values(&y),
            values(g.get(&xv).unwrap()),
            values(g.get(&wv).unwrap()),
            values(g.get(&bv).unwrap()),
        )
    };
    let plain = run(ConvStrategy::FoldedTaps);
    for strategy in [
        ConvStrategy::Direct,
        ConvStrategy::DirectAvx2,
        ConvStrategy::Gemm,
    ] {
        let fused = run(strategy);
        let name = format!("{strategy:?}");
        same_non_finite(&format!("{name} y"), &fused.0, &plain.0);
        same_non_finite(&format!("{name} dx"), &fused.1, &plain.1);
        same_non_finite(&format!("{name} dw"), &fused.2, &plain.2);
        same_non_finite(&format!("{name} db"), &fused.3, &plain.3);
    }
}
