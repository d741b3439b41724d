//! Learning-rate schedules as pure functions of the optimiser step.
//!
//! * [`ScheduleKind::Constant`]: tokeniser pretraining keeps 5e-4 throughout (Appendix C).
//! * [`ScheduleKind::InverseSqrt`]: rollout training's inverse square root with linear
//!   warmup and square-root cooldown, the paper's equations (7)–(10). With `e` the epoch
//!   (or step), `E` the total, `W` warmup, `C` cooldown, `α` the warmup factor and `κ` the
//!   offset:
//!   ```text
//!   e ≤ W:          lr = peak (α + (1 − α) e / W)                              (7)
//!   W < e ≤ E − C:  lr = peak / (1 + √(e − W + κ) − √κ)                        (8)
//!   e > E − C:      lr = lr_end (1 − √((t − 1) / C)),  t = e − (E − C)          (9)
//!                   lr_end = peak / (1 + √(E − C + κ) − √κ)                     (10)
//!   ```
//!   As written, (10) counts from epoch 0 where (8) counts from the end of warmup, so the
//!   rate drops slightly at `E − C → E − C + 1` (from `√(E − C − W + κ)` to `√(E − C + κ)`).
//!   Walrus's `InverseSqrtLinearWarmupSqrtCooldown` has the same small discontinuity; we
//!   follow the paper's equations exactly. With `W = 0` there is no warmup (`lr(0) = peak`);
//!   past `E` the cooldown formula goes on and is clamped at 0.
//! * [`ScheduleKind::Cosine`]: linear warmup from `α·peak`, then half a cosine from `peak`
//!   to `final_factor·peak` at `E`, constant afterwards.
//!
//! The paper steps the rollout schedule once per epoch ([`Stepping::PerEpoch`]); per-step
//! stepping uses the same formulas with every duration counted in steps.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::report::{Align, Table, group_digits};
use crate::{ConfigError, Result};

/// What the schedule's time unit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Stepping {
    /// Durations are optimiser steps; the rate changes every step.
    #[default]
    PerStep,
    /// Durations are epochs of `steps_per_epoch` steps; the rate changes once per epoch
    /// (the paper's rollout training).
    PerEpoch {
        /// Optimiser steps in one epoch.
        steps_per_epoch: usize,
    },
}

/// The shape of a schedule; durations are in the unit of [`Stepping`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ScheduleKind {
    /// `lr = peak` always.
    Constant,
    /// Equations (7)–(10) of the paper.
    InverseSqrt {
        /// Warmup duration `W`.
        warmup: usize,
        /// Cooldown duration `C`.
        cooldown: usize,
        /// Total duration `E`.
        total: usize,
        /// Warmup starting factor `α` (paper: 0.1).
        warmup_factor: f64,
        /// Decay offset `κ` (paper: 128).
        offset: f64,
    },
    /// Linear warmup then cosine decay.
    Cosine {
        /// Warmup duration.
        warmup: usize,
        /// Total duration (end of the cosine).
        total: usize,
        /// Warmup starting factor.
        warmup_factor: f64,
        /// Final rate as a fraction of the peak.
        final_factor: f64,
    },
}

/// A learning-rate schedule's settings. Build it with [`ScheduleConfig::build`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    /// Peak learning rate.
    pub peak_lr: f64,
    /// The schedule's shape.
    pub kind: ScheduleKind,
    /// Its time unit.
    pub stepping: Stepping,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self::paper_tokeniser()
    }
}

impl ScheduleConfig {
    /// A constant rate.
    pub fn constant(lr: f64) -> Self {
        ScheduleConfig {
            peak_lr: lr,
            kind: ScheduleKind::Constant,
            stepping: Stepping::PerStep,
        }
    }

    /// The paper's inverse square root schedule (α = 0.1, κ = 128), per step.
    pub fn inverse_sqrt(peak_lr: f64, warmup: usize, cooldown: usize, total: usize) -> Self {
        ScheduleConfig {
            peak_lr,
            kind: ScheduleKind::InverseSqrt {
                warmup,
                cooldown,
                total,
                warmup_factor: 0.1,
                offset: 128.0,
            },
            stepping: Stepping::PerStep,
        }
    }

    /// Cosine decay to zero after a linear warmup from zero, per step.
    pub fn cosine(peak_lr: f64, warmup: usize, total: usize) -> Self {
        ScheduleConfig {
            peak_lr,
            kind: ScheduleKind::Cosine {
                warmup,
                total,
                warmup_factor: 0.0,
                final_factor: 0.0,
            },
            stepping: Stepping::PerStep,
        }
    }

