//! Spatiotemporal scale factors `(s_t, s_s)` of the flexible sampling layers (paper
//! Appendix B, Table 7) and the interpolation matrices that resize kernels between them.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Result};

/// A temporal and spatial scale factor `(s_t, s_s)`, both powers of two: a downsampling layer
/// divides time by `s_t` (causally: `T → (T − 1)/s_t + 1`) and each spatial axis by `s_s`;
/// an upsampling layer multiplies them back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScaleFactor {
    /// Temporal factor `s_t`.
    pub time: usize,
    /// Spatial factor `s_s` (both axes).
    pub space: usize,
}

impl ScaleFactor {
    /// The factor `(time, space)`.
    pub const fn new(time: usize, space: usize) -> Self {
        Self { time, space }
    }

    /// The temporal kernel size of a downsampling layer, Eq. (6): `1 + s_t` if `s_t > 1`, else 1.
    pub fn kernel_time(&self) -> usize {
        if self.time > 1 { 1 + self.time } else { 1 }
    }

    /// The spatial kernel size of a downsampling layer, Eq. (6): `k_s = s_s`.
    pub fn kernel_space(&self) -> usize {
        self.space
    }

    /// Checks both factors are powers of two.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("temporal scale factor", self.time),
            ("spatial scale factor", self.space),
        ] {
            if !value.is_power_of_two() {
                return Err(ConfigError::NotPowerOfTwo { name, value });
            }
        }
        Ok(())
    }

    /// Checks this factor is valid and divides `base` in both axes (so a layer built for
    /// `base` can run at it): the subsampling steps are `η = (base.time/time, base.space/space)`.
    pub fn check_within(&self, base: ScaleFactor) -> Result<(), ConfigError> {
        self.check()?;
        base.check()?;
        if self.time > base.time || self.space > base.space {
            return Err(ConfigError::Mismatch {
                name: "scale factor",
                value: self.to_string(),
                other: format!("the layer's largest factor {base}"),
            });
        }
        Ok(())
    }
}

impl std::fmt::Display for ScaleFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({}, {})", self.time, self.space)
    }
}

/// Where the samples of a kernel axis sit, for [`interpolation_matrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplePositions {
    /// Cell centres `(i + ½)/n` of a patch tiling the unit interval (spatial kernels: the
    /// patches of a strided convolution tile space).
    CellCentres,
    /// End points included, `i/(n − 1)` (temporal kernels: the window runs from the
    /// previous stride boundary to the current frame, both ends being frames).
    Corners,
}

/// The `(base_n, new_n)` matrix `A` that linearly interpolates `new_n` samples onto `base_n`
/// positions, extrapolating linearly past the end samples (no clamping, so affine signals are
/// reproduced exactly); with `new_n = 1` every base position takes the single sample.
/// Row-major `Vec` of `base_n · new_n` values.
pub fn interpolation_matrix(base_n: usize, new_n: usize, positions: SamplePositions) -> Vec<f32> {
    let mut a = vec![0f32; base_n * new_n];
    for i in 0..base_n {
        if new_n == 1 {
            a[i] = 1.0;
            continue;
        }
        // position of base sample i in new-sample index coordinates
        let u = match positions {
            SamplePositions::CellCentres => (i as f64 + 0.5) * new_n as f64 / base_n as f64 - 0.5,
            SamplePositions::Corners if base_n == 1 => 0.0,
            SamplePositions::Corners => i as f64 * (new_n - 1) as f64 / (base_n - 1) as f64,
        };
        let j0 = (u.floor().max(0.0) as usize).min(new_n - 2);
        let frac = u - j0 as f64;
        a[i * new_n + j0] = (1.0 - frac) as f32;
        a[i * new_n + j0 + 1] = frac as f32;
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_reproduces_affine_samples() {
        for (base, new) in [(4, 2), (8, 2), (4, 4), (3, 2)] {
            let a = interpolation_matrix(base, new, SamplePositions::CellCentres);
            let f = |x: f64| 0.3 - 1.7 * x;
            for i in 0..base {
                let got: f64 = (0..new)
                    .map(|j| a[i * new + j] as f64 * f((j as f64 + 0.5) / new as f64))
                    .sum();
                assert!((got - f((i as f64 + 0.5) / base as f64)).abs() < 1e-6);
            }
        }
        let a = interpolation_matrix(5, 3, SamplePositions::Corners);
        assert_eq!(&a[6..9], &[0.0, 1.0, 0.0]);
        assert_eq!(
            interpolation_matrix(3, 1, SamplePositions::Corners),
            vec![1.0; 3]
        );
    }

    #[test]
    fn factors_are_checked() {
        assert!(
            ScaleFactor::new(2, 4)
                .check_within(ScaleFactor::new(2, 4))
                .is_ok()
        );
        assert!(matches!(
            ScaleFactor::new(3, 2).check(),
            Err(ConfigError::NotPowerOfTwo { .. })
        ));
        assert!(matches!(
            ScaleFactor::new(4, 2).check_within(ScaleFactor::new(2, 4)),
            Err(ConfigError::Mismatch { .. })
        ));
        assert_eq!(ScaleFactor::new(2, 4).kernel_time(), 3);
        assert_eq!(ScaleFactor::new(1, 2).kernel_time(), 1);
    }
}
