//! Wavenumber grids and spectral bins.
//!
//! Follows The Well (`the_well/benchmark/metrics/spectral.py`): per-axis wavenumbers
//! `k_i = 2π·fftfreq(n_i)` (radians per grid cell, whatever the domain length),
//! `|k| = sqrt(Σ k_i²)`, and a mode belongs to bin `j` when `edges[j] ≤ |k| < edges[j+1]`
//! (`torch.bucketize(.., right=True) - 1`). The Well's three bands use
//! `edges = logspace(log10(2π/max(N)), log10(π·√d + 1e-6), 4)` with `edges[0] = 0`.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Result};

/// One of the three frequency bands of the paper's Table 5 (low, mid, high).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Band {
    /// `0 ≤ |k| < edges[1]`: the largest scales.
    Low,
    /// `edges[1] ≤ |k| < edges[2]`.
    Mid,
    /// `edges[2] ≤ |k| ≤ π·√d`: the grid scale.
    High,
}

impl Band {
    /// The three bands, low to high.
    pub const ALL: [Band; 3] = [Band::Low, Band::Mid, Band::High];

    /// Lower-case name (`low`, `mid`, `high`).
    pub fn name(self) -> &'static str {
        match self {
            Band::Low => "low",
            Band::Mid => "mid",
            Band::High => "high",
        }
    }
}

/// One value per frequency band (a typed triple, never a string-keyed map).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Bands<T> {
    /// Low-frequency band.
    pub low: T,
    /// Mid-frequency band.
    pub mid: T,
    /// High-frequency band.
    pub high: T,
}

impl<T: Copy> Bands<T> {
    /// From `[low, mid, high]`.
    pub fn from_array(a: [T; 3]) -> Self {
        Bands {
            low: a[0],
            mid: a[1],
            high: a[2],
        }
    }

    /// As `[low, mid, high]`.
    pub fn to_array(self) -> [T; 3] {
        [self.low, self.mid, self.high]
    }

    /// The value of one band.
    pub fn band(&self, band: Band) -> T {
        match band {
            Band::Low => self.low,
            Band::Mid => self.mid,
            Band::High => self.high,
        }
    }

    /// Applies `f` to each band.
    pub fn map<U: Copy>(self, mut f: impl FnMut(T) -> U) -> Bands<U> {
        Bands {
            low: f(self.low),
            mid: f(self.mid),
            high: f(self.high),
        }
    }
}

/// Isotropic wavenumber magnitude `|k|` of every Fourier mode of a grid, row-major in the
/// grid's own axis order (the layout `fftn` returns).
pub fn wavenumber_magnitudes(spatial_shape: &[usize]) -> Vec<f64> {
    let total: usize = spatial_shape.iter().product();
    let mut k2 = vec![0.0f64; total];
    let mut inner = total;
    for &n in spatial_shape {
        let outer_block = inner;
        inner /= n;
        for (idx, v) in k2.iter_mut().enumerate() {
            let i = (idx % outer_block) / inner;
            let k = angular_frequency(i, n);
            *v += k * k;
        }
    }
    k2.into_iter().map(f64::sqrt).collect()
}

/// `2π·fftfreq(n)[i]`: `2π·i/n` for `i < ceil(n/2)`, else `2π·(i−n)/n`.
pub fn angular_frequency(i: usize, n: usize) -> f64 {
    let signed = if i < n.div_ceil(2) {
        i as f64
    } else {
        i as f64 - n as f64
    };
    2.0 * std::f64::consts::PI * signed / n as f64
}

/// Bin edges over `|k|`; bin `j` holds modes with `edges[j] ≤ |k| < edges[j+1]`.
///
/// Modes outside every bin are ignored, as in The Well. The Well's default edges cover
/// every mode, so the band errors sum to the pixel-space MSE (Parseval).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpectralBins {
    edges: Vec<f64>,
}

