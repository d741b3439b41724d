//! Tests of the tokeniser and its building blocks (`phystok::nn` convolutions and sampling,
//! `phystok::tokeniser`): equality with a naive reference and with PyTorch, causality,
//! gradients reaching every parameter, shape round trips for every compression.

use candle_core::{DType, Device, Tensor, Var};
use phystok::nn::{ConvOptions, ConvStrategy, SpatialPadding, causal_conv3d};

fn formula(n: usize, f: impl Fn(usize) -> f32) -> Vec<f32> {
    (0..n).map(f).collect()
}

/// Direct sextuple loop: zero frames in front, symmetric zero border, strides.
#[allow(clippy::too_many_arguments)]
fn naive_causal_conv3d(
    x: &[f32],
    (b, ci, t, h, w): (usize, usize, usize, usize, usize),
    wt: &[f32],
    (co, kt, ks): (usize, usize, usize),
    bias: &[f32],
    (st, ss, p): (usize, usize, usize),
) -> (Vec<f32>, [usize; 5]) {
    let to = (t - 1) / st + 1;
    let ho = (h + 2 * p - ks) / ss + 1;
    let wo = (w + 2 * p - ks) / ss + 1;
    let mut y = vec![0f32; b * co * to * ho * wo];
    for bi in 0..b {
        for o in 0..co {
            for tj in 0..to {
                for yi in 0..ho {
                    for xi in 0..wo {
                        let mut acc = bias[o] as f64;
                        for c in 0..ci {
                            for dt in 0..kt {
                                // padded frame tj*st + dt is input frame tj*st + dt - (kt - 1)
                                let tf = (tj * st + dt) as isize - (kt as isize - 1);
                                if tf < 0 {
                                    continue;
                                }
                                for dy in 0..ks {
                                    let yy = (yi * ss + dy) as isize - p as isize;
                                    if yy < 0 || yy >= h as isize {
                                        continue;
                                    }
                                    for dx in 0..ks {
                                        let xx = (xi * ss + dx) as isize - p as isize;
                                        if xx < 0 || xx >= w as isize {
                                            continue;
                                        }
                                        let xv = x[(((bi * ci + c) * t + tf as usize) * h
                                            + yy as usize)
                                            * w
                                            + xx as usize];
                                        let wv = wt[(((o * ci + c) * kt + dt) * ks + dy) * ks + dx];
                                        acc += xv as f64 * wv as f64;
                                    }
                                }
                            }
                        }
                        y[(((bi * co + o) * to + tj) * ho + yi) * wo + xi] = acc as f32;
                    }
                }
            }
        }
    }
    (y, [b, co, to, ho, wo])
}

type ConvCase = (
    &'static str,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
    usize,
);

/// Same cases as tests/reference/tokeniser_causal_conv.py.
const CONV_CASES: [ConvCase; 4] = [
    ("same_3x3x3", 2, 3, 5, 6, 7, 3, 3, 1, 1, 1),
    ("down_t2_s4", 3, 2, 5, 8, 8, 3, 4, 2, 4, 0),
    ("down_t1_s2", 2, 4, 3, 4, 6, 1, 2, 1, 2, 0),
    ("down_t2_s2", 2, 2, 9, 4, 4, 3, 2, 2, 2, 0),
];

