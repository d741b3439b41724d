//! The simulated systems by their Well names ([`System`]), one configuration type over all
//! of them ([`SimConfig`]), and the parameter sweeps that dataset generation cycles through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::common::SimStats;
use super::euler::{EULER_OPEN_NAME, EULER_PERIODIC_NAME};
use super::euler_solver::EulerBoundary;
use super::euler_solver::EulerConfig;
use super::gray_scott::{GRAY_SCOTT_NAME, GrayScottConfig};
use super::rayleigh_benard::{RAYLEIGH_BENARD_NAME, RayleighBenardConfig};
use super::shear_flow::{SHEAR_FLOW_NAME, ShearFlowConfig};
use crate::data::WellFile;
use crate::{ConfigError, Result};

/// A simulated physical system, named as The Well names its dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum System {
    /// `euler_multi_quadrants_periodicBC`: compressible Euler from random quadrant states,
    /// periodic boundaries (the paper's Euler benchmark).
    EulerPeriodic,
    /// `euler_multi_quadrants_openBC`: the same with open (outflow) boundaries.
    EulerOpen,
    /// `shear_flow`: incompressible Navier–Stokes shear layers with a tracer.
    ShearFlow,
    /// `rayleigh_benard`: Boussinesq convection between walls.
    RayleighBenard,
    /// `gray_scott_reaction_diffusion`: the Gray–Scott reaction–diffusion system
    /// (in place of `active_matter`, which is not implemented).
    GrayScottReactionDiffusion,
}

impl System {
    /// Every system, in the order of the default collection.
    pub const ALL: [System; 5] = [
        System::EulerPeriodic,
        System::EulerOpen,
        System::ShearFlow,
        System::RayleighBenard,
        System::GrayScottReactionDiffusion,
    ];

    /// The Well's dataset name.
    pub fn name(self) -> &'static str {
        match self {
            System::EulerPeriodic => EULER_PERIODIC_NAME,
            System::EulerOpen => EULER_OPEN_NAME,
            System::ShearFlow => SHEAR_FLOW_NAME,
            System::RayleighBenard => RAYLEIGH_BENARD_NAME,
            System::GrayScottReactionDiffusion => GRAY_SCOTT_NAME,
        }
    }

    /// Number of parameter configurations in [`System::configuration`]'s sweep.
    pub fn n_configurations(self) -> usize {
        match self {
            System::EulerPeriodic | System::EulerOpen => 4,
            System::ShearFlow => 4,
            System::RayleighBenard => 4,
            System::GrayScottReactionDiffusion => 6,
        }
    }

    /// The `index`-th parameter configuration (modulo the sweep's length) at resolution `n`
    /// (a square `n × n` grid; `2n × n/2` on the 4 × 1 box for Rayleigh–Bénard), with the
    /// given trajectories, output frames and seed.
    ///
    /// The sweeps, chosen to stay resolved at 64² and to differ visibly:
    /// Euler γ ∈ {1.4, 1.76, 1.13, 1.597} periodic and {1.4, 1.22, 1.597, 1.33} open
    /// (from The Well's γ);
    /// shear flow (Re, Sc) ∈ {(5e3, 1), (1e4, 0.5), (2e3, 2), (5e3, 0.2)};
    /// Rayleigh–Bénard (Ra, Pr) ∈ {(3e5, 1), (1e5, 2), (1e6, 0.5), (2e5, 4)};
    /// Gray–Scott: The Well's six patterns, spots first.
    pub fn configuration(
        self,
        index: usize,
        n: usize,
        trajectories: usize,
        steps: usize,
        seed: u64,
    ) -> SimConfig {
        let i = index % self.n_configurations();
        match self {
            System::EulerPeriodic | System::EulerOpen => {
                let (gamma, boundary) = if self == System::EulerPeriodic {
                    ([1.4, 1.76, 1.13, 1.597][i], EulerBoundary::Periodic)
                } else {
                    ([1.4, 1.22, 1.597, 1.33][i], EulerBoundary::Open)
                };
                SimConfig::Euler(EulerConfig {
                    gamma,
                    boundary,
                    ..EulerConfig::default()
                        .with_resolution(n)
                        .with_trajectories(trajectories)
                        .with_steps(steps)
                        .with_seed(seed)
                })
            }
            System::ShearFlow => {
                let (re, sc) = [(5e3, 1.0), (1e4, 0.5), (2e3, 2.0), (5e3, 0.2)][i];
                SimConfig::ShearFlow(
                    ShearFlowConfig::default()
                        .with_resolution(n)
                        .with_trajectories(trajectories)
                        .with_steps(steps)
                        .with_seed(seed)
                        .with_reynolds(re)
                        .with_schmidt(sc),
                )
            }
            System::RayleighBenard => {
                let (ra, pr) = [(3e5, 1.0), (1e5, 2.0), (1e6, 0.5), (2e5, 4.0)][i];
                SimConfig::RayleighBenard(
                    RayleighBenardConfig::default()
                        .with_resolution(n)
                        .with_trajectories(trajectories)
                        .with_steps(steps)
                        .with_seed(seed)
                        .with_rayleigh(ra)
                        .with_prandtl(pr),
                )
            }
            System::GrayScottReactionDiffusion => {
                let order = [5, 2, 0, 3, 4, 1]; // spots, maze, gliders, worms, spirals, bubbles
                let (_, feed, kill) = super::gray_scott::GRAY_SCOTT_WELL_PATTERNS[order[i]];
                SimConfig::GrayScott(
                    GrayScottConfig::default()
                        .with_resolution(n)
                        .with_trajectories(trajectories)
                        .with_steps(steps)
                        .with_seed(seed)
                        .with_rates(feed, kill),
                )
            }
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for System {
    type Err = ConfigError;

    /// The Well name (any case), or a short alias: `euler` / `euler_multi_quadrants`
    /// (periodic), `euler_open`, `shear`, `rb`, `gray_scott`.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        match s.as_str() {
            "euler_multi_quadrants_periodicbc"
            | "euler_multi_quadrants"
            | "euler"
            | "euler_periodic" => Ok(System::EulerPeriodic),
            "euler_multi_quadrants_openbc" | "euler_open" => Ok(System::EulerOpen),
            "shear_flow" | "shear" => Ok(System::ShearFlow),
            "rayleigh_benard" | "rb" => Ok(System::RayleighBenard),
            "gray_scott_reaction_diffusion" | "gray_scott" | "gs" => {
                Ok(System::GrayScottReactionDiffusion)
            }
            _ => Err(ConfigError::Unknown {
                kind: "system",
                name: s,
                known: System::ALL.map(|s| s.name()).join(", "),
            }),
        }
    }
}

