//! What the pretraining grid produced: every run's scores, their mean and spread over seeds
//! per configuration (Table 5, Table 4), the learning curves (Figure 2) and the rollout
//! horizon curves (Figure 3), as typed values that render in evcxr and save to JSON and SVG.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{Arm, ExperimentConfig, Pretraining};
use super::provenance::Provenance;
use crate::metrics::TableRow;
use crate::report::{Align, Table, group_digits};
use crate::train::History;
use crate::{Error, Result};

/// A shaded band point `(x, low, high)`.
type Band = (f64, f64, f64);
/// Reads one metric off a curve point.
#[cfg(feature = "plot")]
type Metric<'a> = &'a dyn Fn(&CurvePoint) -> f64;

/// Mean and spread of one metric over seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedStat {
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation over seeds (0 for one seed).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Every seed's value, in seed order.
    pub values: Vec<f64>,
}

impl SeedStat {
    /// Statistics of `values`.
    pub fn of(values: Vec<f64>) -> Self {
        let n = values.len().max(1) as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        SeedStat {
            mean,
            std: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            values,
        }
    }

    fn cell(&self) -> String {
        format!("{:.4} ± {:.4}", self.mean, self.std)
    }
}

/// Scores at one point of rollout training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Rollout training step.
    pub step: usize,
    /// Next-frame VRMSE.
    pub vrmse: f64,
    /// Next-frame NEPS, low band.
    pub neps_low: f64,
    /// Next-frame NEPS, mid band.
    pub neps_mid: f64,
    /// Next-frame NEPS, high band.
    pub neps_high: f64,
    /// Rollout VRMSE at step 1, 2, steps 3–6 and 7–18 (Figure 3).
    pub horizons: [f64; 4],
}

/// One rollout training run: one configuration, one seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// The configuration.
    pub arm: Arm,
    /// The seed.
    pub seed: u64,
    /// Table 5's scores after the last step (mean and spread over the validation subsets).
    pub table5: TableRow,
    /// Rollout VRMSE per horizon after the last step.
    pub horizons: [f64; 4],
    /// The curves (step 0 first).
    pub curve: Vec<CurvePoint>,
    /// Seconds spent in optimiser steps (validation excluded).
    pub train_seconds: f64,
    /// Optimiser steps taken.
    pub steps: usize,
    /// Trainable parameters.
    pub trainable_params: usize,
    /// All parameters.
    pub total_params: usize,
    /// Training losses and learning rates.
    pub history: History,
    /// Harmonic-spike score of its rollouts at the tokeniser's spatial compression
    /// ([`spike_score`](super::spike_score)); absent in results written before it existed.
    #[serde(default)]
    pub spike_score: Option<f64>,
}

/// One tokeniser pretraining.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PretrainResult {
    /// In-domain or out-of-domain.
    pub pretraining: Pretraining,
    /// The seed of its weights, compression draws and data order (the rollout runs of the
    /// same seed start from it).
    #[serde(default)]
    pub seed: u64,
    /// Datasets it read.
    pub datasets: Vec<String>,
    /// Seconds spent in optimiser steps.
    pub train_seconds: f64,
    /// Autoencoding VRMSE and NEPS on its validation data at the end.
    pub history: History,
}

/// One configuration's scores over seeds: a row of Table 5 (and of Table 4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    /// Next-frame VRMSE.
    pub vrmse: SeedStat,
    /// NEPS, low band.
    pub neps_low: SeedStat,
    /// NEPS, mid band.
    pub neps_mid: SeedStat,
    /// NEPS, high band.
    pub neps_high: SeedStat,
    /// Rollout VRMSE at step 1.
    pub h1: SeedStat,
    /// Rollout VRMSE at step 2.
    pub h2: SeedStat,
    /// Rollout VRMSE over steps 3–6.
    pub h3_6: SeedStat,
    /// Rollout VRMSE over steps 7–18.
    pub h7_18: SeedStat,
    /// Table 4: seconds of rollout training per 2,100 steps.
    pub seconds_per_2100_steps: SeedStat,
    /// Harmonic-spike score of the rollouts (absent when a run lacks it).
    #[serde(default)]
    pub spike_score: Option<SeedStat>,
}

/// Everything the grid produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExperimentResults {
    /// The settings it ran with.
    pub config: ExperimentConfig,
    /// The pretrainings.
    pub pretraining: Vec<PretrainResult>,
    /// Every rollout run.
    pub runs: Vec<RunResult>,
    /// Seconds for the whole grid.
    pub total_seconds: f64,
    /// The code and machine it ran on.
    #[serde(default)]
    pub provenance: Provenance,
}

impl ExperimentResults {
    /// The runs of one configuration, in seed order.
    pub fn runs_of(&self, arm: &Arm) -> Vec<&RunResult> {
        self.runs.iter().filter(|r| &r.arm == arm).collect()
    }

