//! [`PhysixStudyConfig`]: what `phystok reproduce physix` trains and scores.

use serde::{Deserialize, Serialize};

use crate::experiment::ExperimentConfig;
use crate::model::RolloutConfig;
use crate::optim::{AdamWConfig, GradClip, ScheduleConfig};
use crate::physix::{ArConfig, FsqConfig, PhysixConfig, PhysixTokeniserConfig, RefinerConfig};
use crate::sim::System;
use crate::train::{OptimiserConfig, Progress, TrainerConfig};
use crate::{ConfigError, DeviceChoice, Result};

/// The PhysiX study: one universal tokeniser over every dataset, then per seed one AR
/// model and one refiner per dataset, scored with and without refinement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhysixStudyConfig {
    /// `quick` or `paper`.
    pub preset: String,
    /// The model (its tokeniser's datasets are filled in from the data).
    pub model: PhysixConfig,
    /// Tokeniser training (runs once, with the first seed).
    pub tokeniser: TrainerConfig,
    /// AR training (per seed).
    pub ar: TrainerConfig,
    /// Refiner AdamW steps per dataset and seed.
    pub refiner_steps: usize,
    /// Refiner batch size (paper: 64 frames).
    pub refiner_batch: usize,
    /// Random starts per training trajectory for the refinement pairs.
    pub refiner_draws: usize,
    /// Rollout frames scored (26 covers The Well's windows 1, 2–8, 9–26).
    pub rollout_steps: usize,
    /// Next-frame windows scored per dataset (spread over the test split).
    pub next_frame_windows: usize,
    /// Rollout windows scored per dataset (spread over the test split).
    pub rollout_windows: usize,
    /// Seeds (the spread is over these).
    pub seeds: Vec<u64>,
    /// The datasets (every one trains the one tokeniser and the one AR model).
    pub datasets: Vec<String>,
    /// Where it trains.
    #[serde(default)]
    pub device: DeviceChoice,
    /// The main study's continuous tokeniser + processor, trained on the same datasets and
    /// scored on the same windows for the side-by-side rows (`None`: PhysiX only).
    #[serde(default)]
    pub continuous: Option<ContinuousConfig>,
}

/// The continuous side of the comparison: the main study's [`RolloutConfig`] (its
/// tokeniser's `total_fields` and `n_steps_input` are set from the PhysiX study), its
/// tokeniser pretraining on the study's datasets (the main study's
/// `in_domain_trainable` arm: pretrain, load, then train everything), and its rollout
/// training per seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuousConfig {
    /// The rollout model (continuous tokeniser + processor).
    pub model: RolloutConfig,
    /// Tokeniser pretraining (once, with the first seed).
    pub pretrain: TrainerConfig,
    /// Rollout training (per seed), every weight trainable.
    pub rollout: TrainerConfig,
}

impl ContinuousConfig {
    /// The main study's quick sizes ([`ExperimentConfig::quick`]: tokeniser 8 → 16, 8
    /// latent channels, 2x time and 4x space at validation, processor of 2 blocks of
    /// width 64, data at 32²) with `pretrain_steps` tokeniser and `rollout_steps` rollout
    /// steps (the main study: 1,500 and 400).
    pub fn quick(pretrain_steps: usize, rollout_steps: usize) -> Self {
        let main = ExperimentConfig::quick();
        ContinuousConfig {
            model: main.model,
            pretrain: main
                .pretrain
                .with_steps(pretrain_steps)
                .with_progress(Progress::Auto),
            rollout: main
                .rollout
                .with_steps(rollout_steps)
                .with_progress(Progress::Auto),
        }
    }

    /// The main study's paper sizes and budgets ([`ExperimentConfig::paper`]).
    pub fn paper() -> Self {
        let main = ExperimentConfig::paper();
        ContinuousConfig {
            model: main.model,
            pretrain: main.pretrain,
            rollout: main.rollout,
        }
    }

    /// Checks both trainers' settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        self.pretrain.check()?;
        self.rollout.check()
    }
}

fn all_datasets() -> Vec<String> {
    System::ALL.iter().map(|s| s.name().to_string()).collect()
}

