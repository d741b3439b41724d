//! Training/evaluation mode and stochastic depth (drop path).
//!
//! Drop path (Huang et al. 2016; timm's `DropPath`, which Walrus uses) zeroes a residual
//! branch for a whole sample with probability `rate` during training and scales the kept
//! branches by `1 / (1 − rate)`, so the expectation is unchanged; in evaluation it is the
//! identity. The masks come from a seeded [`ChaCha8Rng`], never from candle's unseedable
//! CPU generator, so training runs are reproducible.

use candle_core::Tensor;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::Result;

/// Whether a forward pass is for training (stochastic layers active) or evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Mode {
    /// Training: drop path (and any other stochastic layer) is active.
    Train,
    /// Evaluation: deterministic; drop path is the identity.
    #[default]
    Eval,
}

/// Stochastic depth over the leading (batch) axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropPath {
    rate: f64,
}

impl DropPath {
    /// Drop path with this drop probability (`0 ≤ rate < 1`; the caller's config checks it).
    pub fn new(rate: f64) -> Self {
        Self { rate }
    }

    /// The drop probability.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Applies drop path to a residual branch.
    ///
    /// In [`Mode::Train`] with a positive rate, draws one keep/drop decision per sample from
    /// `rng` (one `f64` per sample, always, so the stream does not depend on the outcome).
    ///
    /// # Shapes
    /// `(batch, …) → (batch, …)`.
    pub fn forward(&self, xs: &Tensor, mode: Mode, rng: &mut ChaCha8Rng) -> Result<Tensor> {
        if mode == Mode::Eval || self.rate <= 0.0 {
            return Ok(xs.clone());
        }
        let batch = xs.dim(0)?;
        let keep = 1.0 - self.rate;
        let scale: Vec<f32> = (0..batch)
            .map(|_| {
                if rng.random::<f64>() < keep {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect();
        let mut shape = vec![1; xs.rank()];
        shape[0] = batch;
        let mask = Tensor::from_vec(scale, shape, xs.device())?.to_dtype(xs.dtype())?;
        Ok(xs.broadcast_mul(&mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use rand::SeedableRng;

    test_device!(
        fn drop_path_is_identity_in_eval_and_drops_whole_samples_in_train(dev) {
            let xs = Tensor::ones((400, 3, 2), candle_core::DType::F32, dev)?;
            let dp = DropPath::new(0.25);
            let mut rng = ChaCha8Rng::seed_from_u64(0);
            assert_eq!(
                dp.forward(&xs, Mode::Eval, &mut rng)?
                    .sum_all()?
                    .to_scalar::<f32>()?,
                2400.0
            );
            let ys: Vec<Vec<Vec<f32>>> = dp.forward(&xs, Mode::Train, &mut rng)?.to_vec3()?;
            let mut dropped = 0;
            for sample in &ys {
                let v = sample[0][0];
                assert!(
                    sample.iter().flatten().all(|&x| x == v),
                    "a sample is kept or dropped whole"
                );
                assert!(v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6);
                dropped += (v == 0.0) as usize;
            }
            // 400 samples at rate 0.25: 100 expected, std 8.7
            assert!((60..140).contains(&dropped), "{dropped} dropped");
            let mut a = ChaCha8Rng::seed_from_u64(5);
            let mut b = ChaCha8Rng::seed_from_u64(5);
            let ya: Vec<f32> = dp
                .forward(&xs, Mode::Train, &mut a)?
                .flatten_all()?
                .to_vec1()?;
            let yb: Vec<f32> = dp
                .forward(&xs, Mode::Train, &mut b)?
                .flatten_all()?
                .to_vec1()?;
            assert_eq!(ya, yb);
            Ok(())
        }
    );
}