    /// The summary of each configuration, in the config's order.
    pub fn summaries(&self) -> Vec<(Arm, ArmSummary)> {
        self.config
            .arms
            .iter()
            .filter(|a| !self.runs_of(a).is_empty())
            .map(|arm| {
                let runs = self.runs_of(arm);
                let stat = |f: &dyn Fn(&RunResult) -> f64| {
                    SeedStat::of(runs.iter().map(|r| f(r)).collect())
                };
                (
                    arm.clone(),
                    ArmSummary {
                        vrmse: stat(&|r| r.table5.vrmse.mean),
                        neps_low: stat(&|r| r.table5.neps_low.mean),
                        neps_mid: stat(&|r| r.table5.neps_mid.mean),
                        neps_high: stat(&|r| r.table5.neps_high.mean),
                        h1: stat(&|r| r.horizons[0]),
                        h2: stat(&|r| r.horizons[1]),
                        h3_6: stat(&|r| r.horizons[2]),
                        h7_18: stat(&|r| r.horizons[3]),
                        seconds_per_2100_steps: stat(&|r| {
                            r.train_seconds / r.steps.max(1) as f64 * 2100.0
                        }),
                        spike_score: runs
                            .iter()
                            .map(|r| r.spike_score)
                            .collect::<Option<Vec<_>>>()
                            .map(SeedStat::of),
                    },
                )
            })
            .collect()
    }

    /// `results.json`: for each configuration key, the mean and spread over seeds of every
    /// Table 5 metric and rollout horizon; under `run`, the [`Provenance`] (commit, threads,
    /// CPU), the wall time and the full config.
    pub fn results_json(&self) -> Result<serde_json::Value> {
        let mut map = serde_json::Map::new();
        for (arm, s) in self.summaries() {
            map.insert(arm.key(), serde_json::to_value(s)?);
        }
        map.insert(
            "run".into(),
            serde_json::json!({
                "provenance": self.provenance,
                "total_seconds": self.total_seconds,
                "config": self.config,
            }),
        );
        Ok(serde_json::Value::Object(map))
    }

    /// A table of one row per configuration, its value columns right-aligned.
    fn table(caption: String, columns: &[&str], rows: Vec<(String, Vec<String>)>) -> Table {
        let mut table = Table::new(std::iter::once("configuration").chain(columns.iter().copied()))
            .with_caption(caption)
            .with_align(1..=columns.len(), Align::Right);
        for (name, cells) in rows {
            // one cell per column by construction
            let _ = table.push_row(std::iter::once(name).chain(cells));
        }
        table
    }

    /// Table 5: next-frame VRMSE and NEPS per band after the last step.
    pub fn table5(&self) -> Table {
        let rows = self
            .summaries()
            .into_iter()
            .map(|(a, s)| {
                (
                    a.key(),
                    vec![
                        s.vrmse.cell(),
                        s.neps_low.cell(),
                        s.neps_mid.cell(),
                        s.neps_high.cell(),
                    ],
                )
            })
            .collect();
        Self::table(
            format!(
                "Table 5: next-frame prediction after {} rollout steps (mean ± std over {} seeds; each seed the mean over {} subsets of {} validation windows)",
                self.config.rollout.steps,
                self.config.seeds.len(),
                self.config.protocol.n_subsets,
                self.config.protocol.subset_size
            ),
            &["VRMSE", "NEPS low", "NEPS mid", "NEPS high"],
            rows,
        )
    }

    /// Rollout VRMSE per horizon after the last step (Figure 3's end points).
    pub fn horizon_table(&self) -> Table {
        let rows = self
            .summaries()
            .into_iter()
            .map(|(a, s)| {
                (
                    a.key(),
                    vec![
                        s.h1.cell(),
                        s.h2.cell(),
                        s.h3_6.cell(),
                        s.h7_18.cell(),
                        s.spike_score.map_or_else(|| "-".into(), |s| s.cell()),
                    ],
                )
            })
            .collect();
        Self::table(
            format!(
                "Rollout VRMSE per horizon after {} steps ({} windows per validation dataset), and the harmonic-spike score of the rollouts at the spatial compression's harmonics (log10 power at m·N/{} over the local baseline; 0 = no spike)",
                self.config.rollout.steps,
                self.config.horizon_windows,
                self.config.model.compression.space()
            ),
            &["step 1", "step 2", "steps 3-6", "steps 7-18", "spike score"],
            rows,
        )
    }

