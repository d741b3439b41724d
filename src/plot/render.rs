//! SVG to PNG with resvg (pure Rust: usvg parses, tiny-skia rasterises) and the embedded
//! font, so PNG output works on a machine with no fonts and no C libraries installed.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

use crate::{Error, Result};

/// Phystok Sans: a DejaVu Sans subset (ASCII, Greek, a few math signs; see
/// `src/plot/fonts/LICENSE-DejaVu.txt`). Every font family in our SVGs resolves to it.
pub(crate) const FONT: &[u8] = include_bytes!("fonts/PhystokSans.ttf");

fn options() -> &'static usvg::Options<'static> {
    static OPTIONS: OnceLock<usvg::Options<'static>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let mut db = usvg::fontdb::Database::new();
        db.load_font_data(FONT.to_vec());
        db.set_sans_serif_family("Phystok Sans");
        db.set_serif_family("Phystok Sans");
        db.set_monospace_family("Phystok Sans");
        usvg::Options {
            font_family: "Phystok Sans".into(),
            fontdb: Arc::new(db),
            ..usvg::Options::default()
        }
    })
}

/// Renders an SVG document to PNG bytes at `scale`× its own pixel size.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>> {
    if !(scale > 0.0 && scale.is_finite()) {
        return Err(crate::ConfigError::NotPositive {
            name: "png scale",
            value: scale as f64,
        }
        .into());
    }
    let tree = usvg::Tree::from_str(svg, options()).map_err(|e| Error::Msg(format!("svg: {e}")))?;
    let size = tree
        .size()
        .to_int_size()
        .scale_by(scale)
        .ok_or_else(|| Error::Empty {
            what: "rendered figure".into(),
        })?;
    let mut pixmap =
        tiny_skia::Pixmap::new(size.width(), size.height()).ok_or_else(|| Error::Empty {
            what: "pixmap".into(),
        })?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| Error::Msg(format!("png: {e}")))
}