impl SpectralBins {
    /// Bins from explicit, strictly increasing, finite edges (at least two).
    pub fn from_edges(edges: Vec<f64>) -> Result<Self> {
        if edges.len() < 2 {
            return Err(ConfigError::Empty {
                name: "spectral bin edges (need at least 2)",
            }
            .into());
        }
        if edges.iter().any(|e| !e.is_finite()) || edges.windows(2).any(|w| w[1] <= w[0]) {
            return Err(ConfigError::OutOfRange {
                name: "spectral bin edges",
                range: "finite and strictly increasing",
                value: edges.iter().copied().fold(f64::NAN, f64::min),
            }
            .into());
        }
        Ok(SpectralBins { edges })
    }

    /// The Well's three bands (low, mid, high) for a grid of this shape:
    /// `logspace(log10(2π/max(N)), log10(π·√d + 1e-6), 4)` with the first edge set to 0.
    ///
    /// 128²: 0, 0.2204, 0.9895, 4.4429; 512x128: 0, 0.0875, 0.6234, 4.4429.
    pub fn the_well(spatial_shape: &[usize]) -> Result<Self> {
        check_shape(spatial_shape)?;
        let d = spatial_shape.len() as f64;
        let n_max = *spatial_shape.iter().max().unwrap_or(&1) as f64;
        let lo = (2.0 * std::f64::consts::PI / n_max).log10();
        let hi = (std::f64::consts::PI * d.sqrt() + 1e-6).log10();
        let mut edges: Vec<f64> = (0..4)
            .map(|i| 10f64.powf(lo + (hi - lo) * i as f64 / 3.0))
            .collect();
        edges[0] = 0.0;
        SpectralBins::from_edges(edges)
    }

    /// `n_bins` equal-width bins from 0 to just above the largest `|k|` of the grid.
    ///
    /// With `n_bins = floor(sqrt(min(N))) - 1` this is The Well's default for
    /// `power_spectrum` ([`SpectralBins::fine`]).
    pub fn linear(spatial_shape: &[usize], n_bins: usize) -> Result<Self> {
        check_shape(spatial_shape)?;
        if n_bins == 0 {
            return Err(ConfigError::NotPositive {
                name: "n_bins",
                value: 0.0,
            }
            .into());
        }
        let k_max = max_wavenumber(spatial_shape) + 1e-6;
        let edges = (0..=n_bins)
            .map(|i| k_max * i as f64 / n_bins as f64)
            .collect();
        SpectralBins::from_edges(edges)
    }

    /// Fine bins for plots: one per integer shell `|k|·max(N)/2π`, up to the largest
    /// `|k|` (about `max(N)/2·√d` bins), edges at half-integer shells and the first at 0.
    pub fn fine(spatial_shape: &[usize]) -> Result<Self> {
        check_shape(spatial_shape)?;
        let n_max = *spatial_shape.iter().max().unwrap_or(&1) as f64;
        let dk = 2.0 * std::f64::consts::PI / n_max;
        let k_max = max_wavenumber(spatial_shape) + 1e-6;
        let n_shells = (k_max / dk - 0.5).ceil().max(1.0) as usize;
        let mut edges = vec![0.0];
        edges.extend((0..n_shells).map(|i| (i as f64 + 0.5) * dk));
        edges.push(k_max.max((n_shells as f64 + 0.5) * dk));
        edges.dedup();
        SpectralBins::from_edges(edges)
    }

    /// The edges, `n_bins() + 1` of them.
    pub fn edges(&self) -> &[f64] {
        &self.edges
    }

    /// Number of bins.
    pub fn n_bins(&self) -> usize {
        self.edges.len() - 1
    }

    /// Bin centres (arithmetic mean of the edges).
    pub fn centres(&self) -> Vec<f64> {
        self.edges.windows(2).map(|w| 0.5 * (w[0] + w[1])).collect()
    }

