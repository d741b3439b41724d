//! [`BenchmarkResults`]: every run, the per-(family, dataset) summaries over seeds, the
//! tables and the rollout figure.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::BenchmarkConfig;
use super::leaderboard::{Leaderboard, LeaderboardRow};
use crate::baselines::BaselineKind;
use crate::report::{Align, Table, group_digits};
use crate::{Error, Result};

/// One trained baseline and its scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkRun {
    /// The dataset.
    pub dataset: String,
    /// The family.
    pub kind: BaselineKind,
    /// The seed.
    pub seed: u64,
    /// Trainable parameters.
    pub params: usize,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Wall-clock seconds of training.
    pub train_seconds: f64,
    /// The last training loss (MSE, normalised units).
    pub final_loss: f64,
    /// Next-frame VRMSE on the test split (mean over windows and fields).
    pub vrmse_next: f64,
    /// Rollout VRMSE over The Well's windows 1, 2–8, 9–26 (`None` where the test
    /// trajectories are too short for the window).
    pub vrmse_rollout: [Option<f64>; 3],
}

/// Everything a benchmark run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkResults {
    /// The settings.
    pub config: BenchmarkConfig,
    /// One entry per (dataset, family, seed).
    pub runs: Vec<BenchmarkRun>,
    /// Wall-clock seconds of the whole study.
    pub total_seconds: f64,
    /// Rayon threads it ran with.
    pub threads: usize,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

impl BenchmarkResults {
    /// One leaderboard row per (family, dataset): means (and the next-frame spread) over seeds.
    pub fn leaderboard_rows(&self) -> Vec<LeaderboardRow> {
        let mut rows = Vec::new();
        for dataset in &self.config.datasets {
            for &kind in &self.config.kinds {
                let runs: Vec<&BenchmarkRun> = self
                    .runs
                    .iter()
                    .filter(|r| &r.dataset == dataset && r.kind == kind)
                    .collect();
                if runs.is_empty() {
                    continue;
                }
                let (next, next_std) =
                    mean_std(&runs.iter().map(|r| r.vrmse_next).collect::<Vec<_>>());
                let rollout = [0, 1, 2].map(|w| {
                    let v: Vec<f64> = runs.iter().filter_map(|r| r.vrmse_rollout[w]).collect();
                    (!v.is_empty()).then(|| mean_std(&v).0)
                });
                rows.push(LeaderboardRow {
                    study: "benchmark".into(),
                    model: kind.label().into(),
                    dataset: dataset.clone(),
                    params: Some(runs[0].params),
                    train_seconds: Some(
                        mean_std(&runs.iter().map(|r| r.train_seconds).collect::<Vec<_>>()).0,
                    ),
                    steps: Some(runs[0].steps),
                    seeds: runs.len(),
                    vrmse_next: next,
                    vrmse_next_std: Some(next_std),
                    vrmse_rollout: rollout,
                });
            }
        }
        rows
    }

    /// The benchmark's own table: one row per (family, dataset).
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "model", "dataset", "params", "train s", "VRMSE next", "rollout 1", "rollout 2-8", "rollout 9-26",
        ])
        .with_caption(format!(
            "The Well's baselines, {} steps each, mean over {} seeds (± std of next-frame VRMSE); test split",
            self.config.steps,
            self.config.seeds.len()
        ))
        .with_align(2..8, Align::Right);
        for r in self.leaderboard_rows() {
            let _ = t.push_row(r.cells());
        }
        t
    }

    /// Writes `results.json` (settings, runs and a `leaderboard` array), `tables.md`,
    /// `rollout.svg`, and the leaderboard joined with the other studies beside `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        let mut json = serde_json::to_value(self)?;
        if let Some(map) = json.as_object_mut() {
            map.insert(
                "leaderboard".into(),
                serde_json::to_value(self.leaderboard_rows())?,
            );
        }
        write("results.json", serde_json::to_string_pretty(&json)?)?;
        write(
            "tables.md",
            format!(
                "{}\nTotal wall time {:.0} s on {} threads.\n",
                self.table().to_markdown(),
                self.total_seconds,
                self.threads
            ),
        )?;
        let board = Leaderboard::collect(dir, self.leaderboard_rows())?;
        board.save(dir)?;
        Ok(())
    }

    /// Parameter counts per family (from the first dataset), for the summary line.
    pub fn params_by_kind(&self) -> Vec<(BaselineKind, String)> {
        self.config
            .kinds
            .iter()
            .filter_map(|&k| {
                self.runs
                    .iter()
                    .find(|r| r.kind == k)
                    .map(|r| (k, group_digits(r.params)))
            })
            .collect()
    }
}
