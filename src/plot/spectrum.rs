//! Spectra and NEPS curves on log axes with The Well's band edges marked (the paper's
//! Section 2.2 quantities, shown per field and averaged).

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Figure, display_svg, draw_error};
use crate::metrics::{NepsCurve, NepsSpectrum, SpectrumOptions};
use crate::{Error, Result};

/// Which panels a [`SpectrumFigure`] draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpectrumPanel {
    /// `P_x(k)` (solid) and `P_{x−x̂}(k)` (dashed).
    Power,
    /// `NEPS(k)`, with the line `NEPS = 1`.
    Neps,
}

/// Power spectra and NEPS(k) of every field and their mean, side by side.
#[derive(Debug, Clone)]
pub struct SpectrumFigure {
    spectrum: NepsSpectrum,
    panels: Vec<SpectrumPanel>,
    title: String,
}

/// The colour cycle shared by every line figure (matplotlib's first eight).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

impl SpectrumFigure {
    /// Both panels of `spectrum`.
    pub fn new(spectrum: NepsSpectrum) -> Self {
        SpectrumFigure {
            spectrum,
            panels: vec![SpectrumPanel::Power, SpectrumPanel::Neps],
            title: String::new(),
        }
    }

    /// Power spectra and NEPS(k) of `pred` against `target`, one curve per channel and
    /// their mean ([`NepsSpectrum::from_tensors`], then [`SpectrumFigure::new`]).
    ///
    /// # Shapes
    /// `pred` and `target`: `(batch, channels, time, *spatial)`, any float dtype and device.
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::metrics::SpectrumOptions;
    /// use phystok::plot::{Figure, SpectrumFigure};
    ///
    /// let target = Tensor::randn(0f32, 1.0, (1, 2, 2, 32, 32), &Device::Cpu)?;
    /// let pred = (&target * 0.8)?;
    /// let options = SpectrumOptions::default().with_channel_names(["density", "pressure"]);
    /// let fig = SpectrumFigure::from_tensors(&pred, &target, &options)?.with_title("80 %");
    /// assert!(fig.to_svg()?.contains("pressure"));
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(pred: &Tensor, target: &Tensor, options: &SpectrumOptions) -> Result<Self> {
        Ok(SpectrumFigure::new(NepsSpectrum::from_tensors(
            pred, target, options,
        )?))
    }

    /// Chooses the panels.
    pub fn with_panels(mut self, panels: Vec<SpectrumPanel>) -> Self {
        self.panels = panels;
        self
    }

