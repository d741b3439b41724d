//! How metric results show themselves: `Display` tables for terminals and
//! `evcxr_display` HTML tables for notebooks.

use std::fmt;

use super::summary::{MetricGrid, MetricSummary, ScoreSet};

fn row_text(f: &mut fmt::Formatter<'_>, name: &str, s: &ScoreSet) -> fmt::Result {
    writeln!(
        f,
        "{name:<16} {:>10.4} {:>10.4e} {:>10.4} {:>10.4} {:>10.4}",
        s.vrmse, s.mse, s.neps.low, s.neps.mid, s.neps.high
    )
}

impl fmt::Display for MetricSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "field", "VRMSE", "MSE", "NEPS low", "NEPS mid", "NEPS high"
        )?;
        for c in &self.per_channel {
            row_text(f, &c.name, &c.scores)?;
        }
        row_text(f, "mean", &self.mean)?;
        write!(f, "({} frames)", self.n_frames)?;
        for w in &self.warnings {
            write!(f, "\nwarning: {w}")?;
        }
        Ok(())
    }
}

fn row_html(name: &str, s: &ScoreSet, bold: bool) -> String {
    let (o, c) = if bold { ("<b>", "</b>") } else { ("", "") };
    format!(
        "<tr><td>{o}{}{c}</td><td>{o}{:.4}{c}</td><td>{:.3e}</td><td>{:.3e}</td>\
         <td>{:.4}</td><td>{:.4}</td><td>{:.4}</td></tr>",
        crate::report::html_escape(name),
        s.vrmse,
        s.mse,
        s.mae,
        s.neps.low,
        s.neps.mid,
        s.neps.high
    )
}

impl MetricSummary {
    /// The summary as an HTML table (one row per field, then the mean).
    pub fn to_html(&self) -> String {
        let mut h = String::from(
            "<table><thead><tr><th>field</th><th>VRMSE</th><th>MSE</th><th>MAE</th>\
             <th>NEPS low</th><th>NEPS mid</th><th>NEPS high</th></tr></thead><tbody>",
        );
        for c in &self.per_channel {
            h += &row_html(&c.name, &c.scores, false);
        }
        h += &row_html("mean", &self.mean, true);
        h += &format!("</tbody></table><p>{} frames</p>", self.n_frames);
        for w in &self.warnings {
            h += &format!(
                "<p style=\"color:#b00\">warning: {}</p>",
                crate::report::html_escape(&w.to_string())
            );
        }
        h
    }

    /// Shows the summary table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
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
        crate::report::evcxr_html(&format!(
            "<p>{b} samples x {t} times x {c} channels</p>{}",
            self.summary().to_html()
        ));
    }
}