fn adamw(lr: f64, clip: f64) -> OptimiserConfig {
    OptimiserConfig::AdamW(
        AdamWConfig::torch_defaults()
            .with_lr(lr)
            .with_weight_decay(1e-4)
            .with_clip(GradClip::GlobalNorm(clip)),
    )
}

impl PhysixStudyConfig {
    /// About 25 minutes on 2 shared CPU cores, on the default collection's datasets but
    /// active matter, seen at
    /// 32² (2x2 block means, as the main study's quick preset): the small tokeniser at
    /// 4x time and 4x space (the paper's 8x would leave 4×4 tokens of a 32² frame), FSQ
    /// `[8, 5, 5, 5]`; the small AR model (1,000 tokeniser and 300 AR steps); refiners of 8
    /// features, 2 stages, over 2 frames (40 steps of 8 pairs: a ConvNeXt U-Net step is
    /// the slowest thing here on the CPU); 5 context frames; two seeds. Side by side, the
    /// main study's continuous tokeniser + processor at its quick size and budgets (1,500
    /// pretraining and 400 rollout steps, [`ContinuousConfig::quick`]).
    pub fn quick() -> Self {
        let tokeniser = PhysixTokeniserConfig::small()
            .with_compression([(1, 2), (2, 2), (2, 1)])
            .with_missing_grid(32, 32);
        let model = PhysixConfig::small().with_tokeniser(tokeniser);
        let trainer = |steps: usize, lr: f64, clip: f64, batch: usize| {
            TrainerConfig::quick_tokeniser(steps)
                .with_optimiser(adamw(lr, clip))
                .with_schedule(ScheduleConfig::cosine(lr, (steps / 10).max(1), steps))
                .with_batch_size(batch)
                .with_coarsen(2)
                .with_validate_every(0)
                .with_progress(Progress::Auto)
        };
        PhysixStudyConfig {
            preset: "quick".into(),
            model,
            tokeniser: trainer(1000, 2e-3, 1.0, 4),
            ar: trainer(300, 2e-3, 1.0, 8),
            refiner_steps: 40,
            refiner_batch: 8,
            refiner_draws: 2,
            rollout_steps: 26,
            next_frame_windows: 16,
            rollout_windows: 4,
            seeds: vec![0, 1],
            // the five datasets of the first study; active matter (11 channels, added to
            // the default collection since) would push the quick run past ~25 minutes
            datasets: all_datasets()
                .into_iter()
                .filter(|d| d != "active_matter")
                .collect(),
            device: DeviceChoice::Cpu,
            continuous: Some(ContinuousConfig::quick(1500, 400)),
        }
        .with_refiner(RefinerConfig::small().with_init_features(8))
    }

    /// The paper's sizes for a GPU (Appendix C): the Cosmos-sized tokeniser (4x time, 8x
    /// space, FSQ 64,000 codes) trained with AdamW at 1e-3 (warmup, cosine), batch 32; the
    /// 4.5 B-sized AR model, 10,000 steps, batch 32, 1,000 warmup steps; the refiners
    /// (4 stages of 4 ConvNeXt blocks, 64 features, 5 frames) at 5e-3, clip 10, batch 64;
    /// full resolution; three seeds. (PhysiX initialises both from Cosmos checkpoints,
    /// which cannot be downloaded here.)
    pub fn paper() -> Self {
        let trainer = |steps: usize, lr: f64, warmup: usize, batch: usize| {
            TrainerConfig::quick_tokeniser(steps)
                .with_optimiser(adamw(lr, 1.0))
                .with_schedule(ScheduleConfig::cosine(lr, warmup, steps))
                .with_batch_size(batch)
                .with_validate_every(0)
        };
        PhysixStudyConfig {
            preset: "paper".into(),
            model: PhysixConfig::paper()
                .with_tokeniser(PhysixTokeniserConfig::paper().with_fsq(FsqConfig::paper()))
                .with_ar(ArConfig::paper()),
            tokeniser: trainer(100_000, 1e-3, 1_000, 32),
            ar: trainer(10_000, 1e-3, 1_000, 32),
            refiner_steps: 20_000,
            refiner_batch: 64,
            refiner_draws: 8,
            rollout_steps: 56,
            next_frame_windows: 512,
            rollout_windows: 64,
            seeds: vec![0, 1, 2],
            datasets: all_datasets(),
            device: DeviceChoice::Cpu,
            continuous: Some(ContinuousConfig::paper()),
        }
        .with_refiner(RefinerConfig::paper())
    }

