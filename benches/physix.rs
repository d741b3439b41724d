//! PhysiX AR model on the CPU: one training step (next-token cross-entropy, forward +
//! backward) and cached greedy generation, at `ArConfig::small()` (width 96, 3 layers,
//! 4 heads, 1,000 tokens): batch 8, a 3 x 8 x 8 token grid (192 tokens); generation of one
//! latent frame (64 tokens) after a 128-token prompt. `benches/physix_pytorch.py` runs the
//! same shapes in PyTorch.
//!
//! Prints `physix_ar_step median_ms M min_ms m` and
//! `physix_generate median_ms M tokens_per_s T`.
//!
//! Usage: cargo bench --bench physix -- [repeats]

use std::time::Instant;

use candle_core::{Device, Tensor};
use phystok::physix::{ArConfig, CacheMode, Sampling};

fn median(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[0])
}

fn main() -> phystok::Result<()> {
    let repeats: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    let ar = ArConfig::small().init(&Device::Cpu)?;
    let (b, grid) = (8usize, [3usize, 8, 8]);
    let n = grid.iter().product::<usize>();
    let tokens: Vec<u32> = (0..b * n).map(|i| ((i * 7919) % 1000) as u32).collect();
    let tokens = Tensor::from_vec(tokens, (b, n), &Device::Cpu)?;
    // warm-up
    ar.loss(&tokens, grid)?.backward()?;
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let loss = ar.loss(&tokens, grid)?;
        let grads = loss.backward()?;
        std::hint::black_box(grads);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (med, min) = median(times);
    println!("physix_ar_step median_ms {med:.2} min_ms {min:.2}");

    let prompt = tokens.narrow(1, 0, 128)?;
    ar.generate(&prompt, grid, 8, &Sampling::Greedy, CacheMode::KvCache)?;
    let mut times = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let out = ar.generate(&prompt, grid, 64, &Sampling::Greedy, CacheMode::KvCache)?;
        std::hint::black_box(out);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let (med, _) = median(times);
    let tps = (b * 64) as f64 / (med / 1e3);
    println!("physix_generate median_ms {med:.2} tokens_per_s {tps:.0}");
    Ok(())
}
