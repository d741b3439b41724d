//! One tokeniser training step (forward + MSE + backward) at 9 frames, 64x64, batch 2, for the
//! `small()` and `paper()` presets, plus the causal 3x3x3 convolution 16 → 16 on its own with
//! phystok's direct and im2col + GEMM kernels and both conv2d decompositions.
//! `PHYSTOK_BENCH_PRESETS=small` runs only the named presets; `PHYSTOK_BENCH_CONV=0` skips
//! the convolution cases. Run through
//! `benches/tokeniser.sh` (which also runs the PyTorch version, `benches/tokeniser_pytorch.py`,
//! in the same session) or alone: `RAYON_NUM_THREADS=2 cargo bench --bench tokeniser --
//! [repeats]`. Prints one line per case: name, median milliseconds, min, repeats.
//! `PHYSTOK_BENCH_DEVICE=cuda` runs on the first GPU (build with `--features cuda`; each timed
//! call ends with a device synchronisation), as `scripts/gpu-check.sh` does.

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use phystok::nn::{ConvOptions, ConvStrategy, causal_conv3d};
use phystok::tokeniser::{Compression, TokeniserConfig};

fn median_ms(dev: &Device, repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up
    dev.synchronize().unwrap();
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = Instant::now();
            f();
            dev.synchronize().unwrap();
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    (times[times.len() / 2], times[0])
}

fn wavy(shape: (usize, usize, usize, usize, usize), dev: &Device) -> Tensor {
    let n = shape.0 * shape.1 * shape.2 * shape.3 * shape.4;
    let v: Vec<f32> = (0..n).map(|i| (0.013 * i as f32).sin()).collect();
    Tensor::from_vec(v, shape, dev).unwrap()
}

/// `PHYSTOK_BENCH_DEVICE`: `cpu` (default) or `cuda` (`cuda:N`).
fn bench_device() -> phystok::Result<Device> {
    let name = std::env::var("PHYSTOK_BENCH_DEVICE").unwrap_or("cpu".into());
    name.parse::<phystok::DeviceChoice>()?.device()
}

fn main() -> phystok::Result<()> {
    let repeats: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let dev = bench_device()?;
    println!(
        "# phystok (candle {:?}, RAYON_NUM_THREADS={})",
        dev.location(),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default()
    );

    // the causal conv alone: 16 → 16, 3x3x3, 9x64x64, batch 2
    let x = Var::from_tensor(&wavy((2, 16, 9, 64, 64), &dev))?;
    let w = Var::from_tensor(&(wavy((16, 16, 3, 3, 3), &dev) * 0.05)?)?;
    let b = Var::from_tensor(&Tensor::zeros(16, DType::F32, &dev)?)?;
    // PHYSTOK_BENCH_CONV=0 skips these (e.g. to profile the tokeniser steps alone)
    let conv_strategies = if std::env::var("PHYSTOK_BENCH_CONV").as_deref() == Ok("0") {
        vec![]
    } else {
        vec![
            ConvStrategy::Direct,
            ConvStrategy::DirectAvx2,
            ConvStrategy::Gemm,
            ConvStrategy::FoldedTaps,
            ConvStrategy::SummedTaps,
        ]
    };
    for strategy in conv_strategies {
        let options = ConvOptions {
            strategy,
            ..ConvOptions::default()
        };
        let (fwd, _) = median_ms(&dev, repeats, || {
            causal_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), options).unwrap();
        });
        let (med, min) = median_ms(&dev, repeats, || {
            let y =
                causal_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), options).unwrap();
            y.sqr().unwrap().mean_all().unwrap().backward().unwrap();
        });
        println!(
            "conv3x3x3_16to16_{strategy:?} fwd {fwd:.1} fwd+bwd {med:.1} min {min:.1} n {repeats}"
        );
    }

    // PHYSTOK_BENCH_PRESETS=small (comma-separated) runs only those presets
    let presets = std::env::var("PHYSTOK_BENCH_PRESETS").unwrap_or("small,paper".into());
    for (name, config) in [
        ("small", TokeniserConfig::small()),
        ("paper", TokeniserConfig::paper()),
    ] {
        if !presets.split(',').any(|p| p == name) {
            continue;
        }
        let tok = config.init(&dev)?;
        let fields = [0, 1, 2, 3];
        let xs = wavy((2, 4, 9, 64, 64), &dev);
        let c = Compression::paper_validation();
        let (fwd, _) = median_ms(&dev, repeats, || {
            tok.autoencode(&xs, &fields, &c).unwrap();
        });
        let (enc, _) = median_ms(&dev, repeats, || {
            tok.encode(&xs, &fields, &c).unwrap();
        });
        let (med, min) = median_ms(&dev, repeats, || {
            let ys = tok.autoencode(&xs, &fields, &c).unwrap();
            let loss = (ys - &xs).unwrap().sqr().unwrap().mean_all().unwrap();
            loss.backward().unwrap();
        });
        let params = tok.param_table().total();
        println!(
            "tokeniser_{name} params {params} encode {enc:.1} fwd {fwd:.1} fwd+bwd {med:.1} min {min:.1} n {repeats}"
        );
    }
    Ok(())
}
