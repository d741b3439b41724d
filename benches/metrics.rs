//! Benchmark: VRMSE + NEPS bands over 4096 samples x 4 fields at 128x128 (16,384 frames),
//! against The Well's torch code on the same data (benches/metrics.sh runs both).
//!
//! Reads DATA_DIR/{pred,target}.f32 written by `benches/metrics_pytorch.py --write`
//! (64 samples x 4 channels x 1 time x 128 x 128, f32 little-endian) and evaluates that chunk
//! 64 times, as the torch script does, through `metrics::evaluate` (the values of CPU `f32`
//! tensors are read in place, not copied). Prints one JSON line with the median seconds.

use std::time::Instant;

use candle_core::{Device, Tensor};
use phystok::metrics::{EvaluateOptions, ScoreSet, evaluate};

const CHUNK: usize = 64;
const N_CHUNKS: usize = 64;

fn load(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn main() {
    let dir = std::env::var("PHYSTOK_BENCH_DATA").unwrap_or_else(|_| "/tmp/phystok-bench".into());
    let dir = std::path::Path::new(&dir);
    let (pred, target) = (load(&dir.join("pred.f32")), load(&dir.join("target.f32")));
    let dims = [CHUNK, 4, 1, 128, 128];
    assert_eq!(
        pred.len(),
        dims.iter().product::<usize>(),
        "run benches/metrics.sh to write the data"
    );
    let tensor = |v: Vec<f32>| Tensor::from_vec(v, &dims[..], &Device::Cpu).expect("tensor");
    let (pred, target) = (tensor(pred), tensor(target));
    let repeats: usize = std::env::var("REPEATS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let options = EvaluateOptions::default();
    let mut times = Vec::new();
    let mut mean = ScoreSet::default();
    for _ in 0..repeats {
        let t0 = Instant::now();
        let mut sets = Vec::with_capacity(N_CHUNKS);
        for _ in 0..N_CHUNKS {
            let grid = evaluate(&pred, &target, &options).expect("evaluate");
            sets.push(grid.summary().mean);
        }
        mean = ScoreSet::mean_of_sets(&sets);
        times.push(t0.elapsed().as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "{{\"impl\": \"phystok\", \"threads\": \"{}\", \"frames\": {}, \"median_s\": {}, \"times_s\": {:?}, \"vrmse\": {}, \"neps_low\": {}, \"neps_mid\": {}, \"neps_high\": {}}}",
        rayon_threads(),
        CHUNK * N_CHUNKS * 4,
        sorted[sorted.len() / 2],
        times,
        mean.vrmse,
        mean.neps.low,
        mean.neps.mid,
        mean.neps.high
    );
}

fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
}
