//! Figures straight from candle tensors, for notebooks: a model's prediction and the truth
//! as `(batch, channels, time, *spatial)` tensors in, a figure out, with no flattening and
//! no [`FrameLayout`] to build by hand.

use candle_core::{DType, Tensor};

use super::{SnapshotFigure, SpectrumFigure};
use crate::metrics::{FrameLayout, NepsSpectrum, SpectrumAnalyser, TemporalSpectrum};
use crate::{Error, Result};

/// The values of `pred` and `target` as `f32` vectors, after checking the shapes agree.
fn pair_values(pred: &Tensor, target: &Tensor) -> Result<(Vec<f32>, Vec<f32>, FrameLayout)> {
    if pred.dims() != target.dims() {
        return Err(Error::Shape {
            what: "prediction vs target".into(),
            left: pred.dims().to_vec(),
            right: target.dims().to_vec(),
        });
    }
    let layout = FrameLayout::from_dims(target.dims())?;
    let values = |t: &Tensor| -> Result<Vec<f32>> {
        Ok(t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?)
    };
    Ok((values(pred)?, values(target)?, layout))
}

impl NepsSpectrum {
    /// Residual spectra and NEPS(k) on fine bins (one per integer shell) of `pred` against
    /// `target`, both `(batch, channels, time, *spatial)`, averaged over samples and times
    /// per channel ([`SpectrumAnalyser::neps`]).
    ///
    /// # Example
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::metrics::NepsSpectrum;
    ///
    /// // Offset by 1 so that the k = 0 shell (a single mode) never has near-zero power,
    /// // where the ratio's 1e-7 guard would show.
    /// let target = (Tensor::randn(0f32, 1.0, (1, 2, 3, 16, 16), &Device::Cpu)? + 1.0)?;
    /// let pred = (&target * 0.5)?; // half the amplitude: NEPS = 0.25 at every k
    /// let s = NepsSpectrum::from_tensors(&pred, &target, Some(vec!["a".into(), "b".into()]))?;
    /// assert!(s.mean.neps.iter().all(|v| (v - 0.25).abs() < 1e-3));
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn from_tensors(
        pred: &Tensor,
        target: &Tensor,
        channel_names: Option<Vec<String>>,
    ) -> Result<NepsSpectrum> {
        let (p, t, layout) = pair_values(pred, target)?;
        SpectrumAnalyser::new(&layout.spatial)?.neps(&p, &t, &layout, channel_names)
    }
}

impl TemporalSpectrum {
    /// The temporal spectrum of the error of channel `channel` of `pred` against `target`,
    /// both `(batch, channels, time, *spatial)` ([`TemporalSpectrum::of_channel`]).
    pub fn from_tensors(pred: &Tensor, target: &Tensor, channel: usize) -> Result<Self> {
        let (p, t, layout) = pair_values(pred, target)?;
        TemporalSpectrum::of_channel(&p, &t, &layout, channel)
    }
}

impl SpectrumFigure {
    /// Power spectra and NEPS(k) of `pred` against `target` (both `(batch, channels, time,
    /// *spatial)`), one curve per channel and their mean.
    pub fn from_tensors(
        pred: &Tensor,
        target: &Tensor,
        channel_names: Option<Vec<String>>,
    ) -> Result<Self> {
        Ok(SpectrumFigure::new(NepsSpectrum::from_tensors(
            pred,
            target,
            channel_names,
        )?))
    }
}

impl SnapshotFigure {
    /// Truth / prediction / residual of frame (`sample`, `time`) of `(batch, channels, time,
    /// *spatial)` tensors, block-averaged to at most `max_cells` cells per side (an SVG grows
    /// with the cells: 32 keeps a four-field figure near half a megabyte).
    pub fn from_tensors(
        pred: &Tensor,
        target: &Tensor,
        sample: usize,
        time: usize,
        channel_names: Option<Vec<String>>,
        max_cells: usize,
    ) -> Result<Self> {
        let (p, t, layout) = pair_values(pred, target)?;
        SnapshotFigure::with_max_cells(&p, &t, &layout, sample, time, channel_names, max_cells)
    }
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
    fn tensor_spectrum_equals_the_slice_spectrum() {
        let dims = [2, 3, 2, 8, 8];
        let target = ramp(&dims);
        let pred = (target.clone() * 0.7).unwrap().sin().unwrap();
        let from_t = NepsSpectrum::from_tensors(&pred, &target, None).unwrap();
        let layout = FrameLayout::from_dims(&dims).unwrap();
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let from_s = SpectrumAnalyser::new(&[8, 8])
            .unwrap()
            .neps(&flat(&pred), &flat(&target), &layout, None)
            .unwrap();
        assert_eq!(from_t, from_s);
        let temporal = TemporalSpectrum::from_tensors(&pred, &target, 1).unwrap();
        let want = TemporalSpectrum::of_channel(&flat(&pred), &flat(&target), &layout, 1).unwrap();
        assert_eq!(temporal, want);
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let a = ramp(&[1, 2, 2, 8, 8]);
        let b = ramp(&[1, 2, 2, 8, 4]);
        assert!(matches!(
            NepsSpectrum::from_tensors(&a, &b, None),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            SnapshotFigure::from_tensors(&a, &b, 0, 0, None, 8),
            Err(Error::Shape { .. })
        ));
    }
}
