//! What a notebook needs, in one line: `use phystok::prelude::*;`.
//!
//! The model builders and their configs, the trainer and its tasks, freezing strategies,
//! data and simulators, metrics and figures, and candle's `Device`, `DType`, `Tensor` and
//! `D` (so a notebook needs only `:dep phystok`).

pub use candle_core::{D, DType, Device, Tensor};

pub use crate::baselines::{Baseline, BaselineConfig, BaselineKind};
pub use crate::data::{
    ActiveFields, FieldVocabulary, RmsGrouping, SampleRms, Split, coarsen_space,
};
#[cfg(feature = "hdf5")]
pub use crate::data::{WellDataset, WindowSpec};
pub use crate::emulator::Emulator;
#[cfg(feature = "hdf5")]
pub use crate::experiment::{Arm, ExperimentConfig, ExperimentResults, Pretraining};
#[cfg(feature = "hdf5")]
pub use crate::experiment::{PhysixResults, PhysixStudyConfig};
pub use crate::freeze::FreezeStrategy;
pub use crate::model::{RolloutConfig, RolloutModel, TrainingCompression};
pub use crate::nn::{Mode, ParamTable};
pub use crate::optim::{AdamWConfig, ScheduleConfig, SoapConfig};
pub use crate::patch::{PatchConfig, PatchModel, PatchSchedule, PatchStrategy};
pub use crate::physix::{
    ArConfig, ArModel, CacheMode, DatasetChannels, FsqConfig, PhysixConfig, PhysixModel,
    PhysixTokeniser, PhysixTokeniserConfig, Refinement, RefinerConfig, Sampling,
};
#[cfg(feature = "plot")]
pub use crate::plot::{
    CurvePanel, CurveSeries, CurvesFigure, Figure, SnapshotFigure, SpectrumFigure,
};
pub use crate::processor::{Processor, ProcessorConfig};
pub use crate::report::Table;
pub use crate::tokeniser::{Compression, DepthChoices, Tokeniser, TokeniserConfig};
#[cfg(feature = "hdf5")]
pub use crate::train::{
    BaselineTask, PhysixArTask, PhysixTokeniserTask, RolloutTask, TokeniserTask, Trainer,
    TrainerConfig,
};
pub use crate::train::{History, Progress};
pub use crate::{ConfigError, DeviceChoice, Error, Result};