/// Output of tests/reference/tokeniser_causal_conv.py (PyTorch conv3d, float64):
/// shape, sum, Σ y_i·((i mod 7) − 3), Σ y², first four values.
/// name, shape, sum, weighted sum, sum of squares, first four values
type TorchRow = (&'static str, [usize; 5], f64, f64, f64, [f64; 4]);

const TORCH_CONV: [TorchRow; 4] = [
    (
        "same_3x3x3",
        [2, 3, 5, 6, 7],
        25.46267028,
        10.00316045,
        14.78999580,
        [-0.16650763, -0.24508604, -0.21718658, -0.15853849],
    ),
    (
        "down_t2_s4",
        [2, 2, 3, 2, 2],
        0.68149352,
        7.90920819,
        7.19068901,
        [-0.33128762, -0.45817329, 0.04644775, -0.53929871],
    ),
    (
        "down_t1_s2",
        [2, 4, 3, 2, 3],
        3.65765806,
        0.65445041,
        3.07180143,
        [0.24253046, 0.13172541, -0.04274968, 0.01884716],
    ),
    (
        "down_t2_s2",
        [2, 2, 5, 2, 2],
        1.61853794,
        4.28147140,
        19.99890371,
        [0.27192474, 0.36312342, -0.20484507, -0.33762626],
    ),
];

fn run_case(
    case: &ConvCase,
    strategy: ConvStrategy,
) -> (Vec<f32>, Vec<usize>, Vec<f32>, [usize; 5]) {
    let &(_, ci, co, t, h, w, kt, ks, st, ss, p) = case;
    let dev = Device::Cpu;
    let x = formula(2 * ci * t * h * w, |i| (0.37 * i as f64).sin() as f32);
    let wt = formula(co * ci * kt * ks * ks, |i| {
        (0.1 * (0.11 * i as f64).cos()) as f32
    });
    let bias = formula(co, |o| 0.01 * (o + 1) as f32);
    let xs = Tensor::from_vec(x.clone(), (2, ci, t, h, w), &dev).unwrap();
    let ws = Tensor::from_vec(wt.clone(), (co, ci, kt, ks, ks), &dev).unwrap();
    let bs = Tensor::from_vec(bias.clone(), co, &dev).unwrap();
    let padding = if p == 0 {
        SpatialPadding::Valid
    } else {
        SpatialPadding::Same
    };
    let options = ConvOptions {
        stride_time: st,
        stride_space: ss,
        padding,
        strategy,
    };
    let ys = causal_conv3d(&xs, &ws, Some(&bs), options).unwrap();
    let (naive, shape) =
        naive_causal_conv3d(&x, (2, ci, t, h, w), &wt, (co, kt, ks), &bias, (st, ss, p));
    (
        ys.flatten_all().unwrap().to_vec1().unwrap(),
        ys.dims().to_vec(),
        naive,
        shape,
    )
}

#[test]
fn causal_conv_equals_naive_reference_for_both_strategies() {
    for case in &CONV_CASES {
        for strategy in [ConvStrategy::FoldedTaps, ConvStrategy::SummedTaps] {
            let (ys, dims, naive, shape) = run_case(case, strategy);
            assert_eq!(dims, shape.to_vec(), "{} {strategy:?}", case.0);
            let max = ys
                .iter()
                .zip(&naive)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(max < 1e-5, "{} {strategy:?}: max |diff| {max}", case.0);
        }
    }
}

#[test]
fn causal_conv_matches_pytorch_conv3d() {
    for (case, reference) in CONV_CASES.iter().zip(&TORCH_CONV) {
        let (ys, dims, _, _) = run_case(case, ConvStrategy::default());
        let (name, shape, sum, weighted, squares, first) = reference;
        assert_eq!(case.0, *name);
        assert_eq!(dims, shape.to_vec(), "{name}");
        let ys: Vec<f64> = ys.iter().map(|&v| v as f64).collect();
        let s: f64 = ys.iter().sum();
        let ws: f64 = ys
            .iter()
            .enumerate()
            .map(|(i, v)| v * ((i % 7) as f64 - 3.0))
            .sum();
        let sq: f64 = ys.iter().map(|v| v * v).sum();
        for (got, want) in [(s, *sum), (ws, *weighted), (sq, *squares)] {
            assert!(
                (got - want).abs() < 1e-5 * (1.0 + want.abs()),
                "{name}: {got} vs {want}"
            );
        }
        for (got, want) in ys.iter().zip(first) {
            assert!((got - want).abs() < 1e-5, "{name}: {got} vs {want}");
        }
    }
}

#[test]
fn causal_conv_is_causal_in_time() {
    let dev = Device::Cpu;
    let x = formula(2 * 5 * 4 * 4, |i| (0.3 * i as f64).cos() as f32);
    let wt = formula(2 * 2 * 27, |i| (0.7 * i as f64).sin() as f32);
    let ws = Tensor::from_vec(wt, (2, 2, 3, 3, 3), &dev).unwrap();
    let base = Tensor::from_vec(x.clone(), (1, 2, 5, 4, 4), &dev).unwrap();
    let y0 = causal_conv3d(&base, &ws, None, ConvOptions::default()).unwrap();
    for t in 0..5 {
        let mut changed = x.clone();
        for c in 0..2 {
            for i in 0..16 {
                changed[(c * 5 + t) * 16 + i] += 1.0;
            }
        }
        let xs = Tensor::from_vec(changed, (1, 2, 5, 4, 4), &dev).unwrap();
        let y1 = causal_conv3d(&xs, &ws, None, ConvOptions::default()).unwrap();
        let diff = (y1 - &y0)
            .unwrap()
            .abs()
            .unwrap()
            .sum((0, 1, 3, 4))
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (s, d) in diff.iter().enumerate() {
            // output frame s sees input frames s − 2 ..= s (k_t = 3) and nothing else
            let sees = s >= t && s <= t + 2;
            assert_eq!(
                *d != 0.0,
                sees,
                "changing frame {t} vs output frame {s}: {d}"
            );
        }
    }
}

#[test]
fn causal_conv_gradients_match_between_strategies_and_reach_everything() {
    let dev = Device::Cpu;
    let x = Var::from_vec(
        formula(2 * 3 * 5 * 8 * 8, |i| (0.37 * i as f64).sin() as f32),
        (2, 3, 5, 8, 8),
        &dev,
    )
    .unwrap();
    let w = Var::from_vec(
        formula(2 * 3 * 3 * 4 * 4, |i| (0.11 * i as f64).cos() as f32),
        (2, 3, 3, 4, 4),
        &dev,
    )
    .unwrap();
    let b = Var::from_vec(vec![0.1f32, -0.2], 2, &dev).unwrap();
    let mut grads = Vec::new();
    for strategy in [ConvStrategy::FoldedTaps, ConvStrategy::SummedTaps] {
        let options = ConvOptions {
            stride_time: 2,
            stride_space: 4,
            padding: SpatialPadding::Valid,
            strategy,
        };
        let y = causal_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), options).unwrap();
        let loss = y.sqr().unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        let gs: Vec<Vec<f32>> = [x.as_tensor(), w.as_tensor(), b.as_tensor()]
            .iter()
            .map(|v| {
                g.get(v)
                    .expect("gradient present")
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap()
            })
            .collect();
        for gv in &gs {
            assert!(gv.iter().any(|v| *v != 0.0));
        }
        grads.push(gs);
    }
    for (a, b) in grads[0].iter().zip(&grads[1]) {
        let max = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs() / (1.0 + q.abs()))
            .fold(0f32, f32::max);
        assert!(max < 1e-4, "strategies disagree on a gradient: {max}");
    }
    // Finite-difference check of one weight entry.
    let options = ConvOptions {
        stride_time: 2,
        stride_space: 4,
        padding: SpatialPadding::Valid,
        strategy: ConvStrategy::default(),
    };
    let loss_at = |wv: &Tensor| -> f64 {
        let y = causal_conv3d(
            &x.as_tensor().to_dtype(DType::F64).unwrap(),
            wv,
            Some(&b.as_tensor().to_dtype(DType::F64).unwrap()),
            options,
        )
        .unwrap();
        y.sqr()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let w64: Vec<f64> = w
        .as_tensor()
        .flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1()
        .unwrap();
    let k = 37;
    let eps = 1e-4;
    let mut plus = w64.clone();
    plus[k] += eps;
    let mut minus = w64.clone();
    minus[k] -= eps;
    let fd = (loss_at(&Tensor::from_vec(plus, (2, 3, 3, 4, 4), &dev).unwrap())
        - loss_at(&Tensor::from_vec(minus, (2, 3, 3, 4, 4), &dev).unwrap()))
        / (2.0 * eps);
    let analytic = grads[0][1][k] as f64;
    assert!(
        (fd - analytic).abs() < 1e-3 * (1.0 + fd.abs()),
        "fd {fd} vs autograd {analytic}"
    );
}

