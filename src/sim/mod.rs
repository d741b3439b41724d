//! Embedded physics simulators that write Well-format data (no download needed).

mod common;
mod euler;
mod euler_solver;
pub mod riemann;
mod spectral;

pub use euler::{EULER_NAME, EULER_WELL_GAMMAS, EulerConfig};
pub use euler_solver::{EulerBoundary, EulerSolver, Limiter};
