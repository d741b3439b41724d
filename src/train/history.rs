//! The record of a training run: one [`StepRecord`] per optimiser step and periodic
//! validation records, serialisable to JSON (saved with each checkpoint) and rendered as
//! HTML tables in evcxr.
//!
//! Validation records are generic ([`ValidationRow`]) so that each training stage can keep
//! its own typed metrics; [`ValidationRecord`] holds the paper's (VRMSE and NEPS per band).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::optim::StepStats;
use crate::report::{Align, Table, evcxr_html, group_digits};

/// One optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Optimiser step (1-based: the count after this step).
    pub step: usize,
    /// Training loss of the batch.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Seconds since training started.
    pub wall_s: f64,
}

impl StepRecord {
    /// A record from an optimiser's [`StepStats`], the batch loss and the elapsed time.
    pub fn from_stats(stats: &StepStats, loss: f64, wall_s: f64) -> Self {
        StepRecord {
            step: stats.step,
            loss,
            lr: stats.lr,
            grad_norm: stats.grad_norm,
            wall_s,
        }
    }
}

/// A validation record that can be shown as a table row.
pub trait ValidationRow {
    /// Column names after `step`.
    fn columns() -> Vec<&'static str>;
    /// The step the record was taken at.
    fn step(&self) -> usize;
    /// Values in the order of [`ValidationRow::columns`].
    fn values(&self) -> Vec<f64>;
}

/// The paper's validation metrics: VRMSE and NEPS in the low, mid and high wavenumber bands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    /// Optimiser step.
    pub step: usize,
    /// Variance-scaled RMSE.
    pub vrmse: f64,
    /// Normalised error power spectrum, low band.
    pub neps_low: f64,
    /// Normalised error power spectrum, mid band.
    pub neps_mid: f64,
    /// Normalised error power spectrum, high band.
    pub neps_high: f64,
}

impl ValidationRow for ValidationRecord {
    fn columns() -> Vec<&'static str> {
        vec!["vrmse", "neps_low", "neps_mid", "neps_high"]
    }
    fn step(&self) -> usize {
        self.step
    }
    fn values(&self) -> Vec<f64> {
        vec![self.vrmse, self.neps_low, self.neps_mid, self.neps_high]
    }
}

impl ValidationRecord {
    /// The record as a one-row table.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new(["step", "VRMSE", "NEPS low", "NEPS mid", "NEPS high"])
            .with_align(0..5, Align::Right);
        // one cell per column by construction
        let _ = t.push_row([
            group_digits(self.step),
            format!("{:.4}", self.vrmse),
            format!("{:.4e}", self.neps_low),
            format!("{:.4e}", self.neps_mid),
            format!("{:.4e}", self.neps_high),
        ]);
        t
    }
    /// The record as a one-row HTML table.
    pub fn to_html(&self) -> String {
        self.to_table().to_html()
    }
    /// Shows the record inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_html(&self.to_html());
    }
}

impl fmt::Display for ValidationRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}: VRMSE {:.4}, NEPS low {:.4e}, mid {:.4e}, high {:.4e}",
            self.step, self.vrmse, self.neps_low, self.neps_mid, self.neps_high
        )
    }
}

/// Everything recorded during a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History<V = ValidationRecord> {
    /// One record per optimiser step.
    pub steps: Vec<StepRecord>,
    /// Periodic validation.
    pub validation: Vec<V>,
    /// What the trainer warned about (for example variables that received no gradient under
    /// `MissingGradients::Warn`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Windows per optimiser step over all processes (micro-batch × accumulation × world
    /// size); 0 when unknown (a history saved before it was recorded).
    #[serde(default)]
    pub effective_batch: usize,
}

impl<V> Default for History<V> {
    fn default() -> Self {
        History {
            steps: Vec::new(),
            validation: Vec::new(),
            warnings: Vec::new(),
            effective_batch: 0,
        }
    }
}

impl<V: ValidationRow> History<V> {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a step record.
    pub fn push_step(&mut self, record: StepRecord) {
        self.steps.push(record);
    }

    /// Appends a validation record.
    pub fn push_validation(&mut self, record: V) {
        self.validation.push(record);
    }

    /// Training losses in step order.
    pub fn losses(&self) -> Vec<f64> {
        self.steps.iter().map(|r| r.loss).collect()
    }

    /// Mean loss of the last `n` steps (`None` when empty).
    pub fn recent_loss(&self, n: usize) -> Option<f64> {
        let tail = &self.steps[self.steps.len().saturating_sub(n)..];
        (!tail.is_empty()).then(|| tail.iter().map(|r| r.loss).sum::<f64>() / tail.len() as f64)
    }

    /// The last `n` step records as a table.
    pub fn steps_table(&self, n: usize) -> Table {
        let mut t = Table::new(["step", "loss", "lr", "grad norm", "wall s"])
            .with_align(0..5, Align::Right);
        for r in &self.steps[self.steps.len().saturating_sub(n)..] {
            // one cell per column by construction
            let _ = t.push_row([
                group_digits(r.step),
                format!("{:.4e}", r.loss),
                format!("{:.3e}", r.lr),
                format!("{:.3e}", r.grad_norm),
                format!("{:.1}", r.wall_s),
            ]);
        }
        t
    }

