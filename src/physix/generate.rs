//! Token generation with the [`ArModel`]: greedy or temperature / top-k sampling from a
//! seeded ChaCha stream, with a KV cache (each new token costs one position's forward) or
//! without (the whole sequence again per token; the reference the cache is tested
//! against).

use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::ar::{ArModel, KvCache};
use crate::{ConfigError, Result};

/// How the next token is chosen from the logits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Sampling {
    /// The most likely token (ties: the lowest index).
    Greedy,
    /// A draw from `softmax(logits / temperature)` restricted to the `top_k` most likely
    /// tokens (`top_k = 0`: all of them), from a ChaCha stream seeded by `seed`.
    TopK {
        /// Temperature (positive).
        temperature: f64,
        /// Tokens kept (0: all).
        top_k: usize,
        /// Seed of the stream.
        seed: u64,
    },
}

impl Sampling {
    /// Checks the temperature is positive and finite.
    pub fn check(&self) -> Result<(), ConfigError> {
        if let Sampling::TopK { temperature, .. } = *self
            && !(temperature > 0.0 && temperature.is_finite())
        {
            return Err(ConfigError::OutOfRange {
                name: "sampling temperature",
                range: "positive and finite",
                value: temperature,
            });
        }
        Ok(())
    }
}

/// Whether generation keeps a KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CacheMode {
    /// Keys and values of past tokens are kept: one position's forward per new token.
    #[default]
    KvCache,
    /// The whole sequence is recomputed for every new token.
    Recompute,
}

/// Picks one token per row of `logits (batch, vocab)`.
fn pick(logits: &Tensor, sampling: &Sampling, rng: &mut ChaCha8Rng) -> Result<Vec<u32>> {
    let rows = logits.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let token = match *sampling {
            Sampling::Greedy => {
                let mut best = 0;
                for (i, &v) in row.iter().enumerate() {
                    if v > row[best] {
                        best = i;
                    }
                }
                best
            }
            Sampling::TopK {
                temperature, top_k, ..
            } => {
                let mut order: Vec<usize> = (0..row.len()).collect();
                // stable: equal logits keep index order, so the draw is deterministic
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                let k = if top_k == 0 {
                    row.len()
                } else {
                    top_k.min(row.len())
                };
                let kept = &order[..k];
                let top = row[kept[0]] as f64;
                let weights: Vec<f64> = kept
                    .iter()
                    .map(|&i| ((row[i] as f64 - top) / temperature).exp())
                    .collect();
                let total: f64 = weights.iter().sum();
                let mut u = rng.random::<f64>() * total;
                let mut chosen = kept[k - 1];
                for (&i, &w) in kept.iter().zip(&weights) {
                    if u < w {
                        chosen = i;
                        break;
                    }
                    u -= w;
                }
                chosen
            }
        };
        out.push(token as u32);
    }
    Ok(out)
}

