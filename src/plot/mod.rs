//! Figures for notebooks: spectra and NEPS curves, field snapshots.
//!
//! Every figure draws with plotters onto any backend, shows itself inline in evcxr
//! (`evcxr_display`, an `image/svg+xml` block), and saves to SVG and PNG. PNG comes from
//! rendering the same SVG with `resvg` (pure Rust) and an embedded font
//! ([`fonts/PhystokSans.ttf`](fonts/LICENSE-DejaVu.txt), a DejaVu Sans subset), so it needs
//! no system fonts and no C libraries. Figures of model outputs are made straight from
//! candle tensors and an options struct: [`SpectrumFigure::from_tensors`] with
//! [`SpectrumOptions`](crate::metrics::SpectrumOptions), [`SnapshotFigure::from_tensors`]
//! with [`SnapshotOptions`].

mod bars;
mod colour;
mod curves;
mod figure;
mod harmonics;
mod render;
mod snapshot;
mod spectrum;

pub use bars::{Bar, BarPanel, BarsFigure};
pub use colour::{Colormap, colour_at};
pub use curves::{CurvePanel, CurveSeries, CurvesFigure};
pub(crate) use figure::draw_error;
pub use figure::{Figure, display_svg};
pub use harmonics::HarmonicFigure;
pub use render::svg_to_png;
pub use snapshot::{SnapshotFigure, SnapshotOptions};
pub use spectrum::{SpectrumFigure, SpectrumPanel};
