//! Field snapshots: truth, prediction and residual heat maps of one frame, one row per
//! field. Truth and prediction share one colour scale per field (viridis); the residual
//! uses a symmetric blue–white–red scale. NaN cells are magenta.

use candle_core::Tensor;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use super::colour::{Colormap, colour_at};
use super::{Figure, display_svg, draw_error};
use crate::metrics::{FramePair, Real, channel_names, with_tensor_frames};
use crate::{ConfigError, Error, Result};

/// Which frame a [`SnapshotFigure`] shows, and how finely.
///
/// | setting | default |
/// |---|---|
/// | `sample` | `0`: the first sample of the batch |
/// | `time` | `0`: the first time step |
/// | `channel_names` | `None`: channels are named `c0`, `c1`, … |
/// | `max_cells` | `64` cells per side at most (images are block-averaged down to it) |
///
/// An SVG grows with its cells: `with_max_cells(32)` keeps a four-field figure near half a
/// megabyte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotOptions {
    /// The sample (index along `batch`).
    pub sample: usize,
    /// The time step (index along `time`).
    pub time: usize,
    /// One name per channel, in channel order (`None`: `c0`, `c1`, …).
    pub channel_names: Option<Vec<String>>,
    /// At most this many cells per side in each image.
    pub max_cells: usize,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            sample: 0,
            time: 0,
            channel_names: None,
            max_cells: 64,
        }
    }
}

impl SnapshotOptions {
    /// Sets the sample.
    pub fn with_sample(mut self, sample: usize) -> Self {
        self.sample = sample;
        self
    }

    /// Sets the time step.
    pub fn with_time(mut self, time: usize) -> Self {
        self.time = time;
        self
    }