impl ArModel {
    /// Generates `n_new` tokens after `prompt` on `grid` (the prompt and the new tokens
    /// together must fit it).
    ///
    /// # Shapes
    /// `u32 (batch, prompt)` → `u32 (batch, n_new)`.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use phystok::physix::{ArConfig, CacheMode, Sampling};
    ///
    /// let ar = ArConfig::tiny().init(&Device::Cpu)?;
    /// let prompt = Tensor::new(&[[1u32, 2, 3, 4]], &Device::Cpu)?; // one 2x2 frame
    /// let s = Sampling::TopK { temperature: 1.0, top_k: 5, seed: 7 };
    /// let next = ar.generate(&prompt, [2, 2, 2], 4, &s, CacheMode::KvCache)?;
    /// assert_eq!(next.dims(), &[1, 4]);
    /// # Ok::<(), phystok::Error>(())
    /// ```
    pub fn generate(
        &self,
        prompt: &Tensor,
        grid: [usize; 3],
        n_new: usize,
        sampling: &Sampling,
        cache: CacheMode,
    ) -> Result<Tensor> {
        sampling.check()?;
        let (b, n0) = prompt.dims2()?;
        self.rope()
            .tables(grid, 0, n0 + n_new, prompt.device())
            .map(|_| ())?;
        let seed = match *sampling {
            Sampling::TopK { seed, .. } => seed,
            Sampling::Greedy => 0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let prompt = prompt.to_dtype(DType::U32)?;
        let mut generated: Vec<Tensor> = Vec::with_capacity(n_new);
        let mut kv = KvCache::new();
        let mut seq = prompt.clone();
        let mut last = match cache {
            CacheMode::KvCache => self.forward_cached(&prompt, grid, &mut kv)?,
            CacheMode::Recompute => self.forward(&prompt, grid)?,
        };
        for step in 0..n_new {
            let n = last.dim(1)?;
            let logits = last.narrow(1, n - 1, 1)?.squeeze(1)?;
            let next = pick(&logits.detach(), sampling, &mut rng)?;
            let next = Tensor::from_vec(next, (b, 1), prompt.device())?;
            generated.push(next.clone());
            if step + 1 == n_new {
                break;
            }
            last = match cache {
                CacheMode::KvCache => self.forward_cached(&next, grid, &mut kv)?,
                CacheMode::Recompute => {
                    seq = Tensor::cat(&[&seq, &next], 1)?;
                    self.forward(&seq, grid)?
                }
            };
        }
        if generated.is_empty() {
            return Ok(Tensor::zeros((b, 0), DType::U32, prompt.device())?);
        }
        Ok(Tensor::cat(&generated, 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physix::ArConfig;
    use candle_core::Device;

    #[test]
    fn cached_generation_equals_uncached_token_for_token() -> Result<()> {
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        let prompt = Tensor::new(
            &[[1u32, 5, 2, 9, 3, 3, 0, 14], [7, 7, 1, 0, 2, 4, 6, 8]],
            &Device::Cpu,
        )?;
        for s in [
            Sampling::Greedy,
            Sampling::TopK {
                temperature: 1.5,
                top_k: 0,
                seed: 3,
            },
            Sampling::TopK {
                temperature: 0.7,
                top_k: 4,
                seed: 11,
            },
        ] {
            let a = ar.generate(&prompt, [3, 2, 4], 16, &s, CacheMode::KvCache)?;
            let b = ar.generate(&prompt, [3, 2, 4], 16, &s, CacheMode::Recompute)?;
            assert_eq!(a.to_vec2::<u32>()?, b.to_vec2::<u32>()?, "{s:?}");
            // same seed, same tokens
            let c = ar.generate(&prompt, [3, 2, 4], 16, &s, CacheMode::KvCache)?;
            assert_eq!(a.to_vec2::<u32>()?, c.to_vec2::<u32>()?);
        }
        Ok(())
    }

    #[test]
    fn top_k_one_is_greedy_and_bad_settings_are_errors() -> Result<()> {
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        let prompt = Tensor::new(&[[1u32, 5, 2, 9]], &Device::Cpu)?;
        let g = ar.generate(&prompt, [2, 2, 2], 4, &Sampling::Greedy, CacheMode::KvCache)?;
        let k1 = Sampling::TopK {
            temperature: 2.0,
            top_k: 1,
            seed: 5,
        };
        let k = ar.generate(&prompt, [2, 2, 2], 4, &k1, CacheMode::KvCache)?;
        assert_eq!(g.to_vec2::<u32>()?, k.to_vec2::<u32>()?);
        let bad = Sampling::TopK {
            temperature: 0.0,
            top_k: 1,
            seed: 5,
        };
        assert!(
            ar.generate(&prompt, [2, 2, 2], 4, &bad, CacheMode::KvCache)
                .is_err()
        );
        // 4 + 5 tokens do not fit a 2x2x2 grid
        assert!(
            ar.generate(&prompt, [2, 2, 2], 5, &Sampling::Greedy, CacheMode::KvCache)
                .is_err()
        );
        Ok(())
    }
}
