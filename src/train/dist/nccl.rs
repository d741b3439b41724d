//! NCCL's all-reduce (feature `nccl`): one process per GPU, gradients summed on the GPUs.
//!
//! Built in the `nccl` CI build; never run here (no GPU): unexercised until a multi-GPU
//! machine runs it (README, "GPU build").

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::cuda::cudarc::nccl::safe::{Comm, Id, ReduceOp};
use candle_core::op::BackpropOp;
use candle_core::{CudaStorage, DType, Device, Storage, Tensor};

use super::comm::Communicator;
use super::world::World;
use crate::{Error, Result};

/// A [`Communicator`] over NCCL: this process's rank of the world, on its CUDA device.
pub struct NcclCommunicator {
    comm: Comm,
    world: World,
}

impl std::fmt::Debug for NcclCommunicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NcclCommunicator")
            .field("world", &self.world)
            .finish()
    }
}

fn nccl_err(what: &str, e: impl std::fmt::Debug) -> Error {
    Error::Msg(format!("NCCL {what}: {e:?}"))
}

impl NcclCommunicator {
    /// Joins the world with the unique id rank 0 made, on `device` (a CUDA device).
    pub fn new(world: World, id: Id, device: &Device) -> Result<Self> {
        let cuda = device.as_cuda_device()?;
        let comm = Comm::from_rank(cuda.cuda_stream(), world.rank, world.size, id)
            .map_err(|e| nccl_err("init", e))?;
        Ok(NcclCommunicator { comm, world })
    }

    /// Joins the world through a file in the run directory (one node): rank 0 makes the
    /// unique id and writes it atomically to `id_file`; the other ranks wait for it (up to
    /// `timeout`).
    pub fn through_file(
        world: World,
        id_file: &Path,
        device: &Device,
        timeout: Duration,
    ) -> Result<Self> {
        let id = if world.is_leader() {
            let id = Id::new().map_err(|e| nccl_err("unique id", e))?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            let tmp = id_file.with_extension("tmp");
            std::fs::write(&tmp, &bytes).map_err(|e| Error::io(&tmp, e))?;
            std::fs::rename(&tmp, id_file).map_err(|e| Error::io(id_file, e))?;
            id
        } else {
            let start = Instant::now();
            let bytes = loop {
                match std::fs::read(id_file) {
                    Ok(b) if b.len() == 128 => break b,
                    _ if start.elapsed() > timeout => {
                        return Err(Error::Msg(format!(
                            "rank {}: no NCCL id from rank 0 in {} after {:.0} s",
                            world.rank,
                            id_file.display(),
                            timeout.as_secs_f64()
                        )));
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            let mut internal = [0 as std::ffi::c_char; 128];
            for (i, b) in internal.iter_mut().zip(bytes) {
                *i = b as std::ffi::c_char;
            }
            Id::uninit(internal)
        };
        NcclCommunicator::new(world, id, device)
    }
}

impl Communicator for NcclCommunicator {
    fn world(&self) -> &World {
        &self.world
    }

    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        if t.dtype() != DType::F32 {
            return Err(Error::Msg(format!(
                "NCCL all-reduce: gradients are f32 (master weights), got {:?}",
                t.dtype()
            )));
        }
        let t = t.contiguous()?;
        let (storage, layout) = t.storage_and_layout();
        let Storage::Cuda(cs) = &*storage else {
            return Err(Error::Msg(
                "NCCL all-reduce of a tensor not on a CUDA device".into(),
            ));
        };
        let n = layout.shape().elem_count();
        let start = layout.start_offset();
        let src = cs.as_cuda_slice::<f32>()?.slice(start..start + n);
        let mut dst = cs.device.alloc_zeros::<f32>(n)?;
        self.comm
            .all_reduce(&src, &mut dst, &ReduceOp::Sum)
            .map_err(|e| nccl_err("all-reduce", e))?;
        let out = CudaStorage::wrap_cuda_slice(dst, cs.device.clone());
        Ok(Tensor::from_storage(
            Storage::Cuda(out),
            layout.shape().clone(),
            BackpropOp::none(),
            false,
        ))
    }
}
