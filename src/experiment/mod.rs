//! The paper's pretraining study as one call: the grid {no pretraining, in-domain,
//! out-of-domain} × {fully trainable, mostly frozen} (Sections 2.3 and 3), with Table 5
//! (next-frame VRMSE and NEPS bands over validation subsets), Figure 2 (learning curves),
//! Figure 3 (rollout horizons 1, 2, 3–6, 7–18) and Table 4 (wall-clock per 2,100 steps),
//! each over several seeds with their spread.
//!
//! ```no_run
//! use phystok::experiment::ExperimentConfig;
//!
//! let results = ExperimentConfig::quick().run("data", "out/reproduce")?;
//! println!("{}", results.table5());
//! # Ok::<(), phystok::Error>(())
//! ```
//!
//! The protocol: in-domain pretraining reads Euler multi-quadrants (periodic and open
//! boundaries); out-of-domain pretraining an equal mix of shear flow, Rayleigh–Bénard and
//! Gray–Scott; rollout training always Euler. Each tokeniser is pretrained once (with the
//! first seed); the seeds vary the rollout model's initialisation, data order and drop
//! path.

pub mod benchmark;
mod config;
mod results;
mod run;

pub use config::{Arm, ExperimentConfig, Pretraining};
pub use results::{ArmSummary, CurvePoint, ExperimentResults, PretrainResult, RunResult, SeedStat};
pub use run::{ensure_data, rollout_horizons};
