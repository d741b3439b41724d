//! Results of the compute-adaptive study: typed per-model scores, their tables, Figure 3
//! (next-step VRMSE against tokens) and Figure 2 (residual spectra with the harmonics).

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{ComputeAdaptiveConfig, StudyModel};
use crate::experiment::SeedStat;
use crate::report::{Table, group_digits};
use crate::{Error, Result};

/// Next-step VRMSE of one model at one patch size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeScore {
    /// Patch size (CKM kernel and stride, CSM stride).
    pub patch: usize,
    /// Tokens per frame.
    pub tokens: usize,
    /// Next-step VRMSE over seeds.
    pub vrmse: SeedStat,
}

/// A rollout of one model under one schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutScore {
    /// `p{P}` (fixed size) or `cyclic`.
    pub schedule: String,
    /// VRMSE per rollout step (step 1 first), over seeds.
    pub vrmse_per_step: Vec<SeedStat>,
    /// Harmonic-spike score (mean over fields and steps) over seeds.
    pub spike_score: SeedStat,
    /// Spike score per step (mean over seeds and fields).
    pub spike_per_step: Vec<f64>,
    /// Residual power at the last step (mean over fields and seeds), for Figure 2.
    pub last_spectrum: Vec<f64>,
    /// Harmonic shells scored.
    pub harmonics: Vec<usize>,
}

/// Everything measured for one model family over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelResult {
    /// `ckm`, `csm`, `fixed_p{P}`, `ckm_adjoint`.
    pub key: String,
    /// The model.
    pub model: StudyModel,
    /// Parameters.
    pub params: usize,
    /// Training steps per seed.
    pub steps: usize,
    /// Training seconds (optimiser steps) over seeds.
    pub train_seconds: SeedStat,
    /// Next-step VRMSE per patch size.
    pub next_step: Vec<SizeScore>,
    /// Rollouts per schedule.
    pub rollouts: Vec<RolloutScore>,
}

/// The study's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeAdaptiveResults {
    /// The configuration.
    pub config: ComputeAdaptiveConfig,
    /// The git commit it ran at ([`crate::experiment::Provenance`]; `unknown` outside a checkout).
    pub commit: String,
    /// Rayon threads.
    pub threads: usize,
    /// Shell centres (radians per cell) of the spectra.
    pub k: Vec<f64>,
    /// Per model.
    pub models: Vec<ModelResult>,
    /// Wall time of the whole study (data, training, evaluation), seconds.
    pub total_seconds: f64,
}

fn fmt_stat(s: &SeedStat) -> String {
    format!("{:.4} ± {:.4}", s.mean, s.std)
}

impl ComputeAdaptiveResults {
    /// Figure 3 / Table 1 as a table: next-step VRMSE (mean ± std over seeds) per model and
    /// token count.
    pub fn table_tokens(&self) -> Table {
        let mut tokens: Vec<usize> = self
            .models
            .iter()
            .flat_map(|m| m.next_step.iter().map(|s| s.tokens))
            .collect();
        tokens.sort_unstable_by(|a, b| b.cmp(a));
        tokens.dedup();
        let fixed = self
            .models
            .iter()
            .any(|m| matches!(m.model, StudyModel::Fixed(_)));
        let adaptive: Vec<&ModelResult> = self
            .models
            .iter()
            .filter(|m| m.model.is_adaptive())
            .collect();
        let mut header = vec!["tokens".to_string()];
        header.extend(adaptive.iter().map(|m| m.key.clone()));
        if fixed {
            header.push("fixed p.s.".into());
        }
        let mut table = Table::new(header).with_caption(format!(
            "Next-step validation VRMSE on {} against tokens per frame (mean ± std over {} seeds; Table 1 / Figure 3)",
            self.config.dataset,
            self.config.seeds.len()
        ));
        for t in tokens {
            let mut row = vec![group_digits(t)];
            for m in &adaptive {
                row.push(
                    m.next_step
                        .iter()
                        .find(|s| s.tokens == t)
                        .map_or("–".into(), |s| fmt_stat(&s.vrmse)),
                );
            }
            if fixed {
                let cell = self
                    .models
                    .iter()
                    .filter(|m| !m.model.is_adaptive())
                    .flat_map(|m| m.next_step.iter())
                    .find(|s| s.tokens == t)
                    .map_or("–".into(), |s| {
                        format!("{} (p{})", fmt_stat(&s.vrmse), s.patch)
                    });
                row.push(cell);
            }
            let _ = table.push_row(row);
        }
        table
    }

    /// Rollout VRMSE at a few steps and the spike score, per model and schedule.
    pub fn table_rollouts(&self) -> Table {
        let n = self.config.rollout_steps;
        let picks: Vec<usize> =
            [1, n / 4, n / 2, n]
                .into_iter()
                .filter(|&s| s >= 1)
                .fold(Vec::new(), |mut v, s| {
                    if !v.contains(&s) {
                        v.push(s);
                    }
                    v
                });
        let mut header = vec!["model".to_string(), "schedule".into()];
        header.extend(picks.iter().map(|s| format!("VRMSE step {s}")));
        header.push("spike score".into());
        let mut table = Table::new(header).with_caption(
            "Rollout VRMSE per step and harmonic-spike score (log10 power at m·N/p over the local baseline; 0 = no spike), mean ± std over seeds",
        );
        for m in &self.models {
            for r in &m.rollouts {
                let mut row = vec![m.key.clone(), r.schedule.clone()];
                row.extend(
                    picks
                        .iter()
                        .map(|&s| r.vrmse_per_step.get(s - 1).map_or("–".into(), fmt_stat)),
                );
                row.push(format!(
                    "{:.3} ± {:.3}",
                    r.spike_score.mean, r.spike_score.std
                ));
                let _ = table.push_row(row);
            }
        }
        table
    }