    /// Tokeniser pretraining (Appendix C): constant 5e-4.
    pub fn paper_tokeniser() -> Self {
        Self::constant(5e-4)
    }

    /// Rollout training (Table 6, Appendix C): peak 5e-5, the inverse square root over 14
    /// epochs of 2,100 steps (29,400 steps; each GPU's shard holds 2,100 unique batches),
    /// warmup and cooldown given in epochs (the paper does not state `W` and `C`).
    ///
    /// The durations are counted in steps (`W·2100`, `C·2100`, 29,400), so the rate moves
    /// every step along the paper's curve. Stepped once per epoch, the run's last epoch is
    /// `e = 13 = E − C` for a one-epoch cooldown: equation (9) would never be entered, and
    /// even when entered, its first epoch (`t = 1`) keeps `lr_end`, so a per-epoch cooldown
    /// shorter than two epochs never lowers the rate. Counted in steps the rate falls to
    /// almost zero over the last `C` epochs, as a cooldown should.
    /// [`ScheduleConfig::rescaled`] stretches it to another run length.
    pub fn paper_rollout(warmup_epochs: usize, cooldown_epochs: usize) -> Self {
        Self::inverse_sqrt(
            5e-5,
            warmup_epochs * 2100,
            cooldown_epochs * 2100,
            14 * 2100,
        )
    }

    /// This schedule for a run of `to` steps instead of `from`: a per-step schedule's
    /// durations (warmup, cooldown, total) stretch by `to / from` (at least one step each);
    /// a constant or per-epoch schedule is returned as it is.
    pub fn rescaled(&self, from: usize, to: usize) -> Self {
        let mut s = *self;
        if s.stepping != Stepping::PerStep || from == to {
            return s;
        }
        let f = to as f64 / from.max(1) as f64;
        let stretch = |n: usize| ((n as f64 * f).round() as usize).max(1);
        match &mut s.kind {
            ScheduleKind::Constant => {}
            ScheduleKind::InverseSqrt {
                warmup,
                cooldown,
                total,
                ..
            } => {
                *warmup = stretch(*warmup);
                *cooldown = stretch(*cooldown);
                *total = to.max(*warmup + *cooldown + 1);
            }
            ScheduleKind::Cosine { warmup, total, .. } => {
                *warmup = stretch(*warmup);
                *total = to.max(*warmup + 1);
            }
        }
        s
    }

    /// Sets the time unit.
    pub fn with_stepping(mut self, stepping: Stepping) -> Self {
        self.stepping = stepping;
        self
    }

    /// Sets the peak learning rate.
    pub fn with_peak_lr(mut self, lr: f64) -> Self {
        self.peak_lr = lr;
        self
    }

    /// Sets the warmup starting factor (no effect on a constant schedule).
    pub fn with_warmup_factor(mut self, factor: f64) -> Self {
        match &mut self.kind {
            ScheduleKind::InverseSqrt { warmup_factor, .. }
            | ScheduleKind::Cosine { warmup_factor, .. } => *warmup_factor = factor,
            ScheduleKind::Constant => {}
        }
        self
    }

    /// Sets the cosine's final factor (no effect on other kinds).
    pub fn with_final_factor(mut self, factor: f64) -> Self {
        if let ScheduleKind::Cosine { final_factor, .. } = &mut self.kind {
            *final_factor = factor;
        }
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !(self.peak_lr >= 0.0 && self.peak_lr.is_finite()) {
            return Err(ConfigError::OutOfRange {
                name: "peak_lr",
                range: "[0, inf)",
                value: self.peak_lr,
            });
        }
        if let Stepping::PerEpoch { steps_per_epoch: 0 } = self.stepping {
            return Err(ConfigError::NotPositive {
                name: "steps_per_epoch",
                value: 0.0,
            });
        }
        let unit = |name, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(ConfigError::OutOfRange {
                    name,
                    range: "[0, 1]",
                    value: v,
                })
            }
        };
        match self.kind {
            ScheduleKind::Constant => Ok(()),
            ScheduleKind::InverseSqrt {
                warmup,
                cooldown,
                total,
                warmup_factor,
                offset,
            } => {
                unit("warmup_factor", warmup_factor)?;
                if !(offset >= 0.0 && offset.is_finite()) {
                    return Err(ConfigError::OutOfRange {
                        name: "offset",
                        range: "[0, inf)",
                        value: offset,
                    });
                }
                if total == 0 {
                    return Err(ConfigError::NotPositive {
                        name: "total",
                        value: 0.0,
                    });
                }
                if warmup + cooldown > total {
                    return Err(ConfigError::Mismatch {
                        name: "warmup + cooldown",
                        value: (warmup + cooldown).to_string(),
                        other: format!("total {total}"),
                    });
                }
                Ok(())
            }
            ScheduleKind::Cosine {
                warmup,
                total,
                warmup_factor,
                final_factor,
            } => {
                unit("warmup_factor", warmup_factor)?;
                unit("final_factor", final_factor)?;
                if warmup >= total {
                    return Err(ConfigError::Mismatch {
                        name: "warmup",
                        value: warmup.to_string(),
                        other: format!("total {total} (must be smaller)"),
                    });
                }
                Ok(())
            }
        }
    }

    /// The schedule, after [`ScheduleConfig::check`].
    pub fn build(self) -> Result<LrSchedule> {
        self.check()?;
        Ok(LrSchedule { config: self })
    }
}

