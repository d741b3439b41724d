//! The compute-adaptive patching study (Mukhopadhyay et al. 2025, Section 4): CKM, CSM and
//! one fixed-patch model per size trained on shear flow with the same total budget, scored
//! at every token count (Figure 3, Table 1), rolled out with fixed and cyclic schedules, and
//! checked for patch artefacts in the residual spectra (Figure 2).
//!
//! ```no_run
//! use phystok::experiment::ComputeAdaptiveConfig;
//!
//! let results = ComputeAdaptiveConfig::quick().run("data", "out/compute-adaptive")?;
//! println!("{results}");
//! # Ok::<(), phystok::Error>(())
//! ```

mod config;
mod results;
mod run;

pub use config::{ComputeAdaptiveConfig, StudyModel};
pub use results::{ComputeAdaptiveResults, ModelResult, RolloutScore, SizeScore};
