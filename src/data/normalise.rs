//! Samplewise RMS normalisation (the paper's Appendix C, "Input normalisation").
//!
//! Each input sample is divided, per physical field, by the root mean square of that field
//! over all its time steps and grid points, clamped below at `ε = 1e-7`; the inverse is
//! applied to the model's output. The scale is a constant of the data (no gradient flows
//! through it). Components of one vector or tensor field share one scale by default, so a
//! rotation of the frame does not change the normalisation; [`RmsGrouping::PerChannel`]
//! gives every channel its own (Walrus's RevIN).
//!
//! [`SampleRms::fit_standardised`] also removes each channel's mean and divides by the
//! field's standard deviation instead (PhysiX's discrete tokeniser needs it: a field such as
//! Gray–Scott's `A ≈ 1 ± 0.05` keeps, after RMS scaling alone, variations too small for a
//! coarse FSQ grid to resolve, and its reconstruction VRMSE stays near 1).

use candle_core::{D, Tensor};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The clamp of the RMS from below (Appendix C).
pub const RMS_EPS: f64 = 1e-7;

/// Which channels share one RMS scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RmsGrouping {
    /// One scale per physical field (all components of a vector or tensor field together).
    #[default]
    PerField,
    /// One scale per channel.
    PerChannel,
}

/// The smallest standard deviation [`SampleRms::fit_standardised`] divides by, as a fraction
/// of the field's RMS: a field constant over the context is shifted to zero and scaled by
/// this, not blown up.
pub const STD_FLOOR: f64 = 1e-2;

/// The per-sample, per-field scales of one batch, to normalise inputs and denormalise outputs.
#[derive(Debug, Clone)]
pub struct SampleRms {
    /// `(batch, channels, 1, 1, 1)` scales (RMS clamped at [`RMS_EPS`]).
    scales: Tensor,
    /// `(batch, channels, 1, 1, 1)` means removed first ([`SampleRms::fit_standardised`]).
    shifts: Option<Tensor>,
}

/// The `(c, c)` matrix averaging the per-channel statistics of each field's channels.
fn field_average(
    field_of_channel: &[usize],
    c: usize,
    device: &candle_core::Device,
) -> Result<Tensor> {
    if field_of_channel.len() != c {
        return Err(Error::Shape {
            what: "field_of_channel vs channels".into(),
            left: vec![field_of_channel.len()],
            right: vec![c],
        });
    }
    let mut g = vec![0f32; c * c];
    for i in 0..c {
        let members = field_of_channel
            .iter()
            .filter(|&&f| f == field_of_channel[i])
            .count();
        for j in 0..c {
            if field_of_channel[j] == field_of_channel[i] {
                g[j * c + i] = 1.0 / members as f32;
            }
        }
    }
    Ok(Tensor::from_vec(g, (c, c), device)?)
}

impl SampleRms {
    /// Computes scales from `xs` of shape `(batch, channels, time, height, width)`.
    ///
    /// `field_of_channel[c]` names the field of channel `c` (from
    /// [`crate::data::WellFile::field_of_channel`]); with [`RmsGrouping::PerChannel`] it is
    /// ignored.
    pub fn fit(xs: &Tensor, field_of_channel: &[usize], grouping: RmsGrouping) -> Result<Self> {
        let dims = xs.dims();
        if dims.len() != 5 {
            return Err(Error::Shape {
                what: "samplewise RMS input (batch, channels, time, height, width)".into(),
                left: dims.to_vec(),
                right: vec![0; 5],
            });
        }
        let (b, c) = (dims[0], dims[1]);
        // mean square per (batch, channel) over time and space
        let ms = xs.detach().flatten_from(2)?.sqr()?.mean(D::Minus1)?; // (b, c)
        let ms = match grouping {
            RmsGrouping::PerChannel => ms,
            RmsGrouping::PerField => {
                // average the mean squares of the channels of each field: ms @ G
                let g = field_average(field_of_channel, c, xs.device())?.to_dtype(ms.dtype())?;
                ms.matmul(&g)?
            }
        };
        let scales = ms
            .sqrt()?
            .clamp(RMS_EPS, f64::INFINITY)?
            .reshape((b, c, 1, 1, 1))?;
        Ok(SampleRms {
            scales,
            shifts: None,
        })
    }

    /// Standardises instead: each channel's mean over time and space is removed and the
    /// result divided by its field's standard deviation (the channels of a vector field
    /// share one, the root of their mean variance), floored at [`STD_FLOOR`] times the
    /// field's RMS (and at [`RMS_EPS`]).
    ///
    /// # Shapes
    /// `xs`: `(batch, channels, time, height, width)`.
    pub fn fit_standardised(xs: &Tensor, field_of_channel: &[usize]) -> Result<Self> {
        let rms = Self::fit(xs, field_of_channel, RmsGrouping::PerField)?;
        let (b, c) = (xs.dim(0)?, xs.dim(1)?);
        let flat = xs.detach().flatten_from(2)?;
        let mean = flat.mean_keepdim(D::Minus1)?; // (b, c, 1)
        let var = flat.broadcast_sub(&mean)?.sqr()?.mean(D::Minus1)?; // (b, c)
        let g = field_average(field_of_channel, c, xs.device())?.to_dtype(var.dtype())?;
        let std = var.matmul(&g)?.sqrt()?.reshape((b, c, 1, 1, 1))?;
        let scales = std.maximum(&(rms.scales() * STD_FLOOR)?.clamp(RMS_EPS, f64::INFINITY)?)?;
        Ok(SampleRms {
            scales,
            shifts: Some(mean.reshape((b, c, 1, 1, 1))?),
        })
    }

