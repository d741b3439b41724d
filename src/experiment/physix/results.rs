//! What the PhysiX study measured: per dataset, the tokeniser's reconstruction and
//! codebook usage, and per seed next-frame and rollout VRMSE at The Well's windows with
//! and without refinement; the tables, Figure 3 and `results.json`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::PhysixStudyConfig;
use crate::experiment::SeedStat;
use crate::experiment::benchmark::LeaderboardRow;
use crate::physix::CodebookUsage;
use crate::report::Table;
use crate::{Error, Result};

/// The Well's rollout windows: steps 1, 2–8, 9–26 (1-based, inclusive).
pub const WINDOWS: [(usize, usize); 3] = [(1, 1), (2, 8), (9, 26)];

/// The universal tokeniser on one dataset's test windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokeniserScore {
    /// Dataset.
    pub dataset: String,
    /// Reconstruction VRMSE (mean over windows, frames and fields).
    pub reconstruction_vrmse: f64,
    /// Codebook usage of the test windows' tokens.
    pub usage: CodebookUsage,
}

/// One dataset, one seed: scores without (`[0]`) and with (`[1]`) refinement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRun {
    /// Dataset.
    pub dataset: String,
    /// Seed of the AR model and refiner.
    pub seed: u64,
    /// Next-frame VRMSE `[AR only, AR + refinement]`.
    pub next_frame: [f64; 2],
    /// Rollout VRMSE per window of [`WINDOWS`] `[AR only, AR + refinement]`.
    pub windows: [[f64; 3]; 2],
    /// Rollout VRMSE per step `[AR only, AR + refinement]`.
    pub per_step: [Vec<f64>; 2],
    /// Refinement training pairs' MSE before (coarse) and after refinement.
    pub refiner_train_mse: [f64; 2],
    /// Refiner training seconds.
    pub refiner_seconds: f64,
}

/// The continuous tokeniser + processor on one dataset, one seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuousRun {
    /// Dataset.
    pub dataset: String,
    /// Seed of the rollout training.
    pub seed: u64,
    /// Next-frame VRMSE.
    pub next_frame: f64,
    /// Rollout VRMSE per window of [`WINDOWS`].
    pub windows: [f64; 3],
    /// Rollout VRMSE per step.
    pub per_step: Vec<f64>,
}

/// The main study's continuous tokeniser + processor, on the same datasets and windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuousResults {
    /// Tokeniser pretraining seconds.
    pub pretrain_seconds: f64,
    /// Rollout training seconds per seed.
    pub rollout_seconds: Vec<f64>,
    /// Reconstruction VRMSE of the pretrained tokeniser per dataset (the context frames
    /// of the windows the discrete tokeniser is scored on).
    pub reconstruction: Vec<(String, f64)>,
    /// Every dataset and seed.
    pub runs: Vec<ContinuousRun>,
}

/// Everything the study measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysixResults {
    /// The settings it ran with.
    pub config: PhysixStudyConfig,
    /// Tokeniser training seconds.
    pub tokeniser_seconds: f64,
    /// AR training seconds per seed.
    pub ar_seconds: Vec<f64>,
    /// The tokeniser on each dataset.
    pub tokeniser: Vec<TokeniserScore>,
    /// Every dataset and seed.
    pub runs: Vec<DatasetRun>,
    /// The continuous side of the comparison, when the config has one.
    #[serde(default)]
    pub continuous: Option<ContinuousResults>,
    /// Wall time of the whole study.
    pub total_seconds: f64,
    /// Rayon threads.
    pub threads: usize,
}

/// Mean ± spread of one dataset's runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// Dataset.
    pub dataset: String,
    /// Tokeniser reconstruction VRMSE.
    pub reconstruction_vrmse: f64,
    /// Codebook usage (fraction) and perplexity.
    pub codebook_usage: f64,
    /// Codebook perplexity.
    pub codebook_perplexity: f64,
    /// Next-frame VRMSE over seeds `[AR only, AR + refinement]`.
    pub next_frame: [SeedStat; 2],
    /// Rollout VRMSE over seeds per window `[AR only, AR + refinement][window]`.
    pub windows: [[SeedStat; 3]; 2],
    /// The continuous tokeniser + processor, when run: its tokeniser's reconstruction
    /// VRMSE, next-frame and per-window rollout VRMSE over seeds.
    pub continuous: Option<ContinuousSummary>,
}

/// The continuous side's mean ± spread on one dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuousSummary {
    /// Tokeniser reconstruction VRMSE.
    pub reconstruction_vrmse: f64,
    /// Next-frame VRMSE over seeds.
    pub next_frame: SeedStat,
    /// Rollout VRMSE over seeds per window.
    pub windows: [SeedStat; 3],
}

fn pm(s: &SeedStat) -> String {
    format!("{:.4} ± {:.4}", s.mean, s.std)
}

