//! How a running [`Trainer`](super::Trainer) shows itself: a progress bar in a terminal,
//! a live view in an evcxr notebook, or nothing.
//!
//! The notebook view prints an HTML block (loss and validation curves, the last values) a
//! bounded number of times per `fit_steps` call. Every block carries a CSS rule that hides
//! the block before it, so a notebook shows one view that updates in place while the cell
//! runs (where styles are stripped, e.g. on GitHub, the views simply stack).

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::history::{History, ValidationRecord};

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

/// Updates at most this many notebook views per `fit_steps` call.
const NOTEBOOK_UPDATES: usize = 12;

pub(crate) struct Reporter {
    kind: Progress,
    bar: Option<ProgressBar>,
    label: String,
    every: usize,
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
        match self.kind {
            Progress::Bar => {
                if let Some(bar) = &self.bar {
                    bar.set_position(done as u64);
                    let mut msg = format!("loss {:.3e} lr {:.2e}", last.loss, last.lr);
                    if let Some(v) = history.validation.last() {
                        msg.push_str(&format!(" | val vrmse {:.4}", v.vrmse));
                    }
                    bar.set_message(msg);
                }
            }
            Progress::Notebook if validated || done % self.every == 0 => {
                self.show(history);
            }
            _ => {}
        }
    }

    fn show(&mut self, history: &History<ValidationRecord>) {
        let id = format!("phystok-live-{}", self.run_id);
        let mut html = String::new();
        if self.shown > 0 {
            html.push_str(&format!(
                "<style>.{id}-{}{{display:none}}</style>",
                self.shown - 1
            ));
        }
        html.push_str(&format!(
            "<div class=\"{id}-{}\"><p><b>{}</b>: step {}</p>{}</div>",
            self.shown,
            crate::report::html_escape(&self.label),
            history.steps.last().map_or(0, |r| r.step),
            history.live_html()
        ));
        crate::report::evcxr_html(&html);
        self.shown += 1;
    }

    pub(crate) fn finish(self, history: &History<ValidationRecord>) {
        if let Some(bar) = self.bar {
            bar.finish();
        } else if self.kind == Progress::Notebook && self.shown == 0 {
            let mut me = self;
            me.show(history);
        }
    }
}
