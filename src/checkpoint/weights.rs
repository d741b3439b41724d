//! Copying named weights into a `VarMap`, whole or by prefix with renaming, so that a
//! tokeniser checkpoint (`encoder.…`, `decoder.…`) can load into a larger rollout model
//! (`tokeniser.encoder.…`).

use std::collections::{BTreeSet, HashMap};

use candle_core::Tensor;
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::optim::sorted_vars;
use crate::{Error, Result};

/// What to do with selected checkpoint tensors that no variable receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Unused {
    /// A [`Error::MissingVariable`] naming the first one.
    #[default]
    Error,
    /// Leave them.
    Ignore,
}

/// Which checkpoint tensors go to which variables.
///
/// A checkpoint name `source_prefix + rest` goes to the variable `target_prefix + rest`.
/// Every variable of the `VarMap` whose name starts with `target_prefix` must receive a
/// tensor of its exact shape: otherwise loading fails with [`Error::MissingVariable`] or
/// [`Error::Shape`] naming it, before any variable is changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WeightSelection {
    /// Prefix selecting checkpoint names (empty: all).
    pub source_prefix: String,
    /// Prefix the selected names get in the `VarMap` (and the variables that must be filled).
    pub target_prefix: String,
    /// Selected tensors that match no variable.
    pub unused: Unused,
}

impl WeightSelection {
    /// Every checkpoint tensor into the variable of the same name; every variable filled.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only names starting with `prefix`, kept as they are.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        WeightSelection {
            source_prefix: prefix.clone(),
            target_prefix: prefix,
            unused: Unused::Error,
        }
    }

    /// Replaces the selected prefix by `target` in the variable names.
    pub fn renamed_to(mut self, target: impl Into<String>) -> Self {
        self.target_prefix = target.into();
        self
    }

    /// Sets what happens to selected tensors that match no variable.
    pub fn with_unused(mut self, unused: Unused) -> Self {
        self.unused = unused;
        self
    }
}

pub(crate) fn load_into(
    weights: &HashMap<String, Tensor>,
    varmap: &VarMap,
    selection: &WeightSelection,
) -> Result<Vec<String>> {
    let vars: HashMap<String, candle_core::Var> = sorted_vars(varmap)?.into_iter().collect();
    let mut sources: Vec<&String> = weights
        .keys()
        .filter(|n| n.starts_with(&selection.source_prefix))
        .collect();
    sources.sort();
    let mut plan = Vec::new();
    let mut filled = BTreeSet::new();
    for source in sources {
        let target = format!(
            "{}{}",
            selection.target_prefix,
            &source[selection.source_prefix.len()..]
        );
        let tensor = &weights[source];
        match vars.get(&target) {
            None if selection.unused == Unused::Ignore => continue,
            None => {
                return Err(Error::MissingVariable {
                    what: "varmap (for checkpoint weight)".into(),
                    name: target,
                });
            }
            Some(var) => {
                if var.dims() != tensor.dims() {
                    return Err(Error::Shape {
                        what: format!("checkpoint weight `{source}` into variable `{target}`"),
                        left: tensor.dims().to_vec(),
                        right: var.dims().to_vec(),
                    });
                }
                filled.insert(target.clone());
                plan.push((target, var.clone(), tensor));
            }
        }
    }
    let mut expected: Vec<&String> = vars
        .keys()
        .filter(|n| n.starts_with(&selection.target_prefix))
        .collect();
    expected.sort();
    if let Some(missing) = expected.into_iter().find(|n| !filled.contains(*n)) {
        return Err(Error::MissingVariable {
            what: "checkpoint weights".into(),
            name: missing.clone(),
        });
    }
    let mut loaded = Vec::with_capacity(plan.len());
    for (name, var, tensor) in plan {
        var.set(&tensor.to_device(var.device())?.to_dtype(var.dtype())?)?;
        loaded.push(name);
    }
    Ok(loaded)
}
