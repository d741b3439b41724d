//! Benchmark: one processor block, forward + backward, on the CPU.
//!
//! Run through `benches/processor.sh`, which also runs the PyTorch twin
//! (`benches/processor_pytorch.py`) on the same shapes with the same thread count.
//! Arguments (all optional): `name dim heads batch time height width repeats`; without
//! arguments both standard shapes run (see `SHAPES`). Prints one line per shape with the
//! median and minimum wall time in milliseconds. `PHYSTOK_BENCH_DEVICE=cuda` runs on the
//! first GPU (build with `--features cuda`; every timed step ends with a synchronisation).

use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use phystok::nn::{Mode, seeded_var_builder};
use phystok::processor::{ProcessorBlock, ProcessorConfig};
use rand::SeedableRng;

/// One benchmark shape: block width, heads, and a `(batch, time, height, width)` latent grid.
#[derive(Clone, Copy)]
struct Shape {
    name: &'static str,
    dim: usize,
    heads: usize,
    grid: [usize; 4],
    repeats: usize,
}

/// A moderate CPU width, and the paper's width (1088, 16 heads) on the latent grid of a
/// 128² field after 8× spatial and 4× temporal compression (9 frames → 3, 16 × 16 tokens).
const SHAPES: [Shape; 2] = [
    Shape {
        name: "moderate",
        dim: 256,
        heads: 4,
        grid: [2, 3, 16, 16],
        repeats: 15,
    },
    Shape {
        name: "paper-width",
        dim: 1088,
        heads: 16,
        grid: [2, 3, 16, 16],
        repeats: 3,
    },
];

fn run(shape: Shape) -> phystok::Result<()> {
    let Shape {
        name,
        dim,
        heads,
        grid: [b, t, h, w],
        repeats,
    } = shape;
    let cfg = ProcessorConfig::paper()
        .with_dim(dim)
        .with_n_heads(heads)
        .with_n_blocks(1)
        .with_layer_scale_init(1.0);
    let dev = std::env::var("PHYSTOK_BENCH_DEVICE")
        .unwrap_or("cpu".into())
        .parse::<phystok::DeviceChoice>()?
        .device()?;
    let vm = VarMap::new();
    let block = ProcessorBlock::new(&cfg, 0.0, seeded_var_builder(&vm, 0, &dev))?;
    let tables = block.spatial().rope().tables(&[h, w], &dev)?;
    let x = Tensor::randn(0f32, 1.0, (b, t, h * w, dim), &Device::Cpu)?.to_device(&dev)?;
    let x = Var::from_tensor(&x)?;
    dev.synchronize()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut times = Vec::new();
    for i in 0..repeats + 1 {
        let start = Instant::now();
        let y = block.forward(x.as_tensor(), &tables, Mode::Train, &mut rng)?;
        let grads = y.sqr()?.mean_all()?.backward()?;
        std::hint::black_box(grads.get(x.as_tensor()));
        dev.synchronize()?;
        if i > 0 {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "phystok {name}: dim {dim} heads {heads} x ({b}, {t}, {h}x{w}) fwd+bwd median {:.1} ms min {:.1} ms ({} repeats, {} params)",
        times[times.len() / 2],
        times[0],
        times.len(),
        cfg.spatial_param_count() + cfg.temporal_param_count()
    );
    Ok(())
}

fn main() -> phystok::Result<()> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.len() == 8 {
        let n = |i: usize| {
            args[i]
                .parse::<usize>()
                .map_err(|e| phystok::Error::Msg(format!("argument {i}: {e}")))
        };
        let name: &'static str = Box::leak(args[0].clone().into_boxed_str());
        return run(Shape {
            name,
            dim: n(1)?,
            heads: n(2)?,
            grid: [n(3)?, n(4)?, n(5)?, n(6)?],
            repeats: n(7)?,
        });
    }
    // PHYSTOK_BENCH_SHAPES=paper-width (comma-separated) runs only those shapes
    let wanted = std::env::var("PHYSTOK_BENCH_SHAPES").ok();
    for shape in SHAPES {
        if wanted
            .as_deref()
            .is_none_or(|w| w.split(',').any(|n| n == shape.name))
        {
            run(shape)?;
        }
    }
    Ok(())
}