    /// Names the channels (one name per channel of the tensors, in order).
    pub fn with_channel_names<S: Into<String>>(
        mut self,
        names: impl IntoIterator<Item = S>,
    ) -> Self {
        self.channel_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the most cells per side.
    pub fn with_max_cells(mut self, max_cells: usize) -> Self {
        self.max_cells = max_cells;
        self
    }

    /// Checks the settings that do not depend on the data.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_cells == 0 {
            return Err(ConfigError::NotPositive {
                name: "max_cells",
                value: 0.0,
            });
        }
        Ok(())
    }
}

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
    /// Truth, prediction and residual of one frame of `pred` and `target`, one row per
    /// channel, titled `sample S, time T`. 3-D fields show their middle slice along the
    /// first spatial axis.
    ///
    /// # Shapes
    /// `pred` and `target`: `(batch, channels, time, *spatial)`, 2-D or 3-D space, any float
    /// dtype and device.
    ///
    /// # Errors
    /// [`Error::Shape`] when the shapes differ or space is 1-D;
    /// [`ConfigError::IndexOutOfRange`] naming `sample` or `time` when there is no such
    /// frame; [`ConfigError::Mismatch`] naming `channel_names` when there is not one name
    /// per channel; [`ConfigError::NotPositive`] naming `max_cells` when it is 0.
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::plot::{Figure, SnapshotFigure, SnapshotOptions};
    ///
    /// let target = Tensor::randn(0f32, 1.0, (2, 1, 8, 48, 48), &Device::Cpu)?;
    /// let pred = (&target * 0.9)?;
    /// let options = SnapshotOptions::default()
    ///     .with_sample(1)
    ///     .with_time(7)
    ///     .with_channel_names(["density"])
    ///     .with_max_cells(16);
    /// let svg = SnapshotFigure::from_tensors(&pred, &target, &options)?.to_svg()?;
    /// assert!(svg.contains("density truth") && svg.contains("sample 1, time 7"));
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(pred: &Tensor, target: &Tensor, options: &SnapshotOptions) -> Result<Self> {
        options.check()?;
        with_tensor_frames(pred, target, |frames| Self::from_frames(frames, options))
    }

    fn from_frames<T: Real>(frames: &FramePair<'_, T>, options: &SnapshotOptions) -> Result<Self> {
        let (pred, target, layout) = (frames.pred, frames.target, &frames.layout);
        let (sample, time, max_cells) = (options.sample, options.time, options.max_cells);
        for (name, index, len) in [
            ("sample", sample, layout.batch),
            ("time", time, layout.time),
        ] {
            if index >= len {
                return Err(ConfigError::IndexOutOfRange { name, index, len }.into());
            }
        }
        let names = channel_names(options.channel_names.as_deref(), layout.channels)?;
        let sp = &layout.spatial;
        if sp.len() < 2 {
            return Err(Error::Shape {
                what: "snapshot grid (need 2-D or 3-D)".into(),
                left: sp.clone(),
                right: vec![0, 0],
            });
        }
        let (h, w) = (sp[sp.len() - 2], sp[sp.len() - 1]);
        let n: usize = sp.iter().product();
        let slice_offset = if sp.len() == 3 {
            (sp[0] / 2) * h * w
        } else {
            0
        };
        let fields = names
            .into_iter()
            .enumerate()
            .map(|(c, name)| {
                let s = ((sample * layout.channels + c) * layout.time + time) * n + slice_offset;
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

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    fn ramp(dims: &[usize]) -> Tensor {
        let n: usize = dims.iter().product();
        let v: Vec<f32> = (0..n).map(|i| ((i * 37 % 101) as f32).sin()).collect();
        Tensor::from_vec(v, dims, &Device::Cpu).unwrap()
    }

    #[test]
    fn options_default_to_the_first_frame_and_64_cells() {
        let o = SnapshotOptions::default();
        assert_eq!((o.sample, o.time, o.max_cells), (0, 0, 64));
        assert_eq!(o.channel_names, None);
        let target = ramp(&[2, 2, 3, 80, 40]);
        let pred = (&target * 0.5).unwrap();
        let fig = SnapshotFigure::from_tensors(&pred, &target, &o).unwrap();
        assert_eq!(fig.title, "sample 0, time 0");
        let names: Vec<&str> = fig.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["c0", "c1"]);
        // 80 x 40 block-averaged by 2 to fit 64 cells: 40 x 20
        assert_eq!((fig.fields[0].height, fig.fields[0].width), (40, 20));
        // the first frame of channel 1 is what the images hold
        let first: Vec<f32> = target
            .narrow(1, 1, 1)
            .unwrap()
            .narrow(2, 0, 1)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let block = (first[0] + first[1] + first[40] + first[41]) as f64 / 4.0;
        assert!((fig.fields[1].truth[0] - block).abs() < 1e-6);
    }

    #[test]
    fn bad_options_are_typed_errors_naming_the_setting() {
        let a = ramp(&[1, 2, 2, 8, 8]);
        let err = |o: SnapshotOptions| SnapshotFigure::from_tensors(&a, &a, &o).unwrap_err();
        assert!(matches!(
            err(SnapshotOptions::default().with_sample(1)),
            Error::Config(ConfigError::IndexOutOfRange {
                name: "sample",
                index: 1,
                len: 1
            })
        ));
        assert!(matches!(
            err(SnapshotOptions::default().with_time(2)),
            Error::Config(ConfigError::IndexOutOfRange {
                name: "time",
                index: 2,
                len: 2
            })
        ));
        assert!(matches!(
            err(SnapshotOptions::default().with_channel_names(["a", "b", "c"])),
            Error::Config(ConfigError::Mismatch {
                name: "channel_names",
                ..
            })
        ));
        assert!(matches!(
            err(SnapshotOptions::default().with_max_cells(0)),
            Error::Config(ConfigError::NotPositive {
                name: "max_cells",
                ..
            })
        ));
        let b = ramp(&[1, 2, 2, 8, 4]);
        assert!(matches!(
            SnapshotFigure::from_tensors(&a, &b, &SnapshotOptions::default()),
            Err(Error::Shape { .. })
        ));
    }
}
