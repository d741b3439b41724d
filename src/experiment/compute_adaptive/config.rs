//! [`ComputeAdaptiveConfig`]: the compute-adaptive patching study (Mukhopadhyay et al.
//! 2025, Section 4: Figure 3 / Table 1 and Figure 2) with a CPU preset and the paper's sizes.

use serde::{Deserialize, Serialize};

use crate::nn::KernelResize;
use crate::patch::{PatchConfig, PatchStrategy};
use crate::processor::ProcessorConfig;
use crate::train::{Progress, TrainerConfig};
use crate::{ConfigError, DeviceChoice, Result};

/// One model family of the study.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StudyModel {
    /// CKM with a kernel resize rule.
    Ckm(KernelResize),
    /// CSM.
    Csm,
    /// The fixed-patch baseline at one size.
    Fixed(usize),
}

impl StudyModel {
    /// The key in `results.json`: `ckm`, `ckm_adjoint`, `csm`, `fixed_p{P}`.
    pub fn key(&self) -> String {
        match self {
            StudyModel::Ckm(KernelResize::PseudoInverse) => "ckm".into(),
            StudyModel::Ckm(KernelResize::Adjoint) => "ckm_adjoint".into(),
            StudyModel::Csm => "csm".into(),
            StudyModel::Fixed(p) => format!("fixed_p{p}"),
        }
    }

    /// The model's configuration derived from the study's base `model`.
    pub fn config(&self, model: &PatchConfig) -> PatchConfig {
        match *self {
            StudyModel::Ckm(r) => model
                .clone()
                .with_strategy(PatchStrategy::Ckm)
                .with_resize(r),
            StudyModel::Csm => model.clone().with_strategy(PatchStrategy::Csm),
            StudyModel::Fixed(p) => model.clone().fixed(p),
        }
    }

    /// Whether it runs at several patch sizes.
    pub fn is_adaptive(&self) -> bool {
        !matches!(self, StudyModel::Fixed(_))
    }
}

/// The whole study: models, data, budgets, seeds and evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComputeAdaptiveConfig {
    /// Name written to the results.
    pub preset: String,
    /// The shared model settings (sizes, base, processor, grid after coarsening).
    pub model: PatchConfig,
    /// The dataset (the paper's Figure 3: `shear_flow`).
    pub dataset: String,
    /// Training of one fixed-patch model (its `steps`); CKM and CSM train
    /// `steps × sizes.len()` steps, the three fixed models' combined budget (Section 4).
    pub trainer: TrainerConfig,
    /// The models trained per seed.
    pub models: Vec<StudyModel>,
    /// Seeds (the spread is over these).
    pub seeds: Vec<u64>,
    /// Validation windows scored for next-step VRMSE.
    pub eval_windows: usize,
    /// Validation windows rolled out.
    pub rollout_windows: usize,
    /// Rollout length in steps.
    pub rollout_steps: usize,
    /// Where it trains.
    #[serde(default)]
    pub device: DeviceChoice,
}

impl ComputeAdaptiveConfig {
    /// About 10 minutes on 2 CPU cores: shear flow at 32² (2x2 block means of the embedded
    /// 64² data), sizes {2, 4, 8} around base 8 (256, 64 and 16 tokens per frame, the
    /// paper's ratios), embedding 32, processor width 32, 2 blocks, 4 context frames; 150
    /// steps per fixed model (CKM and CSM: 450), batch 4; CKM (PI-resize), CSM, three fixed
    /// models and CKM with the adjoint resize; 3 seeds; 24 validation windows for next-step
    /// VRMSE, 8 rolled out 12 steps.
    pub fn quick() -> Self {
        let model = PatchConfig::tiny()
            .with_grid(32, 32)
            .with_n_steps_input(4)
            .with_processor(
                ProcessorConfig::tiny()
                    .with_latent_channels(32)
                    .with_drop_path(0.0),
            );
        let trainer = TrainerConfig::quick_rollout(150)
            .with_batch_size(4)
            .with_validate_every(0)
            .with_coarsen(2)
            .with_progress(Progress::Quiet);
        ComputeAdaptiveConfig {
            preset: "quick".into(),
            models: Self::models_of(&model, true),
            model,
            dataset: "shear_flow".into(),
            trainer,
            seeds: vec![0, 1, 2],
            eval_windows: 24,
            rollout_windows: 8,
            rollout_steps: 12,
            device: DeviceChoice::Cpu,
        }
    }

