//! Data-parallel training: a process's [`World`] (from `--gpus` or torchrun's environment)
//! and the [`Communicator`] that averages gradients over it (NCCL with the `nccl` feature;
//! [`SingleProcess`] for a world of one, through the same code path).

mod comm;
#[cfg(feature = "nccl")]
mod nccl;
mod world;

pub use comm::{Communicator, SingleProcess, average_gradients};
#[cfg(feature = "nccl")]
pub use nccl::NcclCommunicator;
pub use world::{World, check_gpus, cuda_gpu_count, parse_gpus};
