//! phystok's CPU kernels (direct conv; im2col + GEMM conv) against candle's plain ops: the
//! causal 3x3x3 convolution layer (16 → 16 channels, 9x64x64, batch 2) and the attention op (16
//! heads x 256 tokens, head dim 68: the processor's spatial attention at the paper width, batch
//! 2 x 3 frames), forward and backward, plus a 2048x1088x4352 matrix product forward + backward
//! as the machine's GEMM rate. Run through `benches/compare-pytorch.sh` (which also runs the
//! PyTorch twin, `benches/kernels_pytorch.py`) or alone: `RAYON_NUM_THREADS=2 cargo bench
//! --bench kernels -- [repeats]`. Prints `name median_ms min_ms gflops` lines.

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use phystok::nn::{AttentionKernel, ConvOptions, ConvStrategy, attention_with, causal_conv3d};

fn median_ms(repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], times[0])
}

fn wavy(shape: &[usize], scale: f32) -> Var {
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| scale * (0.013 * i as f32).sin()).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn report(name: &str, (med, min): (f64, f64), flops: f64) {
    println!("{name} {med:.1} {min:.1} {:.1}", flops / med / 1e6);
}

fn main() {
    let repeats: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    println!(
        "# phystok kernels (candle CPU, RAYON_NUM_THREADS={}): name median_ms min_ms gflops",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default()
    );

    // causal conv 16 → 16, 3x3x3, 9x64x64, batch 2: 3 products of 2·16·432·4096·18 flops
    let x = wavy(&[2, 16, 9, 64, 64], 1.0);
    let w = wavy(&[16, 16, 3, 3, 3], 0.05);
    let b = wavy(&[16], 0.1);
    let conv_flops = 3.0 * 2.0 * 16.0 * 432.0 * 4096.0 * 18.0;
    for (name, strategy) in [
        ("conv3x3x3_16to16", ConvStrategy::Direct),
        ("conv3x3x3_16to16_avx2", ConvStrategy::DirectAvx2),
        ("conv3x3x3_16to16_im2col", ConvStrategy::Gemm),
        ("conv3x3x3_16to16_candle", ConvStrategy::FoldedTaps),
    ] {
        let options = ConvOptions {
            strategy,
            ..ConvOptions::default()
        };
        let conv = || {
            let y =
                causal_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), options).unwrap();
            y.sqr().unwrap().mean_all().unwrap().backward().unwrap();
        };
        report(name, median_ms(repeats, conv), conv_flops);
    }

    // attention (6, 16, 256, 68): fwd 2 products, bwd 5 (P recomputed), 2·256·256·68 each
    let shape = [6, 16, 256, 68];
    let (q, k, v) = (wavy(&shape, 1.0), wavy(&shape, 0.7), wavy(&shape, 0.5));
    let att_flops = 7.0 * 2.0 * 96.0 * 256.0 * 256.0 * 68.0;
    for (name, kernel) in [
        ("attention_16x256", AttentionKernel::Fused),
        ("attention_16x256_candle", AttentionKernel::Matmul),
    ] {
        let att = || {
            let y =
                attention_with(q.as_tensor(), k.as_tensor(), v.as_tensor(), None, kernel).unwrap();
            y.sqr().unwrap().mean_all().unwrap().backward().unwrap();
        };
        report(name, median_ms(repeats, att), att_flops);
    }

    // the GEMM rate: (2048 x 1088) · (1088 x 4352), forward + both gradients
    let a = wavy(&[2048, 1088], 0.1);
    let bm = wavy(&[1088, 4352], 0.1);
    let mm = || {
        let y = a.as_tensor().matmul(bm.as_tensor()).unwrap();
        y.sum_all().unwrap().backward().unwrap();
    };
    report(
        "matmul_2048x1088x4352",
        median_ms(repeats, mm),
        3.0 * 2.0 * 2048.0 * 1088.0 * 4352.0,
    );
}
