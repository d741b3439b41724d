//! What every optimiser shares: the [`Optimiser`] trait, parameter groups selected by
//! `VarMap` name, gradient clipping settings, per-step statistics and checkpointable state.
//!
//! Variables are always held sorted by name: `VarMap::all_vars()` returns them in hash
//! order, which changes between runs and would make training non-reproducible. A freezing
//! strategy passes only the trainable names; everything else is never touched.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::clip::clip_scale;
use crate::{ConfigError, Error, Result};

/// Gradient clipping applied inside [`Optimiser::step`] before the update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum GradClip {
    /// No clipping.
    #[default]
    Off,
    /// Rescale all gradients together so that their global L2 norm is at most this value
    /// (PyTorch's `clip_grad_norm_`; Table 6: 0.5 for tokeniser pretraining, 5.0 for rollout).
    GlobalNorm(f64),
}

impl GradClip {
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        match *self {
            GradClip::Off => Ok(()),
            GradClip::GlobalNorm(v) if v > 0.0 && v.is_finite() => Ok(()),
            GradClip::GlobalNorm(v) => Err(ConfigError::NotPositive {
                name: "clip max norm",
                value: v,
            }),
        }
    }
}

/// A set of variables that share a learning-rate scale and, optionally, a weight decay.
///
/// The learning rate of a group is `optimiser lr × lr_scale`, so one schedule (which calls
/// [`Optimiser::set_lr`]) drives every group and their ratios stay fixed, as with
/// PyTorch's `LambdaLR` over several groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    /// Name shown in errors and summaries.
    pub name: String,
    /// `VarMap` names of the variables in this group.
    pub vars: Vec<String>,
    /// Multiplier on the optimiser's learning rate (default 1).
    pub lr_scale: f64,
    /// Weight decay for this group; `None` uses the optimiser's.
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group of the given variable names with the optimiser's learning rate and weight decay.
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        vars: impl IntoIterator<Item = S>,
    ) -> Self {
        ParamGroup {
            name: name.into(),
            vars: vars.into_iter().map(Into::into).collect(),
            lr_scale: 1.0,
            weight_decay: None,
        }
    }

    /// One group holding every variable of `varmap`.
    pub fn all(varmap: &VarMap) -> Result<Self> {
        Ok(ParamGroup::new(
            "all",
            sorted_vars(varmap)?.into_iter().map(|(n, _)| n),
        ))
    }

    /// Sets the learning-rate multiplier.
    pub fn with_lr_scale(mut self, lr_scale: f64) -> Self {
        self.lr_scale = lr_scale;
        self
    }

    /// Sets this group's weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = Some(weight_decay);
        self
    }
}

/// What one optimiser step did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Optimiser steps taken, this one included.
    pub step: usize,
    /// The optimiser's learning rate used (before group scales).
    pub lr: f64,
    /// Global L2 norm of the gradients before clipping.
    pub grad_norm: f64,
    /// Factor the gradients were multiplied by (1 when not clipped).
    pub clip_scale: f64,
    /// Optimised variables that had no gradient in the store (they were left unchanged).
    pub vars_without_grad: usize,
}

/// Which optimiser a saved state belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OptimiserKind {
    /// [`crate::optim::AdamW`].
    AdamW,
    /// [`crate::optim::Soap`].
    Soap,
}

/// An optimiser's complete state: its moments as named tensors (saved as safetensors) and
/// everything else as JSON. Loading it into a freshly built optimiser over the same
/// variables continues training bit for bit.
#[derive(Debug, Clone)]
pub struct OptimiserState {
    /// Which optimiser wrote it.
    pub kind: OptimiserKind,
    /// Settings, step counters and per-variable bookkeeping.
    pub meta: serde_json::Value,
    /// Moment and preconditioner tensors, named `{role}/{variable name}`.
    pub tensors: HashMap<String, Tensor>,
}

/// A first-order optimiser over a fixed, name-sorted list of `candle_core::Var`s.
///
/// ```no_run
/// # use phystok::optim::{AdamWConfig, Optimiser};
/// # fn run(varmap: &candle_nn::VarMap, loss: &candle_core::Tensor) -> phystok::Result<()> {
/// let mut opt = AdamWConfig::paper_rollout().build(varmap, ["head.weight", "head.bias"])?;
/// let stats = opt.step(&loss.backward()?)?;
/// println!("grad norm {}", stats.grad_norm);
/// # Ok(()) }
/// ```
pub trait Optimiser: Send {
    /// Applies one update from the gradients in `grads` (clipping first, if configured).
    fn step(&mut self, grads: &GradStore) -> Result<StepStats>;
    /// The learning rate (group learning rates are this times their `lr_scale`).
    fn lr(&self) -> f64;
    /// Sets the learning rate, e.g. from a schedule before each step.
    fn set_lr(&mut self, lr: f64);
    /// Steps taken so far.
    fn steps_taken(&self) -> usize;
    /// Names of the optimised variables, sorted.
    fn var_names(&self) -> Vec<String>;
    /// A copy of the full state, for checkpoints.
    fn state(&self) -> Result<OptimiserState>;
    /// Restores a state written by [`Optimiser::state`] of the same kind over the same variables.
    fn load_state(&mut self, state: &OptimiserState) -> Result<()>;
    /// `loss.backward()` then [`Optimiser::step`].
    fn backward_step(&mut self, loss: &Tensor) -> Result<StepStats> {
        let grads = loss.backward()?;
        self.step(&grads)
    }
}