    /// The last `n` validation records as a table: the step, then [`ValidationRow::columns`].
    pub fn validation_table(&self, n: usize) -> Table {
        let columns = V::columns();
        let mut t = Table::new(std::iter::once("step").chain(columns.iter().copied()))
            .with_align(0..=columns.len(), Align::Right);
        for r in &self.validation[self.validation.len().saturating_sub(n)..] {
            let cells = std::iter::once(group_digits(r.step()))
                .chain(r.values().into_iter().map(|v| format!("{v:.4e}")));
            // an error only when `values` and `columns` disagree: the row is left out
            let _ = t.push_row(cells);
        }
        t
    }

    /// HTML tables of the last `n` step records and validation records.
    pub fn to_html(&self, n: usize) -> String {
        let mut html = format!(
            "<p>{} steps, {} validations</p>{}",
            group_digits(self.steps.len()),
            group_digits(self.validation.len()),
            self.steps_table(n).to_html()
        );
        if !self.validation.is_empty() {
            html.push_str(&self.validation_table(n).to_html());
        }
        html
    }

    /// The training loss (smoothed over a window of ~2 % of the run, raw values faint) and
    /// every validation column against the step, on log axes.
    #[cfg(feature = "plot")]
    pub fn figure(&self) -> crate::plot::CurvesFigure {
        use crate::plot::{CurvePanel, CurveSeries, CurvesFigure};
        let raw: Vec<(f64, f64)> = self.steps.iter().map(|r| (r.step as f64, r.loss)).collect();
        let w = (self.steps.len() / 50).max(1);
        let smooth: Vec<(f64, f64)> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let tail = &self.steps[(i + 1).saturating_sub(w)..=i];
                (
                    r.step as f64,
                    tail.iter().map(|t| t.loss).sum::<f64>() / tail.len() as f64,
                )
            })
            .collect();
        let mut loss = CurvePanel::new("training loss", "step", "loss");
        loss = loss.with_series(CurveSeries::new(format!("mean of {w}"), smooth));
        if w > 1 {
            loss = loss.with_series(CurveSeries::new("per step", raw));
        }
        let mut panels = vec![loss];
        if !self.validation.is_empty() {
            let mut val = CurvePanel::new("validation", "step", "metric");
            for (c, name) in V::columns().into_iter().enumerate() {
                let pts = self
                    .validation
                    .iter()
                    .map(|r| (r.step() as f64, r.values()[c]))
                    .collect();
                val = val.with_series(CurveSeries::new(name, pts));
            }
            panels.push(val);
        }
        CurvesFigure::new(panels)
    }

    /// What a live notebook view shows: the curves (feature `plot`) and the last 3 rows.
    pub fn live_html(&self) -> String {
        self.view_html(3)
    }

    /// The curves (feature `plot`) above the last `n` rows of each table.
    fn view_html(&self, n: usize) -> String {
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            if let Ok(svg) = self.figure().to_svg() {
                return format!("{svg}{}", self.to_html(n));
            }
        }
        self.to_html(n)
    }

    /// Renders the curves (feature `plot`) and the last ten rows of each table in evcxr.
    pub fn evcxr_display(&self) {
        evcxr_html(&self.view_html(10));
    }
}

impl<V: ValidationRow> fmt::Display for History<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} steps, {} validations",
            group_digits(self.steps.len()),
            group_digits(self.validation.len())
        )?;
        if let Some(r) = self.steps.last() {
            writeln!(
                f,
                "last step {}: loss {:.4e}, lr {:.3e}, grad norm {:.3e}",
                r.step, r.loss, r.lr, r.grad_norm
            )?;
        }
        if let Some(r) = self.validation.last() {
            write!(f, "last validation at step {}:", r.step())?;
            for (c, v) in V::columns().iter().zip(r.values()) {
                write!(f, " {c} {v:.4e}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_round_trips_through_json_and_renders() {
        let mut h: History = History::new();
        for i in 1..=12 {
            h.push_step(StepRecord {
                step: i,
                loss: 1.0 / i as f64,
                lr: 1e-3,
                grad_norm: 0.5,
                wall_s: i as f64,
            });
        }
        h.push_validation(ValidationRecord {
            step: 12,
            vrmse: 0.3,
            neps_low: 0.01,
            neps_mid: 0.1,
            neps_high: 0.9,
        });
        let json = serde_json::to_string(&h).unwrap();
        let back: History = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        let html = h.to_html(10);
        assert_eq!(
            html.matches("<tr>").count(),
            1 + 10 + 1 + 1,
            "header + 10 rows, header + 1 row"
        );
        assert!(html.contains("neps_high") && html.contains("9.0000e-1"));
        assert_eq!(h.steps_table(3).rows()[0][0], "10", "the last three steps");
        assert_eq!(
            h.validation_table(10).rows(),
            [["12", "3.0000e-1", "1.0000e-2", "1.0000e-1", "9.0000e-1"]]
        );
        assert!(h.validation[0].to_html().contains(">0.3000</td>"));
        assert!((h.recent_loss(2).unwrap() - (1.0 / 11.0 + 1.0 / 12.0) / 2.0).abs() < 1e-15);
        assert!(h.to_string().contains("vrmse 3.0000e-1"));
        #[cfg(feature = "plot")]
        {
            use crate::plot::Figure;
            let fig = h.figure();
            assert_eq!(fig.panels.len(), 2);
            assert_eq!(
                fig.panels[1].series.len(),
                4,
                "one line per validation column"
            );
            assert!(h.live_html().contains("<svg"));
            assert!(fig.to_svg().unwrap().contains("neps_mid"));
        }
    }
}
