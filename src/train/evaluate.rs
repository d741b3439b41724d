//! Scoring a [`TrainTask`] on validation windows with The Well's metrics, and the guard
//! against weights made by another copy of candle (an evcxr cell other than the training one).

use candle_core::Tensor;

use super::task::TrainTask;
use crate::data::{ActiveFields, WellDataset};
use crate::metrics::{MetricGrid, WindowScoring, score_windows};
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
/// evcxr when a model built in one cell is trained in another while each cell links its own
/// copy of candle (whose tensor-id counter starts again): the gradients of different tensors
/// would be mixed up silently. `notebooks/phystok-nb` (one shared library for the whole
/// notebook) is the way out; this check catches a notebook that bypasses it.
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
                 than this code (next id {now}): gradients would be mixed up. In evcxr, load \
                 phystok through `:dep phystok-nb = {{ path = \"phystok-nb\" }}` and \
                 `use phystok_nb::{{phystok, candle_core, candle_nn}};` in the first cell (one \
                 candle for the whole notebook), and no separate `:dep candle-core`"
        )));
    }
    Ok(())
}

/// Predicts the windows `options` picks from `ds` with the task's validation prediction
/// and scores every predicted frame against the truth (The Well's metrics), samples in
/// window order.
pub(crate) fn predict_grid<T: TrainTask + ?Sized>(
    task: &T,
    ds: &WellDataset,
    fields: &ActiveFields,
    options: &WindowScoring,
) -> Result<MetricGrid> {
    let device = crate::device::varmap_device(task.varmap())?;
    let indices = options.indices(ds.len());
    score_windows(ds, &indices, options, &device, |xs| {
        task.predict(xs, fields)
    })
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
