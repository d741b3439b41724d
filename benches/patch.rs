//! The CKM patch encoder and decoder (Mukhopadhyay et al. 2025) forward and backward with a
//! PI-resized kernel: shear flow's 4 fields at 128x256, 6 frames, batch 1, embedding 384
//! (the 25 M model of Table 4), base kernel 16 resized to p = 4 and 8 (and 16, no resize).
//! One step: resize both kernels, encode every frame, decode every frame, mean square,
//! backward to both base kernels and biases. The PyTorch twin is `benches/patch_pytorch.py`
//! (`F.conv2d` / `F.conv_transpose2d` at kernel = stride, same cached pinv matrices); run
//! both through `benches/compare-pytorch.sh` or alone: `RAYON_NUM_THREADS=2 cargo bench
//! --bench patch -- [repeats]`. Prints `name median_ms min_ms` lines.

use std::time::Instant;

use candle_core::{Device, Tensor};
use phystok::patch::PatchConfig;
use phystok::processor::ProcessorConfig;

fn median_ms(repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm-up (and the pseudo-inverse cache)
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

fn main() -> phystok::Result<()> {
    let repeats: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5);
    println!(
        "# phystok CKM encoder+decoder fwd+bwd (RAYON_NUM_THREADS={}): name median_ms min_ms",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default()
    );
    let cfg = PatchConfig::paper()
        .with_processor(ProcessorConfig::tiny().with_latent_channels(384))
        .with_total_fields(4);
    let model = cfg.init(&Device::Cpu)?;
    let codec = model.codec().clone();
    let (c, t, h, w) = (4, 6, 128, 256);
    let n = c * t * h * w;
    let v: Vec<f32> = (0..n).map(|i| (0.013 * i as f32).sin()).collect();
    let xs = Tensor::from_vec(v, (1, c, t, h, w), &Device::Cpu)?;
    let channels = [0, 1, 2, 3];
    for p in [4, 8, 16] {
        let step = || -> phystok::Result<()> {
            let zs = codec.encode(&xs, &channels, p)?;
            let ys = codec.decode(&zs, &channels, p)?;
            let loss = ys.sqr()?.mean_all()?;
            let grads = loss.backward()?;
            std::hint::black_box(grads);
            Ok(())
        };
        let mut failed = None;
        let (med, min) = median_ms(repeats, || {
            if let Err(e) = step() {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        println!("ckm_p{p} {med:.1} {min:.1}");
    }
    Ok(())
}
