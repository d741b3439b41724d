//! Embedded physics simulators that write Well-format data, so that every example,
//! notebook and test runs with no download (The Well is 15 TB).
//!
//! Each system is named, and has the fields and field types, of its Well dataset:
//!
//! | [`System`] | config | fields (t0; t1) | parameters | solver |
//! |---|---|---|---|---|
//! | `euler_multi_quadrants_{periodicBC,openBC}` | [`EulerConfig`] | density, energy, pressure; momentum | gamma | MUSCL–HLLC–SSP-RK2 finite volumes ([`EulerSolver`]) |
//! | `shear_flow` | [`ShearFlowConfig`] | tracer, pressure; velocity | Reynolds, Schmidt | pseudo-spectral vorticity, 2/3 dealiasing, IF-RK4 |
//! | `rayleigh_benard` | [`RayleighBenardConfig`] | buoyancy, pressure; velocity | Rayleigh, Prandtl | the same, sine series between free-slip walls |
//! | `gray_scott_reaction_diffusion` | [`GrayScottConfig`] | A, B | F, k | pseudo-spectral, IF-RK4 |
//! | `active_matter` | [`ActiveMatterConfig`] | concentration; velocity; D, E (t2) | alpha, beta, zeta | pseudo-spectral D-tensor kinetic theory with Stokes flow, IF-RK4 |
//!
//! The five configs are one family: each embeds a
//! [`Sampling`] (grid `nx × ny`, trajectories, output frames `n_steps`, output interval,
//! seed) and implements [`Simulator`], which gives them the same sampling setters
//! (`with_resolution`, `with_shape`, `with_trajectories`, `with_steps`,
//! `with_output_interval`, `with_seed`), one `check()` of the sampling with typed
//! [`ConfigError`](crate::ConfigError)s, and `simulate()`. [`SimConfig`] is any one of them
//! (a serde enum), and a [`Simulator`] too. Every simulator is deterministic for its seed,
//! runs trajectories in parallel (rayon) under a progress bar (shown only on a terminal),
//! and returns a [`WellFile`](crate::data::WellFile) of `f32` fields
//! `(n_traj, n_steps, nx, ny, [2])`, `x` the slow axis.
//!
//! ```
//! use phystok::sim::{EulerConfig, Simulator, System};
//! let config = EulerConfig::tiny().with_resolution(16).with_steps(3);
//! assert_eq!(config.system(), System::EulerPeriodic);
//! let file = config.simulate()?;
//! assert_eq!(file.channel_names(), ["density", "energy", "pressure", "momentum_x", "momentum_y"]);
//! assert_eq!(file.spatial_shape, [16, 16]);
//! # Ok::<(), phystok::Error>(())
//! ```
//!
//! Datasets on disk (with the `hdf5` feature): [`GenerateConfig::generate`] writes one
//! system's dataset, `{out}/{name}/data/{train,valid,test}/*.hdf5` and `stats.yaml`;
//! [`Collection`] is several under one root, and [`Collection::ensure`] makes only those
//! that are missing (and reports an incomplete one), returning their directories —
//! [`Collection::default_collection`] is the embedded default data.
//!
//! ```
//! # #[cfg(feature = "hdf5")] {
//! use phystok::sim::{Collection, GenerateConfig, System};
//! let root = tempfile::tempdir().unwrap();
//! let small = GenerateConfig::new(System::GrayScottReactionDiffusion, root.path())
//!     .with_resolution(16)
//!     .with_trajectories(3)
//!     .with_steps(3);
//! let collection = Collection::new(root.path()).with_dataset(small);
//! let dirs = collection.ensure()?; // simulates and writes gray_scott_reaction_diffusion/
//! assert!(dirs[0].join("stats.yaml").is_file());
//! assert_eq!(collection.ensure()?, dirs); // there already: nothing is simulated
//! # }
//! # Ok::<(), phystok::Error>(())
//! ```

mod active_matter;
mod active_solver;
#[cfg(feature = "hdf5")]
mod collection;
mod common;
mod euler;
mod euler_solver;
#[cfg(feature = "hdf5")]
mod generate;
mod gray_scott;
mod rayleigh_benard;
pub mod riemann;
mod sampling;
mod shear_flow;
mod sim_config;
mod simulator;
mod spectral;
mod system;
mod vorticity;

pub use active_matter::{ACTIVE_MATTER_NAME, ActiveMatterConfig};
#[cfg(feature = "hdf5")]
pub use collection::Collection;
pub use common::SimStats;
pub use euler::{EULER_OPEN_NAME, EULER_PERIODIC_NAME, EULER_WELL_GAMMAS};
pub use euler_solver::{EulerBoundary, EulerConfig, EulerSolver, Limiter};
#[cfg(feature = "hdf5")]
pub use generate::{
    GenerateConfig, MAX_CHANNELS, SIMULATED_MARKER, select_trajectories, split_ranges,
};
pub use gray_scott::{
    GRAY_SCOTT_DIFFUSION_A, GRAY_SCOTT_DIFFUSION_B, GRAY_SCOTT_NAME, GRAY_SCOTT_WELL_PATTERNS,
    GrayScottConfig,
};
pub use rayleigh_benard::{
    RAYLEIGH_BENARD_NAME, RAYLEIGH_CRITICAL_FREE_SLIP, RayleighBenardConfig,
};
pub use sampling::Sampling;
pub use shear_flow::{SHEAR_FLOW_NAME, ShearFlowConfig};
pub use sim_config::SimConfig;
pub use simulator::Simulator;
pub use system::System;
