//! AdamW (Loshchilov & Hutter, 2019) with decoupled weight decay, exactly as
//! `torch.optim.AdamW` (non-AMSGrad), with checkpointable moments.
//!
//! candle-nn has an AdamW, but it keeps its moments private (they cannot be saved) and
//! decays every parameter by 0.01 by default, so phystok has its own. One update, for step
//! `t` (counted per variable) with learning rate `lr` and weight decay `λ` of its group:
//!
//! ```text
//! p ← p · (1 − lr·λ)
//! m ← m + (1 − β₁)(g − m)          v ← β₂ v + (1 − β₂) g²
//! p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
//! ```
//!
//! The paper's rollout training uses lr 5e-5, betas (0.9, 0.999), weight decay 1e-4,
//! ε 1e-10 and gradient clipping at 5.0 (Table 6): [`AdamWConfig::paper_rollout`].

use candle_core::Tensor;
use candle_core::backprop::GradStore;
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::optimiser::{
    GradClip, Optimiser, OptimiserKind, OptimiserState, ParamGroup, ParamSet, StepStats,
    check_beta, check_lr, state_tensor,
};
use crate::{ConfigError, Result};

/// Settings of [`AdamW`]. `Default` is the paper's rollout preset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    /// Learning rate (the peak, when a schedule drives it).
    pub lr: f64,
    /// First-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// ε added to the denominator.
    pub eps: f64,
    /// Decoupled weight decay λ (groups may override it).
    pub weight_decay: f64,
    /// Gradient clipping before the update.
    pub clip: GradClip,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self::paper_rollout()
    }
}

impl AdamWConfig {
    /// Rollout training, Table 6: lr 5e-5, betas (0.9, 0.999), weight decay 1e-4, ε 1e-10,
    /// clipping at global norm 5.0.
    pub fn paper_rollout() -> Self {
        AdamWConfig {
            lr: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-10,
            weight_decay: 1e-4,
            clip: GradClip::GlobalNorm(5.0),
        }
    }

    /// `torch.optim.AdamW`'s defaults: lr 1e-3, betas (0.9, 0.999), ε 1e-8, weight decay
    /// 0.01, no clipping.
    pub fn torch_defaults() -> Self {
        AdamWConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            clip: GradClip::Off,
        }
    }

    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }

    /// Sets β₁ and β₂.
    pub fn with_betas(mut self, beta1: f64, beta2: f64) -> Self {
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε.
    pub fn with_eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> Self {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the gradient clipping.
    pub fn with_clip(mut self, clip: GradClip) -> Self {
        self.clip = clip;
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_lr(self.lr)?;
        check_beta("beta1", self.beta1)?;
        check_beta("beta2", self.beta2)?;
        if !(self.eps > 0.0 && self.eps.is_finite()) {
            return Err(ConfigError::NotPositive {
                name: "eps",
                value: self.eps,
            });
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(ConfigError::OutOfRange {
                name: "weight_decay",
                range: "[0, inf)",
                value: self.weight_decay,
            });
        }
        self.clip.check()
    }

    /// An optimiser over the named variables of `varmap`, in one group.
    pub fn build<S: Into<String>>(
        self,
        varmap: &VarMap,
        names: impl IntoIterator<Item = S>,
    ) -> Result<AdamW> {
        self.build_groups(varmap, vec![ParamGroup::new("default", names)])
    }

    /// An optimiser over several parameter groups.
    pub fn build_groups(self, varmap: &VarMap, groups: Vec<ParamGroup>) -> Result<AdamW> {
        self.check()?;
        let params = ParamSet::resolve(varmap, groups)?;
        let moments = vec![None; params.params.len()];
        Ok(AdamW {
            config: self,
            lr: self.lr,
            params,
            moments,
            steps: 0,
        })
    }
}

/// Per-variable moments.
#[derive(Debug, Clone)]
struct Moments {
    step: usize,
    m: Tensor,
    v: Tensor,
}

/// AdamW over a fixed list of variables; see the module docs for the update.
#[derive(Debug)]
pub struct AdamW {
    config: AdamWConfig,
    lr: f64,
    params: ParamSet,
    moments: Vec<Option<Moments>>,
    steps: usize,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    config: AdamWConfig,
    lr: f64,
    steps: usize,
    vars: Vec<String>,
    groups: Vec<ParamGroup>,
    /// Per-variable step counts, `None` before its first gradient.
    var_steps: Vec<Option<usize>>,
}

impl AdamW {
    /// The settings.
    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }
}

