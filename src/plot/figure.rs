//! The [`Figure`] trait every figure implements, and its display in evcxr.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, IntoDrawingArea, SVGBackend};

use super::render::svg_to_png;
use crate::{Error, Result};

/// Something that draws itself onto a plotters drawing area of its preferred size.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws onto `root` (already sized to [`Figure::size`]).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;

    /// The figure as an SVG document.
    fn to_svg(&self) -> Result<String> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            self.draw(&root)?;
            root.present().map_err(draw_error)?;
        }
        Ok(svg)
    }

    /// The figure as PNG bytes (rendered from its SVG with resvg at `scale`× pixels).
    fn to_png(&self, scale: f32) -> Result<Vec<u8>> {
        svg_to_png(&self.to_svg()?, scale)
    }

    /// Writes the SVG to `path`.
    fn save_svg(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_svg()?).map_err(|e| Error::io(path, e))
    }

    /// Writes a PNG (2× pixels) to `path`.
    fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        std::fs::write(path, self.to_png(2.0)?).map_err(|e| Error::io(path, e))
    }
}

/// Prints a figure's SVG as an evcxr `image/svg+xml` block (what `evcxr_display` does).
pub fn display_svg(figure: &impl Figure) {
    match figure.to_svg() {
        Ok(svg) => crate::report::evcxr_content("image/svg+xml", &svg),
        Err(e) => crate::report::evcxr_content("text/plain", &format!("figure failed: {e}")),
    }
}

/// A plotters drawing error as ours.
pub(crate) fn draw_error<E: std::error::Error + Send + Sync>(
    e: plotters::drawing::DrawingAreaErrorKind<E>,
) -> Error {
    Error::Msg(format!("plot: {e}"))
}
