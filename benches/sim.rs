//! Throughput of the embedded simulators: cell updates (one cell advanced by one full time
//! step, all Runge–Kutta stages included) per second, for each solver.
//!
//! Run on 2 cores: `RAYON_NUM_THREADS=2 cargo bench --bench sim`. Each system simulates
//! 2 trajectories in parallel (one per core) at its default 64²-class grid; the median of
//! 3 repeats is reported. `PHYSTOK_BENCH_RESOLUTION=128` changes the grid;
//! `PHYSTOK_BENCH_SYSTEM=euler` runs only the systems whose name starts with it.
//! Without `--bench` (as under `cargo test --all-targets`) it runs one quick pass at 16²
//! as a smoke test.

use phystok::sim::{SimStats, Simulator, System};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> phystok::Result<()> {
    let full = std::env::args().any(|a| a == "--bench");
    let (default_n, repeats) = if full { (64, 3) } else { (16, 1) };
    let n: usize = std::env::var("PHYSTOK_BENCH_RESOLUTION")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_n);
    let threads = rayon::current_num_threads();
    println!(
        "sim throughput, resolution {n}, {threads} rayon threads, 2 trajectories, 32 frames, median of {repeats}"
    );
    println!(
        "{:<36} {:>10} {:>12} {:>10} {:>16}",
        "dataset", "cells", "solver steps", "seconds", "cell updates/s"
    );
    let only = std::env::var("PHYSTOK_BENCH_SYSTEM").ok();
    for system in System::ALL {
        if only
            .as_deref()
            .is_some_and(|o| !system.name().starts_with(o))
        {
            continue;
        }
        let config = system
            .configuration(0)
            .with_resolution(n)
            .with_trajectories(2)
            .with_steps(32)
            .with_seed(0);
        let mut runs: Vec<SimStats> = Vec::new();
        for _ in 0..repeats {
            runs.push(config.simulate_with_stats()?.1);
        }
        let rate = median(runs.iter().map(SimStats::cell_updates_per_second).collect());
        let secs = median(runs.iter().map(|r| r.seconds).collect());
        let s = &runs[0];
        println!(
            "{:<36} {:>10} {:>12} {:>10.3} {:>16.3e}",
            s.dataset, s.cells, s.solver_steps, secs, rate
        );
    }
    Ok(())
}
