//! Field snapshots: truth, prediction and residual heat maps of one frame, one row per
//! field. Truth and prediction share one colour scale per field (viridis); the residual
//! uses a symmetric blue–white–red scale. NaN cells are magenta.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour::{Colormap, colour_at};
use super::{Figure, display_svg, draw_error};
use crate::metrics::FrameLayout;
use crate::metrics::Real;
use crate::{Error, Result};

/// One field's three images, already reduced to at most `max_cells` per side.
#[derive(Debug, Clone)]
struct FieldImages {
    name: String,
    height: usize,
    width: usize,
    truth: Vec<f64>,
    pred: Vec<f64>,
}

/// Truth / prediction / residual heat maps of one (sample, time) frame, per field.
#[derive(Debug, Clone)]
pub struct SnapshotFigure {
    fields: Vec<FieldImages>,
    title: String,
}

impl SnapshotFigure {
    /// The frame at `sample`, `time` of `(batch, channels, time, *spatial)` data. 3-D
    /// fields show their middle slice along the first spatial axis. Images are
    /// block-averaged to at most 64 cells per side (SVG size); see [`Self::with_max_cells`].
    pub fn new<T: Real>(
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        sample: usize,
        time: usize,
        channel_names: Option<Vec<String>>,
    ) -> Result<Self> {
        Self::with_max_cells(pred, target, layout, sample, time, channel_names, 64)
    }

    /// [`SnapshotFigure::new`] with at most `max_cells` cells per side.
    pub fn with_max_cells<T: Real>(
        pred: &[T],
        target: &[T],
        layout: &FrameLayout,
        sample: usize,
        time: usize,
        channel_names: Option<Vec<String>>,
        max_cells: usize,
    ) -> Result<Self> {
        if pred.len() != layout.len() || target.len() != layout.len() {
            return Err(Error::Shape {
                what: "snapshot prediction / target vs layout".into(),
                left: vec![pred.len(), target.len()],
                right: layout.dims(),
            });
        }
        if sample >= layout.batch || time >= layout.time {
            return Err(Error::OutOfRange {
                what: "snapshot (sample, time)".into(),
                index: if sample >= layout.batch { sample } else { time },
                len: if sample >= layout.batch {
                    layout.batch
                } else {
                    layout.time
                },
            });
        }
        let sp = &layout.spatial;
        let (h, w) = (sp[sp.len().saturating_sub(2)], sp[sp.len() - 1]);
        if sp.len() < 2 || max_cells == 0 {
            return Err(Error::Shape {
                what: "snapshot grid (need 2-D or 3-D)".into(),
                left: sp.clone(),
                right: vec![0, 0],
            });
        }
        let n: usize = sp.iter().product();
        let slice_offset = if sp.len() == 3 {
            (sp[0] / 2) * h * w
        } else {
            0
        };
        let fields = (0..layout.channels)
            .map(|c| {
                let s = ((sample * layout.channels + c) * layout.time + time) * n + slice_offset;
                let name = channel_names
                    .as_ref()
                    .and_then(|v| v.get(c).cloned())
                    .unwrap_or(format!("c{c}"));
                let (height, width, truth) = block_average(&target[s..s + h * w], h, w, max_cells);
                let (_, _, pred) = block_average(&pred[s..s + h * w], h, w, max_cells);
                FieldImages {
                    name,
                    height,
                    width,
                    truth,
                    pred,
                }
            })
            .collect();
        Ok(SnapshotFigure {
            fields,
            title: format!("sample {sample}, time {time}"),
        })
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

impl Figure for SnapshotFigure {
    fn size(&self) -> (u32, u32) {
        (3 * 260, 40 + 250 * self.fields.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(draw_error)?;
        let body = root
            .titled(&self.title, ("sans-serif", 18))
            .map_err(draw_error)?;
        let areas = body.split_evenly((self.fields.len().max(1), 3));
        for (f, row) in self.fields.iter().zip(areas.chunks(3)) {
            let (lo, hi) = finite_range(f.truth.iter().chain(&f.pred));
            let residual: Vec<f64> = f.pred.iter().zip(&f.truth).map(|(p, t)| p - t).collect();
            let r_max = finite_range(residual.iter().map(|v| v.abs()).collect::<Vec<_>>().iter())
                .1
                .max(1e-30);
            let norm = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            let panels: [Panel; 3] = [
                (
                    format!("{} truth [{lo:.3}, {hi:.3}]", f.name),
                    &f.truth,
                    Colormap::Viridis,
                    Box::new(norm),
                ),
                (
                    format!("{} prediction", f.name),
                    &f.pred,
                    Colormap::Viridis,
                    Box::new(norm),
                ),
                (
                    format!("residual ±{r_max:.3}"),
                    &residual,
                    Colormap::Diverging,
                    Box::new(move |v| 0.5 + 0.5 * v / r_max),
                ),
            ];
            for (area, (caption, data, map, to_unit)) in row.iter().zip(panels) {
                heat_map(area, &caption, data, f.height, f.width, map, &*to_unit)?;
            }
        }
        Ok(())
    }
}

/// Caption, values, colour map, and the map from value to `[0, 1]`.
type Panel<'a> = (String, &'a Vec<f64>, Colormap, Box<dyn Fn(f64) -> f64 + 'a>);

fn heat_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    data: &[f64],
    h: usize,
    w: usize,
    map: Colormap,
    to_unit: &dyn Fn(f64) -> f64,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 13))
        .margin(6)
        .build_cartesian_2d(0..w as i32, 0..h as i32)
        .map_err(draw_error)?;
    chart
        .draw_series((0..h).flat_map(|i| {
            (0..w).map(move |j| {
                let c = colour_at(map, to_unit(data[i * w + j]));
                let (x, y) = (j as i32, (h - 1 - i) as i32);
                Rectangle::new([(x, y), (x + 1, y + 1)], c.filled())
            })
        }))
        .map_err(draw_error)?;
    Ok(())
}

/// Block-averages an `(h, w)` image so neither side exceeds `max_cells`.
fn block_average<T: Real>(
    img: &[T],
    h: usize,
    w: usize,
    max_cells: usize,
) -> (usize, usize, Vec<f64>) {
    let f = h.div_ceil(max_cells).max(w.div_ceil(max_cells)).max(1);
    let (oh, ow) = (h.div_ceil(f), w.div_ceil(f));
    let mut out = vec![0.0; oh * ow];
    let mut count = vec![0usize; oh * ow];
    for i in 0..h {
        for j in 0..w {
            let o = (i / f) * ow + j / f;
            out[o] += img[i * w + j].to_f64();
            count[o] += 1;
        }
    }
    out.iter_mut().zip(count).for_each(|(v, c)| *v /= c as f64);
    (oh, ow, out)
}

fn finite_range<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo > hi { (0.0, 0.0) } else { (lo, hi) }
}
