//! SOAP: Adam in the eigenbasis of Shampoo's preconditioner (Vyas et al., 2025,
//! arXiv:2409.11321), as the reference implementation `nikhilvyas/SOAP` soap.py does it.
//!
//! Per variable, with gradient `G` (after global-norm clipping):
//! 1. **First call**: `GG_i ← (1 − β_sh) G_(i)G_(i)ᵀ` for every preconditioned dimension
//!    `i`, `Q_i ← eigh(GG_i + 1e-30 I)` with columns by descending eigenvalue; the
//!    variable is **not** updated (the reference never uses a gradient in the basis it
//!    helped build).
//! 2. **Later calls** (`t` counts them from 1): `G' = G ×_i Q_i`; `m ← β₁m + (1−β₁)G'`,
//!    `v ← β₂v + (1−β₂)G'²`; `p ← p − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · (m/(√v+ε)) ×_i Q_iᵀ`;
//!    decoupled decay `p ← p − lr·λ·p`; then `GG_i ← lerp(GG_i, G_(i)G_(i)ᵀ, 1−β_sh)`, and
//!    every `precondition_frequency` steps each `Q_i` is refreshed by one QR power
//!    iteration after sorting its columns by `diag(Q_iᵀ GG_i Q_i)` (permuting `v`'s axis
//!    `i` alike), and `m` is re-expressed in the new basis.
//!
//! `β_sh` is `shampoo_beta` or, by default, β₂. Dimensions larger than `max_precond_dim`
//! and (by default) 1-D variables get plain Adam along that axis. The reference projects
//! `m` out of and back into the same basis on steps where `Q` does not change; that is the
//! identity up to rounding, and we skip it. Eigendecompositions and QR run on the host in
//! f64 ([`faer`]); everything else stays on the variables' device.

use candle_core::Tensor;
use candle_core::backprop::GradStore;
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use super::optimiser::{
    GradClip, Optimiser, OptimiserKind, OptimiserState, ParamGroup, ParamSet, StepStats,
    check_beta, check_lr,
};
use super::soap_basis::{
    axis_outer, initial_bases, merged_shape, normalise_rms, refreshed_bases, rotate,
};
use crate::{ConfigError, Result};

/// Whether tensor dimensions are preconditioned one by one or merged first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum DimMerging {
    /// One preconditioner per dimension (reference default, `merge_dims=False`).
    #[default]
    Separate,
    /// Merge consecutive dimensions while their product is `≤ max_precond_dim`.
    Merge,
}

/// How 1-D variables (biases, norm scales) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum OneDimPreconditioning {
    /// Plain Adam (reference default, `precondition_1d=False`).
    #[default]
    Adam,
    /// A full `d × d` preconditioner when `d ≤ max_precond_dim`.
    Shampoo,
}

/// Optional per-variable normalisation of the update (`normalize_grads` in the reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum UpdateNormalisation {
    /// No normalisation (reference default).
    #[default]
    Off,
    /// Divide each variable's update by its RMS.
    PerVariable,
}

/// Adam's bias correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum BiasCorrection {
    /// Multiply the step by `√(1−β₂ᵗ)/(1−β₁ᵗ)` (reference default).
    #[default]
    On,
    /// No correction.
    Off,
}

/// Settings of [`Soap`]. `Default` is the paper's tokeniser-pretraining preset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SoapConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay β₁.
    pub beta1: f64,
    /// Second-moment decay β₂.
    pub beta2: f64,
    /// Decay of the Shampoo statistics; `None` uses β₂ (reference `shampoo_beta=-1`).
    pub shampoo_beta: Option<f64>,
    /// ε added to `√v`.
    pub eps: f64,
    /// Decoupled weight decay λ (groups may override it).
    pub weight_decay: f64,
    /// Steps between basis refreshes.
    pub precondition_frequency: usize,
    /// Largest dimension that gets a preconditioner.
    pub max_precond_dim: usize,
    /// Per-dimension or merged preconditioners.
    pub dims: DimMerging,
    /// Treatment of 1-D variables.
    pub one_dim: OneDimPreconditioning,
    /// Update normalisation.
    pub normalisation: UpdateNormalisation,
    /// Adam bias correction.
    pub bias_correction: BiasCorrection,
    /// Gradient clipping before the update.
    pub clip: GradClip,
}

impl Default for SoapConfig {
    fn default() -> Self {
        Self::paper_tokeniser()
    }
}

impl SoapConfig {
    /// soap.py's defaults: lr 3e-3, betas (0.95, 0.95), ε 1e-8, weight decay 0.01,
    /// refresh every 10 steps, max preconditioned dimension 10000, no clipping.
    pub fn reference() -> Self {
        SoapConfig {
            lr: 3e-3,
            beta1: 0.95,
            beta2: 0.95,
            shampoo_beta: None,
            eps: 1e-8,
            weight_decay: 0.01,
            precondition_frequency: 10,
            max_precond_dim: 10000,
            dims: DimMerging::Separate,
            one_dim: OneDimPreconditioning::Adam,
            normalisation: UpdateNormalisation::Off,
            bias_correction: BiasCorrection::On,
            clip: GradClip::Off,
        }
    }

