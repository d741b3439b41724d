//! The `phystok` command line: data, metrics and the paper's experiment from a terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use phystok::data::{Split, WellDataset, WindowSpec};
use phystok::sim::{Collection, GenerateConfig};

#[derive(Parser)]
#[command(
    name = "phystok",
    version,
    about = "Tokeniser pretraining for physics foundation models"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The studies `phystok reproduce` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Study {
    /// *On the Value of Tokeniser Pretraining in Physics Foundation Models*: the grid of
    /// Table 5 and Figures 2–3.
    Pretraining,
    /// *Compute-adaptive surrogate modelling*: CKM/CSM against fixed patches.
    ComputeAdaptive,
    /// *PhysiX*: discrete tokeniser, autoregressive token model, refinement.
    Physix,
    /// The Well's baselines and the leaderboard of every family.
    Benchmark,
    /// The tokeniser's options switched one at a time (upsampling, residual norm, head
    /// scaling, kernel resize, rollout-training compression), reconstruction VRMSE per row.
    Ablations,
}

impl Study {
    fn default_out(self) -> PathBuf {
        match self {
            Study::Pretraining => PathBuf::from("out/reproduce"),
            Study::ComputeAdaptive => PathBuf::from("out/compute-adaptive"),
            Study::Physix => PathBuf::from("out/physix"),
            Study::Benchmark => PathBuf::from("out/benchmark"),
            Study::Ablations => PathBuf::from("out/ablations"),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a system (or the default collection) into Well-format datasets.
    ///
    /// `phystok generate default --out data/` makes the embedded default collection: every
    /// system at CPU size (only the datasets not there yet; the size flags do not apply). Trajectories count per parameter set and must be at least 3 (one
    /// per split, 0.8/0.1/0.1); Rayleigh–Bénard at resolution n runs on a 2n × n/2 grid.
    Generate {
        /// A system name (`euler_multi_quadrants_periodicBC`, `euler_multi_quadrants_openBC`,
        /// `shear_flow`, `rayleigh_benard`, `gray_scott_reaction_diffusion`, `active_matter`;
        /// aliases `euler`, `shear`, `rb`, `gray_scott`, `active`) or `default`.
        system: String,
        /// Where the dataset directories go.
        #[arg(long, default_value = "data/generated")]
        out: PathBuf,
        /// Grid points per side (a power of two).
        #[arg(long, default_value_t = 64)]
        resolution: usize,
        /// Trajectories per parameter set.
        #[arg(long, default_value_t = 5)]
        trajectories: usize,
        /// Output frames per trajectory.
        #[arg(long, default_value_t = 32)]
        steps: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Compare two Well-format files frame by frame: VRMSE and NEPS low/mid/high per
    /// channel and averaged.
    Metrics {
        /// Predicted fields.
        #[arg(long)]
        pred: PathBuf,
        /// Target fields.
        #[arg(long)]
        target: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The main job on the embedded default data: make the default collection if absent,
    /// then score the persistence baseline (frame t predicted by frame t − 1) on every
    /// dataset's validation split, the floor any emulator must beat.
    Quickstart {
        /// Where the data and results go.
        #[arg(long, default_value = "out/quickstart")]
        out: PathBuf,
    },
    /// Reproduce a study (default: the tokeniser-pretraining grid): pretrain tokenisers
    /// in-domain and out-of-domain, train rollout models for every configuration and seed,
    /// print Table 5 and write `results.json`, `runs.json`, `tables.md`, `figure2.svg` and
    /// `figure3.svg` under `--out`.
    ///
    /// `--preset quick` runs on CPU in minutes on 2 cores; `--preset paper` runs the
    /// paper's sizes and step counts, for a GPU (`--device cuda`, feature `cuda`).
    Reproduce {
        /// Which study.
        #[arg(value_enum, default_value_t = Study::Pretraining)]
        study: Study,
        /// `quick` or `paper` (the pretraining study also has `paper-figure2` and
        /// `paper-figure3`, the paper's 29,400- and 210,000-step rollout trainings).
        #[arg(long, default_value = "quick")]
        preset: String,
        /// Where results and checkpoints go (default: `out/reproduce` for the pretraining
        /// study, `out/{study}` for the others).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where the datasets are (the default collection is simulated there if absent).
        #[arg(long, default_value = "data/generated")]
        data: PathBuf,
        /// Seeds of the rollout runs, comma-separated (default: the preset's).
        #[arg(long, value_delimiter = ',')]
        seeds: Option<Vec<u64>>,
        /// Override the preset's step counts: pretraining steps.
        #[arg(long)]
        pretrain_steps: Option<usize>,
        /// Override the preset's step counts: rollout steps (compute-adaptive study: the
        /// steps of one fixed-patch model; CKM and CSM train that times the number of sizes).
        #[arg(long)]
        rollout_steps: Option<usize>,
        /// `cpu`, `cuda` (the first GPU) or `auto`.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// CUDA GPUs to train on, one process each: `--gpus 0,1,2,3` (feature `cuda`; the
        /// pretraining study). Checked before any work: the GPUs must exist and their number
        /// must divide the preset's effective batch. torchrun's `RANK`, `WORLD_SIZE`,
        /// `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT` are read the same way. One GPU runs
        /// today; starting one process per GPU is not implemented yet (README, "GPU build").
        #[arg(long)]
        gpus: Option<String>,
        /// Let a `paper` preset run on simulated data (it refuses by default: its sizes
        /// are meant for The Well's datasets).
        #[arg(long)]
        allow_simulated: bool,
    },
    /// Summarise one split of a Well-format dataset directory.
    Inspect {
        /// The dataset directory (`{name}/` holding `data/` and `stats.yaml`).
        dir: PathBuf,
        /// Which split.
        #[arg(long, default_value = "train")]
        split: String,
        /// Context frames per window.
        #[arg(long, default_value_t = 9)]
        n_steps_input: usize,
        /// Target frames per window.
        #[arg(long, default_value_t = 1)]
        n_steps_output: usize,
    },
}

fn parse_split(s: &str) -> phystok::Result<Split> {
    Split::ALL
        .into_iter()
        .find(|x| x.as_str() == s)
        .ok_or_else(|| {
            phystok::ConfigError::Unknown {
                kind: "split",
                name: s.into(),
                known: "train, valid, test".into(),
            }
            .into()
        })
}

fn run(cli: Cli) -> phystok::Result<()> {
    match cli.command {
        Command::Generate {
            system,
            out,
            resolution,
            trajectories,
            steps,
            seed,
        } => {
            let t = std::time::Instant::now();
            let made: Vec<(&str, PathBuf)> = if system == "default" {
                let collection = Collection::default_collection(&out);
                let there: Vec<bool> = collection
                    .dataset_dirs()
                    .iter()
                    .map(|d| d.exists())
                    .collect();
                let dirs = collection.ensure()?;
                there
                    .into_iter()
                    .zip(dirs)
                    .map(|(kept, d)| (if kept { "kept" } else { "wrote" }, d))
                    .collect()
            } else {
                let cfg = GenerateConfig::new(system.parse()?, &out)
                    .with_resolution(resolution)
                    .with_trajectories(trajectories)
                    .with_steps(steps)
                    .with_seed(seed);
                vec![("wrote", cfg.generate()?)]
            };
            for (verb, d) in made {
                println!("{verb} {}", d.display());
            }
            println!("in {:.1} s", t.elapsed().as_secs_f64());
        }
        Command::Metrics { pred, target, json } => {
            let cmp = phystok::metrics::compare_well_files(&pred, &target)?;
            for w in &cmp.summary.warnings {
                eprintln!("warning: {w}");
            }
            if json {
                println!("{}", cmp.to_json()?);
            } else {
                print!("{cmp}");
            }
        }
        Command::Quickstart { out } => quickstart(&out)?,
        Command::Reproduce {
            study,
            preset,
            out,
            data,
            seeds,
            pretrain_steps,
            rollout_steps,
            device,
            gpus,
            allow_simulated,
        } => {
            let out = out.unwrap_or_else(|| study.default_out());
            let mut device: phystok::DeviceChoice = device.parse()?;
            if let Some(gpu) = data_parallel_gpu(study, &preset, gpus.as_deref())? {
                device = phystok::DeviceChoice::Cuda(gpu);
            }
            if study == Study::ComputeAdaptive {
                let mut cfg = phystok::experiment::ComputeAdaptiveConfig::preset(&preset)?;
                if let Some(s) = seeds {
                    cfg = cfg.with_seeds(s);
                }
                if let Some(r) = rollout_steps {
                    cfg = cfg.with_steps(r);
                }
                let results = cfg.with_device(device).run(&data, &out)?;
                return report_study(&results, results.total_seconds, &out);
            }
            if study == Study::Physix {
                let mut cfg = phystok::experiment::PhysixStudyConfig::preset(&preset)?;
                if let Some(s) = seeds {
                    cfg = cfg.with_seeds(s);
                }
                // --pretrain-steps: the tokeniser's, --rollout-steps: the AR model's
                let (t, a) = (
                    pretrain_steps.unwrap_or(cfg.tokeniser.steps),
                    rollout_steps.unwrap_or(cfg.ar.steps),
                );
                let refiner = cfg.refiner_steps;
                cfg = cfg.with_steps(t, a, refiner).with_device(device);
                let results = cfg.run(&data, &out)?;
                return report_study(&results, results.total_seconds, &out);
            }
            if study == Study::Ablations {
                let mut cfg = phystok::experiment::AblationConfig::preset(&preset)?;
                if let Some(s) = seeds {
                    cfg = cfg.with_seeds(s);
                }
                let (p, r) = (
                    pretrain_steps.unwrap_or(cfg.experiment.pretrain.steps),
                    rollout_steps.unwrap_or(cfg.experiment.rollout.steps),
                );
                cfg = cfg.with_steps(p, r).with_device(device);
                if allow_simulated {
                    cfg = cfg.with_data_policy(phystok::experiment::DataPolicy::SimulateMissing);
                }
                let results = cfg.run(&data, &out)?;
                return report_study(&results, results.total_seconds, &out);
            }
            if study == Study::Benchmark {
                return reproduce_benchmark(&preset, &data, &out, seeds, rollout_steps, device);
            }
            let mut cfg = phystok::experiment::ExperimentConfig::preset(&preset)?;
            if let Some(s) = seeds {
                cfg = cfg.with_seeds(s);
            }
            let (p, r) = (
                pretrain_steps.unwrap_or(cfg.pretrain.steps),
                rollout_steps.unwrap_or(cfg.rollout.steps),
            );
            cfg = cfg.with_steps(p, r).with_device(device);
            if allow_simulated {
                cfg = cfg.with_data_policy(phystok::experiment::DataPolicy::SimulateMissing);
            }
            let results = cfg.run(&data, &out)?;
            println!("{results}");
            println!(
                "grid in {:.0} s; results in {}",
                results.total_seconds,
                out.join("results.json").display()
            );
        }
        Command::Inspect {
            dir,
            split,
            n_steps_input,
            n_steps_output,
        } => {
            let ds = WellDataset::open(
                &dir,
                parse_split(&split)?,
                WindowSpec::new(n_steps_input, n_steps_output),
            )?;
            print!("{ds}");
        }
    }
    Ok(())
}

/// `--gpus` and torchrun's environment, checked before any work: the world they describe
/// must divide the preset's effective batches, the build must have `cuda`, and the GPUs must
/// exist. Returns this process's GPU (`None`: neither was given, the `--device` path).
fn data_parallel_gpu(
    study: Study,
    preset: &str,
    gpus: Option<&str>,
) -> phystok::Result<Option<usize>> {
    use phystok::train::dist::{World, check_gpus, cuda_gpu_count, parse_gpus};
    let env = World::from_env()?;
    let (name, world, ordinals) = match (gpus, env) {
        (None, None) => return Ok(None),
        (Some(_), Some(w)) => {
            return Err(phystok::ConfigError::Mismatch {
                name: "--gpus",
                value: "set".into(),
                other: format!(
                    "a torchrun launch (WORLD_SIZE={}): give one or the other",
                    w.size
                ),
            }
            .into());
        }
        (Some(spec), None) => {
            let list = parse_gpus(spec)?;
            let world = World {
                size: list.len(),
                ..World::single()
            };
            ("--gpus", world, list)
        }
        (None, Some(w)) => {
            let local = w.local_rank;
            ("WORLD_SIZE", w, vec![local])
        }
    };
    if study != Study::Pretraining {
        return Err(phystok::ConfigError::Unsupported {
            name,
            what: format!("data-parallel training of the {study:?} study"),
        }
        .into());
    }
    let cfg = phystok::experiment::ExperimentConfig::preset(preset)?;
    for trainer in [&cfg.pretrain, &cfg.rollout] {
        world.split_batch(trainer.loader.batch_size, trainer.accumulation)?;
    }
    let present = cuda_gpu_count(name)?;
    check_gpus(
        if name == "--gpus" { name } else { "LOCAL_RANK" },
        &ordinals,
        present,
    )?;
    if world.size > 1 {
        return Err(phystok::ConfigError::Unsupported {
            name,
            what: if name == "--gpus" {
                format!(
                    "starting {} data-parallel processes (the NCCL communicator is built, the launcher is not)",
                    world.size
                )
            } else {
                format!(
                    "joining a torchrun world of {} processes (the NCCL communicator is built, the rendezvous at MASTER_ADDR is not)",
                    world.size
                )
            },
        }
        .into());
    }
    Ok(Some(ordinals[0]))
}

/// `phystok reproduce benchmark`: The Well's baselines on the datasets under `data` (the
/// default collection, or a real The Well download: every `{name}/data/train` folder there,
/// or `data` itself when it is one dataset's folder), `rollout_steps` overriding the
/// preset's training steps.
fn reproduce_benchmark(
    preset: &str,
    data: &std::path::Path,
    out: &std::path::Path,
    seeds: Option<Vec<u64>>,
    steps: Option<usize>,
    device: phystok::DeviceChoice,
) -> phystok::Result<()> {
    use phystok::experiment::benchmark::BenchmarkConfig;
    let mut cfg = match preset {
        "quick" => BenchmarkConfig::quick(),
        "paper" => BenchmarkConfig::paper(),
        other => {
            return Err(phystok::ConfigError::Unknown {
                kind: "preset",
                name: other.into(),
                known: "quick, paper".into(),
            }
            .into());
        }
    }
    .with_device(device);
    let (root, datasets) = benchmark_datasets(data)?;
    if let Some(d) = datasets {
        cfg = cfg.with_datasets(d);
    }
    if let Some(s) = seeds {
        cfg = cfg.with_seeds(s);
    }
    if let Some(n) = steps {
        cfg = cfg.with_steps(n);
    }
    let results = cfg.run(&root, out)?;
    println!("{}", results.table());
    println!(
        "benchmark in {:.0} s on {} threads; leaderboard in {}",
        results.total_seconds,
        results.threads,
        out.join("leaderboard.md").display()
    );
    Ok(())
}

/// The data root and, for a real download, its datasets: `data` itself when it is one
/// dataset (`data/data/train` exists), else every non-simulated `{name}/data/train` under
/// it (`None`: the default collection).
fn benchmark_datasets(data: &std::path::Path) -> phystok::Result<(PathBuf, Option<Vec<String>>)> {
    if data.join("data").join("train").is_dir() {
        let name = data.file_name().map(|n| n.to_string_lossy().into_owned());
        let root = data.parent().map(std::path::Path::to_path_buf);
        if let (Some(name), Some(root)) = (name, root) {
            return Ok((root, Some(vec![name])));
        }
    }
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(data) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().join("data").join("train").is_dir()
                && phystok::sim::System::from_name(&name).is_none()
            {
                found.push(name);
            }
        }
    }
    found.sort();
    Ok((data.to_path_buf(), (!found.is_empty()).then_some(found)))
}

/// Prints a study's tables and where its results are.
fn report_study(
    results: &impl std::fmt::Display,
    seconds: f64,
    out: &std::path::Path,
) -> phystok::Result<()> {
    println!("{results}");
    println!(
        "study in {seconds:.0} s; results in {}",
        out.join("results.json").display()
    );
    Ok(())
}

fn quickstart(out: &std::path::Path) -> phystok::Result<()> {
    let data = out.join("data");
    let t = std::time::Instant::now();
    let dirs = Collection::default_collection(&data).ensure()?;
    println!(
        "default data in {} ({:.1} s)",
        data.display(),
        t.elapsed().as_secs_f64()
    );
    let mut results = serde_json::Map::new();
    println!(
        "{:<36} {:>8} {:>10} {:>10} {:>10}",
        "persistence baseline (valid)", "VRMSE", "NEPS low", "NEPS mid", "NEPS high"
    );
    let mut dirs: Vec<PathBuf> = dirs;
    dirs.sort();
    for dir in dirs {
        let valid = dir.join("data/valid");
        let file = std::fs::read_dir(&valid)
            .map_err(|e| phystok::Error::io(&valid, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.extension().is_some_and(|e| e == "hdf5"))
            .ok_or_else(|| phystok::Error::Empty {
                what: valid.display().to_string(),
            })?;
        let target = phystok::data::WellFile::read(&file)?;
        let pred = persistence(&target);
        let cmp = phystok::metrics::compare_well(&pred, &target)?;
        let name = dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let json: serde_json::Value = serde_json::from_str(&cmp.to_json()?)?;
        println!("{name:<36} {}", summary_line(&json["mean"]));
        results.insert(name, json);
    }
    std::fs::create_dir_all(out).map_err(|e| phystok::Error::io(out, e))?;
    let path = out.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)
        .map_err(|e| phystok::Error::io(&path, e))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn summary_line(v: &serde_json::Value) -> String {
    let g = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    format!(
        "{:>8.4} {:>10.4} {:>10.4} {:>10.4}",
        g("vrmse"),
        g("neps_low"),
        g("neps_mid"),
        g("neps_high")
    )
}

/// Every frame predicted by the frame before it (the first frame by itself).
fn persistence(target: &phystok::data::WellFile) -> phystok::data::WellFile {
    let mut pred = target.clone();
    let n_t = target.n_steps();
    for f in pred.fields.iter_mut() {
        let per_step = f.data.len() / (target.n_trajectories * n_t).max(1);
        for traj in f.data.chunks_exact_mut(n_t * per_step) {
            for t in (1..n_t).rev() {
                traj.copy_within((t - 1) * per_step..t * per_step, t * per_step);
            }
        }
    }
    pred
}

fn main() -> ExitCode {
    // candle's element-wise CPU ops run on their own spin-waiting thread pool, which fights
    // rayon (our convolution and attention kernels, matrix products) for the cores: on 2
    // cores a tokeniser step took 690 ms with 2 candle threads and 300 ms with 1. Default
    // to 1 unless the user chose.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: first thing in main, before any thread exists.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", "1") };
    }
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ phystok::Error::Interrupted { .. }) => {
            // SIGINT/SIGTERM: the trainer saved a checkpoint; a rerun resumes it
            eprintln!("phystok: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("phystok: {e}");
            ExitCode::FAILURE
        }
    }
}
