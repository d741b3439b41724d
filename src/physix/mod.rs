//! PhysiX (paper `physix-foundation-model.md`): a universal discrete tokeniser with an FSQ
//! bottleneck, an autoregressive transformer over its tokens, and per-dataset refinement
//! U-Nets, put together as [`PhysixModel`], an [`Emulator`](crate::emulator::Emulator).
//!
//! The paper's 4.5 B-parameter checkpoint (initialised from NVIDIA Cosmos) cannot be
//! downloaded here: every component trains from scratch.

mod ar;
mod ar_config;
mod fsq;
mod generate;
mod model;
#[cfg(feature = "hdf5")]
mod pairs;
mod refine;
mod rope3d;
mod tokeniser;
mod tokeniser_config;

pub use ar::{ArModel, KvCache};
pub use ar_config::ArConfig;
pub use fsq::{CodebookUsage, FSQ_MAX_CODEBOOK, Fsq, FsqConfig, round_ste};
pub use generate::{CacheMode, Sampling};
pub use model::{PhysixConfig, PhysixModel, Refinement, normaliser};
pub use refine::{RefinementPairs, Refiner, RefinerConfig};
pub use rope3d::{Rope3d, Rope3dTables};
pub use tokeniser::PhysixTokeniser;
pub use tokeniser_config::{DatasetChannels, PhysixTokeniserConfig};
