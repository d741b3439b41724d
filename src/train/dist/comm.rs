//! Gradient all-reduce: the [`Communicator`] every data-parallel process averages its
//! gradients through before clipping and the optimiser step.
//!
//! [`average_gradients`] is the one code path for every world: it visits the trainable
//! variables in name order (the same order on every rank, so the collectives line up), sums
//! each gradient over the processes with [`Communicator::all_reduce_sum`] and multiplies it
//! by `1 / world size`. Only the sum differs between implementations: NCCL's all-reduce
//! (`NcclCommunicator`, feature `nccl`) or, for a world of one, [`SingleProcess`], whose sum
//! over one process is the tensor itself — so a world of one through this path is the plain
//! path bit for bit (`1 × g` is exact), which `tests/trainer.rs` checks. There is no
//! home-made transport for CPU "ranks".

use candle_core::Tensor;
use candle_core::backprop::GradStore;
use candle_nn::VarMap;

use super::world::World;
use crate::{Error, Result};

/// Sums tensors over the processes of a [`World`].
pub trait Communicator {
    /// Where this process stands.
    fn world(&self) -> &World;
    /// The element-wise sum of `t` over every process, returned on every process. Every
    /// process must call it with tensors of the same shape, in the same order.
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor>;
}

/// The world of one process: the sum over the world is the tensor itself.
#[derive(Debug, Clone, Default)]
pub struct SingleProcess {
    world: World,
}

impl SingleProcess {
    /// The single-process world.
    pub fn new() -> Self {
        SingleProcess {
            world: World::single(),
        }
    }
}

impl Communicator for SingleProcess {
    fn world(&self) -> &World {
        &self.world
    }

    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }
}

/// Replaces every gradient of the variables `names` of `varmap` by its mean over the
/// world. With more than one process a variable without a gradient here contributes
/// zeros (another rank may have one, and every rank must join every all-reduce); with one
/// process it stays without a gradient, as on the plain path.
pub fn average_gradients(
    comm: &dyn Communicator,
    varmap: &VarMap,
    names: &[String],
    mut grads: GradStore,
) -> Result<GradStore> {
    let size = comm.world().size;
    let vars = varmap
        .data()
        .lock()
        .map_err(|_| Error::Msg("varmap lock poisoned".into()))?
        .clone();
    let mut sorted: Vec<&String> = names.iter().collect();
    sorted.sort();
    sorted.dedup();
    for name in sorted {
        let var = vars.get(name).ok_or_else(|| Error::MissingVariable {
            what: "gradient all-reduce".into(),
            name: name.clone(),
        })?;
        let t = var.as_tensor();
        let g = match grads.get(t) {
            Some(g) => g.clone(),
            None if size > 1 => t.zeros_like()?,
            None => continue,
        };
        let sum = comm.all_reduce_sum(&g)?;
        // × (1/size) as a tensor product: exact for one process (x·1 = x, signed zeros
        // included, where an affine map's `+ 0` would turn −0 into +0)
        let scale = Tensor::new(1.0 / size as f64, t.device())?.to_dtype(sum.dtype())?;
        grads.insert(t, sum.broadcast_mul(&scale)?);
    }
    Ok(grads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Two "processes" simulated in one: a communicator whose sum adds a fixed tensor,
    /// to check the averaging arithmetic and the zero stand-in for missing gradients.
    struct Pair {
        world: World,
        other: f32,
    }

    impl Communicator for Pair {
        fn world(&self) -> &World {
            &self.world
        }
        fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
            Ok((t + self.other as f64)?)
        }
    }

    #[test]
    fn gradients_become_world_means() -> Result<()> {
        let vm = VarMap::new();
        let a = vm.get(
            3,
            "a",
            candle_nn::Init::Const(1.0),
            candle_core::DType::F32,
            &Device::Cpu,
        )?;
        let _b = vm.get(
            2,
            "b",
            candle_nn::Init::Const(1.0),
            candle_core::DType::F32,
            &Device::Cpu,
        )?;
        let x = Var::from_tensor(&Tensor::new(&[1f32, -2.0, 0.5], &Device::Cpu)?)?;
        let grads = (&a * x.as_tensor())?.sum_all()?.backward()?;
        let names = vec!["b".to_string(), "a".to_string()];
        let pair = Pair {
            world: World {
                size: 2,
                ..World::single()
            },
            other: 3.0,
        };
        let avg = average_gradients(&pair, &vm, &names, grads)?;
        assert_eq!(avg.get(&a).unwrap().to_vec1::<f32>()?, [2.0, 0.5, 1.75]);
        let b = vm.data().lock().unwrap()["b"].as_tensor().clone();
        // b had no gradient here: it joins the all-reduce with zeros
        assert_eq!(avg.get(&b).unwrap().to_vec1::<f32>()?, [1.5, 1.5]);
        // one process: the gradient itself, bit for bit, and b stays without one
        let grads = (&a * x.as_tensor())?.sum_all()?.backward()?;
        let g = grads.get(&a).unwrap().to_vec1::<f32>()?;
        let one = average_gradients(&SingleProcess::new(), &vm, &names, grads)?;
        assert_eq!(one.get(&a).unwrap().to_vec1::<f32>()?, g);
        assert!(one.get(&b).is_none());
        Ok(())
    }
}
