//! Training machinery that does not depend on any model: optimisers (SOAP, AdamW) over
//! named `VarMap` variables, gradient clipping, learning-rate schedules, atomic
//! checkpoints and the training history (paper Sections 2.3 and 2.5, Appendix C, Table 6).

mod adamw;
mod clip;
mod linalg;
mod optimiser;
mod soap;
mod soap_basis;
mod soap_state;

pub use adamw::{AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, global_grad_norm};
pub use optimiser::{
    GradClip, Optimiser, OptimiserKind, OptimiserState, ParamGroup, StepStats, sorted_vars,
};
pub use soap::{
    BiasCorrection, DimMerging, OneDimPreconditioning, Soap, SoapConfig, UpdateNormalisation,
};
mod checkpoint;
#[cfg(feature = "hdf5")]
mod evaluate;
mod history;
mod progress;
mod schedule;
pub mod sparkline;
#[cfg(feature = "hdf5")]
mod task;
#[cfg(feature = "hdf5")]
mod trainer;
#[cfg(feature = "hdf5")]
mod trainer_config;
mod weights;

pub use checkpoint::{Checkpoint, RngState};
#[cfg(feature = "hdf5")]
pub use evaluate::{predict_grid, score_windows, spread_indices};
pub use history::{History, StepRecord, ValidationRecord, ValidationRow};
pub use progress::Progress;
pub use schedule::{LrSchedule, ScheduleConfig, ScheduleKind, Stepping};
#[cfg(feature = "hdf5")]
pub use task::{RolloutTask, TokeniserTask, TrainTask};
#[cfg(feature = "hdf5")]
pub use trainer::{Trainer, TrainerBuilder};
#[cfg(feature = "hdf5")]
pub use trainer_config::{OptimiserConfig, TrainerConfig};
pub use weights::{Unused, WeightSelection};
