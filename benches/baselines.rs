//! Benchmark: one training step (forward, backward, AdamW update) of The Well's FNO and
//! ConvNeXt U-Net on the CPU, the twin of `benches/baselines_pytorch.py` (The Well's own
//! model classes, same shapes and threads; `benches/compare-pytorch.sh` runs both).
//!
//! Shapes: batch 4, 4 context frames x 2 fields stacked as 8 input channels, 2 output
//! channels, 64² grid. FNO: hidden 32, modes 16 x 16, 4 blocks (neuraloperator's defaults
//! otherwise). ConvNeXt U-Net: 16 features, 4 stages of 1 block. Arguments: `[repeats]`
//! (default 10). Prints `name median_ms min_ms params` per model.

use std::time::Instant;

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use phystok::baselines::FnoConfig;
use phystok::nn::{UNetConvNextConfig, seeded_var_builder};
use phystok::optim::{AdamWConfig, GradClip, Optimiser};

const BATCH: usize = 4;
const IN: usize = 8;
const OUT: usize = 2;
const GRID: usize = 64;

fn values(shape: &[usize], seed: u64) -> phystok::Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| {
            let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn time_steps(
    name: &str,
    varmap: &VarMap,
    forward: &dyn Fn(&Tensor) -> phystok::Result<Tensor>,
    repeats: usize,
) -> phystok::Result<()> {
    let xs = values(&[BATCH, IN, GRID, GRID], 1)?;
    let target = values(&[BATCH, OUT, GRID, GRID], 2)?;
    let mut names: Vec<String> = varmap.data().lock().unwrap().keys().cloned().collect();
    names.sort();
    let params: usize = varmap.all_vars().iter().map(|v| v.elem_count()).sum();
    let mut opt = AdamWConfig::torch_defaults()
        .with_clip(GradClip::Off)
        .build(varmap, names)?;
    let mut times = Vec::with_capacity(repeats);
    for i in 0..repeats + 1 {
        let t0 = Instant::now();
        let loss = (forward(&xs)? - &target)?.sqr()?.mean_all()?;
        opt.backward_step(&loss)?;
        if i > 0 {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{name} {:.1} {:.1} {params}",
        times[times.len() / 2],
        times[0]
    );
    Ok(())
}

fn main() -> phystok::Result<()> {
    let repeats = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    let vm = VarMap::new();
    let fno = FnoConfig::new(IN, OUT)
        .with_hidden(32)
        .with_modes([16, 16])
        .build([GRID, GRID], seeded_var_builder(&vm, 0, &Device::Cpu))?;
    time_steps("fno_step", &vm, &|x| fno.forward(x), repeats)?;
    let vm = VarMap::new();
    let unet = UNetConvNextConfig::new(IN, OUT, [GRID, GRID])
        .with_init_features(16)
        .build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    time_steps("unet_convnext_step", &vm, &|x| unet.forward(x), repeats)?;
    Ok(())
}