impl Optimiser for AdamW {
    fn step(&mut self, grads: &GradStore) -> Result<StepStats> {
        check_lr(self.lr)?;
        let (grads, grad_norm, clip_scale) = self.params.clipped_grads(grads, self.config.clip)?;
        let (b1, b2) = (self.config.beta1, self.config.beta2);
        let mut without = 0;
        for ((param, grad), state) in self.params.params.iter().zip(&grads).zip(&mut self.moments) {
            let Some(g) = grad else {
                without += 1;
                continue;
            };
            let group = &self.params.groups[param.group];
            let lr = self.lr * group.lr_scale;
            let wd = group.weight_decay.unwrap_or(self.config.weight_decay);
            let st = match state {
                Some(st) => st,
                None => state.insert(Moments {
                    step: 0,
                    m: g.zeros_like()?,
                    v: g.zeros_like()?,
                }),
            };
            st.step += 1;
            let t = st.step as i32;
            let p = param.var.as_tensor();
            let p = if wd != 0.0 {
                p.affine(1.0 - lr * wd, 0.0)?
            } else {
                p.clone()
            };
            st.m = (&st.m + (g - &st.m)?.affine(1.0 - b1, 0.0)?)?;
            st.v = (st.v.affine(b2, 0.0)? + g.sqr()?.affine(1.0 - b2, 0.0)?)?;
            let bc1 = 1.0 - b1.powi(t);
            let bc2_sqrt = (1.0 - b2.powi(t)).sqrt();
            let denom = st.v.sqrt()?.affine(1.0 / bc2_sqrt, self.config.eps)?;
            let update = (&st.m / denom)?.affine(lr / bc1, 0.0)?;
            param.var.set(&(p - update)?)?;
        }
        self.steps += 1;
        Ok(StepStats {
            step: self.steps,
            lr: self.lr,
            grad_norm,
            clip_scale,
            vars_without_grad: without,
        })
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn steps_taken(&self) -> usize {
        self.steps
    }

    fn var_names(&self) -> Vec<String> {
        self.params.names()
    }

    fn state(&self) -> Result<OptimiserState> {
        let mut tensors = std::collections::HashMap::new();
        for (param, st) in self.params.params.iter().zip(&self.moments) {
            if let Some(st) = st {
                tensors.insert(format!("m/{}", param.name), st.m.copy()?);
                tensors.insert(format!("v/{}", param.name), st.v.copy()?);
            }
        }
        let meta = Meta {
            config: self.config,
            lr: self.lr,
            steps: self.steps,
            vars: self.params.names(),
            groups: self.params.groups.clone(),
            var_steps: self
                .moments
                .iter()
                .map(|m| m.as_ref().map(|m| m.step))
                .collect(),
        };
        Ok(OptimiserState {
            kind: OptimiserKind::AdamW,
            meta: serde_json::to_value(meta)?,
            tensors,
        })
    }

    fn load_state(&mut self, state: &OptimiserState) -> Result<()> {
        if state.kind != OptimiserKind::AdamW {
            return Err(ConfigError::Mismatch {
                name: "optimiser state",
                value: format!("{:?}", state.kind),
                other: "AdamW".into(),
            }
            .into());
        }
        let meta: Meta = serde_json::from_value(state.meta.clone())?;
        self.params.check_names(&meta.vars)?;
        let mut moments = Vec::with_capacity(self.params.params.len());
        for (param, step) in self.params.params.iter().zip(&meta.var_steps) {
            moments.push(match step {
                None => None,
                Some(step) => {
                    let shape = param.var.dims();
                    let dev = param.var.device();
                    let m =
                        state_tensor(state, &format!("m/{}", param.name), shape)?.to_device(dev)?;
                    let v =
                        state_tensor(state, &format!("v/{}", param.name), shape)?.to_device(dev)?;
                    Some(Moments { step: *step, m, v })
                }
            });
        }
        self.moments = moments;
        self.config = meta.config;
        self.lr = meta.lr;
        self.steps = meta.steps;
        Ok(())
    }
}
