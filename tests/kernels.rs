//! Tests of phystok's CPU kernels (`phystok::nn::kernels`): the causal convolution and the
//! fused attention equal the plain candle ops to float32 rounding, forward and every
//! gradient, for every kernel, stride and padding the tokeniser and processor use.

use candle_core::{Device, Tensor, Var};
use phystok::nn::{
    AttentionKernel, ConvOptions, ConvStrategy, SpatialPadding, attention_with, causal_conv3d,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(rng: &mut ChaCha8Rng, shape: &[usize]) -> Var {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// Largest `|a − b|` relative to the largest `|b|` (plus one).
fn rel_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (values(a), values(b));
    let scale = b.iter().fold(1f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
        / scale
}

/// `(name, [C_in, C_out, T, H, W], [k_t, k_s], [s_t, s_s], padding)`: the tokeniser's 3x3x3
/// residual and head convs, the 1x1x1 encoder bottleneck, the flexible downsampling kernels
/// (`k_t = 1 + s_t`, `k_s = s_s`, valid), a kernel-3 decoder bottleneck, and a strided 3x3.
type ConvCase = (
    &'static str,
    [usize; 5],
    [usize; 2],
    [usize; 2],
    SpatialPadding,
);
#[rustfmt::skip]
const CONV_CASES: [ConvCase; 15] = [
    ("3x3x3", [3, 4, 5, 6, 7], [3, 3], [1, 1], SpatialPadding::Same),
    ("3x3x3_t1", [2, 3, 1, 5, 5], [3, 3], [1, 1], SpatialPadding::Same),
    ("1x1x1", [5, 3, 4, 4, 6], [1, 1], [1, 1], SpatialPadding::Same),
    ("3x1x1", [4, 2, 5, 3, 3], [3, 1], [1, 1], SpatialPadding::Valid),
    ("3x3x3_valid", [2, 3, 4, 6, 5], [3, 3], [1, 1], SpatialPadding::Valid),
    ("1x3x3", [3, 2, 3, 5, 5], [1, 3], [1, 1], SpatialPadding::Same),
    ("down_t2_s2", [3, 4, 5, 6, 6], [3, 2], [2, 2], SpatialPadding::Valid),
    ("down_t2_s2_even_t", [2, 3, 4, 4, 4], [3, 2], [2, 2], SpatialPadding::Valid),
    ("down_t1_s4", [2, 3, 3, 8, 8], [1, 4], [1, 4], SpatialPadding::Valid),
    ("down_t4_s2", [2, 2, 9, 4, 4], [5, 2], [4, 2], SpatialPadding::Valid),
    ("3x3x3_s2_same", [2, 3, 5, 7, 7], [3, 3], [2, 2], SpatialPadding::Same),
    // the direct kernel's tiles: rows of 16 pixels plus a masked remainder, output
    // channels in blocks of 16, 8, 4, 2, 1 (C_out = 31; AVX2: 6 and 1, 20: 6 and 2, 16: 6
    // and 4) and of 4 in the weight gradient (8 pixels at a time on AVX2: 37 = 4·8 + 5)
    ("3x3x3_wide", [5, 31, 3, 4, 37], [3, 3], [1, 1], SpatialPadding::Same),
    ("3x3x3_16to16", [16, 16, 3, 5, 16], [3, 3], [1, 1], SpatialPadding::Same),
    ("1x1x1_wide", [6, 20, 2, 3, 33], [1, 1], [1, 1], SpatialPadding::Same),
    ("5x5x5_valid", [2, 3, 6, 7, 21], [5, 5], [1, 1], SpatialPadding::Valid),
];

#[test]
fn phystok_conv_kernels_equal_candle_conv2d_forward_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for (name, [ci, co, t, h, w], [kt, ks], [st, ss], padding) in CONV_CASES {
        let x = random(&mut rng, &[2, ci, t, h, w]);
        let wt = random(&mut rng, &[co, ci, kt, ks, ks]);
        let bias = random(&mut rng, &[co]);
        let run = |strategy| {
            let options = ConvOptions {
                stride_time: st,
                stride_space: ss,
                padding,
                strategy,
            };
            let ys = causal_conv3d(
                x.as_tensor(),
                wt.as_tensor(),
                Some(bias.as_tensor()),
                options,
            )
            .unwrap();
            // a random projection so every output element gets its own gradient
            let mut r = ChaCha8Rng::seed_from_u64(11);
            let proj = random(&mut r, ys.dims());
            let grads = (&ys * proj.as_tensor())
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g = |v: &Var| grads.get(v.as_tensor()).expect("gradient present").clone();
            (ys, g(&x), g(&wt), g(&bias))
        };
        let plain = run(ConvStrategy::FoldedTaps);
        for strategy in [
            ConvStrategy::Direct,
            ConvStrategy::DirectAvx2,
            ConvStrategy::Gemm,
        ] {
            let fast = run(strategy);
            for (what, a, b) in [
                ("output", &fast.0, &plain.0),
                ("input grad", &fast.1, &plain.1),
                ("weight grad", &fast.2, &plain.2),
                ("bias grad", &fast.3, &plain.3),
            ] {
                let d = rel_diff(a, b);
                assert!(
                    d < 2e-6,
                    "{strategy:?} {name} {what}: relative difference {d}"
                );
            }
        }
    }
}

/// The AVX2 path sums every output's products in the same order with the same fused
/// multiply-adds as the AVX-512 path: their forward passes (and so input gradients, which are
/// forward convolutions) agree bit for bit.
#[test]
fn the_direct_kernels_avx2_forward_equals_its_avx512_forward_bit_for_bit() {
    if phystok::nn::conv_isa() != Some(phystok::nn::ConvIsa::Avx512) {
        eprintln!("skipped: no AVX-512 path here (or PHYSTOK_SIMD lowers it)");
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (name, [ci, co, t, h, w], [kt, ks], [st, ss], padding) in CONV_CASES {
        if st != 1 || ss != 1 {
            continue;
        }
        let x = random(&mut rng, &[2, ci, t, h, w]);
        let wt = random(&mut rng, &[co, ci, kt, ks, ks]);
        let run = |strategy| {
            let options = ConvOptions {
                stride_time: st,
                stride_space: ss,
                padding,
                strategy,
            };
            values(&causal_conv3d(x.as_tensor(), wt.as_tensor(), None, options).unwrap())
        };
        let (a, b) = (run(ConvStrategy::Direct), run(ConvStrategy::DirectAvx2));
        assert!(
            a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{name}: the AVX2 forward differs from the AVX-512 forward"
        );
    }
}

#[test]
fn gemm_conv_reads_non_contiguous_input_and_stays_causal() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    // (b, t, c, h, w) permuted to (b, c, t, h, w): a strided view
    let x = random(&mut rng, &[1, 5, 2, 4, 4]);
    let xs = x.as_tensor().permute((0, 2, 1, 3, 4)).unwrap();
    let wt = random(&mut rng, &[3, 2, 3, 3, 3]);
    let opts = ConvOptions::default();
    let fast = causal_conv3d(&xs, wt.as_tensor(), None, opts).unwrap();
    let plain = causal_conv3d(
        &xs.contiguous().unwrap(),
        wt.as_tensor(),
        None,
        ConvOptions {
            strategy: ConvStrategy::FoldedTaps,
            ..opts
        },
    )
    .unwrap();
    assert!(rel_diff(&fast, &plain) < 2e-6);
    // changing the last frame leaves every earlier output frame unchanged
    let mut changed = values(&xs.contiguous().unwrap());
    let frame = 4 * 4;
    for c in 0..2 {
        for i in 0..frame {
            changed[(c * 5 + 4) * frame + i] += 1.0;
        }
    }
    let changed = Tensor::from_vec(changed, (1, 2, 5, 4, 4), &Device::Cpu).unwrap();
    let ys = causal_conv3d(&changed, wt.as_tensor(), None, opts).unwrap();
    let early = |t: &Tensor| values(&t.narrow(2, 0, 4).unwrap());
    assert_eq!(early(&ys), early(&fast));
    assert_ne!(
        values(&ys.narrow(2, 4, 1).unwrap()),
        values(&fast.narrow(2, 4, 1).unwrap())
    );
}

/// The projection `sum(ys ⊙ r)` with a fixed random `r`, and its gradients for `vars`.
fn project_and_grad(ys: &Tensor, vars: &[&Var]) -> Vec<Tensor> {
    let mut r = ChaCha8Rng::seed_from_u64(11);
    let proj = random(&mut r, ys.dims());
    let grads = (ys * proj.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    vars.iter()
        .map(|v| grads.get(v.as_tensor()).expect("gradient present").clone())
        .collect()
}

/// `[batch, heads, L_q, L_k, head_dim]`: the processor's spatial attention (no bias; more
/// query rows than one block, not a multiple of it), cross attention with `L_q ≠ L_k`, and
/// the temporal attention with a per-head causal bias `(heads, T, T)` broadcast over batch.
#[test]
fn fused_attention_equals_matmul_softmax_forward_and_gradients() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (name, [b, h, lq, lk, d], with_bias) in [
        ("spatial", [2, 3, 70, 70, 8], false),
        ("cross", [1, 2, 9, 130, 4], false),
        ("temporal_causal_bias", [6, 2, 5, 5, 4], true),
        ("full_bias", [2, 2, 66, 66, 8], true),
    ] {
        let q = random(&mut rng, &[b, h, lq, d]);
        let k = random(&mut rng, &[b, h, lk, d]);
        let v = random(&mut rng, &[b, h, lk, d]);
        let bias = random(&mut rng, &[h, lq, lk]);
        // causal mask in the temporal case, as RelativePositionBias::forward builds it
        let mask: Vec<f32> = (0..lq * lk)
            .map(|i| {
                if name.contains("causal") && i % lk > i / lk {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (lq, lk), &Device::Cpu).unwrap();
        let run = |kernel| {
            let biased = bias.as_tensor().broadcast_add(&mask).unwrap();
            let bias_arg = with_bias.then_some(&biased);
            let ys = attention_with(
                q.as_tensor(),
                k.as_tensor(),
                v.as_tensor(),
                bias_arg,
                kernel,
            )
            .unwrap();
            let vars: Vec<&Var> = if with_bias {
                vec![&q, &k, &v, &bias]
            } else {
                vec![&q, &k, &v]
            };
            let grads = project_and_grad(&ys, &vars);
            (ys, grads)
        };
        let (fast, fast_grads) = run(AttentionKernel::Fused);
        let (plain, plain_grads) = run(AttentionKernel::Matmul);
        let d = rel_diff(&fast, &plain);
        assert!(d < 2e-6, "{name} output: relative difference {d}");
        for (i, (a, b)) in fast_grads.iter().zip(&plain_grads).enumerate() {
            let d = rel_diff(a, b);
            assert!(d < 1e-5, "{name} gradient {i}: relative difference {d}");
            let s: f32 = values(a).iter().map(|x| x.abs()).sum();
            assert!(s > 0.0, "{name} gradient {i} is zero");
        }
    }
}

#[test]
fn fused_attention_reads_strided_views_like_the_processor() {
    // q, k, v as narrow views of one packed (b, h, l, 3d) tensor, as temporal.rs builds them
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let qkv = random(&mut rng, &[3, 2, 6, 12]);
    let part = |i: usize| qkv.as_tensor().narrow(3, 4 * i, 4).unwrap();
    let (q, k, v) = (part(0), part(1), part(2));
    let fast = attention_with(&q, &k, &v, None, AttentionKernel::Fused).unwrap();
    let plain = attention_with(&q, &k, &v, None, AttentionKernel::Matmul).unwrap();
    assert!(rel_diff(&fast, &plain) < 2e-6);
    let g_fast = project_and_grad(&fast, &[&qkv]);
    let g_plain = project_and_grad(&plain, &[&qkv]);
    assert!(rel_diff(&g_fast[0], &g_plain[0]) < 1e-5);
}
