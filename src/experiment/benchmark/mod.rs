//! The benchmark study (`phystok reproduce benchmark`): The Well's baselines (FNO, TFNO,
//! U-Net, ConvNeXt U-Net) on every dataset of a collection at equal steps and similar
//! parameter counts, scored by next-frame VRMSE and rollout VRMSE over The Well's windows
//! (1, 2–8, 9–26), and the leaderboard that joins every study's results.
//!
//! ```no_run
//! use phystok::experiment::benchmark::BenchmarkConfig;
//!
//! let results = BenchmarkConfig::quick().run("data", "out/benchmark")?;
//! println!("{}", results.table());
//! # Ok::<(), phystok::Error>(())
//! ```

mod config;
mod leaderboard;
mod results;
mod run;

pub use config::{BenchmarkConfig, ModelSize, WELL_WINDOWS};
pub use leaderboard::{Leaderboard, LeaderboardRow, SIBLING_STUDIES, read_study};
pub use results::{BenchmarkResults, BenchmarkRun};

#[cfg(test)]
mod tests;