    /// The `(batch, channels, 1, 1, 1)` scales.
    pub fn scales(&self) -> &Tensor {
        &self.scales
    }

    /// The `(batch, channels, 1, 1, 1)` means removed before scaling, when standardised.
    pub fn shifts(&self) -> Option<&Tensor> {
        self.shifts.as_ref()
    }

    /// `xs / rms` (standardised: `(xs − mean) / std`), for `xs` of shape
    /// `(batch, channels, time, height, width)` (any time length).
    pub fn normalise(&self, xs: &Tensor) -> Result<Tensor> {
        match &self.shifts {
            None => Ok(xs.broadcast_div(&self.scales)?),
            Some(m) => Ok(xs.broadcast_sub(m)?.broadcast_div(&self.scales)?),
        }
    }

    /// `xs · rms` (standardised: `xs · std + mean`), the inverse of
    /// [`SampleRms::normalise`].
    pub fn denormalise(&self, xs: &Tensor) -> Result<Tensor> {
        match &self.shifts {
            None => Ok(xs.broadcast_mul(&self.scales)?),
            Some(m) => Ok(xs.broadcast_mul(&self.scales)?.broadcast_add(m)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn per_field_scale_is_rms_of_all_components_and_inverts() -> Result<()> {
        let dev = Device::Cpu;
        // batch 2, channels 3 (a scalar field, then a 2-component vector), t 2, 2x2
        let v: Vec<f32> = (0..2 * 3 * 2 * 4)
            .map(|i| (i as f32 * 0.37).sin() * (1 + i % 5) as f32)
            .collect();
        let xs = Tensor::from_vec(v.clone(), (2, 3, 2, 2, 2), &dev)?;
        let rms = SampleRms::fit(&xs, &[0, 1, 1], RmsGrouping::PerField)?;
        let s = rms.scales().flatten_all()?.to_vec1::<f32>()?;
        let naive = |b: usize, chans: &[usize]| {
            let vals: Vec<f32> = chans
                .iter()
                .flat_map(|&c| v[(b * 3 + c) * 8..(b * 3 + c + 1) * 8].to_vec())
                .collect();
            (vals.iter().map(|x| x * x).sum::<f32>() / vals.len() as f32).sqrt()
        };
        for b in 0..2 {
            assert!((s[b * 3] - naive(b, &[0])).abs() < 1e-5);
            assert!((s[b * 3 + 1] - naive(b, &[1, 2])).abs() < 1e-5);
            assert_eq!(s[b * 3 + 1], s[b * 3 + 2]);
        }
        let back = rms.denormalise(&rms.normalise(&xs)?)?;
        let err = (back - &xs)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(err < 1e-5);
        Ok(())
    }

    #[test]
    fn zero_field_is_clamped_not_divided_by_zero() -> Result<()> {
        let xs = Tensor::zeros((1, 2, 3, 2, 2), candle_core::DType::F32, &Device::Cpu)?;
        let rms = SampleRms::fit(&xs, &[0, 1], RmsGrouping::PerChannel)?;
        let s = rms.scales().flatten_all()?.to_vec1::<f32>()?;
        assert!(s.iter().all(|&x| (x as f64 - RMS_EPS).abs() < 1e-12));
        let n = rms.normalise(&xs)?.flatten_all()?.to_vec1::<f32>()?;
        assert!(n.iter().all(|x| *x == 0.0));
        Ok(())
    }

    #[test]
    fn standardised_fields_have_zero_mean_unit_std_and_invert() -> Result<()> {
        let dev = Device::Cpu;
        // a scalar field 1 + 0.05·pattern (a large mean, small variations), then a vector
        // field whose two components share one scale
        let v: Vec<f32> = (0..2 * 3 * 2 * 4)
            .map(|i| {
                let p = (i as f32 * 0.61).sin();
                if (i / 8) % 3 == 0 {
                    1.0 + 0.05 * p
                } else {
                    3.0 * p * (1 + i % 3) as f32
                }
            })
            .collect();
        let xs = Tensor::from_vec(v, (2, 3, 2, 2, 2), &dev)?;
        let st = SampleRms::fit_standardised(&xs, &[0, 1, 1])?;
        let n = st.normalise(&xs)?;
        let mean = n
            .flatten_from(2)?
            .mean(D::Minus1)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        assert!(mean.iter().all(|m| m.abs() < 1e-4), "{mean:?}");
        let var = n
            .flatten_from(2)?
            .sqr()?
            .mean(D::Minus1)?
            .to_vec2::<f32>()?;
        for row in &var {
            assert!(
                (row[0] - 1.0).abs() < 1e-3,
                "scalar field variance {}",
                row[0]
            );
            // the vector field's components have variance 1 on average
            assert!(((row[1] + row[2]) / 2.0 - 1.0).abs() < 1e-3, "{row:?}");
        }
        let back = st.denormalise(&n)?;
        let err = (back - &xs)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(err < 1e-5);
        // a constant field is shifted to zero, not divided by zero
        let c = Tensor::ones((1, 1, 2, 2, 2), candle_core::DType::F32, &dev)?;
        let st = SampleRms::fit_standardised(&(c * 4.0)?, &[0])?;
        let s = st.scales().flatten_all()?.to_vec1::<f32>()?;
        assert!((s[0] as f64 - 4.0 * STD_FLOOR).abs() < 1e-6);
        Ok(())
    }
}
