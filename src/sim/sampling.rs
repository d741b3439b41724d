//! What every simulator shares: its output grid and how it samples trajectories in time
//! ([`Sampling`]), with one set of rules ([`Sampling::check`]).
//!
//! The setters that change it are the [`Simulator`](super::Simulator) trait's, so that
//! every configuration chains them the same way.

use serde::{Deserialize, Serialize};

use super::common;
use crate::ConfigError;

/// The output grid and time sampling of a simulation: `trajectories` runs of `n_steps`
/// frames, `output_interval` apart, on an `nx × ny` grid (`x` the slow axis), seeded by
/// `seed`. Embedded in every simulator's configuration as its `sampling` field.
///
/// The grid is the output grid: Rayleigh–Bénard's solver runs on a doubled box, but writes
/// `nx × ny`. The time unit is the system's own (free-fall times for Rayleigh–Bénard,
/// reaction time units for Gray–Scott), so each configuration's `Default` sets its own
/// `output_interval`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// Grid points along x (rows, the slow axis), a power of two in `[4, 1024]`.
    pub nx: usize,
    /// Grid points along y, a power of two in `[4, 1024]`.
    pub ny: usize,
    /// Number of trajectories (independent random initial states), at least 1.
    pub trajectories: usize,
    /// Output frames per trajectory, the initial state included, at least 2.
    pub n_steps: usize,
    /// Time between output frames, positive.
    pub output_interval: f64,
    /// Seed of the random initial states; trajectory `i` draws from stream `i` of it.
    pub seed: u64,
}

impl Default for Sampling {
    /// 64 × 64, 4 trajectories, 32 frames one time unit apart, seed 0.
    fn default() -> Self {
        Sampling {
            nx: 64,
            ny: 64,
            trajectories: 4,
            n_steps: 32,
            output_interval: 1.0,
            seed: 0,
        }
    }
}

impl Sampling {
    /// Checks every rule, naming the setting that breaks one: `nx` and `ny` powers of two
    /// ([`ConfigError::NotPowerOfTwo`]) in `[4, 1024]` ([`ConfigError::OutOfRange`]), at
    /// least one trajectory ([`ConfigError::NotPositive`]), at least two frames
    /// ([`ConfigError::OutOfRange`] on `n_steps`) and a positive, finite output interval
    /// ([`ConfigError::NotPositive`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        check_grid_size("nx", self.nx)?;
        check_grid_size("ny", self.ny)?;
        if self.trajectories == 0 {
            return Err(ConfigError::NotPositive {
                name: "trajectories",
                value: 0.0,
            });
        }
        if self.n_steps < 2 {
            return Err(ConfigError::OutOfRange {
                name: "n_steps",
                range: "[2, ∞)",
                value: self.n_steps as f64,
            });
        }
        common::check_positive("output_interval", self.output_interval)
    }

    /// Output times `0, Δt, 2Δt, …` (`n_steps` of them), as the Well file stores them.
    pub(crate) fn output_times(&self) -> Vec<f32> {
        (0..self.n_steps)
            .map(|i| (i as f64 * self.output_interval) as f32)
            .collect()
    }
}

/// Checks a grid size: a power of two between 4 and 1024.
fn check_grid_size(name: &'static str, n: usize) -> Result<(), ConfigError> {
    if !n.is_power_of_two() {
        return Err(ConfigError::NotPowerOfTwo { name, value: n });
    }
    if !(4..=1024).contains(&n) {
        return Err(ConfigError::OutOfRange {
            name,
            range: "[4, 1024]",
            value: n as f64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_passes_and_each_rule_names_its_setting() {
        assert_eq!(Sampling::default().check(), Ok(()));
        let bad = |f: fn(&mut Sampling)| {
            let mut s = Sampling::default();
            f(&mut s);
            s.check().unwrap_err()
        };
        assert!(matches!(
            bad(|s| s.ny = 0),
            ConfigError::NotPowerOfTwo { name: "ny", .. }
        ));
        assert!(matches!(
            bad(|s| s.nx = 2048),
            ConfigError::OutOfRange { name: "nx", .. }
        ));
        assert!(matches!(
            bad(|s| s.n_steps = 1),
            ConfigError::OutOfRange {
                name: "n_steps",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.output_interval = f64::INFINITY),
            ConfigError::NotPositive {
                name: "output_interval",
                ..
            }
        ));
    }

    #[test]
    fn output_times_step_by_the_interval_from_zero() {
        let s = Sampling {
            n_steps: 3,
            output_interval: 0.25,
            ..Sampling::default()
        };
        assert_eq!(s.output_times(), [0.0, 0.25, 0.5]);
    }
}