    /// A preset by name: `quick` or `paper`.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "quick" => Ok(Self::quick()),
            "paper" => Ok(Self::paper()),
            other => Err(ConfigError::Unknown {
                kind: "preset",
                name: other.to_string(),
                known: "quick, paper".into(),
            }
            .into()),
        }
    }

    /// Sets the refiners' settings.
    pub fn with_refiner(mut self, refiner: RefinerConfig) -> Self {
        self.model.refiner = refiner;
        self
    }
    /// Sets the seeds.
    pub fn with_seeds(mut self, seeds: impl Into<Vec<u64>>) -> Self {
        self.seeds = seeds.into();
        self
    }
    /// Sets the datasets.
    pub fn with_datasets<S: Into<String>>(mut self, datasets: impl IntoIterator<Item = S>) -> Self {
        self.datasets = datasets.into_iter().map(Into::into).collect();
        self
    }
    /// Sets the tokeniser, AR and refiner step counts (the continuous side keeps its own,
    /// [`ContinuousConfig`]).
    pub fn with_steps(mut self, tokeniser: usize, ar: usize, refiner: usize) -> Self {
        self.tokeniser = self.tokeniser.with_steps(tokeniser);
        self.ar = self.ar.with_steps(ar);
        self.refiner_steps = refiner;
        self
    }
    /// Sets (or, with `None`, drops) the continuous side of the comparison.
    pub fn with_continuous(mut self, continuous: Option<ContinuousConfig>) -> Self {
        self.continuous = continuous;
        self
    }
    /// Sets the device.
    pub fn with_device(mut self, device: DeviceChoice) -> Self {
        self.device = device;
        self
    }

    /// Checks: seeds and datasets given, positive counts, rollouts of at least one frame,
    /// and every trainer's settings.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.seeds.is_empty() {
            return Err(ConfigError::Empty { name: "seeds" });
        }
        if self.datasets.is_empty() {
            return Err(ConfigError::Empty { name: "datasets" });
        }
        for (name, v) in [
            ("refiner_batch", self.refiner_batch),
            ("refiner_draws", self.refiner_draws),
            ("rollout_steps", self.rollout_steps),
            ("next_frame_windows", self.next_frame_windows),
            ("rollout_windows", self.rollout_windows),
        ] {
            if v == 0 {
                return Err(ConfigError::NotPositive { name, value: 0.0 });
            }
        }
        self.tokeniser.check()?;
        self.ar.check()?;
        if let Some(c) = &self.continuous {
            c.check()?;
        }
        self.model.refiner.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physix::DatasetChannels;

    #[test]
    fn presets_check_and_bad_settings_are_typed_errors() {
        for cfg in [PhysixStudyConfig::quick(), PhysixStudyConfig::paper()] {
            assert_eq!(cfg.check(), Ok(()));
            // with datasets filled in, as `run` does, the model checks too
            let mut model = cfg.model.clone();
            model.tokeniser.datasets = vec![
                DatasetChannels::new("a", ["u", "v"]),
                DatasetChannels::new("b", ["p"]),
            ];
            assert_eq!(model.check(), Ok(()));
        }
        assert_eq!(PhysixStudyConfig::paper().model.ar.vocab_size, 64_000);
        assert!(matches!(
            PhysixStudyConfig::quick()
                .with_seeds(Vec::<u64>::new())
                .check(),
            Err(ConfigError::Empty { name: "seeds" })
        ));
        let mut cfg = PhysixStudyConfig::quick();
        cfg.rollout_windows = 0;
        assert!(matches!(
            cfg.check(),
            Err(ConfigError::NotPositive {
                name: "rollout_windows",
                ..
            })
        ));
        assert!(PhysixStudyConfig::preset("huge").is_err());
    }
}