/// The configuration of any one simulator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SimConfig {
    /// `euler_multi_quadrants`.
    Euler(EulerConfig),
    /// `shear_flow`.
    ShearFlow(ShearFlowConfig),
    /// `rayleigh_benard`.
    RayleighBenard(RayleighBenardConfig),
    /// `gray_scott_reaction_diffusion`.
    GrayScott(GrayScottConfig),
}

impl SimConfig {
    /// Which system this configures.
    pub fn system(&self) -> System {
        match self {
            SimConfig::Euler(c) if c.boundary == EulerBoundary::Open => System::EulerOpen,
            SimConfig::Euler(_) => System::EulerPeriodic,
            SimConfig::ShearFlow(_) => System::ShearFlow,
            SimConfig::RayleighBenard(_) => System::RayleighBenard,
            SimConfig::GrayScott(_) => System::GrayScottReactionDiffusion,
        }
    }

    /// Checks the inner configuration.
    pub fn check(&self) -> Result<(), ConfigError> {
        match self {
            SimConfig::Euler(c) => c.check(),
            SimConfig::ShearFlow(c) => c.check(),
            SimConfig::RayleighBenard(c) => c.check(),
            SimConfig::GrayScott(c) => c.check(),
        }
    }

    /// Runs the simulator into a Well-format file.
    pub fn simulate(&self) -> Result<WellFile> {
        self.simulate_with_stats().map(|(file, _)| file)
    }

    /// Runs the simulator, also returning the run's cost.
    pub fn simulate_with_stats(&self) -> Result<(WellFile, SimStats)> {
        match self {
            SimConfig::Euler(c) => c.simulate_with_stats(),
            SimConfig::ShearFlow(c) => c.simulate_with_stats(),
            SimConfig::RayleighBenard(c) => c.simulate_with_stats(),
            SimConfig::GrayScott(c) => c.simulate_with_stats(),
        }
    }
}
