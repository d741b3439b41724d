//! [`Table`]: the one table type of phystok. Every result that shows a table (metric
//! summaries, histories, schedules, datasets, experiment tables) and every table a notebook
//! builds cell by cell renders through it: as HTML in evcxr notebooks, as aligned text
//! through `Display`, and as Markdown for saved reports.

use std::fmt;

use super::{evcxr_html, html_escape};
use crate::{Error, Result};

/// How the cells of a column line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Align {
    /// Against the left edge (the default; names and text).
    #[default]
    Left,
    /// Against the right edge (numbers, so their digits line up).
    Right,
}

impl Align {
    fn css(self) -> &'static str {
        match self {
            Align::Left => "text-align:left",
            Align::Right => "text-align:right",
        }
    }
}

/// Rows of text cells under a header, with an optional caption, per-column alignment,
/// row headers and bold footer rows (a mean or a total).
///
/// Cells are text: format numbers before pushing them (digits of counts grouped with
/// [`group_digits`](super::group_digits)).
///
/// # Example
/// ```
/// use phystok::report::{Align, Table, group_digits};
///
/// let mut table = Table::new(["compression", "latent values"])
///     .with_caption("cost")
///     .with_align(1..2, Align::Right);
/// table.push_row(["(1,2)(2,2)(2,2)", &group_digits(2048)])?;
/// table.push_row(["(1,2)(2,4)(2,4)", "512"])?;
/// table.push_footer(["total", &group_digits(2560)])?;
/// assert_eq!(table.n_rows(), 2);
/// assert!(table.to_html().contains("<td style=\"text-align:right\">512</td>"));
/// assert_eq!(
///     table.to_string(),
///     "cost\n\
///      compression      latent values\n\
///      (1,2)(2,2)(2,2)          2,048\n\
///      (1,2)(2,4)(2,4)            512\n\
///      ------------------------------\n\
///      total                    2,560\n"
/// );
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    caption: String,
    header: Vec<String>,
    align: Vec<Align>,
    row_headers: bool,
    rows: Vec<Vec<String>>,
    footer: Vec<Vec<String>>,
}

impl Table {
    /// A two-column `setting | value` table with the settings as row headers: how every
    /// config shows itself.
    pub fn settings<K: ToString, V: ToString>(
        caption: impl Into<String>,
        rows: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut table = Table::new(["setting", "value"])
            .with_caption(caption)
            .with_row_headers();
        for (k, v) in rows {
            table.rows.push(vec![k.to_string(), v.to_string()]);
        }
        table
    }

    /// An empty table with these column names, every column left-aligned.
    pub fn new<S: ToString>(header: impl IntoIterator<Item = S>) -> Self {
        let header: Vec<String> = header.into_iter().map(|s| s.to_string()).collect();
        Table {
            caption: String::new(),
            align: vec![Align::Left; header.len()],
            header,
            row_headers: false,
            rows: Vec::new(),
            footer: Vec::new(),
        }
    }

    /// Sets a caption shown above the table (default: none).
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = caption.into();
        self
    }

    /// Aligns the columns `columns` (0-based; indices past the last column are ignored),
    /// e.g. `with_align(1..5, Align::Right)` for four numeric columns after a name.
    pub fn with_align(mut self, columns: impl IntoIterator<Item = usize>, align: Align) -> Self {
        for c in columns {
            if let Some(a) = self.align.get_mut(c) {
                *a = align;
            }
        }
        self
    }

    /// Makes the first cell of every row a row header (`<th>` in HTML; default: off), for
    /// tables of settings or properties, one per row.
    pub fn with_row_headers(mut self) -> Self {
        self.row_headers = true;
        self
    }

    fn check_width(&self, row: &[String], what: &str) -> Result<()> {
        if row.len() != self.header.len() {
            return Err(Error::Shape {
                what: format!("table {what} cells vs columns"),
                left: vec![row.len()],
                right: vec![self.header.len()],
            });
        }
        Ok(())
    }

    /// Appends a row of cells, one per column.
    ///
    /// # Errors
    /// [`Error::Shape`] when the row does not have one cell per column.
    pub fn push_row<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) -> Result<()> {
        let row: Vec<String> = cells.into_iter().map(|s| s.to_string()).collect();
        self.check_width(&row, "row")?;
        self.rows.push(row);
        Ok(())
    }

    /// Appends a footer row (a mean or a total): shown in bold below the rows, after a rule
    /// in text.
    ///
    /// # Errors
    /// [`Error::Shape`] when the row does not have one cell per column.
    pub fn push_footer<S: ToString>(&mut self, cells: impl IntoIterator<Item = S>) -> Result<()> {
        let row: Vec<String> = cells.into_iter().map(|s| s.to_string()).collect();
        self.check_width(&row, "footer")?;
        self.footer.push(row);
        Ok(())
    }

    /// The caption (empty when none).
    pub fn caption(&self) -> &str {
        &self.caption
    }

    /// The column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The alignment of each column.
    pub fn align(&self) -> &[Align] {
        &self.align
    }

    /// The rows.
    pub fn rows(&self) -> &[Vec<String>] {
        &self.rows
    }

    /// The footer rows.
    pub fn footer(&self) -> &[Vec<String>] {
        &self.footer
    }

    /// Number of rows (footer rows not counted).
    pub fn n_rows(&self) -> usize {
        self.rows.len()
    }

    /// The table as HTML: cells escaped, each cell aligned by an inline style (notebook
    /// front ends differ in their default alignment), footer cells bold in `<tfoot>`.
    pub fn to_html(&self) -> String {
        let mut h = String::from("<table>");
        if !self.caption.is_empty() {
            h += &format!("<caption>{}</caption>", html_escape(&self.caption));
        }
        let cell = |tag: &str, c: usize, text: &str, bold: bool| {
            let (o, e) = if bold { ("<b>", "</b>") } else { ("", "") };
            format!(
                "<{tag} style=\"{}\">{o}{}{e}</{tag}>",
                self.align[c].css(),
                html_escape(text)
            )
        };
        let row = |cells: &[String], bold: bool| {
            let mut r = String::from("<tr>");
            for (c, text) in cells.iter().enumerate() {
                let tag = if c == 0 && self.row_headers {
                    "th"
                } else {
                    "td"
                };
                r += &cell(tag, c, text, bold);
            }
            r + "</tr>"
        };
        h += "<thead><tr>";
        for (c, name) in self.header.iter().enumerate() {
            h += &cell("th", c, name, false);
        }
        h += "</tr></thead><tbody>";
        for r in &self.rows {
            h += &row(r, false);
        }
        h += "</tbody>";
        if !self.footer.is_empty() {
            h += "<tfoot>";
            for r in &self.footer {
                h += &row(r, true);
            }
            h += "</tfoot>";
        }
        h + "</table>"
    }

    /// The table as Markdown: the caption in bold above it, right-aligned columns marked
    /// `---:`, footer rows in bold.
    pub fn to_markdown(&self) -> String {
        let mut md = String::new();
        if !self.caption.is_empty() {
            md += &format!("**{}**\n\n", self.caption);
        }
        let rule: String = self
            .align
            .iter()
            .map(|a| match a {
                Align::Left => "---|",
                Align::Right => "---:|",
            })
            .collect();
        md += &format!("| {} |\n|{rule}\n", self.header.join(" | "));
        for row in &self.rows {
            md += &format!("| {} |\n", row.join(" | "));
        }
        for row in &self.footer {
            let bold: Vec<String> = row
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        String::new()
                    } else {
                        format!("**{c}**")
                    }
                })
                .collect();
            md += &format!("| {} |\n", bold.join(" | "));
        }
        md
    }

    /// Shows the table inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        evcxr_html(&self.to_html());
    }
}

