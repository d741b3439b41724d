//! Embedded physics simulators that write Well-format data, so that every example,
//! notebook and test runs with no download (The Well is 15 TB).
//!
//! Each system is named, and has the fields and field types, of its Well dataset:
//!
//! | [`System`] | fields (t0; t1) | parameters | solver |
//! |---|---|---|---|
//! | `euler_multi_quadrants_{periodicBC,openBC}` | density, energy, pressure; momentum | gamma | MUSCL–HLLC–SSP-RK2 finite volumes ([`EulerSolver`]) |
//! | `shear_flow` | tracer, pressure; velocity | Reynolds, Schmidt | pseudo-spectral vorticity, 2/3 dealiasing, IF-RK4 |
//! | `rayleigh_benard` | buoyancy, pressure; velocity | Rayleigh, Prandtl | the same, sine series between free-slip walls |
//! | `gray_scott_reaction_diffusion` | A, B | F, k | pseudo-spectral, IF-RK4 |
//!
//! (`active_matter` is not simulated.) Every simulator is deterministic for its seed, runs
//! trajectories in parallel (rayon) under a progress bar (shown only on a terminal), and
//! returns a [`WellFile`](crate::data::WellFile) of `f32` fields
//! `(n_traj, n_steps, nx, ny, [2])`, `x` the slow axis.
//!
//! ```
//! use phystok::sim::EulerConfig;
//! let file = EulerConfig::tiny().with_resolution(16).with_steps(3).simulate()?;
//! assert_eq!(file.channel_names(), ["density", "energy", "pressure", "momentum_x", "momentum_y"]);
//! # Ok::<(), phystok::Error>(())
//! ```

mod common;
mod euler;
mod euler_solver;
#[cfg(feature = "hdf5")]
mod generate;
mod gray_scott;
mod rayleigh_benard;
pub mod riemann;
mod shear_flow;
mod spectral;
mod system;
mod vorticity;

pub use common::SimStats;
pub use euler::{EULER_OPEN_NAME, EULER_PERIODIC_NAME, EULER_WELL_GAMMAS};
pub use euler_solver::{EulerBoundary, EulerConfig, EulerSolver, Limiter};
#[cfg(feature = "hdf5")]
pub use generate::{GenerateConfig, generate, generate_default, select_trajectories, split_ranges};
pub use gray_scott::{
    GRAY_SCOTT_DIFFUSION_A, GRAY_SCOTT_DIFFUSION_B, GRAY_SCOTT_NAME, GRAY_SCOTT_WELL_PATTERNS,
    GrayScottConfig,
};
pub use rayleigh_benard::{
    RAYLEIGH_BENARD_NAME, RAYLEIGH_CRITICAL_FREE_SLIP, RayleighBenardConfig,
};
pub use shear_flow::{SHEAR_FLOW_NAME, ShearFlowConfig};
pub use system::{SimConfig, System};
