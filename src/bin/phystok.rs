//! The `phystok` command line: data, metrics and the paper's experiment from a terminal.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use phystok::data::{Split, WellDataset, WindowSpec};

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

#[derive(Subcommand)]
enum Command {
    /// Simulate a system (or the default collection) into Well-format datasets.
    ///
    /// `phystok generate default --out data/` makes the embedded default collection: every
    /// system at CPU size. Trajectories count per parameter set and must be at least 3 (one
    /// per split, 0.8/0.1/0.1); Rayleigh–Bénard at resolution n runs on a 2n × n/2 grid.
    Generate {
        /// A system name (`euler_multi_quadrants_periodicBC`, `euler_multi_quadrants_openBC`,
        /// `shear_flow`, `rayleigh_benard`, `gray_scott_reaction_diffusion`; aliases `euler`,
        /// `shear`, `rb`, `gray_scott`) or `default`.
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
            let dirs = if system == "default" {
                phystok::sim::generate_default(&out)?
            } else {
                let cfg = phystok::sim::GenerateConfig::new(system.parse()?, &out)
                    .with_resolution(resolution)
                    .with_trajectories(trajectories)
                    .with_steps(steps)
                    .with_seed(seed);
                vec![phystok::sim::generate(&cfg)?]
            };
            for d in dirs {
                println!("wrote {}", d.display());
            }
            println!("in {:.1} s", t.elapsed().as_secs_f64());
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

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phystok: {e}");
            ExitCode::FAILURE
        }
    }
}