impl fmt::Display for Table {
    /// Columns padded to their widest cell (numbers right-aligned), two spaces apart, the
    /// caption on its own line above, footer rows below a rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.caption.is_empty() {
            writeln!(f, "{}", self.caption)?;
        }
        let width = |i: usize| {
            self.rows
                .iter()
                .chain(&self.footer)
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
                .zip(&self.align)
                .map(|((c, &w), a)| match a {
                    Align::Left => format!("{c:<w$}"),
                    Align::Right => format!("{c:>w$}"),
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(f, "{}", line(&self.header))?;
        for row in &self.rows {
            writeln!(f, "{}", line(row))?;
        }
        if !self.footer.is_empty() {
            let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
            writeln!(f, "{}", "-".repeat(total))?;
            for row in &self.footer {
                writeln!(f, "{}", line(row))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Align, Table};
    use crate::Error;

    #[test]
    fn rejects_a_row_or_footer_of_the_wrong_width() {
        let mut t = Table::new(["a", "b"]);
        assert!(matches!(t.push_row(["1"]), Err(Error::Shape { .. })));
        assert!(matches!(
            t.push_footer(["1", "2", "3"]),
            Err(Error::Shape { .. })
        ));
        assert_eq!((t.n_rows(), t.footer().len()), (0, 0));
    }

    #[test]
    fn html_escapes_cells_and_text_aligns_columns() {
        let mut t = Table::new(["name", "v"]).with_caption("<c>");
        t.push_row(["a<b", "1"]).unwrap();
        t.push_row(["long name", "22"]).unwrap();
        let html = t.to_html();
        assert!(html.contains("<caption>&lt;c&gt;</caption>"));
        assert!(html.contains("<td style=\"text-align:left\">a&lt;b</td>"));
        assert_eq!(html.matches("<tr>").count(), 3);
        assert!(!html.contains("<tfoot>"), "no footer pushed");
        let text = t.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["<c>", "name       v", "a<b        1", "long name  22"]
        );
    }

    #[test]
    fn right_aligned_columns_footer_and_row_headers_show_in_every_form() {
        let mut t = Table::new(["field", "VRMSE"])
            .with_align([1, 7], Align::Right)
            .with_row_headers();
        assert_eq!(t.align(), [Align::Left, Align::Right]);
        t.push_row(["density", "0.5"]).unwrap();
        t.push_row(["v", "12.25"]).unwrap();
        t.push_footer(["mean", "6.375"]).unwrap();
        let text = t.to_string();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "field    VRMSE",
                "density    0.5",
                "v        12.25",
                "--------------",
                "mean     6.375"
            ]
        );
        let html = t.to_html();
        assert!(html.contains("<th style=\"text-align:left\">density</th>"));
        assert!(html.contains("<td style=\"text-align:right\">12.25</td>"));
        assert!(html.contains(
            "<tfoot><tr><th style=\"text-align:left\"><b>mean</b></th>\
             <td style=\"text-align:right\"><b>6.375</b></td></tr></tfoot>"
        ));
        assert_eq!(
            t.to_markdown(),
            "| field | VRMSE |\n|---|---:|\n| density | 0.5 |\n| v | 12.25 |\n\
             | **mean** | **6.375** |\n"
        );
    }
}