    /// Parameters, steps and training time per model.
    pub fn table_budget(&self) -> Table {
        let mut table = Table::new(["model", "parameters", "steps", "train seconds"])
            .with_caption("Training budget per seed (CKM/CSM: the fixed models' combined steps)");
        for m in &self.models {
            let _ = table.push_row([
                m.key.clone(),
                group_digits(m.params),
                group_digits(m.steps),
                format!("{:.1} ± {:.1}", m.train_seconds.mean, m.train_seconds.std),
            ]);
        }
        table
    }

    /// Figure 3: next-step VRMSE against tokens, one line per model (fixed models joined
    /// into one "fixed p.s." line), shaded min–max over seeds.
    #[cfg(feature = "plot")]
    pub fn figure3(&self) -> crate::plot::CurvesFigure {
        use crate::plot::{CurvePanel, CurveSeries, CurvesFigure};
        let line = |scores: Vec<&SizeScore>| {
            let mut s = scores;
            s.sort_by_key(|s| s.tokens);
            let pts = s.iter().map(|s| (s.tokens as f64, s.vrmse.mean)).collect();
            let band = s
                .iter()
                .map(|s| (s.tokens as f64, s.vrmse.min, s.vrmse.max))
                .collect();
            (pts, band)
        };
        let mut panel = CurvePanel::new(
            "next-step VRMSE against tokens (band: min-max)",
            "tokens per frame",
            "VRMSE",
        );
        for m in self.models.iter().filter(|m| m.model.is_adaptive()) {
            let (pts, band) = line(m.next_step.iter().collect());
            panel = panel.with_series(CurveSeries::new(m.key.clone(), pts).with_band(band));
        }
        let fixed: Vec<&SizeScore> = self
            .models
            .iter()
            .filter(|m| !m.model.is_adaptive())
            .flat_map(|m| m.next_step.iter())
            .collect();
        if !fixed.is_empty() {
            let (pts, band) = line(fixed);
            panel = panel.with_series(CurveSeries::new("fixed p.s.", pts).with_band(band));
        }
        CurvesFigure::new(vec![panel]).with_title(format!(
            "Figure 3 ({}, {} seeds)",
            self.config.dataset,
            self.config.seeds.len()
        ))
    }

    /// Figure 2 (spectra): residual power at the last rollout step of the fixed model with
    /// the largest patch, and of CKM and CSM with the cyclic schedule and at that patch
    /// fixed; harmonics of every size marked.
    #[cfg(feature = "plot")]
    pub fn figure2_spectra(&self) -> crate::plot::HarmonicFigure {
        let largest = self.config.model.sizes.iter().copied().max().unwrap_or(1);
        let mut harmonics: Vec<usize> = Vec::new();
        let mut fig_series = Vec::new();
        for m in &self.models {
            for r in &m.rollouts {
                let keep = match m.model {
                    StudyModel::Fixed(p) => p == largest,
                    StudyModel::Ckm(crate::nn::KernelResize::Adjoint) => false,
                    _ => r.schedule == "cyclic" || r.schedule == format!("p{largest}"),
                };
                if keep {
                    harmonics.extend(&r.harmonics);
                    fig_series.push((format!("{} {}", m.key, r.schedule), r.last_spectrum.clone()));
                }
            }
        }
        harmonics.sort_unstable();
        harmonics.dedup();
        let mut fig =
            crate::plot::HarmonicFigure::new(self.k.clone(), harmonics).with_title(format!(
                "Figure 2: residual spectra at rollout step {} (mean over fields, windows, seeds)",
                self.config.rollout_steps
            ));
        for (name, p) in fig_series {
            fig = fig.with_series(name, p);
        }
        fig
    }

    /// `results.json` (everything, typed), `tables.md`, `figure3.svg` and
    /// `figure2_spectra.svg` in `dir` (the snapshot is written by the run).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| Error::io(&path, e))
        };
        write("results.json", serde_json::to_string_pretty(self)?)?;
        write(
            "tables.md",
            format!(
                "{}\n{}\n{}\nWall time: {:.0} s on {} threads (commit {}).\n",
                self.table_tokens().to_markdown(),
                self.table_rollouts().to_markdown(),
                self.table_budget().to_markdown(),
                self.total_seconds,
                self.threads,
                self.commit
            ),
        )?;
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            self.figure3().save_svg(dir.join("figure3.svg"))?;
            self.figure2_spectra()
                .save_svg(dir.join("figure2_spectra.svg"))?;
        }
        Ok(())
    }

    /// Reads a `results.json` written by [`ComputeAdaptiveResults::save`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Self> {
        let path = dir.as_ref().join("results.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Shows the tables and figures inline in evcxr.
    pub fn evcxr_display(&self) {
        #[allow(unused_mut)]
        let mut html = format!(
            "{}{}{}",
            self.table_tokens().to_html(),
            self.table_rollouts().to_html(),
            self.table_budget().to_html()
        );
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            if let Ok(svg) = self.figure3().to_svg() {
                html.push_str(&svg);
            }
            if let Ok(svg) = self.figure2_spectra().to_svg() {
                html.push_str(&svg);
            }
        }
        crate::report::evcxr_html(&html);
    }
}

impl fmt::Display for ComputeAdaptiveResults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n{}\n{}",
            self.table_tokens(),
            self.table_rollouts(),
            self.table_budget()
        )
    }
}
