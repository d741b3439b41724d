//! Saving and restoring [`Soap`]'s state: per variable its Adam moments (in the rotated
//! basis), Shampoo statistics `GG_i` and bases `Q_i` as tensors named
//! `exp_avg/{var}`, `exp_avg_sq/{var}`, `gg.{i}/{var}`, `q.{i}/{var}`, and the rest as JSON.
//! The bases are saved rather than recomputed so that a resumed run is bit-identical.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::optimiser::{OptimiserKind, OptimiserState, ParamGroup, state_tensor};
use super::soap::{Soap, SoapConfig, SoapVarState};
use crate::Result;

#[derive(Serialize, Deserialize)]
struct VarMeta {
    step: usize,
    shape: Vec<usize>,
    preconditioned: Vec<bool>,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    config: SoapConfig,
    lr: f64,
    steps: usize,
    vars: Vec<String>,
    groups: Vec<ParamGroup>,
    /// Per-variable bookkeeping, `None` before its first gradient.
    states: Vec<Option<VarMeta>>,
}

impl Soap {
    /// The complete state (see the module docs).
    pub(super) fn save_state(&self) -> Result<OptimiserState> {
        let soap = self;
        let mut tensors = HashMap::new();
        let mut metas = Vec::new();
        for (param, st) in soap.params.params.iter().zip(&soap.states) {
            let Some(st) = st else {
                metas.push(None);
                continue;
            };
            let name = &param.name;
            tensors.insert(format!("exp_avg/{name}"), st.exp_avg.copy()?);
            tensors.insert(format!("exp_avg_sq/{name}"), st.exp_avg_sq.copy()?);
            for (i, (gg, q)) in st.gg.iter().zip(&st.q).enumerate() {
                if let (Some(gg), Some(q)) = (gg, q) {
                    tensors.insert(format!("gg.{i}/{name}"), gg.copy()?);
                    tensors.insert(format!("q.{i}/{name}"), q.copy()?);
                }
            }
            metas.push(Some(VarMeta {
                step: st.step,
                shape: st.shape.clone(),
                preconditioned: st.gg.iter().map(Option::is_some).collect(),
            }));
        }
        let meta = Meta {
            config: soap.config,
            lr: soap.lr,
            steps: soap.steps,
            vars: soap.params.names(),
            groups: soap.params.groups.clone(),
            states: metas,
        };
        Ok(OptimiserState {
            kind: OptimiserKind::Soap,
            meta: serde_json::to_value(meta)?,
            tensors,
        })
    }

    /// Restores a state saved by [`Soap::save_state`].
    pub(super) fn restore_state(&mut self, state: &OptimiserState) -> Result<()> {
        let soap = self;
        let meta: Meta = serde_json::from_value(state.meta.clone())?;
        soap.params.check_names(&meta.vars)?;
        let mut states = Vec::with_capacity(meta.states.len());
        for (param, vm) in soap.params.params.iter().zip(&meta.states) {
            let Some(vm) = vm else {
                states.push(None);
                continue;
            };
            let dev = param.var.device();
            let name = &param.name;
            let numel: usize = vm.shape.iter().product();
            if numel != param.var.elem_count() || vm.preconditioned.len() != vm.shape.len() {
                return Err(crate::Error::Shape {
                    what: format!("soap state of `{name}`"),
                    left: vm.shape.clone(),
                    right: param.var.dims().to_vec(),
                });
            }
            let exp_avg =
                state_tensor(state, &format!("exp_avg/{name}"), &vm.shape)?.to_device(dev)?;
            let exp_avg_sq =
                state_tensor(state, &format!("exp_avg_sq/{name}"), &vm.shape)?.to_device(dev)?;
            let mut gg = Vec::new();
            let mut q = Vec::new();
            for (i, (&pre, &d)) in vm.preconditioned.iter().zip(&vm.shape).enumerate() {
                if pre {
                    gg.push(Some(
                        state_tensor(state, &format!("gg.{i}/{name}"), &[d, d])?.to_device(dev)?,
                    ));
                    q.push(Some(
                        state_tensor(state, &format!("q.{i}/{name}"), &[d, d])?.to_device(dev)?,
                    ));
                } else {
                    gg.push(None);
                    q.push(None);
                }
            }
            states.push(Some(SoapVarState {
                step: vm.step,
                shape: vm.shape.clone(),
                exp_avg,
                exp_avg_sq,
                gg,
                q,
            }));
        }
        soap.states = states;
        soap.config = meta.config;
        soap.lr = meta.lr;
        soap.steps = meta.steps;
        Ok(())
    }
}
