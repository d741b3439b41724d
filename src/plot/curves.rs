//! Line plots of training and evaluation curves: panels side by side, one line per series,
//! an optional shaded spread band (mean ± spread over seeds), log or linear `y`. Training
//! histories, the paper's Figure 2 (validation metrics against steps) and Figure 3
//! (rollout VRMSE per horizon) all draw with it.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::spectrum::{PALETTE, range};
use super::{Figure, display_svg, draw_error};
use crate::Result;

/// One line: `(x, y)` points and, optionally, a band `(x, low, high)` shaded around it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveSeries {
    /// Legend label.
    pub name: String,
    /// The line.
    pub points: Vec<(f64, f64)>,
    /// The shaded spread (empty: none).
    pub band: Vec<(f64, f64, f64)>,
}

impl CurveSeries {
    /// A line without a band.
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        CurveSeries {
            name: name.into(),
            points,
            band: Vec::new(),
        }
    }
    /// Adds a shaded band `(x, low, high)`.
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = band;
        self
    }
}

/// One panel: axes, a caption and its lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePanel {
    /// Caption above the panel.
    pub title: String,
    /// `x` axis label.
    pub x_label: String,
    /// `y` axis label.
    pub y_label: String,
    /// Whether `y` is on a log scale (non-positive values are then left out).
    pub log_y: bool,
    /// The lines.
    pub series: Vec<CurveSeries>,
}

impl CurvePanel {
    /// An empty panel with a log `y` axis.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        CurvePanel {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_y: true,
            series: Vec::new(),
        }
    }
    /// Sets a linear `y` axis.
    pub fn linear(mut self) -> Self {
        self.log_y = false;
        self
    }
    /// Adds a line.
    pub fn with_series(mut self, series: CurveSeries) -> Self {
        self.series.push(series);
        self
    }
}

/// Panels of curves side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvesFigure {
    /// Title above all panels (empty: none).
    pub title: String,
    /// The panels, left to right.
    pub panels: Vec<CurvePanel>,
}

impl CurvesFigure {
    /// A figure of these panels.
    pub fn new(panels: Vec<CurvePanel>) -> Self {
        CurvesFigure {
            title: String::new(),
            panels,
        }
    }
    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
    /// Shows the figure inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        display_svg(self);
    }
}

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &CurvePanel) -> Result<()> {
    let ty = |v: f64| if panel.log_y { v.log10() } else { v };
    let keep = |v: f64| v.is_finite() && (!panel.log_y || v > 0.0);
    let lines: Vec<Vec<(f64, f64)>> = panel
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|p| p.0.is_finite() && keep(p.1))
                .map(|&(x, y)| (x, ty(y)))
                .collect()
        })
        .collect();
    let bands: Vec<Vec<(f64, f64, f64)>> = panel
        .series
        .iter()
        .map(|s| {
            s.band
                .iter()
                .filter(|b| b.0.is_finite() && keep(b.1) && keep(b.2))
                .map(|&(x, lo, hi)| (x, ty(lo), ty(hi)))
                .collect()
        })
        .collect();
    let xs = lines.iter().flatten().map(|p| p.0);
    let ys = lines
        .iter()
        .flatten()
        .map(|p| p.1)
        .chain(bands.iter().flatten().flat_map(|b| [b.1, b.2]));
    let (mut x0, mut x1) = range(xs);
    let (mut y0, mut y1) = range(ys);
    if !(x0.is_finite() && x1.is_finite()) {
        (x0, x1) = (0.0, 1.0);
    }
    if !(y0.is_finite() && y1.is_finite()) {
        (y0, y1) = (0.0, 1.0);
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a { 0.05 * (b - a) } else { 0.5 };
        (a - d, b + d)
    };
    let (x0, x1) = if x1 > x0 { (x0, x1) } else { pad(x0, x1) };
    let (y0, y1) = pad(y0, y1);
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(58)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(draw_error)?;
    let log_y = panel.log_y;
    let y_fmt = move |v: &f64| {
        if log_y {
            format!("{:.0e}", 10f64.powf(*v))
        } else {
            format!("{v:.3}")
        }
    };
    chart
        .configure_mesh()
        .x_desc(panel.x_label.as_str())
        .y_desc(panel.y_label.as_str())
        .y_label_formatter(&y_fmt)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(draw_error)?;
    for (i, (series, (line, band))) in panel
        .series
        .iter()
        .zip(lines.iter().zip(&bands))
        .enumerate()
    {
        let colour = PALETTE[i % PALETTE.len()];
        if band.len() > 1 {
            let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(band.iter().rev().map(|b| (b.0, b.1)));
            chart
                .draw_series(std::iter::once(Polygon::new(
                    poly,
                    colour.mix(0.18).filled(),
                )))
                .map_err(draw_error)?;
        }
        let style = colour.stroke_width(2);
        let drawn = if line.len() == 1 {
            chart
                .draw_series(std::iter::once(Circle::new(line[0], 3, style.filled())))
                .map_err(draw_error)?
        } else {
            chart
                .draw_series(LineSeries::new(line.clone(), style))
                .map_err(draw_error)?
        };
        drawn
            .label(series.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
    }
    if !panel.series.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(draw_error)?;
    }
    Ok(())
}

impl Figure for CurvesFigure {
    fn size(&self) -> (u32, u32) {
        (
            380 * self.panels.len().max(1) as u32,
            320 + if self.title.is_empty() { 0 } else { 30 },
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(draw_error)?;
        let body = if self.title.is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, ("sans-serif", 18))
                .map_err(draw_error)?
        };
        let areas = body.split_evenly((1, self.panels.len().max(1)));
        for (area, panel) in areas.iter().zip(&self.panels) {
            draw_panel(area, panel)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_lines_bands_and_skips_non_positive_on_log_axes() -> Result<()> {
        let fig = CurvesFigure::new(vec![
            CurvePanel::new("loss", "step", "MSE").with_series(
                CurveSeries::new("run a", vec![(1.0, 1.0), (2.0, 0.5), (3.0, 0.0)])
                    .with_band(vec![(1.0, 0.8, 1.2), (2.0, 0.4, 0.6)]),
            ),
            CurvePanel::new("vrmse", "step", "VRMSE")
                .linear()
                .with_series(CurveSeries::new("only point", vec![(5.0, 0.3)])),
        ])
        .with_title("curves");
        let svg = fig.to_svg()?;
        assert!(svg.contains("run a") && svg.contains("only point"));
        assert!(
            svg.contains("<polygon") || svg.contains("<path"),
            "band drawn"
        );
        assert!(!fig.to_png(1.0)?.is_empty());
        Ok(())
    }
}
