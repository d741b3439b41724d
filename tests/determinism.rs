//! Determinism of phystok's CPU kernels: the same inputs under the same rayon thread count
//! give the same bits on every run, and 1 and 2 threads agree to float32 rounding (1e-6),
//! forward and every gradient (the convolutions' weight and bias gradients are the
//! reductions that used to split where thread timing let them), and the mixture loader's
//! order is a function of the seed only.

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use phystok::nn::{
    AttentionKernel, ConvOptions, ConvStrategy, LayerNorm, RmsGroupNorm, Shift, SpatialPadding,
    attention_with, causal_conv3d, seeded_var_builder, swiglu,
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

fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("rayon pool")
        .install(f)
}

/// Runs `f` (returning named value vectors) under 1 and 2 threads, three times each:
/// bit-identical within a thread count, within 1e-6 (relative to the largest value) across.
fn check(name: &str, f: impl Fn() -> Vec<(&'static str, Vec<f32>)> + Sync) {
    let mut by_threads = Vec::new();
    for threads in [1, 2] {
        let first = in_pool(threads, &f);
        for run in 1..3 {
            let again = in_pool(threads, &f);
            for ((what, a), (_, b)) in first.iter().zip(&again) {
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert!(
                    bits(a) == bits(b),
                    "{name} {what}: run {run} under {threads} threads differs from run 0"
                );
            }
        }
        by_threads.push(first);
    }
    for ((what, a), (_, b)) in by_threads[0].iter().zip(&by_threads[1]) {
        let scale = a.iter().fold(1f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(
            worst <= 1e-6 * scale,
            "{name} {what}: 1 vs 2 threads differ by {worst} (scale {scale})"
        );
    }
}

/// A convolution with bias and its three gradients, large enough (batch × frames = 48 tasks,
/// wide rows) that rayon splits the weight-gradient reduction many ways.
fn conv_case(strategy: ConvStrategy, kernel: [usize; 2], stride: [usize; 2]) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let (b, c_in, c_out, t, h, w) = (4, 6, 8, 12, 12, 20);
    let x = random(&mut rng, &[b, c_in, t, h, w]);
    let wt = random(&mut rng, &[c_out, c_in, kernel[0], kernel[1], kernel[1]]);
    let bias = random(&mut rng, &[c_out]);
    let upstream = {
        let opts = ConvOptions {
            stride_time: stride[0],
            stride_space: stride[1],
            padding: SpatialPadding::Valid,
            strategy,
        };
        let y = causal_conv3d(x.as_tensor(), wt.as_tensor(), Some(bias.as_tensor()), opts).unwrap();
        random(&mut rng, y.dims())
    };
    let name = format!("conv {strategy:?} k{kernel:?} s{stride:?}");
    check(&name, || {
        let opts = ConvOptions {
            stride_time: stride[0],
            stride_space: stride[1],
            padding: SpatialPadding::Valid,
            strategy,
        };
        let y = causal_conv3d(x.as_tensor(), wt.as_tensor(), Some(bias.as_tensor()), opts).unwrap();
        let loss = (&y * upstream.as_tensor()).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        vec![
            ("y", values(&y)),
            ("dx", values(g.get(&x).unwrap())),
            ("dw", values(g.get(&wt).unwrap())),
            ("db", values(g.get(&bias).unwrap())),
        ]
    });
}

#[test]
fn direct_conv_is_deterministic() {
    conv_case(ConvStrategy::Direct, [3, 3], [1, 1]);
    conv_case(ConvStrategy::DirectAvx2, [3, 3], [1, 1]);
}

#[test]
fn gemm_conv_is_deterministic() {
    conv_case(ConvStrategy::Gemm, [3, 3], [1, 1]);
    conv_case(ConvStrategy::Gemm, [1, 1], [1, 1]);
    conv_case(ConvStrategy::Gemm, [3, 2], [2, 2]);
}

#[test]
fn attention_is_deterministic() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let (b, h, lq, lk, d) = (2, 3, 70, 90, 8);
    let q = random(&mut rng, &[b, h, lq, d]);
    let k = random(&mut rng, &[b, h, lk, d]);
    let v = random(&mut rng, &[b, h, lk, d]);
    let bias = random(&mut rng, &[1, h, lq, lk]);
    let up = random(&mut rng, &[b, h, lq, d]);
    check("attention", || {
        let o = attention_with(
            q.as_tensor(),
            k.as_tensor(),
            v.as_tensor(),
            Some(bias.as_tensor()),
            AttentionKernel::Fused,
        )
        .unwrap();
        let g = (&o * up.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        vec![
            ("o", values(&o)),
            ("dq", values(g.get(&q).unwrap())),
            ("dk", values(g.get(&k).unwrap())),
            ("dv", values(g.get(&v).unwrap())),
            ("dbias", values(g.get(&bias).unwrap())),
        ]
    });
}

#[test]
fn norms_and_swiglu_are_deterministic() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let x = random(&mut rng, &[6, 5, 40, 32]);
    let up = random(&mut rng, &[6, 5, 40, 32]);
    let up_half = random(&mut rng, &[6, 5, 40, 16]);
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, 3, &Device::Cpu);
    let ln = LayerNorm::new(32, Shift::GainAndBias, vb.pp("ln")).unwrap();
    let rms = RmsGroupNorm::new(4, 32, vb.pp("rms")).unwrap();
    let vars = varmap.all_vars();
    check("norms", || {
        let y1 = ln.forward(x.as_tensor()).unwrap();
        let y2 = rms.forward(x.as_tensor()).unwrap();
        let y3 = swiglu(x.as_tensor()).unwrap();
        let loss = ((&y1 * up.as_tensor()).unwrap().sum_all().unwrap()
            + (&y2 * up.as_tensor()).unwrap().sum_all().unwrap()
            + (&y3 * up_half.as_tensor()).unwrap().sum_all().unwrap())
        .unwrap();
        let g = loss.backward().unwrap();
        let mut out = vec![
            ("layer norm", values(&y1)),
            ("rms norm", values(&y2)),
            ("swiglu", values(&y3)),
            ("dx", values(g.get(&x).unwrap())),
        ];
        for v in &vars {
            out.push(("parameter gradient", values(g.get(v).unwrap())));
        }
        out
    });
}

