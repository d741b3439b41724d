//! One-line text charts (`▁▂▃▄▅▆▇█`) of a training curve, for the progress lines a notebook
//! streams while a cell runs.
//!
//! evcxr 0.22 shows a cell's rich (HTML/SVG) output only when the cell ends, but streams
//! its plain text lines as they are printed; a sparkline in each progress line is the plot
//! that updates while training runs (the SVG curves follow at the end of the call).

/// The eight levels, lowest first.
pub const GLYPHS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// How values map to levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparkScale {
    /// Evenly spaced in `log10` (losses over orders of magnitude); falls back to
    /// [`SparkScale::Linear`] when a value is not positive.
    Log,
    /// Evenly spaced in value.
    Linear,
}

/// A text chart and the range its levels span.
#[derive(Debug, Clone, PartialEq)]
pub struct Sparkline {
    /// One glyph per column; a space where a column has no finite value.
    pub line: String,
    /// The smallest column value (the lowest glyph).
    pub min: f64,
    /// The largest column value (the highest glyph).
    pub max: f64,
}

impl std::fmt::Display for Sparkline {
    /// `▇▆▅▃▂▁ 2.0e-2..3.1e-1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {:.1e}..{:.1e}", self.line, self.min, self.max)
    }
}

/// `values` in at most `width` columns: column `c` is the mean of the finite values among
/// the steps `⌊c·n/w⌋ .. ⌊(c+1)·n/w⌋` (`n` values, `w = min(width, n)` columns), NaN when
/// there are none.
pub fn downsample(values: &[f64], width: usize) -> Vec<f64> {
    let (n, w) = (values.len(), width.min(values.len()));
    (0..w)
        .map(|c| {
            let span = &values[c * n / w..(c + 1) * n / w];
            let finite: Vec<f64> = span.iter().copied().filter(|v| v.is_finite()).collect();
            if finite.is_empty() {
                f64::NAN
            } else {
                finite.iter().sum::<f64>() / finite.len() as f64
            }
        })
        .collect()
}

/// The sparkline of `values` in at most `width` columns ([`downsample`]); `None` when no
/// value is finite. The lowest column gets `▁` and the highest `█`; a constant series is
/// all `▁`.
pub fn sparkline(values: &[f64], width: usize, scale: SparkScale) -> Option<Sparkline> {
    let columns = downsample(values, width);
    let finite = || columns.iter().copied().filter(|v| v.is_finite());
    let min = finite().fold(f64::INFINITY, f64::min);
    let max = finite().fold(f64::NEG_INFINITY, f64::max);
    if !min.is_finite() {
        return None;
    }
    let map: fn(f64) -> f64 = match scale {
        SparkScale::Log if min > 0.0 => f64::log10,
        _ => |v| v,
    };
    let (lo, hi) = (map(min), map(max));
    let top = (GLYPHS.len() - 1) as f64;
    let line = columns
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if hi > lo {
                GLYPHS[((map(v) - lo) / (hi - lo) * top).round() as usize]
            } else {
                GLYPHS[0]
            }
        })
        .collect();
    Some(Sparkline { line, min, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(c: char) -> usize {
        GLYPHS.iter().position(|&g| g == c).expect("a glyph")
    }

    #[test]
    fn a_decreasing_loss_falls_from_the_top_to_the_bottom_glyph() {
        let losses: Vec<f64> = (0..500)
            .map(|i| 0.3 * (-(i as f64) / 120.0).exp())
            .collect();
        let s = sparkline(&losses, 40, SparkScale::Log).unwrap();
        let levels: Vec<usize> = s.line.chars().map(level).collect();
        assert_eq!(levels.len(), 40);
        assert_eq!((levels[0], levels[39]), (7, 0));
        assert!(levels.windows(2).all(|w| w[1] <= w[0]), "{}", s.line);
        assert!(s.max < 0.3 && s.min > losses[499]);
    }

    #[test]
    fn columns_are_means_of_their_spans() {
        let v = [1.0, 3.0, 5.0, 7.0, 9.0, f64::NAN];
        assert_eq!(downsample(&v, 3), vec![2.0, 6.0, 9.0]);
        assert_eq!(downsample(&v[..2], 10), vec![1.0, 3.0]);
        assert!(downsample(&[f64::NAN, f64::INFINITY], 1)[0].is_nan());
    }

    #[test]
    fn log_scale_spaces_decades_evenly() {
        let s = sparkline(&[1.0, 0.1, 0.01], 3, SparkScale::Log).unwrap();
        let levels: Vec<usize> = s.line.chars().map(level).collect();
        assert_eq!(levels, vec![7, 4, 0]); // 3.5 rounds to 4
        let lin = sparkline(&[1.0, 0.1, 0.01], 3, SparkScale::Linear).unwrap();
        assert_eq!(
            lin.line.chars().map(level).collect::<Vec<_>>(),
            vec![7, 1, 0]
        );
        // a non-positive value falls back to the linear scale
        let mixed = sparkline(&[1.0, 0.0], 2, SparkScale::Log).unwrap();
        assert_eq!(mixed.line, "█▁");
    }

    #[test]
    fn edge_cases_do_not_panic() {
        assert_eq!(sparkline(&[], 10, SparkScale::Log), None);
        assert_eq!(sparkline(&[f64::NAN], 10, SparkScale::Log), None);
        let one = sparkline(&[0.5], 10, SparkScale::Log).unwrap();
        assert_eq!((one.line.as_str(), one.min, one.max), ("▁", 0.5, 0.5));
        assert_eq!(
            sparkline(&[2.0; 5], 3, SparkScale::Log).unwrap().line,
            "▁▁▁"
        );
        let gap = sparkline(&[1.0, f64::NAN, 10.0], 3, SparkScale::Log).unwrap();
        assert_eq!(gap.line, "▁ █");
        assert_eq!(sparkline(&[1.0, 2.0], 0, SparkScale::Log), None);
        assert_eq!(gap.to_string(), "▁ █ 1.0e0..1.0e1");
    }
}