    /// Tokeniser pretraining, Table 6: lr 5e-4 (constant), betas (0.95, 0.95), weight
    /// decay 0.01, ε 1e-8, clipping at global norm 0.5; the rest as [`SoapConfig::reference`].
    pub fn paper_tokeniser() -> Self {
        SoapConfig {
            lr: 5e-4,
            clip: GradClip::GlobalNorm(0.5),
            ..Self::reference()
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

    /// Sets the Shampoo statistics decay (default: β₂).
    pub fn with_shampoo_beta(mut self, beta: f64) -> Self {
        self.shampoo_beta = Some(beta);
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

    /// Sets the basis refresh period in steps.
    pub fn with_precondition_frequency(mut self, steps: usize) -> Self {
        self.precondition_frequency = steps;
        self
    }

    /// Sets the largest preconditioned dimension.
    pub fn with_max_precond_dim(mut self, max: usize) -> Self {
        self.max_precond_dim = max;
        self
    }

    /// Sets dimension merging.
    pub fn with_dims(mut self, dims: DimMerging) -> Self {
        self.dims = dims;
        self
    }

    /// Sets the treatment of 1-D variables.
    pub fn with_one_dim(mut self, one_dim: OneDimPreconditioning) -> Self {
        self.one_dim = one_dim;
        self
    }

    /// Sets update normalisation.
    pub fn with_normalisation(mut self, normalisation: UpdateNormalisation) -> Self {
        self.normalisation = normalisation;
        self
    }

    /// Sets bias correction.
    pub fn with_bias_correction(mut self, bias_correction: BiasCorrection) -> Self {
        self.bias_correction = bias_correction;
        self
    }

    /// Sets gradient clipping.
    pub fn with_clip(mut self, clip: GradClip) -> Self {
        self.clip = clip;
        self
    }

    /// Checks every setting.
    pub fn check(&self) -> Result<(), ConfigError> {
        check_lr(self.lr)?;
        check_beta("beta1", self.beta1)?;
        check_beta("beta2", self.beta2)?;
        if let Some(b) = self.shampoo_beta {
            check_beta("shampoo_beta", b)?;
        }
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
        if self.precondition_frequency == 0 {
            return Err(ConfigError::NotPositive {
                name: "precondition_frequency",
                value: 0.0,
            });
        }
        if self.max_precond_dim == 0 {
            return Err(ConfigError::NotPositive {
                name: "max_precond_dim",
                value: 0.0,
            });
        }
        self.clip.check()
    }

    /// An optimiser over the named variables of `varmap`, in one group.
    pub fn build<S: Into<String>>(
        self,
        varmap: &VarMap,
        names: impl IntoIterator<Item = S>,
    ) -> Result<Soap> {
        self.build_groups(varmap, vec![ParamGroup::new("default", names)])
    }

    /// An optimiser over several parameter groups.
    pub fn build_groups(self, varmap: &VarMap, groups: Vec<ParamGroup>) -> Result<Soap> {
        self.check()?;
        let params = ParamSet::resolve(varmap, groups)?;
        let states = vec![None; params.params.len()];
        Ok(Soap {
            config: self,
            lr: self.lr,
            params,
            states,
            steps: 0,
        })
    }

    /// The shape a gradient of `shape` is preconditioned in, and which of its axes get a
    /// preconditioner.
    pub(crate) fn layout(&self, shape: &[usize]) -> (Vec<usize>, Vec<bool>) {
        if shape.len() == 1 {
            let pre =
                self.one_dim == OneDimPreconditioning::Shampoo && shape[0] <= self.max_precond_dim;
            return (shape.to_vec(), vec![pre]);
        }
        let shape = match self.dims {
            DimMerging::Merge if !shape.is_empty() => merged_shape(shape, self.max_precond_dim),
            _ => shape.to_vec(),
        };
        let pre = shape.iter().map(|&d| d <= self.max_precond_dim).collect();
        (shape, pre)
    }
}

/// Per-variable SOAP state, all tensors in the preconditioning shape.
#[derive(Debug, Clone)]
pub(crate) struct SoapVarState {
    /// Adam steps taken (0 after the initialising call).
    pub step: usize,
    pub shape: Vec<usize>,
    pub exp_avg: Tensor,
    pub exp_avg_sq: Tensor,
    pub gg: Vec<Option<Tensor>>,
    pub q: Vec<Option<Tensor>>,
}

/// SOAP over a fixed list of variables; see the module docs for the algorithm.
#[derive(Debug)]
pub struct Soap {
    pub(crate) config: SoapConfig,
    pub(crate) lr: f64,
    pub(crate) params: ParamSet,
    pub(crate) states: Vec<Option<SoapVarState>>,
    pub(crate) steps: usize,
}

impl Soap {
    /// The settings.
    pub fn config(&self) -> &SoapConfig {
        &self.config
    }

    fn update_statistics(&self, st: &mut SoapVarState, g: &Tensor) -> Result<()> {
        let keep = self.config.shampoo_beta.unwrap_or(self.config.beta2);
        for (axis, gg) in st.gg.iter_mut().enumerate() {
            if let Some(m) = gg {
                let outer = axis_outer(g, axis)?;
                *m = (&*m + (outer - &*m)?.affine(1.0 - keep, 0.0)?)?;
            }
        }
        Ok(())
    }

    /// Updates every variable that has a gradient; returns how many had none.
    fn step_all(
        &self,
        grads: &[Option<Tensor>],
        states: &mut [Option<SoapVarState>],
    ) -> Result<usize> {
        let cfg = self.config;
        let mut without = 0;
        for ((param, grad), slot) in self.params.params.iter().zip(grads).zip(states.iter_mut()) {
            let Some(g) = grad else {
                without += 1;
                continue;
            };
            let Some(st) = slot else {
                let (shape, pre) = cfg.layout(g.dims());
                let g = g.reshape(shape.as_slice())?;
                let gg = shape
                    .iter()
                    .zip(&pre)
                    .map(|(&d, &p)| {
                        if p {
                            Tensor::zeros((d, d), g.dtype(), g.device()).map(Some)
                        } else {
                            Ok(None)
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut st = SoapVarState {
                    step: 0,
                    shape,
                    exp_avg: g.zeros_like()?,
                    exp_avg_sq: g.zeros_like()?,
                    gg,
                    q: Vec::new(),
                };
                self.update_statistics(&mut st, &g)?;
                st.q = initial_bases(&st.gg)?;
                *slot = Some(st);
                continue;
            };
            let group = &self.params.groups[param.group];
            let lr = self.lr * group.lr_scale;
            let wd = group.weight_decay.unwrap_or(cfg.weight_decay);
            let g = g.reshape(st.shape.as_slice())?;
            let g_rot = rotate(&g, &st.q, false)?;
            st.step += 1;
            st.exp_avg =
                (st.exp_avg.affine(cfg.beta1, 0.0)? + g_rot.affine(1.0 - cfg.beta1, 0.0)?)?;
            st.exp_avg_sq = (st.exp_avg_sq.affine(cfg.beta2, 0.0)?
                + g_rot.sqr()?.affine(1.0 - cfg.beta2, 0.0)?)?;
            let denom = st.exp_avg_sq.sqrt()?.affine(1.0, cfg.eps)?;
            let mut step_size = lr;
            if cfg.bias_correction == BiasCorrection::On {
                let t = st.step as i32;
                step_size *= (1.0 - cfg.beta2.powi(t)).sqrt() / (1.0 - cfg.beta1.powi(t));
            }
            let mut update = rotate(&(&st.exp_avg / denom)?, &st.q, true)?;
            if cfg.normalisation == UpdateNormalisation::PerVariable {
                update = normalise_rms(&update)?;
            }
            let update = update.reshape(param.var.dims())?;
            let mut p = (param.var.as_tensor() - update.affine(step_size, 0.0)?)?;
            if wd > 0.0 {
                p = (&p + p.affine(-lr * wd, 0.0)?)?;
            }
            param.var.set(&p)?;
            self.update_statistics(st, &g)?;
            if st.step % cfg.precondition_frequency == 0 {
                let exp_avg = rotate(&st.exp_avg, &st.q, true)?;
                let (q, v) = refreshed_bases(&st.gg, &st.q, &st.exp_avg_sq)?;
                st.q = q;
                st.exp_avg_sq = v;
                st.exp_avg = rotate(&exp_avg, &st.q, false)?;
            }
        }
        Ok(without)
    }
}

impl Optimiser for Soap {
    fn step(&mut self, grads: &GradStore) -> Result<StepStats> {
        check_lr(self.lr)?;
        let (grads, grad_norm, clip_scale) = self.params.clipped_grads(grads, self.config.clip)?;
        let mut states = std::mem::take(&mut self.states);
        // Restore the state even when a step fails half-way, so that nothing is lost.
        let result = self.step_all(&grads, &mut states);
        self.states = states;
        let without = result?;
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
        self.save_state()
    }

    fn load_state(&mut self, state: &OptimiserState) -> Result<()> {
        if state.kind != OptimiserKind::Soap {
            return Err(ConfigError::Mismatch {
                name: "optimiser state",
                value: format!("{:?}", state.kind),
                other: "Soap".into(),
            }
            .into());
        }
        self.restore_state(state)
    }
}