    /// The paper's sizes for a GPU: the 25 M model of Table 4 ([`PatchConfig::paper`]) on
    /// shear flow at 128 × 256, sizes {4, 8, 16} (2048, 512, 128 tokens, Table 1), Adam at
    /// 1e-3 with weight decay 1e-4 (Appendix B.3), batch 2; the step budget is a stand-in
    /// for the paper's 200 epochs per fixed model (set it with `with_steps`).
    pub fn paper() -> Self {
        let model = PatchConfig::paper();
        let trainer = TrainerConfig::quick_rollout(20_000)
            .with_batch_size(2)
            .with_validate_every(0);
        ComputeAdaptiveConfig {
            preset: "paper".into(),
            models: Self::models_of(&model, false),
            model,
            dataset: "shear_flow".into(),
            trainer,
            seeds: vec![0, 1, 2],
            eval_windows: 256,
            rollout_windows: 32,
            rollout_steps: 45,
            device: DeviceChoice::Cpu,
        }
    }

    /// A preset by name: `quick` or `paper`.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(ConfigError::Unknown {
                kind: "compute-adaptive preset",
                name: other.to_string(),
                known: "quick, paper".into(),
            }
            .into()),
        }
    }

    /// CKM, CSM and one fixed model per size (and, with `adjoint`, CKM with the adjoint
    /// resize: item 8 of the issue, beyond the paper).
    pub fn models_of(model: &PatchConfig, adjoint: bool) -> Vec<StudyModel> {
        let mut out = vec![
            StudyModel::Ckm(KernelResize::PseudoInverse),
            StudyModel::Csm,
        ];
        out.extend(model.sizes.iter().map(|&p| StudyModel::Fixed(p)));
        if adjoint {
            out.push(StudyModel::Ckm(KernelResize::Adjoint));
        }
        out
    }

    /// Sets the seeds.
    pub fn with_seeds(mut self, seeds: Vec<u64>) -> Self {
        self.seeds = seeds;
        self
    }
    /// Sets the steps of one fixed-patch model.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.trainer = self.trainer.with_steps(steps);
        self
    }
    /// Sets the device.
    pub fn with_device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }
    /// Sets the models.
    pub fn with_models(mut self, models: Vec<StudyModel>) -> Self {
        self.models = models;
        self
    }

    /// Training steps of `model`: the fixed budget, times the number of sizes for CKM/CSM.
    pub fn steps_of(&self, model: StudyModel) -> usize {
        if model.is_adaptive() {
            self.trainer.steps * self.model.sizes.len()
        } else {
            self.trainer.steps
        }
    }

    /// Checks every part before anything runs.
    pub fn check(&self) -> Result<(), ConfigError> {
        for m in &self.models {
            m.config(&self.model).check()?;
        }
        self.trainer.check()?;
        if self.seeds.is_empty() {
            return Err(ConfigError::Empty { name: "seeds" });
        }
        if self.models.is_empty() {
            return Err(ConfigError::Empty { name: "models" });
        }
        for (name, v) in [
            ("eval_windows", self.eval_windows),
            ("rollout_windows", self.rollout_windows),
            ("rollout_steps", self.rollout_steps),
            ("trainer.steps", self.trainer.steps),
        ] {
            if v == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_check_and_budgets() {
        let q = ComputeAdaptiveConfig::quick();
        assert_eq!(q.check(), Ok(()));
        assert_eq!(ComputeAdaptiveConfig::paper().check(), Ok(()));
        assert_eq!(
            q.steps_of(StudyModel::Csm),
            3 * q.steps_of(StudyModel::Fixed(4))
        );
        let keys: Vec<String> = q.models.iter().map(|m| m.key()).collect();
        assert_eq!(
            keys,
            [
                "ckm",
                "csm",
                "fixed_p2",
                "fixed_p4",
                "fixed_p8",
                "ckm_adjoint"
            ]
        );
        assert!(matches!(
            ComputeAdaptiveConfig::preset("huge"),
            Err(crate::Error::Config(ConfigError::Unknown { .. }))
        ));
        assert!(matches!(
            q.with_seeds(vec![]).check(),
            Err(ConfigError::Empty { name: "seeds" })
        ));
    }
}
