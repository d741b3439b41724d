//! How metric results show themselves: one [`Table`] per result, shown as aligned text
//! (`Display`) in terminals and as HTML (`evcxr_display`) in notebooks.

use std::fmt;

use super::summary::{MetricGrid, MetricSummary, ScoreSet};
use crate::report::{Align, Table, evcxr_html, group_digits, html_escape};

fn cells(name: &str, s: &ScoreSet) -> [String; 7] {
    [
        name.to_string(),
        format!("{:.4}", s.vrmse),
        format!("{:.3e}", s.mse),
        format!("{:.3e}", s.mae),
        format!("{:.4}", s.neps.low),
        format!("{:.4}", s.neps.mid),
        format!("{:.4}", s.neps.high),
    ]
}

impl MetricSummary {
    /// The summary as a table: one row per field, the mean over fields as the footer.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new([
            "field",
            "VRMSE",
            "MSE",
            "MAE",
            "NEPS low",
            "NEPS mid",
            "NEPS high",
        ])
        .with_align(1..7, Align::Right);
        // one cell per column by construction
        for c in &self.per_channel {
            let _ = t.push_row(cells(&c.name, &c.scores));
        }
        let _ = t.push_footer(cells("mean", &self.mean));
        t
    }

    /// The summary as HTML: its [table](Self::to_table), the number of frames and the
    /// warnings.
    pub fn to_html(&self) -> String {
        let mut h = self.to_table().to_html();
        h += &format!("<p>{} frames</p>", group_digits(self.n_frames));
        for w in &self.warnings {
            h += &format!(
                "<p style=\"color:#b00\">warning: {}</p>",
                html_escape(&w.to_string())
            );
        }
        h
    }

    /// Shows the summary table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_html(&self.to_html());
    }
}

impl fmt::Display for MetricSummary {
    /// The [table](Self::to_table), then `(N frames)` and one line per warning.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_table())?;
        write!(f, "({} frames)", group_digits(self.n_frames))?;
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

impl fmt::Display for MetricGrid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, t, c) = self.dims();
        writeln!(f, "MetricGrid: {b} samples x {t} times x {c} channels")?;
        write!(f, "{}", self.summary())
    }
}

impl MetricGrid {
    /// Shows the grid's summary inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        let (b, t, c) = self.dims();
        evcxr_html(&format!(
            "<p>{b} samples x {t} times x {c} channels</p>{}",
            self.summary().to_html()
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::metrics::{Bands, ChannelScores, MetricSummary, MetricWarning, ScoreSet};

    #[test]
    fn summary_shows_one_row_per_field_and_the_mean_below() {
        let scores = |v: f64| ScoreSet {
            vrmse: v,
            mse: v * v,
            mae: v / 2.0,
            nrmse: v,
            linf: v,
            neps: Bands::from_array([0.1, 0.2, 0.3]),
            band_mse: Bands::default(),
        };
        let s = MetricSummary {
            per_channel: vec![
                ChannelScores {
                    name: "density".into(),
                    scores: scores(0.5),
                },
                ChannelScores {
                    name: "pressure".into(),
                    scores: scores(0.25),
                },
            ],
            mean: scores(0.375),
            n_frames: 12_288,
            warnings: vec![MetricWarning::ZeroVarianceTarget { frames: vec![] }],
        };
        let table = s.to_table();
        assert_eq!(table.n_rows(), 2);
        assert_eq!(table.footer()[0][..2], ["mean", "0.3750"]);
        let text = s.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("field") && lines[0].ends_with("NEPS high"));
        assert!(lines[1].starts_with("density") && lines[1].contains("0.5000"));
        assert!(lines[4].starts_with("mean") && lines[4].ends_with("0.3000"));
        assert_eq!(lines[5], "(12,288 frames)");
        assert!(lines[6].starts_with("warning: zero-variance"));
        let html = s.to_html();
        assert!(html.contains("<tfoot>") && html.contains("<b>0.3750</b>"));
        assert!(html.contains("<p>12,288 frames</p>"));
    }
}