    /// Table 4: wall-clock seconds per 2,100 rollout training steps on this machine, and
    /// the trainable parameters.
    pub fn table4(&self) -> Table {
        let mut rows: Vec<(String, Vec<String>)> = self
            .summaries()
            .into_iter()
            .map(|(a, s)| {
                let run = self.runs_of(&a)[0];
                (
                    a.key(),
                    vec![
                        format!(
                            "{:.1} ± {:.1}",
                            s.seconds_per_2100_steps.mean, s.seconds_per_2100_steps.std
                        ),
                        format!(
                            "{} / {}",
                            group_digits(run.trainable_params),
                            group_digits(run.total_params)
                        ),
                    ],
                )
            })
            .collect();
        for p in &self.pretraining {
            let steps = p.history.steps.len().max(1) as f64;
            rows.push((
                format!("pretraining {} seed {}", p.pretraining.key(), p.seed),
                vec![
                    format!("{:.1}", p.train_seconds / steps * 2100.0),
                    "tokeniser".into(),
                ],
            ));
        }
        Self::table(
            "Table 4: wall-clock seconds per 2,100 training steps (optimiser steps only)".into(),
            &["seconds / 2100 steps", "trainable / total parameters"],
            rows,
        )
    }

    fn mean_curves(
        &self,
        arm: &Arm,
        f: &dyn Fn(&CurvePoint) -> f64,
    ) -> (Vec<(f64, f64)>, Vec<Band>) {
        let runs = self.runs_of(arm);
        let n = runs.iter().map(|r| r.curve.len()).min().unwrap_or(0);
        let mut line = Vec::new();
        let mut band = Vec::new();
        for i in 0..n {
            let step = runs[0].curve[i].step as f64;
            let s = SeedStat::of(runs.iter().map(|r| f(&r.curve[i])).collect());
            line.push((step, s.mean));
            band.push((step, s.min, s.max));
        }
        (line, band)
    }

    #[cfg(feature = "plot")]
    fn curve_figure(&self, title: &str, panels: &[(&str, Metric)]) -> crate::plot::CurvesFigure {
        use crate::plot::{CurvePanel, CurveSeries, CurvesFigure};
        let panels = panels
            .iter()
            .map(|(name, f)| {
                let mut p = CurvePanel::new(*name, "rollout training step", *name);
                for arm in &self.config.arms {
                    let (line, band) = self.mean_curves(arm, *f);
                    if !line.is_empty() {
                        p = p.with_series(CurveSeries::new(arm.key(), line).with_band(band));
                    }
                }
                p
            })
            .collect();
        CurvesFigure::new(panels).with_title(title)
    }

    /// Figure 2: next-frame VRMSE and NEPS per band on the validation set against rollout
    /// training steps, one line per configuration (mean over seeds, shaded min–max).
    #[cfg(feature = "plot")]
    pub fn figure2(&self) -> crate::plot::CurvesFigure {
        self.curve_figure(
            "Figure 2: next-frame validation metrics (mean over seeds, band: min-max)",
            &[
                ("VRMSE", &|p| p.vrmse),
                ("NEPS low", &|p| p.neps_low),
                ("NEPS mid", &|p| p.neps_mid),
                ("NEPS high", &|p| p.neps_high),
            ],
        )
    }

    /// Figure 3: rollout VRMSE at steps 1, 2, 3–6 and 7–18 against training steps.
    #[cfg(feature = "plot")]
    pub fn figure3(&self) -> crate::plot::CurvesFigure {
        self.curve_figure(
            "Figure 3: autoregressive rollout VRMSE per horizon (mean over seeds, band: min-max)",
            &[
                ("step 1", &|p| p.horizons[0]),
                ("step 2", &|p| p.horizons[1]),
                ("steps 3-6", &|p| p.horizons[2]),
                ("steps 7-18", &|p| p.horizons[3]),
            ],
        )
    }

    /// Writes `results.json` (per-configuration summaries), `runs.json` (everything),
    /// `table5.md`, and, with the `plot` feature, `figure2.svg` and `figure3.svg` to `dir`.
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
        write("runs.json", serde_json::to_string_pretty(self)?)?;
        write(
            "tables.md",
            format!(
                "{}\n{}\n{}",
                self.table5().to_markdown(),
                self.horizon_table().to_markdown(),
                self.table4().to_markdown()
            ),
        )?;
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            self.figure2().save_svg(dir.join("figure2.svg"))?;
            self.figure3().save_svg(dir.join("figure3.svg"))?;
        }
        Ok(())
    }

    /// Reads a `runs.json` written by [`ExperimentResults::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join("runs.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Shows the tables and both figures inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        let mut html = format!(
            "{}{}{}",
            self.table5().to_html(),
            self.horizon_table().to_html(),
            self.table4().to_html()
        );
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            for fig in [self.figure2(), self.figure3()] {
                if let Ok(svg) = fig.to_svg() {
                    html.push_str(&svg);
                }
            }
        }
        crate::report::evcxr_html(&html);
    }
}

impl fmt::Display for ExperimentResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}",
            self.table5(),
            self.horizon_table(),
            self.table4()
        )
    }
}
