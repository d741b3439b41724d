//! Scoring a [`TrainTask`] on validation windows with The Well's metrics, and the guard
//! against weights made by another copy of candle (an evcxr cell other than the training one).

use candle_core::Tensor;

use super::task::TrainTask;
use crate::data::{ActiveFields, WellDataset, coarsen_space};
use crate::metrics::{MetricGrid, MetricsConfig};
use crate::{Error, Result};

/// The number inside a `TensorId` (candle keeps it private; its `Debug` is `TensorId(n)`).
fn id_number(t: &Tensor) -> Option<usize> {
    let s = format!("{:?}", t.id());
    s.trim_start_matches("TensorId(")
        .trim_end_matches(')')
        .parse()
        .ok()
}

/// Fails when tensors made now could share ids with the model's weights, which happens in
/// evcxr when a model built in one cell is trained in another: each cell links its own
/// copy of candle, whose tensor-id counter starts again, and the gradients of different
/// tensors would be mixed up silently.
pub(crate) fn check_tensor_ids(varmap: &candle_nn::VarMap) -> Result<()> {
    let probe = Tensor::zeros(1, candle_core::DType::F32, &candle_core::Device::Cpu)?;
    let Some(now) = id_number(&probe) else {
        return Ok(());
    };
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Msg("varmap lock poisoned".into()))?;
    if let Some(max) = data.values().filter_map(|v| id_number(v.as_tensor())).max()
        && max >= now
    {
        return Err(Error::Msg(format!(
            "the model's weights (tensor ids up to {max}) were made by another copy of candle \
                 than this code (next id {now}); in evcxr, build and train a model in the same \
                 cell: each cell links its own candle and gradients would be mixed up"
        )));
    }
    Ok(())
}

/// `n` indices spread evenly over `0..len` (all of them when `n ≥ len`).
pub fn spread_indices(len: usize, n: usize) -> Vec<usize> {
    if n >= len {
        return (0..len).collect();
    }
    (0..n).map(|i| i * len / n).collect()
}

/// Predicts the windows `indices` of `ds` (coarsened `coarsen`×) in batches of `batch` and
/// scores every predicted frame against the truth (The Well's metrics), samples in the
/// order of `indices`.
pub fn predict_grid<T: TrainTask + ?Sized>(
    task: &T,
    ds: &WellDataset,
    fields: &ActiveFields,
    indices: &[usize],
    batch: usize,
    coarsen: usize,
) -> Result<MetricGrid> {
    let device = crate::device::varmap_device(task.varmap())?;
    score_windows(ds, indices, batch, coarsen, &device, |xs| {
        task.predict(xs, fields)
    })
}

/// Reads the windows `indices` of `ds` in batches of `batch` onto `device`, coarsened
/// `coarsen`×, turns each batch into `(prediction, target)` with `predict`, and scores every
/// frame with The Well's metrics; samples in the order of `indices`.
pub fn score_windows(
    ds: &WellDataset,
    indices: &[usize],
    batch: usize,
    coarsen: usize,
    device: &candle_core::Device,
    mut predict: impl FnMut(&Tensor) -> Result<(Tensor, Tensor)>,
) -> Result<MetricGrid> {
    let shape: Vec<usize> = ds
        .spatial_shape()
        .iter()
        .map(|n| n / coarsen.max(1))
        .collect();
    let metrics = MetricsConfig::the_well().build(&shape)?;
    let mut grids = Vec::new();
    for chunk in indices.chunks(batch.max(1)) {
        let windows = chunk
            .iter()
            .map(|&i| ds.window(i)?.to_tensor(device))
            .collect::<Result<Vec<_>>>()?;
        let xs = coarsen_space(&Tensor::stack(&windows, 0)?, coarsen)?;
        let (pred, target) = predict(&xs)?;
        grids.push(metrics.evaluate_tensors(&pred, &target, ds.channel_names())?);
    }
    MetricGrid::concat_samples(&grids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn tensor_ids_are_read_and_grow() {
        let a = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let (a, b) = (id_number(&a).unwrap(), id_number(&b).unwrap());
        assert!(b > a, "{a} then {b}");
        // weights made by this copy of candle pass the check
        let vm = candle_nn::VarMap::new();
        vm.get(
            2,
            "w",
            candle_nn::Init::Const(0.0),
            candle_core::DType::F32,
            &Device::Cpu,
        )
        .unwrap();
        check_tensor_ids(&vm).unwrap();
    }
}
