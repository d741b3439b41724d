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
