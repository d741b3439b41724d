//! Horizontal bar charts with a spread whisker per bar (mean ± spread over seeds), panels side
//! by side: the tokeniser ablations draw with it.

use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::spectrum::PALETTE;
use super::{Figure, display_svg, draw_error};
use crate::Result;

/// One bar: a label, its value and the half-width of its whisker (0: none).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bar {
    /// Axis label.
    pub label: String,
    /// The bar's length.
    pub value: f64,
    /// Half-width of the whisker drawn at the bar's end.
    pub spread: f64,
}

/// One panel of bars sharing an axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarPanel {
    /// Panel title.
    pub title: String,
    /// Value-axis label.
    pub x_label: String,
    /// The bars, top first.
    pub bars: Vec<Bar>,
}

/// Panels of horizontal bars, side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarsFigure {
    /// Figure title (empty: none).
    pub title: String,
    /// The panels.
    pub panels: Vec<BarPanel>,
}

impl BarsFigure {
    /// A figure of `panels`.
    pub fn new(panels: Vec<BarPanel>) -> Self {
        BarsFigure {
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

fn draw_panel<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, panel: &BarPanel) -> Result<()> {
    let n = panel.bars.len().max(1);
    let top = panel
        .bars
        .iter()
        .map(|b| b.value + b.spread.max(0.0))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { 1.08 * top } else { 1.0 };
    let labels: Vec<String> = panel.bars.iter().map(|b| b.label.clone()).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(170)
        .build_cartesian_2d(0.0..top, (0..n - 1).into_segmented())
        .map_err(draw_error)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(panel.x_label.as_str())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => labels.get(n - 1 - *i).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .y_labels(n)
        .draw()
        .map_err(draw_error)?;
    for (i, bar) in panel.bars.iter().enumerate() {
        if !bar.value.is_finite() {
            continue;
        }
        let row = n - 1 - i;
        let colour = PALETTE[i % PALETTE.len()];
        let mut rect = Rectangle::new(
            [
                (0.0, SegmentValue::Exact(row)),
                (bar.value, SegmentValue::Exact(row + 1)),
            ],
            colour.mix(0.75).filled(),
        );
        rect.set_margin(3, 3, 0, 0);
        chart
            .draw_series(std::iter::once(rect))
            .map_err(draw_error)?;
        if bar.spread > 0.0 && bar.spread.is_finite() {
            let (lo, hi) = (bar.value - bar.spread, bar.value + bar.spread);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![
                        (lo.max(0.0), SegmentValue::CenterOf(row)),
                        (hi, SegmentValue::CenterOf(row)),
                    ],
                    BLACK.stroke_width(2),
                )))
                .map_err(draw_error)?;
        }
    }
    Ok(())
}

impl Figure for BarsFigure {
    fn size(&self) -> (u32, u32) {
        let rows = self.panels.iter().map(|p| p.bars.len()).max().unwrap_or(1) as u32;
        (
            460 * self.panels.len().max(1) as u32,
            90 + 34 * rows + if self.title.is_empty() { 0 } else { 30 },
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
    fn bars_draw_every_label_into_the_svg() {
        let fig = BarsFigure::new(vec![BarPanel {
            title: "reconstruction".into(),
            x_label: "VRMSE".into(),
            bars: vec![
                Bar {
                    label: "baseline".into(),
                    value: 0.5,
                    spread: 0.05,
                },
                Bar {
                    label: "transposed".into(),
                    value: 0.7,
                    spread: 0.0,
                },
            ],
        }])
        .with_title("ablations");
        let svg = fig.to_svg().unwrap();
        assert!(svg.contains("baseline") && svg.contains("transposed"));
        assert!(svg.contains("<rect"));
    }
}
