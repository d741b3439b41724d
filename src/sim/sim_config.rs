//! [`SimConfig`], the configuration of any one simulator (one serde enum over the four),
//! and the parameter sweeps that dataset generation cycles through
//! ([`System::configuration`]).

use serde::{Deserialize, Serialize};

use super::active_matter::ActiveMatterConfig;
use super::common::SimStats;
use super::euler_solver::{EulerBoundary, EulerConfig};
use super::gray_scott::{GRAY_SCOTT_WELL_PATTERNS, GrayScottConfig};
use super::rayleigh_benard::RayleighBenardConfig;
use super::sampling::Sampling;
use super::shear_flow::ShearFlowConfig;
use super::simulator::Simulator;
use super::system::System;
use crate::data::WellFile;
use crate::{ConfigError, Result};

/// The configuration of any one simulator, serialised as `{"Euler": {…}}`,
/// `{"ShearFlow": {…}}`, `{"RayleighBenard": {…}}`, `{"GrayScott": {…}}` or
/// `{"ActiveMatter": {…}}`.
///
/// It is a [`Simulator`] itself: every method goes to the inner configuration through
/// [`SimConfig::as_simulator`] (or [`SimConfig::as_simulator_mut`] for the setters).
///
/// ```
/// use phystok::sim::{ShearFlowConfig, SimConfig, Simulator, System};
/// let config = SimConfig::from(ShearFlowConfig::tiny()).with_resolution(16);
/// assert_eq!(config.system(), System::ShearFlow);
/// assert_eq!(config.sampling().nx, 16);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SimConfig {
    /// `euler_multi_quadrants_{periodicBC,openBC}` (by its boundary).
    Euler(EulerConfig),
    /// `shear_flow`.
    ShearFlow(ShearFlowConfig),
    /// `rayleigh_benard`.
    RayleighBenard(RayleighBenardConfig),
    /// `gray_scott_reaction_diffusion`.
    GrayScott(GrayScottConfig),
    /// `active_matter`.
    ActiveMatter(ActiveMatterConfig),
}

impl SimConfig {
    /// The inner configuration, as the one [`Simulator`] it is.
    pub fn as_simulator(&self) -> &dyn Simulator {
        match self {
            SimConfig::Euler(c) => c,
            SimConfig::ShearFlow(c) => c,
            SimConfig::RayleighBenard(c) => c,
            SimConfig::GrayScott(c) => c,
            SimConfig::ActiveMatter(c) => c,
        }
    }

    /// The inner configuration, mutably.
    pub fn as_simulator_mut(&mut self) -> &mut dyn Simulator {
        match self {
            SimConfig::Euler(c) => c,
            SimConfig::ShearFlow(c) => c,
            SimConfig::RayleighBenard(c) => c,
            SimConfig::GrayScott(c) => c,
            SimConfig::ActiveMatter(c) => c,
        }
    }
}

impl Simulator for SimConfig {
    fn system(&self) -> System {
        self.as_simulator().system()
    }

    fn sampling(&self) -> &Sampling {
        self.as_simulator().sampling()
    }

    fn sampling_mut(&mut self) -> &mut Sampling {
        self.as_simulator_mut().sampling_mut()
    }

    fn check(&self) -> Result<(), ConfigError> {
        self.as_simulator().check()
    }

    fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        self.as_simulator().simulate_with_stats()
    }

    fn grid_for_resolution(&self, n: usize) -> (usize, usize) {
        self.as_simulator().grid_for_resolution(n)
    }
}

impl From<EulerConfig> for SimConfig {
    fn from(c: EulerConfig) -> Self {
        SimConfig::Euler(c)
    }
}

impl From<ShearFlowConfig> for SimConfig {
    fn from(c: ShearFlowConfig) -> Self {
        SimConfig::ShearFlow(c)
    }
}

impl From<RayleighBenardConfig> for SimConfig {
    fn from(c: RayleighBenardConfig) -> Self {
        SimConfig::RayleighBenard(c)
    }
}

impl From<GrayScottConfig> for SimConfig {
    fn from(c: GrayScottConfig) -> Self {
        SimConfig::GrayScott(c)
    }
}

impl From<ActiveMatterConfig> for SimConfig {
    fn from(c: ActiveMatterConfig) -> Self {
        SimConfig::ActiveMatter(c)
    }
}

impl System {
    /// Number of parameter configurations in [`System::configuration`]'s sweep.
    pub fn n_configurations(self) -> usize {
        match self {
            System::EulerPeriodic | System::EulerOpen => 4,
            System::ShearFlow => 4,
            System::RayleighBenard => 4,
            System::GrayScottReactionDiffusion => 6,
            System::ActiveMatter => 4,
        }
    }

    /// The `index`-th parameter configuration (modulo the sweep's length), at the system's
    /// default sampling (its config's `Default`); set the grid, trajectories, frames and
    /// seed with the [`Simulator`] setters.
    ///
    /// The sweeps, chosen to stay resolved at 64² and to differ visibly:
    /// Euler γ ∈ {1.4, 1.76, 1.13, 1.597} periodic and {1.4, 1.22, 1.597, 1.33} open
    /// (from The Well's γ);
    /// shear flow (Re, Sc) ∈ {(5e3, 1), (1e4, 0.5), (2e3, 2), (5e3, 0.2)};
    /// Rayleigh–Bénard (Ra, Pr) ∈ {(3e5, 1), (1e5, 2), (1e6, 0.5), (2e5, 4)};
    /// Gray–Scott: The Well's six patterns, spots first;
    /// active matter (α, ζ) ∈ {(−1, 3), (−3, 5), (−5, 1), (−2, 9)} (from The Well's α and ζ).
    pub fn configuration(self, index: usize) -> SimConfig {
        let i = index % self.n_configurations();
        match self {
            System::EulerPeriodic | System::EulerOpen => {
                let (gamma, boundary) = if self == System::EulerPeriodic {
                    ([1.4, 1.76, 1.13, 1.597][i], EulerBoundary::Periodic)
                } else {
                    ([1.4, 1.22, 1.597, 1.33][i], EulerBoundary::Open)
                };
                SimConfig::Euler(
                    EulerConfig::default()
                        .with_gamma(gamma)
                        .with_boundary(boundary),
                )
            }
            System::ShearFlow => {
                let (re, sc) = [(5e3, 1.0), (1e4, 0.5), (2e3, 2.0), (5e3, 0.2)][i];
                SimConfig::ShearFlow(
                    ShearFlowConfig::default()
                        .with_reynolds(re)
                        .with_schmidt(sc),
                )
            }
            System::RayleighBenard => {
                let (ra, pr) = [(3e5, 1.0), (1e5, 2.0), (1e6, 0.5), (2e5, 4.0)][i];
                SimConfig::RayleighBenard(
                    RayleighBenardConfig::default()
                        .with_rayleigh(ra)
                        .with_prandtl(pr),
                )
            }
            System::GrayScottReactionDiffusion => {
                let order = [5, 2, 0, 3, 4, 1]; // spots, maze, gliders, worms, spirals, bubbles
                let (_, feed, kill) = GRAY_SCOTT_WELL_PATTERNS[order[i]];
                SimConfig::GrayScott(GrayScottConfig::default().with_rates(feed, kill))
            }
            System::ActiveMatter => {
                let (alpha, zeta) = [(-1.0, 3.0), (-3.0, 5.0), (-5.0, 1.0), (-2.0, 9.0)][i];
                SimConfig::ActiveMatter(
                    ActiveMatterConfig::default()
                        .with_alpha(alpha)
                        .with_zeta(zeta),
                )
            }
        }
    }
}
