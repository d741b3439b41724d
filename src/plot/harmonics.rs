//! Residual power spectra with the patch harmonics marked (the compute-adaptive paper's
//! Figure 2, left): one curve per model or schedule, dotted verticals at `m·N/p`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::spectrum::PALETTE;
use super::{Figure, display_svg, draw_error};
use crate::metrics::HarmonicSpikes;
use crate::{Error, Result};

/// Residual spectra of several runs at one rollout step, harmonics marked.
#[derive(Debug, Clone)]
pub struct HarmonicFigure {
    k: Vec<f64>,
    harmonics: Vec<usize>,
    series: Vec<(String, Vec<f64>)>,
    title: String,
}

impl HarmonicFigure {
    /// An empty figure on the shells `k` (radians per cell) marking `harmonics` (shell
    /// indices into `k`).
    pub fn new(k: Vec<f64>, harmonics: Vec<usize>) -> Self {
        HarmonicFigure {
            k,
            harmonics,
            series: Vec::new(),
            title: String::new(),
        }
    }

    /// A figure of `spikes` at `step` (mean over fields), labelled `name`, harmonics marked.
    pub fn from_spikes(name: impl Into<String>, spikes: &HarmonicSpikes, step: usize) -> Self {
        HarmonicFigure::new(spikes.k.clone(), spikes.harmonics.clone())
            .with_series(name, spikes.mean_spectrum(step))
    }

    /// Adds a residual power curve.
    pub fn with_series(mut self, name: impl Into<String>, power: Vec<f64>) -> Self {
        self.series.push((name.into(), power));
        self
    }

    /// Sets the title.
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Shows the figure inline in evcxr.
    pub fn evcxr_display(&self) {
        display_svg(self);
    }
}

impl Figure for HarmonicFigure {
    fn size(&self) -> (u32, u32) {
        (640, 420 + if self.title.is_empty() { 0 } else { 30 })
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(draw_error)?;
        let area = if self.title.is_empty() {
            root.clone()
        } else {
            root.titled(&self.title, ("sans-serif", 18))
                .map_err(draw_error)?
        };
        let curves: Vec<(&String, Vec<(f64, f64)>)> = self
            .series
            .iter()
            .map(|(name, p)| {
                let pts = self
                    .k
                    .iter()
                    .zip(p)
                    .filter(|(k, v)| **k > 0.0 && v.is_finite() && **v > 0.0)
                    .map(|(k, v)| (*k, *v))
                    .collect();
                (name, pts)
            })
            .collect();
        let all: Vec<(f64, f64)> = curves.iter().flat_map(|c| c.1.iter().copied()).collect();
        if all.is_empty() {
            return Err(Error::Empty {
                what: "positive residual power to plot".into(),
            });
        }
        let fold =
            |f: fn(f64, f64) -> f64, init: f64, it: &mut dyn Iterator<Item = f64>| it.fold(init, f);
        let x0 = fold(f64::min, f64::INFINITY, &mut all.iter().map(|p| p.0));
        let x1 = fold(f64::max, 0.0, &mut all.iter().map(|p| p.0));
        let y0 = fold(f64::min, f64::INFINITY, &mut all.iter().map(|p| p.1));
        let y1 = fold(f64::max, 0.0, &mut all.iter().map(|p| p.1));
        let (ylo, yhi) = (y0 / 2.0, y1 * 2.0);
        let mut chart = ChartBuilder::on(&area)
            .caption(
                "residual power spectrum (dotted: patch harmonics m·N/p)",
                ("sans-serif", 15),
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 / 1.1..x1 * 1.1).log_scale(), (ylo..yhi).log_scale())
            .map_err(draw_error)?;
        chart
            .configure_mesh()
            .x_desc("|k| (radians per cell)")
            .y_desc("P_err(k)")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .x_label_formatter(&|v| format!("{v:.2}"))
            .draw()
            .map_err(draw_error)?;
        let grey = RGBColor(150, 150, 150).stroke_width(1);
        for &h in &self.harmonics {
            if let Some(&k) = self.k.get(h) {
                chart
                    .draw_series(DashedLineSeries::new(vec![(k, ylo), (k, yhi)], 2, 3, grey))
                    .map_err(draw_error)?;
            }
        }
        for (i, (name, pts)) in curves.into_iter().enumerate() {
            let style = PALETTE[i % PALETTE.len()].stroke_width(2);
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(draw_error)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_curves_and_harmonic_lines() -> Result<()> {
        let k: Vec<f64> = (0..33).map(|i| i as f64 * 0.1).collect();
        let p: Vec<f64> = (0..33)
            .map(|i| {
                if i % 8 == 0 {
                    10.0
                } else {
                    1.0 / (1 + i) as f64
                }
            })
            .collect();
        let svg = HarmonicFigure::new(k, vec![8, 16, 24, 32])
            .with_series("fixed p8", p.clone())
            .with_series("cyclic", p.iter().map(|v| v * 0.5).collect())
            .with_title("t")
            .to_svg()?;
        assert!(svg.contains("fixed p8") && svg.contains("cyclic"));
        // the harmonic markers are the only grey (150, 150, 150) strokes
        assert!(svg.to_lowercase().contains("#969696"));
        let bare = HarmonicFigure::new((0..33).map(|i| i as f64 * 0.1).collect(), vec![])
            .with_series("fixed p8", p)
            .to_svg()?;
        assert!(!bare.to_lowercase().contains("#969696"));
        let empty = HarmonicFigure::new(vec![0.0], vec![]).to_svg();
        assert!(empty.is_err());
        Ok(())
    }
}
