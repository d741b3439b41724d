//! How a running [`Trainer`](super::Trainer) shows itself: a progress bar in a terminal,
//! a live view in an evcxr notebook, or nothing.
//!
//! The notebook view prints a text line (step, loss, learning rate, last validation, and
//! sparklines of the loss and validation curves so far: the plot that updates while the
//! cell runs) a bounded number of times per `fit_steps` call, which evcxr streams, and one
//! HTML block (loss and validation curves, the last rows) when the call ends: evcxr
//! shows only a cell's last rich display block, at the cell's end. Each block also carries
//! a CSS rule hiding the block before it, so front ends that do show blocks as they come
//! (and a run split over several `fit_steps` calls in one cell) keep a single view.

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::history::{History, ValidationRecord};
use crate::report::{SparkScale, sparkline};

/// Where training progress goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Progress {
    /// The notebook view inside evcxr (`EVCXR_IS_RUNTIME` set), else the terminal bar.
    #[default]
    Auto,
    /// A terminal progress bar on standard error (hidden when it is not a terminal).
    Bar,
    /// The live notebook view.
    Notebook,
    /// Nothing.
    Quiet,
}

impl Progress {
    /// [`Progress::Auto`] made concrete.
    pub fn resolve(self) -> Progress {
        match self {
            Progress::Auto if std::env::var_os("EVCXR_IS_RUNTIME").is_some() => Progress::Notebook,
            Progress::Auto => Progress::Bar,
            p => p,
        }
    }
}

/// The `n`-th live view of run `run_id`: the curves and last rows, in a block whose CSS
/// class is unique to `(run_id, n)`, preceded by a rule hiding block `n − 1`.
fn live_block(run_id: u64, n: usize, label: &str, history: &History<ValidationRecord>) -> String {
    let id = format!("phystok-live-{run_id}");
    let mut html = String::new();
    if n > 0 {
        html.push_str(&format!("<style>.{id}-{}{{display:none}}</style>", n - 1));
    }
    html.push_str(&format!(
        "<div class=\"{id}-{n}\"><p><b>{}</b>: step {}</p>{}</div>",
        crate::report::html_escape(label),
        history.steps.last().map_or(0, |r| r.step),
        history.live_html()
    ));
    html
}

/// Prints at most this many notebook progress lines per `fit_steps` call.
const NOTEBOOK_UPDATES: usize = 12;
/// Columns of the loss sparkline in a notebook line.
const LOSS_COLUMNS: usize = 32;
/// Columns of the validation sparkline.
const VALIDATION_COLUMNS: usize = 12;

/// The sparklines of a notebook line: the loss (log scale) over every step so far and,
/// from two validations on, the validation VRMSE.
fn curves(history: &History<ValidationRecord>) -> String {
    let losses: Vec<f64> = history.steps.iter().map(|r| r.loss).collect();
    let mut text = String::new();
    if let Some(s) = sparkline(&losses, LOSS_COLUMNS, SparkScale::Log) {
        text.push_str(&format!(" | loss {s}"));
    }
    if history.validation.len() >= 2 {
        let vrmse: Vec<f64> = history.validation.iter().map(|v| v.vrmse).collect();
        if let Some(s) = sparkline(&vrmse, VALIDATION_COLUMNS, SparkScale::Log) {
            text.push_str(&format!(" | vrmse {s}"));
        }
    }
    text
}

pub(crate) struct Reporter {
    kind: Progress,
    bar: Option<ProgressBar>,
    label: String,
    every: usize,
    total: usize,
    run_id: u64,
    shown: usize,
}

