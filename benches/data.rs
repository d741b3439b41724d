//! Benchmark: windows per second read, normalised and batched from a Well file.
//!
//! Run through `benches/data.sh`, which also runs The Well's own `WellDataset` + torch
//! `DataLoader` (`benches/data_thewell.py`) on the same file in the same run and prints the
//! comparison table.
//!
//! Usage: `cargo bench --bench data -- DIR [windows] [repeats] [warmup]`.
//! The dataset `DIR/bench_well` (one train file, 256×256, 4 trajectories × 48 steps,
//! channels density, pressure, velocity_x, velocity_y: 192 MiB of data) is written first if
//! it is missing. Each repeat opens the dataset, starts a [`Loader`] (batch size 2, prefetch
//! on), takes `warmup` batches untimed, then times `windows / 2` batches, each turned into a
//! tensor and normalised by its samplewise per-field RMS ([`SampleRms`]). The tensor comes
//! from `Batch::to_tensor` (a copy) and, in a second pass, `Batch::into_tensor` (a
//! move). Prints `phystok_to_tensor windows_per_s MEDIAN min MIN max MAX`, the same for
//! `phystok_into_tensor`, and with `--split` a breakdown of where the time goes without
//! prefetch.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use phystok::data::{
    Loader, LoaderConfig, RmsGrouping, SampleRms, Split, TensorOrder, WellDataset, WellFile,
    WindowSpec, write_dataset,
};
use phystok::{Error, Result};

/// The benchmark dataset's name (directory `DIR/bench_well`).
const NAME: &str = "bench_well";
const SIDE: usize = 256;
const N_TRAJ: usize = 4;
const N_STEPS: usize = 48;
const BATCH: usize = 2;

/// A smooth, trajectory- and time-dependent field, far from zero RMS.
fn value(field: usize, traj: usize, t: usize, x: usize, y: usize) -> f32 {
    let (xf, yf) = (x as f32 / SIDE as f32, y as f32 / SIDE as f32);
    let phase = 0.1 * t as f32 + 0.7 * traj as f32 + 1.3 * field as f32;
    (1.0 + field as f32) * ((6.3 * xf + phase).sin() * (6.3 * yf - phase).cos() + 0.3)
}

/// Writes `root/bench_well` unless its train file exists; returns the dataset directory.
fn ensure_dataset(root: &Path) -> Result<PathBuf> {
    let dir = root.join(NAME);
    if dir
        .join("data/train")
        .join(format!("{NAME}_00.hdf5"))
        .is_file()
    {
        return Ok(dir);
    }
    let time: Vec<f32> = (0..N_STEPS).map(|t| t as f32 * 0.01).collect();
    let mut file = WellFile::new(NAME, &["x", "y"], &[SIDE, SIDE], N_TRAJ, time)?;
    let frame = SIDE * SIDE;
    let scalar = |f: usize| -> Vec<f32> {
        let mut v = Vec::with_capacity(N_TRAJ * N_STEPS * frame);
        for traj in 0..N_TRAJ {
            for t in 0..N_STEPS {
                for p in 0..frame {
                    v.push(value(f, traj, t, p / SIDE, p % SIDE));
                }
            }
        }
        v
    };
    let mut velocity = Vec::with_capacity(N_TRAJ * N_STEPS * frame * 2);
    for traj in 0..N_TRAJ {
        for t in 0..N_STEPS {
            for p in 0..frame {
                velocity.push(value(2, traj, t, p / SIDE, p % SIDE));
                velocity.push(value(3, traj, t, p / SIDE, p % SIDE));
            }
        }
    }
    file.push_field("density", TensorOrder::Scalar, scalar(0))?
        .push_field("pressure", TensorOrder::Scalar, scalar(1))?
        .push_field("velocity", TensorOrder::Vector, velocity)?;
    write_dataset(root, NAME, &[(Split::Train, &file)])
}

