//! Per-depth compression of the tokeniser (paper Appendix C "Compression factors", Table 7).
//!
//! A [`Compression`] holds one [`ScaleFactor`] `(s_t, s_s)` per downsampling depth. The
//! configured sets ([`DepthChoices`]) are what training draws from, uniformly and
//! independently per depth, at every forward pass; [`Compression::paper_validation`] is the
//! fixed validation choice; any factor that divides a depth's largest one can be set per call.

use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use crate::nn::ScaleFactor;
use crate::{ConfigError, Result};

/// The temporal and spatial factors one depth may take (Table 7 row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthChoices {
    /// Temporal factors `s_t` (powers of two).
    pub time: Vec<usize>,
    /// Spatial factors `s_s` (powers of two).
    pub space: Vec<usize>,
}

impl DepthChoices {
    /// A depth that may take any `(t, s)` with `t` in `time` and `s` in `space`.
    pub fn new(time: impl Into<Vec<usize>>, space: impl Into<Vec<usize>>) -> Self {
        Self {
            time: time.into(),
            space: space.into(),
        }
    }

    /// The largest factor of the set: the size of the layer's base kernel.
    pub fn largest(&self) -> ScaleFactor {
        ScaleFactor::new(
            self.time.iter().copied().max().unwrap_or(1),
            self.space.iter().copied().max().unwrap_or(1),
        )
    }

    /// Checks both sets are non-empty and hold powers of two.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.time.is_empty() {
            return Err(ConfigError::Empty {
                name: "temporal compression choices",
            });
        }
        if self.space.is_empty() {
            return Err(ConfigError::Empty {
                name: "spatial compression choices",
            });
        }
        for &t in &self.time {
            ScaleFactor::new(t, 1).check()?;
        }
        for &s in &self.space {
            ScaleFactor::new(1, s).check()?;
        }
        Ok(())
    }

    /// One factor drawn uniformly (time and space independently).
    pub fn sample(&self, rng: &mut impl Rng) -> ScaleFactor {
        ScaleFactor::new(
            *self.time.choose(rng).unwrap_or(&1),
            *self.space.choose(rng).unwrap_or(&1),
        )
    }
}

/// One scale factor per tokeniser depth, outermost (pixel side) first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Compression {
    /// The factor of each depth.
    pub factors: Vec<ScaleFactor>,
}

impl Compression {
    /// A compression from `(s_t, s_s)` pairs, outermost depth first.
    pub fn new(factors: impl IntoIterator<Item = (usize, usize)>) -> Self {
        Self {
            factors: factors
                .into_iter()
                .map(|(t, s)| ScaleFactor::new(t, s))
                .collect(),
        }
    }

    /// The paper's validation setting: `(1, 2), (2, 2), (2, 2)` (Appendix C): 4x in time, 8x in space.
    pub fn paper_validation() -> Self {
        Self::new([(1, 2), (2, 2), (2, 2)])
    }

    /// The paper's strongest setting: `(1, 2), (2, 4), (2, 4)`: 4x in time, 32x in space.
    pub fn paper_strongest() -> Self {
        Self::new([(1, 2), (2, 4), (2, 4)])
    }

    /// Total temporal factor `Π s_t`.
    pub fn time(&self) -> usize {
        self.factors.iter().map(|f| f.time).product()
    }

    /// Total spatial factor `Π s_s` (per axis).
    pub fn space(&self) -> usize {
        self.factors.iter().map(|f| f.space).product()
    }

    /// Checks there is one factor per depth and each divides its depth's largest factor.
    pub fn check(&self, depths: &[DepthChoices]) -> Result<(), ConfigError> {
        if self.factors.len() != depths.len() {
            return Err(ConfigError::Mismatch {
                name: "compression depths",
                value: self.factors.len().to_string(),
                other: format!("the tokeniser's {} depths", depths.len()),
            });
        }
        for (f, d) in self.factors.iter().zip(depths) {
            f.check_within(d.largest())?;
        }
        Ok(())
    }

    /// Every combination of the configured choices (the training distribution's support).
    pub fn all(depths: &[DepthChoices]) -> Vec<Compression> {
        let mut all = vec![Compression { factors: vec![] }];
        for d in depths {
            let mut next = Vec::new();
            for c in &all {
                for &t in &d.time {
                    for &s in &d.space {
                        let mut f = c.factors.clone();
                        f.push(ScaleFactor::new(t, s));
                        next.push(Compression { factors: f });
                    }
                }
            }
            all = next;
        }
        all
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.factors.iter().map(|s| s.to_string()).collect();
        write!(
            f,
            "[{}] = {}x time, {}x space",
            parts.join(", "),
            self.time(),
            self.space()
        )
    }
}
