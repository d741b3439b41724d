//! The simulated systems by their Well names ([`System`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

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
    /// `gray_scott_reaction_diffusion`: the Gray–Scott reaction–diffusion system.
    GrayScottReactionDiffusion,
    /// `active_matter`: rod-like active particles in a Stokes fluid (tensor-valued fields).
    ActiveMatter,
}

impl System {
    /// Every system, in the order of the default collection.
    pub const ALL: [System; 6] = [
        System::EulerPeriodic,
        System::EulerOpen,
        System::ShearFlow,
        System::RayleighBenard,
        System::GrayScottReactionDiffusion,
        System::ActiveMatter,
    ];

    /// The Well's dataset name (the directory a generated dataset is written to).
    pub const fn name(self) -> &'static str {
        match self {
            System::EulerPeriodic => "euler_multi_quadrants_periodicBC",
            System::EulerOpen => "euler_multi_quadrants_openBC",
            System::ShearFlow => "shear_flow",
            System::RayleighBenard => "rayleigh_benard",
            System::GrayScottReactionDiffusion => "gray_scott_reaction_diffusion",
            System::ActiveMatter => "active_matter",
        }
    }

    /// The system whose Well name is exactly `name` (no aliases, case-sensitive, as a
    /// dataset directory is named), if any. [`str::parse`] also takes aliases.
    pub fn from_name(name: &str) -> Option<System> {
        System::ALL.into_iter().find(|s| s.name() == name)
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
    /// (periodic), `euler_open`, `shear`, `rb`, `gray_scott`, `active`.
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
            "active_matter" | "active" => Ok(System::ActiveMatter),
            _ => Err(ConfigError::Unknown {
                kind: "system",
                name: s,
                known: System::ALL.map(|s| s.name()).join(", "),
            }),
        }
    }
}