/// Reads every byte of the dataset's files once, so the page cache is warm.
fn warm_page_cache(dir: &Path) -> Result<u64> {
    let split = dir.join("data/train");
    let mut total = 0;
    for e in std::fs::read_dir(&split).map_err(|e| Error::io(&split, e))? {
        let path = e.map_err(|e| Error::io(&split, e))?.path();
        total += std::fs::read(&path).map_err(|e| Error::io(&path, e))?.len() as u64;
    }
    Ok(total)
}

/// Seconds to take `n_batches` batches after `warmup` untimed ones.
fn time_loader(dir: &Path, seed: u64, warmup: usize, n_batches: usize, into: bool) -> Result<f64> {
    let ds = WellDataset::open(dir, Split::Train, WindowSpec::new(9, 1))?;
    let field_of_channel = ds.header().field_of_channel();
    let mut loader = Loader::new(vec![ds], LoaderConfig::new(BATCH).with_seed(seed))?;
    let mut step = || -> Result<()> {
        let batch = loader.next()?;
        let xs = if into {
            batch.into_tensor(&Device::Cpu)?
        } else {
            batch.to_tensor(&Device::Cpu)?
        };
        let rms = SampleRms::fit(&xs, &field_of_channel, RmsGrouping::PerField)?;
        std::hint::black_box(rms.normalise(&xs)?);
        Ok(())
    };
    for _ in 0..warmup {
        step()?;
    }
    let start = Instant::now();
    for _ in 0..n_batches {
        step()?;
    }
    Ok(start.elapsed().as_secs_f64())
}

/// Where the time goes, stage by stage, without prefetch (seconds per window).
fn split_times(dir: &Path, n_batches: usize) -> Result<()> {
    let ds = WellDataset::open(dir, Split::Train, WindowSpec::new(9, 1))?;
    let field_of_channel = ds.header().field_of_channel();
    let mut loader = Loader::new(vec![ds], LoaderConfig::new(BATCH).with_prefetch(0))?;
    let (mut read, mut tensor, mut norm) = (0.0, 0.0, 0.0);
    for _ in 0..n_batches {
        let t = Instant::now();
        let batch = loader.next()?;
        read += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let xs = batch.to_tensor(&Device::Cpu)?;
        tensor += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let rms = SampleRms::fit(&xs, &field_of_channel, RmsGrouping::PerField)?;
        std::hint::black_box(rms.normalise(&xs)?);
        norm += t.elapsed().as_secs_f64();
    }
    let per = |s: f64| s * 1e3 / (n_batches * BATCH) as f64;
    println!(
        "phystok split (ms per window, no prefetch): read {:.2} to_tensor {:.2} rms+normalise {:.2}",
        per(read),
        per(tensor),
        per(norm)
    );
    Ok(())
}

fn main() -> Result<()> {
    let split = std::env::args().any(|a| a == "--split");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let root = PathBuf::from(args.first().ok_or_else(|| {
        Error::Msg("usage: data DIR [windows] [repeats] [warmup] [--split]".into())
    })?);
    let n = |i: usize, default: usize| -> Result<usize> {
        args.get(i).map_or(Ok(default), |a| {
            a.parse()
                .map_err(|e| Error::Msg(format!("argument {i}: {e}")))
        })
    };
    let (windows, repeats, warmup) = (n(1, 400)?, n(2, 5)?, n(3, 4)?);
    let dir = ensure_dataset(&root)?;
    let bytes = warm_page_cache(&dir)?;
    if split {
        split_times(&dir, windows / BATCH)?;
    }
    // `to_tensor` (copies the batch, as the brief's loop does) and `into_tensor` (moves it)
    for (name, into) in [("phystok_to_tensor", false), ("phystok_into_tensor", true)] {
        let mut rates: Vec<f64> = (0..repeats)
            .map(|r| {
                let secs = time_loader(&dir, r as u64, warmup, windows / BATCH, into)?;
                Ok((windows / BATCH * BATCH) as f64 / secs)
            })
            .collect::<Result<_>>()?;
        rates.sort_by(f64::total_cmp);
        println!(
            "{name} windows_per_s {:.2} min {:.2} max {:.2} ({} windows x {} repeats, file {} MiB)",
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            windows / BATCH * BATCH,
            repeats,
            bytes >> 20
        );
    }
    Ok(())
}
