//! [`Leaderboard`]: one table of every model family on the same data, joining the
//! benchmark's rows with whatever the other studies wrote beside it.
//!
//! Beside the benchmark's output folder (its parent directory) it looks for
//! `reproduce/results.json` (the tokeniser-pretraining study), `compute-adaptive/results.json`
//! and `physix/results.json`. A study that has not run is absent and left out; a file that
//! exists but cannot be read is an error naming it. A `results.json` is read in one of two
//! forms:
//! - a `leaderboard` array of [`LeaderboardRow`]s (what this benchmark writes, and the form
//!   other studies are asked to write);
//! - the compute-adaptive study's `models` array (one row per model and patch size);
//! - the pretraining study's summaries: an object from configuration key to
//!   `{"vrmse": {"mean": …, "std": …}, "h1": {…}, …, "seconds_per_2100_steps": {…}}`, with
//!   the datasets and parameter counts taken from `runs.json` beside it when present.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::report::{Align, Table, group_digits};
use crate::{Error, Result};

/// The sibling studies the leaderboard joins: `(folder, study name)`.
pub const SIBLING_STUDIES: [(&str, &str); 3] = [
    ("reproduce", "pretraining"),
    ("compute-adaptive", "compute-adaptive"),
    ("physix", "physix"),
];

/// One model on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderboardRow {
    /// The study that produced it (`benchmark`, `pretraining`, …).
    pub study: String,
    /// The model (`FNO`, `in_domain_frozen`, …).
    pub model: String,
    /// The dataset.
    pub dataset: String,
    /// Trainable parameters, when known.
    pub params: Option<usize>,
    /// Wall-clock training seconds, when known.
    pub train_seconds: Option<f64>,
    /// Optimiser steps, when known.
    pub steps: Option<usize>,
    /// Seeds averaged.
    pub seeds: usize,
    /// Next-frame VRMSE (mean over seeds).
    pub vrmse_next: f64,
    /// Its standard deviation over seeds, when known.
    pub vrmse_next_std: Option<f64>,
    /// Rollout VRMSE over The Well's windows 1, 2–8, 9–26, when measured.
    pub vrmse_rollout: [Option<f64>; 3],
}

fn opt(v: Option<f64>) -> String {
    v.map_or("–".into(), |x| format!("{x:.4}"))
}

impl LeaderboardRow {
    /// Table cells: model, dataset, params, train s, next-frame VRMSE, the three windows.
    pub fn cells(&self) -> Vec<String> {
        let next = match self.vrmse_next_std {
            Some(s) if self.seeds > 1 => format!("{:.4} ± {s:.4}", self.vrmse_next),
            _ => format!("{:.4}", self.vrmse_next),
        };
        vec![
            format!("{} ({})", self.model, self.study),
            self.dataset.clone(),
            self.params.map_or("–".into(), group_digits),
            self.train_seconds.map_or("–".into(), |s| format!("{s:.1}")),
            next,
            opt(self.vrmse_rollout[0]),
            opt(self.vrmse_rollout[1]),
            opt(self.vrmse_rollout[2]),
        ]
    }
}

/// Every row, and which studies were found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaderboard {
    /// The rows, sorted by dataset then next-frame VRMSE.
    pub rows: Vec<LeaderboardRow>,
    /// The `results.json` files joined.
    pub joined: Vec<PathBuf>,
    /// The sibling studies looked for and absent.
    pub absent: Vec<String>,
}

fn malformed(path: &Path, what: impl Into<String>) -> Error {
    Error::format(
        path,
        format!(
            "not a study result the leaderboard can read: {}",
            what.into()
        ),
    )
}

