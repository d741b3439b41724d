//! Rollout evaluation: the paper's horizons (Figure 3: step 1, step 2, steps 3–6,
//! steps 7–18), The Well's logarithmic time intervals, and the Table 5 protocol (mean over
//! 10 random subsets of N validation examples, with the spread; seeded).

use std::ops::Range;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::summary::{MetricGrid, ScoreSet};
use crate::report::{Align, Table, group_digits};
use crate::{ConfigError, Error, Result};

/// A range of autoregressive rollout steps, 1-based and inclusive as in the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutHorizon {
    /// Step 1 (next-frame prediction).
    Step1,
    /// Step 2.
    Step2,
    /// Steps 3 to 6.
    Steps3To6,
    /// Steps 7 to 18.
    Steps7To18,
}

impl RolloutHorizon {
    /// The four horizons of Figure 3.
    pub const PAPER: [RolloutHorizon; 4] = [
        RolloutHorizon::Step1,
        RolloutHorizon::Step2,
        RolloutHorizon::Steps3To6,
        RolloutHorizon::Steps7To18,
    ];

    /// First and last step, 1-based inclusive.
    pub fn steps(self) -> (usize, usize) {
        match self {
            RolloutHorizon::Step1 => (1, 1),
            RolloutHorizon::Step2 => (2, 2),
            RolloutHorizon::Steps3To6 => (3, 6),
            RolloutHorizon::Steps7To18 => (7, 18),
        }
    }

    /// Zero-based time indices of a metric grid whose time `i` is rollout step `i + 1`.
    pub fn time_range(self) -> Range<usize> {
        let (a, b) = self.steps();
        a - 1..b
    }

    /// Label, e.g. `steps 3-6`.
    pub fn label(self) -> String {
        match self.steps() {
            (a, b) if a == b => format!("step {a}"),
            (a, b) => format!("steps {a}-{b}"),
        }
    }
}

/// Scores averaged over each of the paper's rollout horizons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HorizonScores {
    /// Each horizon the rollout covers fully, with its scores.
    pub horizons: Vec<(RolloutHorizon, ScoreSet)>,
}

impl HorizonScores {
    /// Averages a rollout's grid (time `i` = step `i + 1`) over every horizon that fits in
    /// it; a rollout of 18 steps gets all four.
    pub fn from_grid(grid: &MetricGrid) -> Result<Self> {
        let (_, times, _) = grid.dims();
        let horizons = RolloutHorizon::PAPER
            .iter()
            .filter(|h| h.time_range().end <= times)
            .map(|&h| Ok((h, grid.time_slice(h.time_range())?.summary().mean)))
            .collect::<Result<Vec<_>>>()?;
        if horizons.is_empty() {
            return Err(Error::Empty {
                what: "rollout horizons (need at least 1 step)".into(),
            });
        }
        Ok(HorizonScores { horizons })
    }

    /// The scores of one horizon, if the rollout covered it.
    pub fn get(&self, horizon: RolloutHorizon) -> Option<&ScoreSet> {
        self.horizons
            .iter()
            .find(|(h, _)| *h == horizon)
            .map(|(_, s)| s)
    }
}

/// The Well's time intervals for `n_steps` (`split_up_losses` in its trainer):
/// boundaries `[0] + [int(exp(x)) for x in linspace(0, ln n_steps, min(n_steps, n))]`,
/// returned as consecutive half-open ranges (empty ones dropped). Like The Well, the last
/// bound is `int(exp(ln n))`, which is `n − 1` for some `n` (18 gives `8..17`).
pub fn the_well_time_intervals(n_steps: usize, n_intervals: usize) -> Vec<Range<usize>> {
    let m = n_steps.min(n_intervals);
    if n_steps == 0 || m == 0 {
        return Vec::new();
    }
    // numpy.linspace: x_i = i·step, last set to the stop exactly
    let top = (n_steps as f64).ln();
    let step = if m > 1 { top / (m - 1) as f64 } else { 0.0 };
    let mut bounds = vec![0usize];
    for i in 0..m {
        let x = if i + 1 == m && m > 1 {
            top
        } else {
            i as f64 * step
        };
        bounds.push(x.exp() as usize);
    }
    bounds
        .windows(2)
        .filter(|w| w[1] > w[0])
        .map(|w| w[0]..w[1])
        .collect()
}

/// The Table 5 protocol: `n_subsets` random subsets of `subset_size` examples, drawn
/// without replacement within a subset, from a seeded ChaCha8 stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubsetProtocol {
    /// Number of subsets (10 in the paper).
    pub n_subsets: usize,
    /// Examples per subset (4096 in the paper).
    pub subset_size: usize,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for SubsetProtocol {
    fn default() -> Self {
        SubsetProtocol::paper()
    }
}

impl SubsetProtocol {
    /// Table 5: mean over 10 random subsets of 4096 validation examples.
    pub fn paper() -> Self {
        SubsetProtocol {
            n_subsets: 10,
            subset_size: 4096,
            seed: 0,
        }
    }

    /// Sets the subset size.
    pub fn with_subset_size(mut self, subset_size: usize) -> Self {
        self.subset_size = subset_size;
        self
    }

