//! Colour maps for heat maps: viridis (sequential) and a blue–white–red diverging map.

use plotters::style::RGBColor;

/// Which colour map a heat map uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colormap {
    /// Perceptually uniform sequential map (matplotlib's viridis, 9 control points).
    Viridis,
    /// Blue (negative) – white (zero) – red (positive), for residuals.
    Diverging,
}

const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

const DIVERGING: [(u8, u8, u8); 5] = [
    (33, 102, 172),
    (146, 197, 222),
    (247, 247, 247),
    (244, 165, 130),
    (178, 24, 43),
];

/// The colour at `t ∈ [0, 1]` (clamped; NaN is drawn magenta so it cannot hide).
pub fn colour_at(map: Colormap, t: f64) -> RGBColor {
    if t.is_nan() {
        return RGBColor(255, 0, 255);
    }
    let stops: &[(u8, u8, u8)] = match map {
        Colormap::Viridis => &VIRIDIS,
        Colormap::Diverging => &DIVERGING,
    };
    let x = t.clamp(0.0, 1.0) * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (stops[i], stops[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_and_middle_of_the_maps() {
        assert_eq!(colour_at(Colormap::Viridis, 0.0), RGBColor(68, 1, 84));
        assert_eq!(colour_at(Colormap::Viridis, 2.0), RGBColor(253, 231, 37));
        assert_eq!(colour_at(Colormap::Diverging, 0.5), RGBColor(247, 247, 247));
        assert_eq!(
            colour_at(Colormap::Diverging, f64::NAN),
            RGBColor(255, 0, 255)
        );
    }
}
