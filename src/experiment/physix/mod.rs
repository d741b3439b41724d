//! The PhysiX study (`phystok reproduce physix`): the universal discrete tokeniser on the
//! default collection, the AR model and one refiner per dataset, all trained from scratch
//! (the paper's Cosmos-initialised 4.5 B checkpoint cannot be downloaded here), scored at
//! The Well's rollout windows 1, 2–8 and 9–26 with and without refinement (the paper's
//! Figure 3), with the spread over seeds.
//!
//! ```no_run
//! use phystok::experiment::PhysixStudyConfig;
//!
//! let results = PhysixStudyConfig::quick().run("data", "out/physix")?;
//! println!("{results}");
//! # Ok::<(), phystok::Error>(())
//! ```

mod config;
mod results;
mod run;

pub use config::{ContinuousConfig, PhysixStudyConfig};
pub use results::{
    ContinuousResults, ContinuousRun, ContinuousSummary, DatasetRun, DatasetSummary, PhysixResults,
    TokeniserScore, WINDOWS,
};