/// The rows of one study's `results.json` (see the module docs for the two forms).
pub fn read_study(path: &Path, study: &str) -> Result<Vec<LeaderboardRow>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| malformed(path, e.to_string()))?;
    if let Some(rows) = value.get("leaderboard") {
        return serde_json::from_value(rows.clone())
            .map_err(|e| malformed(path, format!("`leaderboard`: {e}")));
    }
    if let Some(models) = value.get("models").and_then(Value::as_array) {
        return patch_models(path, study, &value, models);
    }
    let Some(map) = value.as_object().filter(|m| !m.is_empty()) else {
        return Err(malformed(
            path,
            "neither a `leaderboard` array nor per-configuration summaries",
        ));
    };
    let (datasets, params) = pretraining_runs(&path.with_file_name("runs.json"));
    let mut rows = Vec::new();
    // `run` holds the run's provenance and config, not a configuration's scores
    for (key, summary) in map.iter().filter(|(k, _)| *k != "run") {
        let stat = |name: &str| {
            summary
                .get(name)
                .and_then(|s| s.get("mean"))
                .and_then(Value::as_f64)
        };
        let Some(vrmse) = stat("vrmse") else {
            return Err(malformed(path, format!("`{key}` has no `vrmse.mean`")));
        };
        let seeds = summary
            .get("vrmse")
            .and_then(|s| s.get("values"))
            .and_then(Value::as_array)
            .map_or(1, Vec::len);
        rows.push(LeaderboardRow {
            study: study.into(),
            model: key.clone(),
            dataset: datasets
                .clone()
                .unwrap_or_else(|| "(the study's target)".into()),
            params,
            train_seconds: None,
            steps: None,
            seeds,
            vrmse_next: vrmse,
            vrmse_next_std: summary
                .get("vrmse")
                .and_then(|s| s.get("std"))
                .and_then(Value::as_f64),
            // the pretraining study's horizons (1, 2, 3–6, 7–18) are not The Well's windows
            vrmse_rollout: [stat("h1"), None, None],
        });
    }
    Ok(rows)
}

/// The compute-adaptive study's form: `config.dataset` and a `models` array of
/// `{key, params, steps, train_seconds: {mean}, next_step: [{patch, vrmse: {mean, std,
/// values}}], rollouts: [{schedule, vrmse_per_step: [{mean}]}]}`; one row per model and
/// inference patch size, its rollout windows from the schedule `p{patch}` when there is one.
fn patch_models(
    path: &Path,
    study: &str,
    value: &Value,
    models: &[Value],
) -> Result<Vec<LeaderboardRow>> {
    let dataset = value
        .pointer("/config/dataset")
        .and_then(Value::as_str)
        .unwrap_or("(the study's dataset)")
        .to_string();
    let mut rows = Vec::new();
    for m in models {
        let key = m.get("key").and_then(Value::as_str);
        let next = m.get("next_step").and_then(Value::as_array);
        let (Some(key), Some(next)) = (key, next) else {
            return Err(malformed(
                path,
                "a `models` entry without `key` or `next_step`",
            ));
        };
        for n in next {
            let patch = n.get("patch").and_then(Value::as_u64);
            let vrmse = n.pointer("/vrmse/mean").and_then(Value::as_f64);
            let (Some(patch), Some(vrmse)) = (patch, vrmse) else {
                return Err(malformed(
                    path,
                    format!("`{key}`: a `next_step` entry without `patch` or `vrmse.mean`"),
                ));
            };
            let per_step: Vec<f64> = m
                .get("rollouts")
                .and_then(Value::as_array)
                .and_then(|r| {
                    r.iter().find(|s| {
                        s.get("schedule").and_then(Value::as_str) == Some(&format!("p{patch}"))
                    })
                })
                .and_then(|s| s.get("vrmse_per_step"))
                .and_then(Value::as_array)
                .map(|steps| {
                    steps
                        .iter()
                        .filter_map(|v| v.get("mean").and_then(Value::as_f64))
                        .collect()
                })
                .unwrap_or_default();
            let window = |first: usize, last: usize| {
                let v: Vec<f64> = per_step
                    .iter()
                    .copied()
                    .skip(first - 1)
                    .take(last + 1 - first)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            rows.push(LeaderboardRow {
                study: study.into(),
                model: format!("{key} p{patch}"),
                dataset: dataset.clone(),
                params: m.get("params").and_then(Value::as_u64).map(|p| p as usize),
                train_seconds: m.pointer("/train_seconds/mean").and_then(Value::as_f64),
                steps: m.get("steps").and_then(Value::as_u64).map(|s| s as usize),
                seeds: n
                    .pointer("/vrmse/values")
                    .and_then(Value::as_array)
                    .map_or(1, Vec::len),
                vrmse_next: vrmse,
                vrmse_next_std: n.pointer("/vrmse/std").and_then(Value::as_f64),
                vrmse_rollout: [window(1, 1), window(2, 8), window(9, 26)],
            });
        }
    }
    Ok(rows)
}

/// The target datasets and the total parameter count from the pretraining study's
/// `runs.json`, when it is there and readable (it only adds detail).
fn pretraining_runs(path: &Path) -> (Option<String>, Option<usize>) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return (None, None);
    };
    let Ok(value) = serde_json::from_str::<Value>(&text) else {
        return (None, None);
    };
    let datasets = value
        .pointer("/config/target_datasets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("+")
        });
    let params = value
        .pointer("/runs/0/total_params")
        .and_then(Value::as_u64)
        .map(|p| p as usize);
    (datasets, params)
}