impl PhysixResults {
    /// Per-dataset summaries over seeds, in the config's dataset order.
    pub fn summaries(&self) -> Vec<DatasetSummary> {
        self.tokeniser
            .iter()
            .map(|t| {
                let runs: Vec<&DatasetRun> = self
                    .runs
                    .iter()
                    .filter(|r| r.dataset == t.dataset)
                    .collect();
                let stat = |f: &dyn Fn(&DatasetRun) -> f64| {
                    SeedStat::of(runs.iter().map(|r| f(r)).collect())
                };
                DatasetSummary {
                    dataset: t.dataset.clone(),
                    reconstruction_vrmse: t.reconstruction_vrmse,
                    codebook_usage: t.usage.fraction,
                    codebook_perplexity: t.usage.perplexity,
                    next_frame: std::array::from_fn(|k| stat(&|r| r.next_frame[k])),
                    windows: std::array::from_fn(|k| {
                        std::array::from_fn(|w| stat(&|r| r.windows[k][w]))
                    }),
                    continuous: self.continuous.as_ref().map(|c| {
                        let runs: Vec<&ContinuousRun> =
                            c.runs.iter().filter(|r| r.dataset == t.dataset).collect();
                        let stat = |f: &dyn Fn(&ContinuousRun) -> f64| {
                            SeedStat::of(runs.iter().map(|r| f(r)).collect())
                        };
                        ContinuousSummary {
                            reconstruction_vrmse: c
                                .reconstruction
                                .iter()
                                .find(|(d, _)| *d == t.dataset)
                                .map_or(f64::NAN, |(_, v)| *v),
                            next_frame: stat(&|r| r.next_frame),
                            windows: std::array::from_fn(|w| stat(&|r| r.windows[w])),
                        }
                    }),
                }
            })
            .collect()
    }

    /// The main table: per dataset and arm (PhysiX's AR model alone and refined, and the
    /// main study's continuous tokeniser + processor when run), mean ± std over seeds.
    pub fn table(&self) -> Table {
        let mut t = Table::new([
            "dataset",
            "model",
            "tokeniser VRMSE",
            "codes used",
            "next frame",
            "rollout 1",
            "rollout 2-8",
            "rollout 9-26",
        ])
        .with_caption(format!(
            "PhysiX from scratch ({} preset): VRMSE, mean ± std over {} seeds",
            self.config.preset,
            self.config.seeds.len()
        ));
        for s in self.summaries() {
            for (k, arm) in ["AR only", "AR + refinement"].into_iter().enumerate() {
                // the widths match the header
                let _ = t.push_row([
                    s.dataset.clone(),
                    arm.to_string(),
                    format!("{:.4}", s.reconstruction_vrmse),
                    format!(
                        "{:.1}% (ppl {:.0})",
                        100.0 * s.codebook_usage,
                        s.codebook_perplexity
                    ),
                    pm(&s.next_frame[k]),
                    pm(&s.windows[k][0]),
                    pm(&s.windows[k][1]),
                    pm(&s.windows[k][2]),
                ]);
            }
            if let Some(c) = &s.continuous {
                let _ = t.push_row([
                    s.dataset.clone(),
                    "continuous (main study)".to_string(),
                    format!("{:.4}", c.reconstruction_vrmse),
                    "continuous".to_string(),
                    pm(&c.next_frame),
                    pm(&c.windows[0]),
                    pm(&c.windows[1]),
                    pm(&c.windows[2]),
                ]);
            }
        }
        t
    }

    /// Wall-clock seconds of each stage.
    pub fn timing_table(&self) -> Table {
        let mut t = Table::new(["stage", "seconds"]).with_caption(format!(
            "Wall time on {} threads (total {:.0} s)",
            self.threads, self.total_seconds
        ));
        let _ = t.push_row([
            "tokeniser".to_string(),
            format!("{:.0}", self.tokeniser_seconds),
        ]);
        for (seed, s) in self.config.seeds.iter().zip(&self.ar_seconds) {
            let _ = t.push_row([format!("AR model, seed {seed}"), format!("{s:.0}")]);
        }
        let refiners: f64 = self.runs.iter().map(|r| r.refiner_seconds).sum();
        let _ = t.push_row(["refiners (all)".to_string(), format!("{refiners:.0}")]);
        if let Some(c) = &self.continuous {
            let _ = t.push_row([
                "continuous tokeniser pretraining".to_string(),
                format!("{:.0}", c.pretrain_seconds),
            ]);
            for (seed, s) in self.config.seeds.iter().zip(&c.rollout_seconds) {
                let _ = t.push_row([
                    format!("continuous rollout model, seed {seed}"),
                    format!("{s:.0}"),
                ]);
            }
        }
        t
    }