/// Every variable of `varmap`, sorted by name.
pub fn sorted_vars(varmap: &VarMap) -> Result<Vec<(String, Var)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Msg("varmap lock poisoned".into()))?;
    let mut vars: Vec<(String, Var)> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

/// One optimised variable.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub var: Var,
    pub group: usize,
}

/// The resolved variables and groups of an optimiser.
#[derive(Debug, Clone)]
pub(crate) struct ParamSet {
    pub params: Vec<Param>,
    pub groups: Vec<ParamGroup>,
}

impl ParamSet {
    /// Resolves group names against `varmap`; every name must exist and appear once.
    pub fn resolve(varmap: &VarMap, groups: Vec<ParamGroup>) -> Result<Self> {
        if groups.is_empty() {
            return Err(ConfigError::Empty {
                name: "parameter groups",
            }
            .into());
        }
        let all: HashMap<String, Var> = sorted_vars(varmap)?.into_iter().collect();
        let mut params = Vec::new();
        let mut seen = HashMap::new();
        for (g, group) in groups.iter().enumerate() {
            if !(group.lr_scale >= 0.0 && group.lr_scale.is_finite()) {
                return Err(ConfigError::OutOfRange {
                    name: "lr_scale",
                    range: "[0, inf)",
                    value: group.lr_scale,
                }
                .into());
            }
            if let Some(wd) = group.weight_decay
                && !(wd >= 0.0 && wd.is_finite())
            {
                return Err(ConfigError::OutOfRange {
                    name: "weight_decay",
                    range: "[0, inf)",
                    value: wd,
                }
                .into());
            }
            for name in &group.vars {
                let var = all.get(name).ok_or_else(|| {
                    let mut known: Vec<&String> = all.keys().collect();
                    known.sort();
                    let known: Vec<&str> = known.iter().take(8).map(|s| s.as_str()).collect();
                    ConfigError::Unknown {
                        kind: "variable",
                        name: name.clone(),
                        known: known.join(", "),
                    }
                })?;
                if let Some(prev) = seen.insert(name.clone(), g) {
                    return Err(ConfigError::Mismatch {
                        name: "variable",
                        value: name.clone(),
                        other: format!(
                            "appears in groups `{}` and `{}`",
                            groups[prev].name, group.name
                        ),
                    }
                    .into());
                }
                params.push(Param {
                    name: name.clone(),
                    var: var.clone(),
                    group: g,
                });
            }
        }
        if params.is_empty() {
            return Err(ConfigError::Empty {
                name: "optimised variables",
            }
            .into());
        }
        params.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ParamSet { params, groups })
    }

    /// Names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// Each parameter's gradient (clipped) or `None`, the pre-clip norm and the clip scale.
    pub fn clipped_grads(
        &self,
        grads: &GradStore,
        clip: GradClip,
    ) -> Result<(Vec<Option<Tensor>>, f64, f64)> {
        let raw: Vec<Option<Tensor>> = self
            .params
            .iter()
            .map(|p| grads.get(p.var.as_tensor()).cloned())
            .collect();
        let present: Vec<&Tensor> = raw.iter().flatten().collect();
        let norm = super::clip::global_norm_of(&present)?;
        if !norm.is_finite() {
            return Err(Error::NonFinite {
                what: "gradient norm".into(),
            });
        }
        let scale = match clip {
            GradClip::Off => 1.0,
            GradClip::GlobalNorm(max) => clip_scale(norm, max),
        };
        let grads = if scale == 1.0 {
            raw
        } else {
            raw.into_iter()
                .map(|g| g.map(|g| g.affine(scale, 0.0)).transpose())
                .collect::<Result<_, _>>()?
        };
        Ok((grads, norm, scale))
    }

    /// Checks that a saved state lists exactly these variables.
    pub fn check_names(&self, saved: &[String]) -> Result<()> {
        let mine = self.names();
        for name in &mine {
            if !saved.contains(name) {
                return Err(Error::MissingVariable {
                    what: "optimiser state".into(),
                    name: name.clone(),
                });
            }
        }
        for name in saved {
            if !mine.contains(name) {
                return Err(Error::MissingVariable {
                    what: "optimiser variables".into(),
                    name: name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Checks a learning rate before it is used.
pub(crate) fn check_lr(lr: f64) -> Result<(), ConfigError> {
    if lr >= 0.0 && lr.is_finite() {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            name: "lr",
            range: "[0, inf)",
            value: lr,
        })
    }
}

/// Checks an Adam beta.
pub(crate) fn check_beta(name: &'static str, beta: f64) -> Result<(), ConfigError> {
    if (0.0..1.0).contains(&beta) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            name,
            range: "[0, 1)",
            value: beta,
        })
    }
}

/// Takes a named tensor out of a saved state, checking its shape.
pub(crate) fn state_tensor(state: &OptimiserState, key: &str, shape: &[usize]) -> Result<Tensor> {
    let t = state
        .tensors
        .get(key)
        .ok_or_else(|| Error::MissingVariable {
            what: "optimiser state".into(),
            name: key.to_string(),
        })?;
    if t.dims() != shape {
        return Err(Error::Shape {
            what: format!("optimiser state `{key}`"),
            left: t.dims().to_vec(),
            right: shape.to_vec(),
        });
    }
    Ok(t.clone())
}