    /// Sets a title shown above the panels.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Shows the figure inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        display_svg(self);
    }

    fn curves(&self) -> Vec<(&NepsCurve, ShapeStyle)> {
        let mut out: Vec<(&NepsCurve, ShapeStyle)> = self
            .spectrum
            .per_channel
            .iter()
            .enumerate()
            .map(|(i, c)| (c, PALETTE[i % PALETTE.len()].stroke_width(1)))
            .collect();
        if self.spectrum.per_channel.len() > 1 {
            out.push((&self.spectrum.mean, BLACK.stroke_width(3)));
        }
        out
    }

    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: SpectrumPanel,
    ) -> Result<()> {
        let k = &self.spectrum.k;
        let series: Vec<Series> = self
            .curves()
            .into_iter()
            .flat_map(|(c, style)| {
                let pts = |v: &[f64]| positive_points(k, v);
                match panel {
                    SpectrumPanel::Power => vec![
                        (
                            format!("{} P_x", c.name),
                            pts(&c.target_power),
                            style,
                            false,
                        ),
                        (
                            format!("{} P_err", c.name),
                            pts(&c.residual_power),
                            style,
                            true,
                        ),
                    ],
                    SpectrumPanel::Neps => vec![(c.name.clone(), pts(&c.neps), style, false)],
                }
            })
            .collect();
        let all: Vec<(f64, f64)> = series.iter().flat_map(|s| s.1.iter().copied()).collect();
        if all.is_empty() {
            return Err(Error::Empty {
                what: "positive spectrum values to plot".into(),
            });
        }
        let (x0, x1) = range(all.iter().map(|p| p.0));
        let (mut y0, mut y1) = range(all.iter().map(|p| p.1));
        if panel == SpectrumPanel::Neps {
            y0 = y0.min(0.5);
            y1 = y1.max(2.0);
        }
        let (caption, y_desc) = match panel {
            SpectrumPanel::Power => ("power spectra (solid: target, dashed: error)", "P(k)"),
            SpectrumPanel::Neps => ("NEPS(k) = P_err(k) / P_x(k)", "NEPS"),
        };
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (x0 / 1.1..x1 * 1.1).log_scale(),
                (y0 / 1.5..y1 * 1.5).log_scale(),
            )
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("|k| (radians per cell)")
            .y_desc(y_desc)
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .x_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(draw_error)?;
        // band edges: dashed grey verticals, band names between them
        let edges = &self.spectrum.band_edges;
        let grey = RGBColor(120, 120, 120).stroke_width(1);
        for &e in edges.iter().skip(1).take(2) {
            if e > x0 / 1.1 && e < x1 * 1.1 {
                let line = vec![(e, y0 / 1.5), (e, y1 * 1.5)];
                chart
                    .draw_series(DashedLineSeries::new(line, 6, 4, grey))
                    .map_err(draw_error)?;
            }
        }
        let lows = [x0 / 1.1, edges[1], edges[2]];
        let highs = [edges[1], edges[2], x1 * 1.1];
        for (name, (lo, hi)) in ["low", "mid", "high"].iter().zip(lows.iter().zip(highs)) {
            let (lo, hi) = (lo.max(x0 / 1.1), hi.min(x1 * 1.1));
            if hi > lo {
                let at = ((lo * hi).sqrt(), y1 * 1.2);
                chart
                    .draw_series(std::iter::once(Text::new(
                        name.to_string(),
                        at,
                        ("sans-serif", 13),
                    )))
                    .map_err(draw_error)?;
            }
        }
        if panel == SpectrumPanel::Neps {
            let one = vec![(x0 / 1.1, 1.0), (x1 * 1.1, 1.0)];
            chart
                .draw_series(LineSeries::new(one, BLACK.mix(0.3)))
                .map_err(draw_error)?;
        }
        for (name, pts, style, dashed) in series {
            if dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts, 5, 3, style))
                    .map_err(draw_error)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts, style))
                    .map_err(draw_error)?
                    .label(name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(draw_error)?;
        Ok(())
    }
}

impl Figure for SpectrumFigure {
    fn size(&self) -> (u32, u32) {
        (
            460 * self.panels.len().max(1) as u32,
            380 + if self.title.is_empty() { 0 } else { 30 },
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(draw_error)?;
        let body = if self.title.is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, ("sans-serif", 20))
                .map_err(draw_error)?
        };
        let areas = body.split_evenly((1, self.panels.len().max(1)));
        for (area, &panel) in areas.iter().zip(&self.panels) {
            self.draw_panel(area, panel)?;
        }
        Ok(())
    }
}

impl NepsSpectrum {
    /// The spectra and NEPS(k) as a figure (feature `plot`).
    pub fn plot(&self) -> SpectrumFigure {
        SpectrumFigure::new(self.clone())
    }

    /// Shows both panels inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        self.plot().evcxr_display();
    }
}

/// Label, points, style, and whether the line is dashed.
type Series = (String, Vec<(f64, f64)>, ShapeStyle, bool);

fn positive_points(k: &[f64], v: &[f64]) -> Vec<(f64, f64)> {
    k.iter()
        .zip(v)
        .filter(|(k, v)| **k > 0.0 && **v > 0.0 && v.is_finite())
        .map(|(&k, &v)| (k, v))
        .collect()
}

/// The smallest and largest of `values`.
pub(crate) fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    })
}