    /// Figure 3: rollout VRMSE per step with and without refinement (and of the continuous
    /// tokeniser + processor, when run), a panel per dataset (mean over seeds; band: min–max).
    #[cfg(feature = "plot")]
    pub fn figure3(&self) -> crate::plot::CurvesFigure {
        use crate::plot::{CurvePanel, CurveSeries, CurvesFigure};
        let panels = self
            .tokeniser
            .iter()
            .map(|t| {
                let runs: Vec<&DatasetRun> = self
                    .runs
                    .iter()
                    .filter(|r| r.dataset == t.dataset)
                    .collect();
                let mut panel = CurvePanel::new(t.dataset.clone(), "rollout step", "VRMSE");
                for (k, name) in ["AR only", "AR + refinement"].into_iter().enumerate() {
                    let n = runs.iter().map(|r| r.per_step[k].len()).min().unwrap_or(0);
                    let stats: Vec<SeedStat> = (0..n)
                        .map(|i| SeedStat::of(runs.iter().map(|r| r.per_step[k][i]).collect()))
                        .collect();
                    let points = stats
                        .iter()
                        .enumerate()
                        .map(|(i, s)| ((i + 1) as f64, s.mean))
                        .collect();
                    let band = stats
                        .iter()
                        .enumerate()
                        .map(|(i, s)| ((i + 1) as f64, s.min, s.max))
                        .collect();
                    panel = panel.with_series(CurveSeries::new(name, points).with_band(band));
                }
                if let Some(c) = &self.continuous {
                    let runs: Vec<&ContinuousRun> =
                        c.runs.iter().filter(|r| r.dataset == t.dataset).collect();
                    let n = runs.iter().map(|r| r.per_step.len()).min().unwrap_or(0);
                    let stats: Vec<SeedStat> = (0..n)
                        .map(|i| SeedStat::of(runs.iter().map(|r| r.per_step[i]).collect()))
                        .collect();
                    let points = stats
                        .iter()
                        .enumerate()
                        .map(|(i, s)| ((i + 1) as f64, s.mean))
                        .collect();
                    let band = stats
                        .iter()
                        .enumerate()
                        .map(|(i, s)| ((i + 1) as f64, s.min, s.max))
                        .collect();
                    panel = panel.with_series(
                        CurveSeries::new("continuous (main study)", points).with_band(band),
                    );
                }
                panel
            })
            .collect();
        CurvesFigure::new(panels)
            .with_title("Figure 3: PhysiX rollouts with and without refinement (from scratch), and the continuous tokeniser + processor")
    }

    /// `results.json`: the settings, the per-dataset summaries, every run and the timings.
    pub fn results_json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "study": "physix",
            "preset": self.config.preset,
            "threads": self.threads,
            "total_seconds": self.total_seconds,
            "tokeniser_seconds": self.tokeniser_seconds,
            "ar_seconds": self.ar_seconds,
            "windows": WINDOWS,
            "datasets": serde_json::to_value(self.summaries())?,
            "tokeniser": serde_json::to_value(&self.tokeniser)?,
            "runs": serde_json::to_value(&self.runs)?,
            "continuous": serde_json::to_value(&self.continuous)?,
            "config": serde_json::to_value(&self.config)?,
            "leaderboard": serde_json::to_value(self.leaderboard_rows())?,
        }))
    }

    /// The leaderboard's rows: per dataset, the AR model alone and with refinement.
    pub fn leaderboard_rows(&self) -> Vec<LeaderboardRow> {
        let mut rows = Vec::new();
        for s in self.summaries() {
            for (i, model) in ["physix_ar", "physix_refined"].into_iter().enumerate() {
                rows.push(LeaderboardRow {
                    study: "physix".into(),
                    model: model.into(),
                    dataset: s.dataset.clone(),
                    params: None,
                    train_seconds: Some(self.total_seconds),
                    steps: None,
                    seeds: s.next_frame[i].values.len(),
                    vrmse_next: s.next_frame[i].mean,
                    vrmse_next_std: Some(s.next_frame[i].std),
                    vrmse_rollout: [
                        Some(s.windows[i][0].mean),
                        Some(s.windows[i][1].mean),
                        Some(s.windows[i][2].mean),
                    ],
                });
            }
        }
        rows
    }

    /// Writes `results.json`, `tables.md` and (with `plot`) `figure3.svg` to `dir`.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        write(
            "results.json",
            serde_json::to_string_pretty(&self.results_json()?)?,
        )?;
        write(
            "tables.md",
            format!(
                "{}\n{}",
                self.table().to_markdown(),
                self.timing_table().to_markdown()
            ),
        )?;
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            self.figure3().save_svg(dir.join("figure3.svg"))?;
        }
        Ok(())
    }

    /// Shows the tables and Figure 3 in a notebook.
    pub fn evcxr_display(&self) {
        #[allow(unused_mut)]
        let mut html = format!(
            "{}{}",
            self.table().to_html(),
            self.timing_table().to_html()
        );
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            if let Ok(svg) = self.figure3().to_svg() {
                html.push_str(&svg);
            }
        }
        crate::report::evcxr_html(&html);
    }
}

impl std::fmt::Display for PhysixResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n{}", self.table(), self.timing_table())
    }
}