#[test]
fn causal_conv_rejects_bad_shapes_with_typed_errors() {
    let dev = Device::Cpu;
    let xs = Tensor::zeros((1, 2, 3, 6, 5), DType::F32, &dev).unwrap();
    let w3 = Tensor::zeros((1, 2, 3, 3, 3), DType::F32, &dev).unwrap();
    let w_bad = Tensor::zeros((1, 3, 3, 3, 3), DType::F32, &dev).unwrap();
    assert!(matches!(
        causal_conv3d(&xs, &w_bad, None, ConvOptions::default()),
        Err(phystok::Error::Shape { .. })
    ));
    let w2 = Tensor::zeros((1, 2, 1, 2, 2), DType::F32, &dev).unwrap();
    assert!(matches!(
        causal_conv3d(&xs, &w2, None, ConvOptions::default()),
        Err(phystok::Error::Config(_))
    ));
    let strided = ConvOptions {
        stride_space: 2,
        padding: SpatialPadding::Valid,
        ..ConvOptions::default()
    };
    // 6x5 at stride 2 leaves remainders 0 and 1: candle's conv2d backward would fail, so refuse.
    assert!(matches!(
        causal_conv3d(&xs, &w2, None, strided),
        Err(phystok::Error::Config(_))
    ));
    let flat = Tensor::zeros((2, 6, 5), DType::F32, &dev).unwrap();
    assert!(matches!(
        causal_conv3d(&flat, &w3, None, ConvOptions::default()),
        Err(phystok::Error::Shape { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Adaptive field heads, flexible sampling, residual blocks

use candle_nn::{VarBuilder, VarMap};
use phystok::nn::{
    AdaptiveFieldConv, CausalConv3dConfig, FieldSide, FlexDownsample, FlexUpsample, ResidualBlock,
    ScaleFactor, seeded_var_builder,
};

fn vb(seed: u64) -> (VarMap, VarBuilder<'static>) {
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, seed, &Device::Cpu);
    (varmap, vb)
}

fn wavy(shape: (usize, usize, usize, usize, usize), k: f64) -> Tensor {
    let n = shape.0 * shape.1 * shape.2 * shape.3 * shape.4;
    Tensor::from_vec(
        formula(n, |i| (k * i as f64).sin() as f32),
        shape,
        &Device::Cpu,
    )
    .unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// Every present gradient is nonzero somewhere; every listed variable has one.
fn assert_grads_reach(loss: &Tensor, vars: &[(&str, &Tensor)]) {
    let grads = loss.backward().unwrap();
    for (name, v) in vars {
        let g = grads
            .get(v)
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm: f32 = g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "zero or non-finite gradient for {name}: {norm}"
        );
    }
}

#[test]
fn encoder_head_on_a_field_subset_equals_zero_filled_rescaled_full_input() {
    let (_vm, vb) = vb(1);
    let head = AdaptiveFieldConv::new(CausalConv3dConfig::new(5, 4), FieldSide::Input, vb).unwrap();
    let active = [3, 0];
    let xs = wavy((2, 2, 3, 4, 4), 0.21);
    let ys = head.forward(&xs, &active).unwrap();
    // the same input embedded in all 5 fields (zeros elsewhere), scaled by sqrt(5/2)
    let zeros = Tensor::zeros((2, 1, 3, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let f0 = xs.narrow(1, 1, 1).unwrap();
    let f3 = xs.narrow(1, 0, 1).unwrap();
    let full = Tensor::cat(&[&f0, &zeros, &zeros, &f3, &zeros], 1).unwrap();
    let full = (full * (5.0f64 / 2.0).sqrt()).unwrap();
    let want = head.conv().forward(&full).unwrap();
    assert!(max_abs_diff(&ys, &want) < 1e-5);
    assert!(matches!(
        head.forward(&xs, &[0, 5]),
        Err(phystok::Error::OutOfRange { index: 5, .. })
    ));
    assert!(matches!(
        head.forward(&xs, &[1, 1]),
        Err(phystok::Error::Config(_))
    ));
    assert!(matches!(
        head.forward(&xs, &[1, 2, 3]),
        Err(phystok::Error::Shape { .. })
    ));
}

#[test]
fn decoder_head_on_a_field_subset_selects_output_fields() {
    let (varmap, vb) = vb(2);
    let head =
        AdaptiveFieldConv::new(CausalConv3dConfig::new(4, 5), FieldSide::Output, vb).unwrap();
    let xs = Var::from_tensor(&wavy((1, 4, 3, 4, 4), 0.13)).unwrap();
    let ys = head.forward(xs.as_tensor(), &[4, 1]).unwrap();
    let full = head.conv().forward(xs.as_tensor()).unwrap();
    assert!(max_abs_diff(&ys.narrow(1, 0, 1).unwrap(), &full.narrow(1, 4, 1).unwrap()) < 1e-6);
    assert!(max_abs_diff(&ys.narrow(1, 1, 1).unwrap(), &full.narrow(1, 1, 1).unwrap()) < 1e-6);
    let vars = varmap.all_vars();
    let loss = ys.sqr().unwrap().sum_all().unwrap();
    let mut list = vec![("input", xs.as_tensor())];
    list.extend(vars.iter().map(|v| ("head parameter", v.as_tensor())));
    assert_grads_reach(&loss, &list);
}

#[test]
fn a_rescaled_decoder_head_multiplies_its_output_by_the_fan_ratio() {
    let (varmap, vb) = vb(2);
    let head = AdaptiveFieldConv::new(CausalConv3dConfig::new(4, 5), FieldSide::Output, vb)
        .unwrap()
        .with_rescaled_output();
    let xs = Var::from_tensor(&wavy((1, 4, 3, 4, 4), 0.13)).unwrap();
    let ys = head.forward(xs.as_tensor(), &[4, 1]).unwrap();
    let full = head.conv().forward(xs.as_tensor()).unwrap();
    let scale = (5.0f64 / 2.0).sqrt();
    let want = (full.narrow(1, 4, 1).unwrap() * scale).unwrap();
    assert!(max_abs_diff(&ys.narrow(1, 0, 1).unwrap(), &want) < 1e-5);
    // all fields active: the scale is 1
    let all = head.forward(xs.as_tensor(), &[0, 1, 2, 3, 4]).unwrap();
    assert!(max_abs_diff(&all, &full) < 1e-6);
    let vars = varmap.all_vars();
    let loss = ys.sqr().unwrap().sum_all().unwrap();
    let mut list = vec![("input", xs.as_tensor())];
    list.extend(vars.iter().map(|v| ("head parameter", v.as_tensor())));
    assert_grads_reach(&loss, &list);
    // the paper's tokeniser rescales both heads; the CPU presets the encoder's only
    use phystok::tokeniser::{HeadScaling, TokeniserConfig};
    assert_eq!(
        TokeniserConfig::paper().head_scaling,
        HeadScaling::BothHeads
    );
    assert_eq!(
        TokeniserConfig::small().head_scaling,
        HeadScaling::EncoderOnly
    );
    // a tokeniser config without the field (an older checkpoint's) reads as encoder-only
    let mut json = serde_json::to_value(TokeniserConfig::tiny()).unwrap();
    json.as_object_mut().unwrap().remove("head_scaling");
    let back: TokeniserConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back.head_scaling, HeadScaling::EncoderOnly);
}

/// A field sampled at cell centres of an `n x n` grid on the unit square, `frames` frames, two
/// channels, constant in time.
fn sampled_field(n: usize, frames: usize, f: impl Fn(usize, f64, f64) -> f64) -> Tensor {
    let mut v = Vec::with_capacity(2 * frames * n * n);
    for c in 0..2 {
        for _ in 0..frames {
            for i in 0..n {
                for j in 0..n {
                    v.push(f(c, (i as f64 + 0.5) / n as f64, (j as f64 + 0.5) / n as f64) as f32);
                }
            }
        }
    }
    Tensor::from_vec(v, (1, 2, frames, n, n), &Device::Cpu).unwrap()
}

#[test]
fn flexible_downsampling_kernels_reproduce_the_base_response_on_smooth_fields() {
    let (_vm, vb) = vb(3);
    let down = FlexDownsample::new(2, 3, ScaleFactor::new(2, 4), vb).unwrap();
    let affine = |c: usize, x: f64, y: f64| 0.3 + (1.2 + c as f64) * x - 0.7 * y;
    let smooth = |c: usize, x: f64, y: f64| (2.0 * x + c as f64).sin() * (1.5 * y).cos();
    // base: 16x16 grid, 5 frames at (2, 4) → 3 frames of 4x4 tokens, each a 1/4-wide cell
    for (field, tol) in [
        (&affine as &dyn Fn(usize, f64, f64) -> f64, 1e-5f32),
        (&smooth, 0.05),
    ] {
        let fine = down
            .forward(&sampled_field(16, 5, field), ScaleFactor::new(2, 4))
            .unwrap();
        // (2, 2) on the 8x8 grid: same cells, same temporal kernel → every frame matches
        let half = down
            .forward(&sampled_field(8, 5, field), ScaleFactor::new(2, 2))
            .unwrap();
        let scale = fine
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(
            max_abs_diff(&fine, &half) <= tol * scale,
            "(2,2): {}",
            max_abs_diff(&fine, &half)
        );
        // (1, 2) on an 8x8 grid with 3 frames (half the frame rate): frames after the first
        // (the first sees the base kernel's zero padding) match
        let coarse = down
            .forward(&sampled_field(8, 3, field), ScaleFactor::new(1, 2))
            .unwrap();
        let (a, b) = (
            fine.narrow(2, 1, 2).unwrap(),
            coarse.narrow(2, 1, 2).unwrap(),
        );
        assert!(
            max_abs_diff(&a, &b) <= tol * scale,
            "(1,2): {}",
            max_abs_diff(&a, &b)
        );
    }
    assert!(matches!(
        down.kernel(ScaleFactor::new(4, 2)),
        Err(phystok::Error::Config(_))
    ));
    assert_eq!(
        down.kernel(ScaleFactor::new(1, 2)).unwrap().dims(),
        &[3, 2, 1, 2, 2]
    );
}

#[test]
fn flexible_downsampling_gradient_reaches_base_kernel_at_every_factor() {
    for factor in [
        ScaleFactor::new(1, 2),
        ScaleFactor::new(2, 2),
        ScaleFactor::new(1, 4),
        ScaleFactor::new(2, 4),
    ] {
        let (varmap, vb) = vb(4);
        let down = FlexDownsample::new(2, 3, ScaleFactor::new(2, 4), vb).unwrap();
        let xs = Var::from_tensor(&wavy((1, 2, 5, 8, 8), 0.3)).unwrap();
        let ys = down.forward(xs.as_tensor(), factor).unwrap();
        assert_eq!(
            ys.dims(),
            &[
                1,
                3,
                4 / factor.time + 1,
                8 / factor.space,
                8 / factor.space
            ]
        );
        let loss = ys.sqr().unwrap().sum_all().unwrap();
        let vars = varmap.all_vars();
        let mut list = vec![("input", xs.as_tensor())];
        list.extend(vars.iter().map(|v| ("down parameter", v.as_tensor())));
        assert_grads_reach(&loss, &list);
    }
}

fn every(xs: &Tensor, dim: usize, step: usize) -> Tensor {
    let n = xs.dim(dim).unwrap();
    let idx: Vec<u32> = (0..n).step_by(step).map(|i| i as u32).collect();
    let idx = Tensor::from_vec(idx.clone(), idx.len(), &Device::Cpu).unwrap();
    xs.contiguous().unwrap().index_select(&idx, dim).unwrap()
}

#[test]
fn flexible_upsampling_at_a_smaller_factor_subsamples_the_base_output() {
    let (varmap, vb) = vb(5);
    let up = FlexUpsample::new(3, 2, ScaleFactor::new(2, 4), vb).unwrap();
    let xs = Var::from_tensor(&wavy((2, 3, 3, 2, 2), 0.17)).unwrap();
    let base = up.forward(xs.as_tensor(), ScaleFactor::new(2, 4)).unwrap();
    assert_eq!(base.dims(), &[2, 2, 5, 8, 8]);
    for factor in [
        ScaleFactor::new(1, 2),
        ScaleFactor::new(2, 2),
        ScaleFactor::new(1, 4),
        ScaleFactor::new(1, 1),
    ] {
        let ys = up.forward(xs.as_tensor(), factor).unwrap();
        let (eta_t, eta_s) = (2 / factor.time, 4 / factor.space);
        let want = every(&every(&every(&base, 2, eta_t), 3, eta_s), 4, eta_s);
        assert_eq!(
            ys.dims(),
            &[
                2,
                2,
                factor.time * 2 + 1,
                2 * factor.space,
                2 * factor.space
            ]
        );
        assert!(max_abs_diff(&ys, &want) < 1e-6, "{factor}");
    }
    let loss = base.sqr().unwrap().sum_all().unwrap();
    let vars = varmap.all_vars();
    let mut list = vec![("input", xs.as_tensor())];
    list.extend(vars.iter().map(|v| ("up parameter", v.as_tensor())));
    assert_grads_reach(&loss, &list);
}

#[test]
fn residual_block_gradients_reach_input_and_parameters() {
    let (varmap, vb) = vb(6);
    let block = ResidualBlock::new(3, vb).unwrap();
    let xs = Var::from_tensor(&wavy((1, 3, 3, 4, 4), 0.4)).unwrap();
    let ys = block.forward(xs.as_tensor()).unwrap();
    assert_eq!(ys.dims(), xs.dims());
    assert_eq!(block.n_parameters(), 2 * (3 * 3 * 27 + 3));
    let loss = ys.sqr().unwrap().sum_all().unwrap();
    let vars = varmap.all_vars();
    assert_eq!(vars.len(), 4);
    let mut list = vec![("input", xs.as_tensor())];
    list.extend(vars.iter().map(|v| ("block parameter", v.as_tensor())));
    assert_grads_reach(&loss, &list);
}

// ---------------------------------------------------------------------------------------------
// The tokeniser

use phystok::tokeniser::{Compression, Tokeniser, TokeniserConfig};

fn tokeniser(config: TokeniserConfig) -> (VarMap, Tokeniser) {
    let tok = config.init(&Device::Cpu).unwrap();
    (tok.varmap().clone(), tok)
}

fn n_elements(varmap: &VarMap) -> usize {
    varmap.all_vars().iter().map(|v| v.elem_count()).sum()
}

#[test]
fn paper_preset_has_the_documented_parameter_count_and_clean_names() {
    let (varmap, tok) = tokeniser(TokeniserConfig::paper());
    let summary = tok.param_table();
    assert_eq!(summary.total(), 4_852_196, "{summary}");
    assert_eq!(n_elements(&varmap), summary.total());
    let interfaces: usize = summary
        .rows()
        .iter()
        .filter(|r| r.component.ends_with(".head") || r.component.ends_with(".bottleneck"))
        .map(|r| r.total)
        .sum();
    assert_eq!(interfaces, 47_924);
    assert!(
        summary.rows().iter().all(|r| r.component != "other"),
        "{summary}"
    );
    let names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
    for name in [
        "encoder.head.weight",
        "encoder.head.bias",
        "encoder.bottleneck.weight",
        "decoder.bottleneck.weight",
        "decoder.head.weight",
        "decoder.head.bias",
    ] {
        assert!(names.iter().any(|n| n == name), "missing {name}");
    }
    // what "mostly frozen" trains is exactly the head and bottleneck prefixes
    let frozen_trainable: usize = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| {
            [
                "encoder.head.",
                "decoder.head.",
                "encoder.bottleneck.",
                "decoder.bottleneck.",
            ]
            .iter()
            .any(|p| n.starts_with(p))
        })
        .map(|(_, v)| v.elem_count())
        .sum();
    assert_eq!(frozen_trainable, 47_924);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("encoder.") || n.starts_with("decoder."))
    );
    let html = summary.to_html();
    assert!(
        html.contains("<table>")
            && html.contains("encoder.levels.1.down")
            && html.contains("4,852,196")
    );
}

#[test]
fn every_compression_round_trips_shapes() {
    let (_vm, tok) = tokeniser(TokeniserConfig::tiny());
    let all = tok.config().all_compressions();
    assert_eq!(all.len(), 16);
    let xs = wavy((1, 3, 5, 32, 32), 0.05);
    for c in all {
        let zs = tok.encode(&xs, &[0, 1, 2], &c).unwrap();
        let (st, ss) = (c.time(), c.space());
        assert_eq!(zs.dims(), &[1, 4, 4 / st + 1, 32 / ss, 32 / ss], "{c}");
        let ys = tok.decode(&zs, &[0, 1, 2], &c).unwrap();
        assert_eq!(ys.dims(), xs.dims(), "{c}");
        assert!(
            ys.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .iter()
                .all(|v| v.is_finite())
        );
    }
}

#[test]
fn tokeniser_is_causal_in_time() {
    let (_vm, tok) = tokeniser(TokeniserConfig::tiny().with_res_blocks(1));
    let shape = (1, 2, 9, 16, 16);
    let base = wavy(shape, 0.09);
    for c in [
        Compression::paper_validation(),
        Compression::new([(1, 2), (1, 2), (2, 2)]),
        Compression::new([(1, 2), (1, 2), (1, 2)]),
    ] {
        let s = c.time();
        let z0 = tok.encode(&base, &[0, 1], &c).unwrap();
        let y0 = tok.decode(&z0, &[0, 1], &c).unwrap();
        for t in [0, 1, 2, 4, 5, 8] {
            let bump = Tensor::zeros(shape, DType::F32, &Device::Cpu)
                .unwrap()
                .slice_assign(
                    &[0..1, 0..2, t..t + 1, 0..16, 0..16],
                    &Tensor::ones((1, 2, 1, 16, 16), DType::F32, &Device::Cpu).unwrap(),
                )
                .unwrap();
            let xs = (&base + bump).unwrap();
            let z1 = tok.encode(&xs, &[0, 1], &c).unwrap();
            let y1 = tok.decode(&z1, &[0, 1], &c).unwrap();
            let dz = (&z1 - &z0)
                .unwrap()
                .abs()
                .unwrap()
                .max_keepdim(4)
                .unwrap()
                .max_keepdim(3)
                .unwrap()
                .max_keepdim(1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let dy = (&y1 - &y0)
                .unwrap()
                .abs()
                .unwrap()
                .max_keepdim(4)
                .unwrap()
                .max_keepdim(3)
                .unwrap()
                .max_keepdim(1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            for (j, d) in dz.iter().enumerate() {
                // latent j is aligned with pixel frame s·j and sees nothing later
                if s * j < t {
                    assert_eq!(*d, 0.0, "{c}: frame {t} changed latent {j}");
                }
            }
            assert!(
                dz[t.div_ceil(s)] > 1e-6,
                "{c}: frame {t} did not reach latent {}",
                t.div_ceil(s)
            );
            for (f, d) in dy.iter().enumerate() {
                if s * f.div_ceil(s) < t {
                    assert_eq!(*d, 0.0, "{c}: frame {t} changed reconstructed frame {f}");
                }
            }
            assert!(
                dy[t] > 1e-6,
                "{c}: frame {t} did not reach its reconstruction"
            );
        }
    }
}

#[test]
fn tokeniser_gradients_reach_input_and_every_parameter() {
    let (varmap, tok) = tokeniser(TokeniserConfig::tiny().with_res_blocks(1));
    // every depth at its largest factor, so that every base-kernel channel is used
    let c = Compression::new([(1, 2), (2, 4), (2, 4)]);
    let xs = Var::from_tensor(&wavy((1, 3, 5, 32, 32), 0.11)).unwrap();
    let ys = tok.autoencode(xs.as_tensor(), &[0, 1, 2], &c).unwrap();
    let loss = (ys - xs.as_tensor())
        .unwrap()
        .sqr()
        .unwrap()
        .mean_all()
        .unwrap();
    let data = varmap.data().lock().unwrap();
    let mut list = vec![("input".to_string(), xs.as_tensor().clone())];
    list.extend(data.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())));
    drop(data);
    let list: Vec<(&str, &Tensor)> = list.iter().map(|(n, t)| (n.as_str(), t)).collect();
    assert!(list.len() > 30);
    assert_grads_reach(&loss, &list);
}

#[test]
fn a_field_subset_runs_and_trains_only_its_head_columns() {
    let (varmap, tok) = tokeniser(TokeniserConfig::tiny());
    let c = tok.validation_compression();
    let xs = wavy((2, 2, 5, 16, 16), 0.07);
    let ys = tok.autoencode(&xs, &[2, 0], &c).unwrap();
    assert_eq!(ys.dims(), xs.dims());
    let loss = (ys - &xs).unwrap().sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    let data = varmap.data().lock().unwrap();
    let enc = grads.get(data["encoder.head.weight"].as_tensor()).unwrap();
    let dec = grads.get(data["decoder.head.weight"].as_tensor()).unwrap();
    let per_field = |g: &Tensor, dim: usize| -> Vec<f32> {
        (0..3)
            .map(|f| {
                g.narrow(dim, f, 1)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar()
                    .unwrap()
            })
            .collect()
    };
    let (e, d) = (per_field(enc, 1), per_field(dec, 0));
    assert!(
        e[0] > 0.0 && e[2] > 0.0 && e[1] == 0.0,
        "encoder head columns {e:?}"
    );
    assert!(
        d[0] > 0.0 && d[2] > 0.0 && d[1] == 0.0,
        "decoder head rows {d:?}"
    );
}

#[test]
fn bad_shapes_fields_and_compressions_are_typed_errors() {
    use phystok::{ConfigError, Error};
    let (_vm, tok) = tokeniser(TokeniserConfig::tiny());
    let c = Compression::paper_validation();
    let z = |s: (usize, usize, usize, usize, usize)| {
        Tensor::zeros(s, DType::F32, &Device::Cpu).unwrap()
    };
    let e = tok.encode(&z((1, 2, 6, 16, 16)), &[0, 1], &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::NotOnePlusPowerOfTwo {
                name: "input frames",
                value: 6
            })
        ),
        "{e}"
    );
    let e = tok.encode(&z((1, 2, 3, 16, 16)), &[0, 1], &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "input frames",
                ..
            })
        ),
        "{e}"
    );
    let e = tok.encode(&z((1, 2, 5, 24, 16)), &[0, 1], &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::NotPowerOfTwo {
                name: "input height",
                value: 24
            })
        ),
        "{e}"
    );
    let e = tok.encode(&z((1, 2, 5, 16, 4)), &[0, 1], &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "input width",
                ..
            })
        ),
        "{e}"
    );
    let e = tok.encode(&z((1, 3, 5, 16, 16)), &[0, 1], &c).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let e = tok.encode(&z((1, 2, 5, 16, 16)), &[0, 3], &c).unwrap_err();
    assert!(
        matches!(
            e,
            Error::OutOfRange {
                index: 3,
                len: 3,
                ..
            }
        ),
        "{e}"
    );
    let e = tok
        .encode(
            &z((1, 2, 5, 16, 16)),
            &[0, 1],
            &Compression::new([(1, 2), (4, 2), (2, 2)]),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "scale factor",
                ..
            })
        ),
        "{e}"
    );
    let e = tok
        .encode(
            &z((1, 2, 5, 16, 16)),
            &[0, 1],
            &Compression::new([(1, 2), (2, 2)]),
        )
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "compression depths",
                ..
            })
        ),
        "{e}"
    );
    let e = tok.decode(&z((1, 5, 2, 2, 2)), &[0, 1], &c).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e}");
    let e = TokeniserConfig::tiny()
        .with_channels([4, 8])
        .init(&Device::Cpu)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "channels",
                ..
            })
        ),
        "{e}"
    );
}