    /// Sets the number of subsets.
    pub fn with_n_subsets(mut self, n_subsets: usize) -> Self {
        self.n_subsets = n_subsets;
        self
    }

    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.n_subsets == 0 {
            return Err(ConfigError::NotPositive {
                name: "n_subsets",
                value: 0.0,
            });
        }
        if self.subset_size == 0 {
            return Err(ConfigError::NotPositive {
                name: "subset_size",
                value: 0.0,
            });
        }
        Ok(())
    }

    /// The example indices of each subset.
    pub fn subsets(&self, n_examples: usize) -> Result<Vec<Vec<usize>>> {
        self.check()?;
        if self.subset_size > n_examples {
            return Err(ConfigError::Mismatch {
                name: "subset_size",
                value: self.subset_size.to_string(),
                other: format!("{n_examples} validation examples"),
            }
            .into());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        Ok((0..self.n_subsets)
            .map(|_| sample(&mut rng, n_examples, self.subset_size).into_vec())
            .collect())
    }

    /// Runs the protocol on a next-frame grid: each sample is one validation example;
    /// each subset's score is the paper's aggregate (per frame and field, then averaged).
    pub fn run(&self, grid: &MetricGrid) -> Result<TableRow> {
        let per_sample = grid.per_sample();
        let subsets = self.subsets(per_sample.len())?;
        let means: Vec<ScoreSet> = subsets
            .iter()
            .map(|idx| ScoreSet::mean_of_sets(idx.iter().map(|&i| &per_sample[i])))
            .collect();
        let stat =
            |f: fn(&ScoreSet) -> f64| SubsetStat::of(&means.iter().map(f).collect::<Vec<_>>());
        Ok(TableRow {
            vrmse: stat(|s| s.vrmse),
            neps_low: stat(|s| s.neps.low),
            neps_mid: stat(|s| s.neps.mid),
            neps_high: stat(|s| s.neps.high),
            protocol: self.clone(),
        })
    }
}

/// Mean and spread of one metric over the subsets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubsetStat {
    /// Mean over subsets (the number Table 5 reports).
    pub mean: f64,
    /// Sample standard deviation over subsets (0 for one subset).
    pub std: f64,
    /// Smallest subset value.
    pub min: f64,
    /// Largest subset value.
    pub max: f64,
}

impl SubsetStat {
    /// Statistics of the values.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        SubsetStat {
            mean,
            std: var.sqrt(),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One row of Table 5: VRMSE and NEPS low/mid/high, each a mean over subsets with spread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableRow {
    /// VRMSE.
    pub vrmse: SubsetStat,
    /// NEPS, low band.
    pub neps_low: SubsetStat,
    /// NEPS, mid band.
    pub neps_mid: SubsetStat,
    /// NEPS, high band.
    pub neps_high: SubsetStat,
    /// How the subsets were drawn.
    pub protocol: SubsetProtocol,
}

impl std::fmt::Display for TableRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = |s: &SubsetStat| format!("{:.3} ± {:.3}", s.mean, s.std);
        write!(
            f,
            "VRMSE {} | NEPS low {} | mid {} | high {} ({} subsets of {})",
            c(&self.vrmse),
            c(&self.neps_low),
            c(&self.neps_mid),
            c(&self.neps_high),
            self.protocol.n_subsets,
            self.protocol.subset_size
        )
    }
}

impl TableRow {
    /// The row as a table: each metric's mean ± std over the subsets, the protocol in the
    /// caption.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new(["VRMSE", "Spectral-Low", "Spectral-Mid", "Spectral-High"])
            .with_caption(format!(
                "mean ± std over {} subsets of {} examples, seed {}",
                group_digits(self.protocol.n_subsets),
                group_digits(self.protocol.subset_size),
                self.protocol.seed
            ))
            .with_align(0..4, Align::Right);
        let c = |s: &SubsetStat| format!("{:.3} ± {:.3}", s.mean, s.std);
        // one cell per column by construction
        let _ = t.push_row([
            c(&self.vrmse),
            c(&self.neps_low),
            c(&self.neps_mid),
            c(&self.neps_high),
        ]);
        t
    }

    /// Shows the row inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        self.to_table().evcxr_display();
    }
}

impl std::fmt::Display for HorizonScores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (h, s)) in self.horizons.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{:<12} VRMSE {:.4}", h.label(), s.vrmse)?;
        }
        Ok(())
    }
}

impl HorizonScores {
    /// The horizons as a table: VRMSE and NEPS per band of each.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new(["horizon", "VRMSE", "NEPS low", "NEPS mid", "NEPS high"])
            .with_align(1..5, Align::Right);
        for (hz, s) in &self.horizons {
            // one cell per column by construction
            let _ = t.push_row([
                hz.label(),
                format!("{:.4}", s.vrmse),
                format!("{:.4}", s.neps.low),
                format!("{:.4}", s.neps.mid),
                format!("{:.4}", s.neps.high),
            ]);
        }
        t
    }

    /// Shows the horizons inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        self.to_table().evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Bands;

    #[test]
    fn tables_carry_every_horizon_and_the_protocol() {
        let s = |v: f64| ScoreSet {
            vrmse: v,
            neps: Bands::from_array([v, v, v]),
            ..ScoreSet::default()
        };
        let h = HorizonScores {
            horizons: vec![
                (RolloutHorizon::Step1, s(0.1)),
                (RolloutHorizon::Steps3To6, s(0.4)),
            ],
        };
        let t = h.to_table();
        assert_eq!(t.n_rows(), 2);
        assert_eq!(t.rows()[1][..2], ["steps 3-6", "0.4000"]);
        let stat = SubsetStat::of(&[1.0, 3.0]);
        let row = TableRow {
            vrmse: stat,
            neps_low: stat,
            neps_mid: stat,
            neps_high: stat,
            protocol: SubsetProtocol::paper(),
        };
        let t = row.to_table();
        assert_eq!(t.rows()[0][0], "2.000 ± 1.414");
        assert_eq!(
            t.caption(),
            "mean ± std over 10 subsets of 4,096 examples, seed 0"
        );
    }
}
