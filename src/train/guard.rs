//! What a [`Trainer`](super::Trainer) checks at its edges: a checkpoint is resumed only
//! when it was made with the same settings and holds the optimiser's and generator's
//! state; every trainable variable receives a gradient; a failed step names its first
//! non-finite tensor.

use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::trainer_config::{MissingGradients, TrainerConfig};
use crate::checkpoint::Checkpoint;
use crate::data::FieldVocabulary;
use crate::{Error, Result};

/// What a checkpoint's `config.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct SavedConfig {
    pub task: String,
    pub model: serde_json::Value,
    pub trainer: TrainerConfig,
    pub fields: FieldVocabulary,
}

/// The trainer settings that decide the numbers of a run (the optimiser, schedule, data
/// order, seed, coarsening), as JSON: progress, validation and checkpoint intervals, the
/// run's length and the missing-gradient switch may change between a run and its resume.
fn numeric_settings(c: &TrainerConfig) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(c)?;
    if let Some(map) = v.as_object_mut() {
        for key in [
            "steps",
            "progress",
            "validate_every",
            "validation_windows",
            "checkpoint_every",
            "checkpoint_every_s",
            "missing_gradients",
        ] {
            map.remove(key);
        }
        if let Some(loader) = map.get_mut("loader").and_then(|l| l.as_object_mut()) {
            loader.remove("prefetch");
        }
    }
    Ok(v)
}

/// The first key path where two JSON values differ, with both sides.
fn first_difference(
    path: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
) -> Option<(String, String, String)> {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let null = Value::Null;
                let (va, vb) = (x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null));
                first_difference(&format!("{path}.{k}"), va, vb)
            })
        }
        _ if a == b => None,
        _ => Some((path.to_string(), a.to_string(), b.to_string())),
    }
}

/// Refuses to resume `ckpt` (loaded from `dir`) into a run configured as `now` unless its
/// task, model, fields and numeric trainer settings match and it holds the optimiser's and
/// the generator's state.
///
/// `upgrade` rewrites the saved model settings as the task's config type writes them now
/// ([`TrainTask::upgrade_config_json`](super::TrainTask::upgrade_config_json)), so settings
/// added since the checkpoint was made compare at their defaults.
pub(super) fn check_resume(
    dir: &Path,
    ckpt: &Checkpoint,
    now: &SavedConfig,
    upgrade: impl Fn(serde_json::Value) -> serde_json::Value,
) -> Result<()> {
    let mut saved: SavedConfig = ckpt.config().map_err(|e| {
        Error::format(
            dir,
            format!("cannot resume: checkpoint.json holds no trainer configuration ({e})"),
        )
    })?;
    saved.model = upgrade(saved.model);
    let mismatch = |what: &str, left: String, right: String| Error::Mismatch {
        what: format!(
            "cannot resume {}: the checkpoint's {what} differs from this run's (use a fresh checkpoint folder, or the settings it was made with)",
            dir.display()
        ),
        left,
        right,
    };
    if saved.task != now.task {
        return Err(mismatch("task", saved.task, now.task.clone()));
    }
    let pairs = [
        ("model", saved.model.clone(), now.model.clone()),
        (
            "fields",
            serde_json::to_value(&saved.fields)?,
            serde_json::to_value(&now.fields)?,
        ),
        (
            "trainer",
            numeric_settings(&saved.trainer)?,
            numeric_settings(&now.trainer)?,
        ),
    ];
    for (what, a, b) in pairs {
        if let Some((path, l, r)) = first_difference(what, &a, &b) {
            return Err(mismatch(&format!("setting {path}"), l, r));
        }
    }
    if ckpt.optimiser.is_none() {
        return Err(Error::format(
            dir,
            "cannot resume: the checkpoint holds no optimiser state (it would restart the moments); load its weights with Checkpoint::load_weights_into instead",
        ));
    }
    if ckpt.rng.is_none() {
        return Err(Error::format(
            dir,
            "cannot resume: the checkpoint holds no generator state (the per-step randomness would restart)",
        ));
    }
    Ok(())
}

/// The trainable variables, by name in `names`' order.
fn trainable_vars(varmap: &VarMap, names: &[String]) -> Vec<(String, Var)> {
    let data = varmap.data().lock().expect("varmap lock");
    names
        .iter()
        .filter_map(|n| data.get(n).map(|v| (n.clone(), v.clone())))
        .collect()
}

/// The trainable variables (of `names`, sorted) that received no gradient.
pub(super) fn without_gradient(
    varmap: &VarMap,
    names: &[String],
    grads: &GradStore,
) -> Vec<String> {
    let mut missing: Vec<String> = trainable_vars(varmap, names)
        .into_iter()
        .filter(|(_, v)| grads.get(v.as_tensor()).is_none())
        .map(|(n, _)| n)
        .collect();
    missing.sort();
    missing
}

/// What variables without a gradient (`missing`, at `step`) do under `what`: nothing when
/// there are none, [`Error::MissingGradient`], or a warning line for the history.
pub(super) fn missing_gradient_outcome(
    what: MissingGradients,
    step: usize,
    missing: Vec<String>,
) -> Result<Option<String>> {
    if missing.is_empty() {
        return Ok(None);
    }
    match what {
        MissingGradients::Error => Err(Error::MissingGradient {
            step,
            names: missing,
        }),
        MissingGradients::Warn => Ok(Some(format!(
            "step {step}: {} trainable variable(s) received no gradient: {}",
            missing.len(),
            missing.join(", ")
        ))),
    }
}

/// The first non-finite element of `t`, if any.
fn first_non_finite_value(t: &Tensor) -> Result<Option<f32>> {
    let v: Vec<f32> = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
    Ok(v.into_iter().find(|x| !x.is_finite()))
}

/// The first trainable variable (sorted by name) whose gradient holds a NaN or an
/// infinity, with that value.
pub(super) fn first_non_finite_gradient(
    varmap: &VarMap,
    names: &[String],
    grads: &GradStore,
) -> Result<Option<(String, f32)>> {
    let mut vars = trainable_vars(varmap, names);
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, var) in vars {
        if let Some(g) = grads.get(var.as_tensor())
            && let Some(value) = first_non_finite_value(g)?
        {
            return Ok(Some((name, value)));
        }
    }
    Ok(None)
}
