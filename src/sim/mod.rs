//! Embedded physics simulators that write Well-format data (no download needed).

mod common;
mod euler;
mod euler_solver;
mod gray_scott;
mod rayleigh_benard;
pub mod riemann;
mod shear_flow;
mod spectral;
mod vorticity;

pub use euler::{EULER_NAME, EULER_WELL_GAMMAS, EulerConfig};
pub use euler_solver::{EulerBoundary, EulerSolver, Limiter};
pub use gray_scott::{
    GRAY_SCOTT_DIFFUSION_A, GRAY_SCOTT_DIFFUSION_B, GRAY_SCOTT_NAME, GRAY_SCOTT_WELL_PATTERNS,
    GrayScottConfig,
};
pub use rayleigh_benard::{RAYLEIGH_BENARD_NAME, RAYLEIGH_CRITICAL_FREE_SLIP, RayleighBenardConfig};
pub use shear_flow::{SHEAR_FLOW_NAME, ShearFlowConfig};