impl Leaderboard {
    /// `own` rows plus the rows of every sibling study found beside `out` (its parent
    /// folder's `reproduce/`, `compute-adaptive/`, `physix/`).
    ///
    /// # Errors
    /// A sibling `results.json` that exists but is malformed: [`Error::Format`] naming it.
    pub fn collect(out: &Path, own: Vec<LeaderboardRow>) -> Result<Self> {
        let parent = out
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."));
        let mut rows = own;
        let mut joined = Vec::new();
        let mut absent = Vec::new();
        let here = out.canonicalize().ok();
        for (folder, study) in SIBLING_STUDIES {
            let dir = parent.join(folder);
            if here.as_ref() == Some(&dir) {
                continue;
            }
            let path = dir.join("results.json");
            if !path.is_file() {
                absent.push(study.to_string());
                continue;
            }
            rows.extend(read_study(&path, study)?);
            joined.push(path);
        }
        rows.sort_by(|a, b| {
            a.dataset
                .cmp(&b.dataset)
                .then(a.vrmse_next.total_cmp(&b.vrmse_next))
        });
        Ok(Leaderboard {
            rows,
            joined,
            absent,
        })
    }

    /// The leaderboard as a [`Table`].
    pub fn to_table(&self) -> Table {
        let mut caption =
            "Leaderboard: next-frame and rollout VRMSE on the same data (lower is better)"
                .to_string();
        if !self.absent.is_empty() {
            caption.push_str(&format!("; not run yet: {}", self.absent.join(", ")));
        }
        let mut t = Table::new([
            "model (study)",
            "dataset",
            "params",
            "train s",
            "VRMSE next",
            "rollout 1",
            "rollout 2-8",
            "rollout 9-26",
        ])
        .with_caption(caption)
        .with_align(2..8, Align::Right);
        for r in &self.rows {
            let _ = t.push_row(r.cells());
        }
        t
    }

    /// Writes `leaderboard.md`, `leaderboard.json` and (with `plot`) `leaderboard.svg`.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        write("leaderboard.md", self.to_table().to_markdown())?;
        write("leaderboard.json", serde_json::to_string_pretty(self)?)?;
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            self.figure().save_svg(dir.join("leaderboard.svg"))?;
        }
        Ok(())
    }

    /// Rollout VRMSE per window (1, 2–8, 9–26), one line per model (mean over datasets).
    #[cfg(feature = "plot")]
    pub fn figure(&self) -> crate::plot::CurvesFigure {
        use crate::plot::{CurvePanel, CurveSeries, CurvesFigure};
        let mut models: Vec<String> = Vec::new();
        for r in &self.rows {
            let key = format!("{} ({})", r.model, r.study);
            if !models.contains(&key) {
                models.push(key);
            }
        }
        let mut panel = CurvePanel::new(
            "Rollout VRMSE over The Well's windows (mean over datasets)",
            "window (1: step 1, 2: steps 2-8, 3: steps 9-26)",
            "VRMSE",
        );
        for m in models {
            let points: Vec<(f64, f64)> = (0..3)
                .filter_map(|w| {
                    let v: Vec<f64> = self
                        .rows
                        .iter()
                        .filter(|r| format!("{} ({})", r.model, r.study) == m)
                        .filter_map(|r| r.vrmse_rollout[w])
                        .collect();
                    (!v.is_empty())
                        .then(|| ((w + 1) as f64, v.iter().sum::<f64>() / v.len() as f64))
                })
                .collect();
            if !points.is_empty() {
                panel = panel.with_series(CurveSeries::new(m, points));
            }
        }
        CurvesFigure::new(vec![panel]).with_title("Leaderboard")
    }
}