/// The mixture loader's sequence (which dataset, which windows, their values) is a function
/// of the seed only: the same with and without the prefetch thread, under 1 and 2 rayon
/// threads, and another seed gives another order.
#[test]
fn mixture_loader_order_depends_on_the_seed_only() {
    use phystok::data::{Loader, LoaderConfig, Split, WellDataset, WindowSpec};
    use phystok::sim::{GenerateConfig, System};
    let root = tempfile::tempdir().unwrap();
    let dirs: Vec<_> = [System::EulerPeriodic, System::GrayScottReactionDiffusion]
        .into_iter()
        .map(|s| {
            GenerateConfig::new(s, root.path())
                .with_resolution(16)
                .with_trajectories(5)
                .with_steps(8)
                .generate()
                .unwrap()
        })
        .collect();
    let sequence = |seed: u64, prefetch: usize| {
        let datasets = dirs
            .iter()
            .map(|d| WellDataset::open(d, Split::Train, WindowSpec::new(2, 1)).unwrap())
            .collect();
        let cfg = LoaderConfig::new(2).with_seed(seed).with_prefetch(prefetch);
        let mut loader = Loader::new(datasets, cfg).unwrap();
        (0..40)
            .map(|_| loader.next().unwrap())
            .map(|b| {
                (
                    b.dataset,
                    b.windows,
                    b.pass,
                    b.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    let reference = in_pool(1, || sequence(5, 0));
    assert_eq!(
        in_pool(2, || sequence(5, 4)),
        reference,
        "prefetch, 2 threads"
    );
    assert_eq!(in_pool(1, || sequence(5, 1)), reference, "prefetch 1");
    assert_ne!(sequence(6, 0), reference, "another seed");
    let picked: Vec<usize> = reference.iter().map(|b| b.0).collect();
    assert!(picked.contains(&0) && picked.contains(&1), "a mixture");
}