/// A checked learning-rate schedule: [`LrSchedule::lr`] maps an optimiser step (0-based:
/// the rate for the step about to be taken) to a rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    config: ScheduleConfig,
}

impl LrSchedule {
    /// The settings.
    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    /// The schedule's time (epoch or step) at optimiser step `step`.
    pub fn time_at(&self, step: usize) -> usize {
        match self.config.stepping {
            Stepping::PerStep => step,
            Stepping::PerEpoch { steps_per_epoch } => step / steps_per_epoch,
        }
    }

    /// The learning rate at optimiser step `step`.
    pub fn lr(&self, step: usize) -> f64 {
        self.config.peak_lr * self.factor_at_time(self.time_at(step))
    }

    /// The rate as a fraction of the peak at schedule time `e` (an epoch or a step).
    pub fn factor_at_time(&self, e: usize) -> f64 {
        let ef = e as f64;
        match self.config.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::InverseSqrt {
                warmup,
                cooldown,
                total,
                warmup_factor: a,
                offset: k,
            } => {
                if e <= warmup {
                    if warmup == 0 {
                        1.0
                    } else {
                        a + (1.0 - a) * ef / warmup as f64
                    }
                } else if e <= total - cooldown {
                    let s = (e - warmup) as f64;
                    1.0 / (1.0 + (s + k).sqrt() - k.sqrt())
                } else {
                    let end = 1.0 / (1.0 + ((total - cooldown) as f64 + k).sqrt() - k.sqrt());
                    let t = (e - (total - cooldown)) as f64;
                    (end * (1.0 - ((t - 1.0) / cooldown as f64).sqrt())).max(0.0)
                }
            }
            ScheduleKind::Cosine {
                warmup,
                total,
                warmup_factor: a,
                final_factor: f,
            } => {
                if e < warmup {
                    a + (1.0 - a) * ef / warmup as f64
                } else {
                    let p = ((e - warmup) as f64 / (total - warmup) as f64).min(1.0);
                    f + (1.0 - f) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
                }
            }
        }
    }

    /// `(time, lr)` at the schedule's phase boundaries, for display.
    pub fn boundaries(&self) -> Vec<(usize, f64)> {
        let times: Vec<usize> = match self.config.kind {
            ScheduleKind::Constant => vec![0],
            ScheduleKind::InverseSqrt {
                warmup,
                cooldown,
                total,
                ..
            } => {
                let d = total - cooldown;
                vec![0, warmup, warmup + 1, d, d + 1, total - 1, total]
            }
            ScheduleKind::Cosine { warmup, total, .. } => {
                vec![0, warmup, (warmup + total) / 2, total]
            }
        };
        let mut times = times;
        times.dedup();
        times
            .into_iter()
            .map(|e| (e, self.config.peak_lr * self.factor_at_time(e)))
            .collect()
    }

    /// Renders the phase boundaries as an HTML table in evcxr.
    pub fn evcxr_display(&self) {
        self.to_table().evcxr_display();
    }

    /// The phase boundaries as a table: the step (or epoch) and the learning rate there,
    /// the schedule's kind in the caption.
    pub fn to_table(&self) -> Table {
        let unit = match self.config.stepping {
            Stepping::PerStep => "step".to_string(),
            Stepping::PerEpoch { steps_per_epoch } => {
                format!("epoch ({} steps)", group_digits(steps_per_epoch))
            }
        };
        let mut t = Table::new([unit, "lr".to_string()])
            .with_caption(format!("{:?}", self.config.kind))
            .with_align(0..2, Align::Right);
        for (e, lr) in self.boundaries() {
            // one cell per column by construction
            let _ = t.push_row([group_digits(e), format!("{lr:.4e}")]);
        }
        t
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?}, peak {:e}, {:?}:",
            self.config.kind, self.config.peak_lr, self.config.stepping
        )?;
        for (e, lr) in self.boundaries() {
            write!(f, " {e}→{lr:.4e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