impl Reporter {
    pub(crate) fn start(kind: Progress, label: &str, n: usize) -> Self {
        let kind = kind.resolve();
        let bar = (kind == Progress::Bar).then(|| {
            let bar = ProgressBar::new(n as u64);
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix} [{bar:28}] {pos}/{len} {per_sec} eta {eta} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(label.to_string());
            bar
        });
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Reporter {
            kind,
            bar,
            label: label.to_string(),
            every: n.div_ceil(NOTEBOOK_UPDATES).max(1),
            total: n,
            run_id: std::process::id() as u64 * 1000
                + RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shown: 0,
        }
    }

    /// After step `done` of this call (1-based); `validated` when a validation just ran.
    pub(crate) fn update(
        &mut self,
        done: usize,
        history: &History<ValidationRecord>,
        validated: bool,
    ) {
        let Some(last) = history.steps.last() else {
            return;
        };
        let mut msg = format!("loss {:.3e} lr {:.2e}", last.loss, last.lr);
        if let Some(v) = history.validation.last() {
            msg.push_str(&format!(" | val vrmse {:.4} (step {})", v.vrmse, v.step));
        }
        match self.kind {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done as u64);
                    bar.set_message(msg);
                }
            }
            // evcxr streams stdout while a cell runs but shows only a cell's last rich
            // display block, at its end: text lines are what updates live
            Progress::Notebook if validated || done.is_multiple_of(self.every) => {
                println!(
                    "{}: step {} ({done}/{}) {msg}{}",
                    self.label,
                    last.step,
                    self.total,
                    curves(history)
                );
            }
            _ => {}
        }
    }

    fn show(&mut self, history: &History<ValidationRecord>) {
        let html = live_block(self.run_id, self.shown, &self.label, history);
        crate::report::evcxr_html(&html);
        self.shown += 1;
    }

    pub(crate) fn finish(self, history: &History<ValidationRecord>) {
        if let Some(bar) = self.bar {
            bar.finish();
        } else if self.kind == Progress::Notebook {
            let mut me = self;
            me.show(history);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::GLYPHS;
    use crate::train::StepRecord;

    #[test]
    fn each_live_view_hides_the_one_before() {
        let mut h: History = History::new();
        h.push_step(StepRecord {
            step: 1,
            loss: 0.5,
            lr: 1e-3,
            grad_norm: 1.0,
            wall_s: 0.1,
        });
        let first = live_block(7, 0, "run <a>", &h);
        assert!(!first.contains("<style>"), "nothing to hide yet");
        assert!(first.contains("class=\"phystok-live-7-0\"") && first.contains("run &lt;a&gt;"));
        let third = live_block(7, 2, "run", &h);
        assert!(third.contains(".phystok-live-7-1{display:none}"));
        assert!(third.contains("class=\"phystok-live-7-2\""));
        assert!(third.contains("step 1"));
    }

    #[test]
    fn notebook_lines_carry_the_curves_so_far() {
        let mut h: History = History::new();
        assert_eq!(curves(&h), "");
        for step in 1..=200 {
            h.push_step(StepRecord {
                step,
                loss: 1.0 / step as f64,
                lr: 1e-3,
                grad_norm: 1.0,
                wall_s: 0.1,
            });
        }
        let record = |step, vrmse| ValidationRecord {
            step,
            vrmse,
            neps_low: 0.1,
            neps_mid: 0.2,
            neps_high: 0.3,
        };
        h.push_validation(record(100, 0.8));
        let text = curves(&h);
        let line: String = text.chars().filter(|c| GLYPHS.contains(c)).collect();
        assert_eq!(line.chars().count(), LOSS_COLUMNS);
        assert!(line.starts_with('█') && line.ends_with('▁'), "{text}");
        assert!(!text.contains("vrmse"), "one validation is not a curve");
        assert!(text.chars().count() < 60, "{text}");
        h.push_validation(record(200, 0.4));
        let text = curves(&h);
        assert!(text.ends_with("| vrmse █▁ 4.0e-1..8.0e-1"), "{text}");
        assert!(text.chars().count() < 100, "{text}");
    }

    #[test]
    fn auto_resolves_to_the_notebook_inside_evcxr_only() {
        assert_eq!(Progress::Quiet.resolve(), Progress::Quiet);
        let auto = Progress::Auto.resolve();
        let in_evcxr = std::env::var_os("EVCXR_IS_RUNTIME").is_some();
        assert_eq!(auto == Progress::Notebook, in_evcxr);
    }
}
