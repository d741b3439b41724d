//! Learned causal relative position bias (T5 buckets), as in Walrus's temporal attention.
//!
//! Walrus (`walrus/models/shared_utils/position_biases.py`, `RelativePositionBias` with
//! `bidirectional=False`) adds to every attention score a learned per-head scalar chosen
//! by how far back the key lies, `n = query − key`:
//!
//! - `n < max_exact = num_buckets / 2`: bucket `n` (exact, one bucket per step);
//! - otherwise bucket `max_exact + ⌊ln(n / max_exact) / ln(max_distance / max_exact) ·
//!   (num_buckets − max_exact)⌋`, capped at `num_buckets − 1` (log-spaced);
//! - keys in the future (`n < 0`) get `-inf`: the causal mask.
//!
//! Walrus uses `Embedding(32, heads)` with `max_distance = 32` (the static method's default;
//! the class's `max_distance = 128` is never passed on): exact below 16, log up to 32.

use candle_core::{Device, Tensor};

use crate::{ConfigError, Result};
use candle_nn::{Init, VarBuilder};

/// Walrus's number of relative position buckets.
pub const WALRUS_NUM_BUCKETS: usize = 32;
/// Walrus's bucket `max_distance`.
pub const WALRUS_MAX_DISTANCE: usize = 32;

/// The T5 bucket of a key `n_back = query − key ≥ 0` steps in the past (causal variant).
pub fn causal_bucket(n_back: usize, num_buckets: usize, max_distance: usize) -> usize {
    let max_exact = num_buckets / 2;
    if n_back < max_exact {
        return n_back;
    }
    let log_ratio =
        (n_back as f64 / max_exact as f64).ln() / (max_distance as f64 / max_exact as f64).ln();
    let large = max_exact + (log_ratio * (num_buckets - max_exact) as f64) as usize;
    large.min(num_buckets - 1)
}

/// A learned per-head bias over `(query, key)` time pairs with a causal mask.
#[derive(Debug, Clone)]
pub struct RelativePositionBias {
    weight: Tensor,
    num_buckets: usize,
    max_distance: usize,
}

impl RelativePositionBias {
    /// Creates the bias table `weight` `(num_buckets, n_heads)`, drawn from N(0, 1) as
    /// PyTorch initialises an `nn.Embedding`.
    pub fn new(
        n_heads: usize,
        num_buckets: usize,
        max_distance: usize,
        vb: VarBuilder,
    ) -> Result<Self> {
        if num_buckets < 2 {
            return Err(ConfigError::OutOfRange {
                name: "num_buckets",
                range: ">= 2",
                value: num_buckets as f64,
            }
            .into());
        }
        if max_distance <= num_buckets / 2 {
            return Err(ConfigError::Mismatch {
                name: "max_distance",
                value: max_distance.to_string(),
                other: format!("more than num_buckets / 2 = {}", num_buckets / 2),
            }
            .into());
        }
        let weight = vb.get_with_hints(
            (num_buckets, n_heads),
            "weight",
            Init::Randn {
                mean: 0.0,
                stdev: 1.0,
            },
        )?;
        Ok(Self {
            weight,
            num_buckets,
            max_distance,
        })
    }

    /// The bucket of every `(query, key)` pair of a sequence of `len` steps, row-major;
    /// future pairs get bucket 0 (they are masked anyway).
    pub fn buckets(&self, len: usize) -> Vec<u32> {
        (0..len)
            .flat_map(|q| {
                (0..len).map(move |k| {
                    if k > q {
                        0
                    } else {
                        causal_bucket(q - k, self.num_buckets, self.max_distance) as u32
                    }
                })
            })
            .collect()
    }

    /// The bias to add to attention scores, masked in the future.
    ///
    /// # Shapes
    /// returns `(heads, len, len)`: `[h, query, key]`, `-inf` where `key > query`.
    pub fn forward(&self, len: usize, device: &Device) -> Result<Tensor> {
        let n_heads = self.weight.dim(1)?;
        let ids = Tensor::from_vec(self.buckets(len), len * len, device)?;
        let values = self.weight.index_select(&ids, 0)?; // (len·len, heads)
        let values = values.t()?.reshape((n_heads, len, len))?;
        let mask: Vec<f32> = (0..len * len)
            .map(|i| {
                if i % len > i / len {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, (len, len), device)?;
        Ok(values.broadcast_add(&mask)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_nn::VarMap;

    #[test]
    fn buckets_match_t5_formula_on_hand_computed_values() {
        // exact region: one bucket per step below 16
        for n in 0..16 {
            assert_eq!(causal_bucket(n, 32, 32), n);
        }
        // 16 + floor(ln(n/16)/ln 2 · 16): n=16 → 16; 17 → 16+⌊1.399⌋; 20 → 16+⌊5.151⌋;
        // 24 → 16+⌊9.359⌋; 31 → 16+⌊15.27⌋; 32 → 32 capped to 31; 1000 → 31
        let hand = [
            (16, 16),
            (17, 17),
            (20, 21),
            (24, 25),
            (31, 31),
            (32, 31),
            (1000, 31),
        ];
        for (n, b) in hand {
            assert_eq!(causal_bucket(n, 32, 32), b, "n = {n}");
        }
        // T5's own defaults (max_distance 128): 40 → 16+⌊ln(2.5)/ln 8 · 16⌋ = 16+⌊7.05⌋
        assert_eq!(causal_bucket(40, 32, 128), 23);
    }

    test_device!(
        fn bias_is_table_lookup_with_causal_mask(dev) {
            let vm = VarMap::new();
            let rpb = RelativePositionBias::new(
                3,
                32,
                32,
                crate::nn::seeded_var_builder(&vm, 0, dev),
            )?;
            let table: Vec<Vec<f32>> = rpb.weight.to_vec2()?;
            let bias: Vec<Vec<Vec<f32>>> = rpb.forward(20, dev)?.to_vec3()?;
            for (h, rows) in bias.iter().enumerate() {
                for (q, row) in rows.iter().enumerate() {
                    for (k, &b) in row.iter().enumerate() {
                        if k > q {
                            assert_eq!(b, f32::NEG_INFINITY);
                        } else {
                            assert_eq!(b, table[causal_bucket(q - k, 32, 32)][h]);
                        }
                    }
                }
            }
            assert!(
                RelativePositionBias::new(
                    3,
                    32,
                    16,
                    crate::nn::seeded_var_builder(&vm, 0, dev).pp("bad")
                )
                .is_err()
            );
            Ok(())
        }
    );
}
