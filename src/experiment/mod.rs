//! The paper's pretraining study as one call: the grid {no pretraining, in-domain,
//! out-of-domain} × {fully trainable, mostly frozen} (Sections 2.3 and 3), with Table 5
//! (next-frame VRMSE and NEPS bands over validation subsets), Figure 2 (learning curves),
//! Figure 3 (rollout horizons 1, 2, 3–6, 7–18) and Table 4 (wall-clock per 2,100 steps),
//! each over several seeds with their spread.
//!
//! ```no_run
//! use phystok::experiment::ExperimentConfig;
//!
//! let results = ExperimentConfig::quick().run("data/generated", "out/reproduce")?;
//! println!("{}", results.table5());
//! # Ok::<(), phystok::Error>(())
//! ```
//!
//! The protocol: in-domain pretraining reads Euler multi-quadrants (periodic and open
//! boundaries); out-of-domain pretraining an equal mix of shear flow, Rayleigh–Bénard and
//! active matter, as the paper; rollout training always Euler. The tokeniser knows the
//! 18 fields of those datasets in both presets (Gray–Scott stays in the default collection
//! for one's own mixes). Each seed pretrains its own tokenisers and trains
//! its own rollout models (initialisation, compression draws, data order, drop path), so
//! the spread over seeds covers pretraining too.

mod ablation;
pub mod benchmark;
mod compute_adaptive;
mod config;
mod physix;
mod provenance;
mod results;
mod run;

pub use ablation::{
    AblationChange, AblationConfig, AblationMetric, AblationResults, AblationRow,
    AblationRowResult, QUICK_ABLATION_NORM_GROUPS, QUICK_ABLATION_PRETRAIN_STEPS,
    QUICK_ABLATION_ROLLOUT_STEPS,
};
pub use compute_adaptive::{
    ComputeAdaptiveConfig, ComputeAdaptiveResults, ModelResult, RolloutScore, SizeScore, StudyModel,
};
pub use config::{Arm, DataPolicy, ExperimentConfig, Pretraining};
pub use physix::{
    ContinuousConfig, ContinuousResults, ContinuousRun, ContinuousSummary, DatasetRun,
    DatasetSummary, PhysixResults, PhysixStudyConfig, TokeniserScore, WINDOWS,
};
pub use provenance::Provenance;
pub use results::{ArmSummary, CurvePoint, ExperimentResults, PretrainResult, RunResult, SeedStat};
pub use run::{ensure_data, rollout_horizons, spike_score};
