//! [`Table`]: a small table of text cells that renders as HTML in evcxr notebooks and as
//! aligned text elsewhere, for the comparisons notebooks build cell by cell (compression
//! settings against cost and quality, one row per run, …).

use std::fmt;

use super::{evcxr_html, html_escape};
use crate::{Error, Result};

/// Rows of text cells under a header, with an optional caption.
///
/// # Example
/// ```
/// use phystok::report::Table;
///
/// let mut table = Table::new(["compression", "latent values"]).with_caption("cost");
/// table.push_row(["(1,2)(2,2)(2,2)", "2048"])?;
/// table.push_row(["(1,2)(2,4)(2,4)", "512"])?;
/// assert_eq!(table.n_rows(), 2);
/// assert!(table.to_html().contains("<td>512</td>"));
/// println!("{table}");
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    caption: String,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column names.
    pub fn new<S: ToString>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            caption: String::new(),
            header: header.into_iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Sets a caption shown above the table.
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = caption.into();
        self
    }

    /// Appends a row of cells, one per column.
    ///
    /// # Errors
    /// [`Error::Shape`] when the row does not have one cell per column.
    pub fn push_row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) -> Result<()> {
        let row: Vec<String> = cells.into_iter().map(|s| s.to_string()).collect();
        if row.len() != self.header.len() {
            return Err(Error::Shape {
                what: "table row cells vs columns".into(),
                left: vec![row.len()],
                right: vec![self.header.len()],
            });
        }
        self.rows.push(row);
        Ok(())
    }

    /// The column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The rows.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// The table as HTML (cells escaped).
    pub fn to_html(&self) -> String {
        let mut h = String::from("<table>");
        if !self.caption.is_empty() {
            h += &format!("<caption>{}</caption>", html_escape(&self.caption));
        }
        h += "<thead><tr>";
        for c in &self.header {
            h += &format!("<th>{}</th>", html_escape(c));
        }
        h += "</tr></thead><tbody>";
        for row in &self.rows {
            h += "<tr>";
            for c in row {
                h += &format!("<td>{}</td>", html_escape(c));
            }
            h += "</tr>";
        }
        h + "</tbody></table>"
    }

    /// The table as Markdown, the caption in bold above it.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        if !self.caption.is_empty() {
            md += &format!("**{}**\n\n", self.caption);
        }
        md += &format!(
            "| {} |\n|{}\n",
            self.header.join(" | "),
            "---|".repeat(self.header.len())
        );
        for row in &self.rows {
            md += &format!("| {} |\n", row.join(" | "));
        }
        md
    }

    /// Shows the table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_html(&self.to_html());
    }
}

impl fmt::Display for Table {
    /// Columns padded to their widest cell, the caption on its own line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.caption.is_empty() {
            writeln!(f, "{}", self.caption)?;
        }
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([self.header[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .zip(&widths)
                .map(|(c, &w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(f, "{}", line(&self.header))?;
        for row in &self.rows {
            writeln!(f, "{}", line(row))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Table;
    use crate::Error;

    #[test]
    fn rejects_a_row_of_the_wrong_width() {
        let mut t = Table::new(["a", "b"]);
        assert!(matches!(t.push_row(["1"]), Err(Error::Shape { .. })));
        assert_eq!(t.n_rows(), 0);
    }

    #[test]
    fn html_escapes_cells_and_text_aligns_columns() {
        let mut t = Table::new(["name", "v"]).with_caption("<c>");
        t.push_row(["a<b", "1"]).unwrap();
        t.push_row(["long name", "22"]).unwrap();
        let html = t.to_html();
        assert!(html.contains("<caption>&lt;c&gt;</caption>"));
        assert!(html.contains("<td>a&lt;b</td>"));
        assert_eq!(html.matches("<tr>").count(), 3);
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["<c>", "name       v", "a<b        1", "long name  22"]
        );
    }
}