#[test]
fn training_compressions_are_seeded_uniform_draws_from_table_7() {
    let (_vm, a) = tokeniser(TokeniserConfig::tiny());
    let (_vm2, b) = tokeniser(TokeniserConfig::tiny());
    let all = a.config().all_compressions();
    let mut counts = std::collections::HashMap::new();
    for _ in 0..1600 {
        let c = a.sample_compression();
        assert_eq!(c, b.sample_compression());
        assert!(all.contains(&c), "{c}");
        *counts.entry(c).or_insert(0usize) += 1;
    }
    assert_eq!(counts.len(), 16);
    // 100 expected per combination; a 5-sigma band
    assert!(
        counts.values().all(|&n| (50..=150).contains(&n)),
        "{counts:?}"
    );
}

#[test]
fn training_compressions_fit_the_input() {
    let (_vm, tok) = tokeniser(TokeniserConfig::tiny());
    // 16 rows allow at most 16x in space; 5 frames at most 4x in time
    let dims = [1, 2, 5, 64, 16];
    let mut seen = std::collections::HashSet::new();
    for _ in 0..400 {
        let c = tok.sample_compression_for(&dims, &[0, 1]).unwrap();
        assert!(c.space() <= 16 && c.time() <= 4, "{c}");
        seen.insert(c);
    }
    let fitting = tok
        .config()
        .all_compressions()
        .into_iter()
        .filter(|c| c.space() <= 16)
        .count();
    assert_eq!(seen.len(), fitting, "every fitting compression is drawn");
    // nothing fits 4 rows (the smallest compression is 8x): a typed error
    assert!(
        tok.sample_compression_for(&[1, 2, 5, 64, 4], &[0, 1])
            .is_err()
    );
}
