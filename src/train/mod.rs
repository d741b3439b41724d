//! Training: what a model learns ([`TrainTask`]: tokeniser pretraining, Eq. 5; rollout
//! training, Eq. 4) and the [`Trainer`] that runs bounded numbers of steps with validation,
//! checkpoints, exact resumption and live progress (paper Sections 2.3 and 2.5, Appendix
//! C, Table 6). Optimisers and schedules are in [`crate::optim`], checkpoints in
//! [`crate::checkpoint`].

#[cfg(feature = "hdf5")]
mod baseline;
pub mod dist;
#[cfg(feature = "hdf5")]
mod evaluate;
#[cfg(feature = "hdf5")]
mod guard;
mod history;
#[cfg(feature = "hdf5")]
mod interrupt;
mod patch_task;
mod physix_task;
mod progress;
#[cfg(feature = "hdf5")]
mod task;
#[cfg(feature = "hdf5")]
mod trainer;
#[cfg(feature = "hdf5")]
mod trainer_config;

#[cfg(feature = "hdf5")]
pub use baseline::BaselineTask;
#[cfg(feature = "hdf5")]
pub(crate) use evaluate::predict_grid;
pub use history::{History, StepRecord, ValidationRecord, ValidationRow};
#[cfg(feature = "hdf5")]
pub use patch_task::PatchTask;
pub use physix_task::{PhysixArTask, PhysixTokeniserTask};
pub use progress::Progress;
#[cfg(feature = "hdf5")]
pub use task::{RolloutTask, TokeniserTask, TrainTask};
#[cfg(feature = "hdf5")]
pub use trainer::{Trainer, TrainerBuilder};
#[cfg(feature = "hdf5")]
pub use trainer_config::{CHECKPOINT_EVERY_S, MissingGradients, OptimiserConfig, TrainerConfig};