    /// The bin of wavenumber `k`, if any (`edges[j] ≤ k < edges[j+1]`).
    pub fn bin_of(&self, k: f64) -> Option<usize> {
        if k.is_nan() || k < self.edges[0] {
            return None;
        }
        let j = self.edges.partition_point(|&e| e <= k);
        (j < self.edges.len()).then(|| j - 1)
    }
}

/// Largest `|k|` on a grid: `sqrt(Σ (2π·floor(n_i/2)/n_i)²)`.
pub fn max_wavenumber(spatial_shape: &[usize]) -> f64 {
    spatial_shape
        .iter()
        .map(|&n| {
            let k = (0..n)
                .map(|i| angular_frequency(i, n).abs())
                .fold(0.0, f64::max);
            k * k
        })
        .sum::<f64>()
        .sqrt()
}

pub(crate) fn check_shape(spatial_shape: &[usize]) -> Result<()> {
    if spatial_shape.is_empty() {
        return Err(ConfigError::Empty {
            name: "spatial shape",
        }
        .into());
    }
    if let Some(&n) = spatial_shape.iter().find(|&&n| n == 0) {
        return Err(ConfigError::NotPositive {
            name: "spatial size",
            value: n as f64,
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// REFERENCE.md gives 4 decimals, sometimes truncated (128x384: 0.105955 -> 0.1059).
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn well_edges_match_the_table_in_reference_md() {
        let cases: [(&[usize], [f64; 2]); 5] = [
            (&[128, 128], [0.2204, 0.9895]),
            (&[256, 256], [0.1388, std::f64::consts::FRAC_PI_4]), // table: 0.7854
            (&[512, 128], [0.0875, 0.6234]),
            (&[256, 512], [0.0875, 0.6234]),
            (&[128, 384], [0.1059, 0.6861]), // numpy: 0.10595483, 0.6861086
        ];
        for (shape, want) in cases {
            let e = SpectralBins::the_well(shape).unwrap();
            assert_eq!(e.edges()[0], 0.0);
            assert!(
                close(e.edges()[1], want[0]) && close(e.edges()[2], want[1]),
                "{shape:?}"
            );
            assert!(close(e.edges()[3], 4.4429), "{shape:?}");
        }
        let e = SpectralBins::the_well(&[64, 64, 64]).unwrap();
        assert!(close(e.edges()[1], 0.3743) && close(e.edges()[2], 1.4272));
        assert!(close(e.edges()[3], 5.4414));
    }

    #[test]
    fn every_mode_lies_in_a_well_band_and_fine_bin() {
        for shape in [&[8usize, 6][..], &[5, 7], &[4, 4, 6]] {
            let well = SpectralBins::the_well(shape).unwrap();
            let fine = SpectralBins::fine(shape).unwrap();
            for k in wavenumber_magnitudes(shape) {
                assert!(well.bin_of(k).is_some(), "{shape:?} k={k}");
                assert!(fine.bin_of(k).is_some(), "{shape:?} k={k}");
            }
        }
    }

    #[test]
    fn wavenumbers_follow_fftfreq_on_non_square_grids() {
        let k = wavenumber_magnitudes(&[4, 3]);
        // fftfreq(4) = [0, .25, -.5, -.25], fftfreq(3) = [0, 1/3, -1/3]
        let two_pi = 2.0 * std::f64::consts::PI;
        assert!(close(k[1], two_pi / 3.0));
        assert!(close(k[2 * 3], two_pi * 0.5));
        let want = two_pi * (0.25f64.powi(2) + (1.0f64 / 3.0).powi(2)).sqrt();
        assert!(close(k[3 * 3 + 2], want));
    }

    #[test]
    fn bad_edges_are_typed_errors() {
        assert!(SpectralBins::from_edges(vec![0.0]).is_err());
        assert!(SpectralBins::from_edges(vec![0.0, 1.0, 1.0]).is_err());
        assert!(SpectralBins::the_well(&[]).is_err());
        assert!(SpectralBins::the_well(&[4, 0]).is_err());
    }
}
