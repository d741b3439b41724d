//! PhysiX's refinement module (paper Section 2.3, Appendix C): a ConvNeXt U-Net per
//! dataset (The Well's `UNetConvNext`, [`UNetConvNext`]) that maps a decoded AR frame,
//! with the frames before it, to the ground truth, trained with MSE.
//!
//! The input is the `n_context` frames before the predicted one and the decoded AR frame,
//! stacked along channels (`channels · (n_context + 1)`; REFERENCE.md: PhysiX stacks 5 GT
//! context frames and AR frames), in the sample-normalised units the AR model works in. The
//! network predicts a correction added to the decoded frame (its ConvNeXt layer scale
//! starts at 1e-6, so an untrained refiner returns the AR frame almost unchanged).
//!
//! Weight names: `unet.*` (the U-Net's own).

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::nn::{Component, ParamTable, UNetConvNext, UNetConvNextConfig, seeded_var_builder};
use crate::{ConfigError, Error, Result};

/// Settings of a [`Refiner`]: the U-Net's sizes and the frames it sees.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefinerConfig {
    /// Frames before the predicted one in the input (PhysiX: 5).
    pub n_context: usize,
    /// U-Net channels after its input projection.
    pub init_features: usize,
    /// U-Net stages (each halves the grid).
    pub stages: usize,
    /// ConvNeXt blocks per stage.
    pub blocks_per_stage: usize,
    /// ConvNeXt blocks at the neck.
    pub blocks_at_neck: usize,
    /// Learning rate of [`Refiner::fit`] (paper Appendix C: 5e-3, cosine decay).
    pub lr: f64,
    /// Seed of the weights and of the batch order.
    pub seed: u64,
}

impl Default for RefinerConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl RefinerConfig {
    /// PhysiX's refinement (REFERENCE.md: `UNetConvNext` with 4 stages of 4 blocks, 64
    /// features; 5 context frames; lr 5e-3).
    pub fn paper() -> Self {
        Self {
            n_context: 5,
            init_features: 64,
            stages: 4,
            blocks_per_stage: 4,
            blocks_at_neck: 1,
            lr: 5e-3,
            seed: 0,
        }
    }

    /// A CPU size: 16 features, 2 stages of 1 block, 1 neck block, 2 context frames.
    pub fn small() -> Self {
        Self {
            n_context: 2,
            init_features: 16,
            stages: 2,
            blocks_per_stage: 1,
            ..Self::paper()
        }
    }

    /// For tests: 8 features, 1 stage of 1 block, 1 context frame.
    pub fn tiny() -> Self {
        Self {
            n_context: 1,
            init_features: 8,
            stages: 1,
            blocks_per_stage: 1,
            ..Self::paper()
        }
    }

    /// Sets the context frames.
    pub fn with_n_context(mut self, n: usize) -> Self {
        self.n_context = n;
        self
    }
    /// Sets the U-Net width.
    pub fn with_init_features(mut self, n: usize) -> Self {
        self.init_features = n;
        self
    }
    /// Sets the learning rate.
    pub fn with_lr(mut self, lr: f64) -> Self {
        self.lr = lr;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The U-Net for `channels` fields on an `[height, width]` grid.
    pub fn unet(&self, channels: usize, resolution: [usize; 2]) -> UNetConvNextConfig {
        UNetConvNextConfig::new(channels * (self.n_context + 1), channels, resolution)
            .with_init_features(self.init_features)
            .with_stages(self.stages)
            .with_blocks_per_stage(self.blocks_per_stage)
            .with_blocks_at_neck(self.blocks_at_neck)
    }

    /// Checks the context and learning rate (the U-Net's own rules are checked by
    /// [`RefinerConfig::init`]).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.n_context == 0 {
            return Err(ConfigError::NotPositive {
                name: "refiner n_context",
                value: 0.0,
            });
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(ConfigError::NotPositive {
                name: "refiner lr",
                value: self.lr,
            });
        }
        Ok(())
    }

    /// Checks and builds a refiner for dataset `name` with `channels` fields on an
    /// `[height, width]` grid, with its own weights.
    pub fn init(
        &self,
        name: impl Into<String>,
        channels: usize,
        resolution: [usize; 2],
        device: &Device,
    ) -> Result<Refiner> {
        self.check()?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, self.seed, device);
        let unet = self.unet(channels, resolution).build(vb.pp("unet"))?;
        Ok(Refiner {
            config: self.clone(),
            dataset: name.into(),
            channels,
            unet,
            varmap,
        })
    }
}

/// One dataset's refinement network.
#[derive(Clone)]
pub struct Refiner {
    config: RefinerConfig,
    dataset: String,
    channels: usize,
    unet: UNetConvNext,
    varmap: VarMap,
}

impl std::fmt::Debug for Refiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refiner")
            .field("dataset", &self.dataset)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Refiner {
    /// The settings.
    pub fn config(&self) -> &RefinerConfig {
        &self.config
    }
    /// The dataset it refines.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }
    /// The weights.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The refined frame.
    ///
    /// # Shapes
    /// `context (batch, channels, ≥ n_context, H, W)` (its last `n_context` frames are
    /// used), `coarse (batch, channels, 1, H, W)` → `(batch, channels, 1, H, W)`.
    pub fn forward(&self, context: &Tensor, coarse: &Tensor) -> Result<Tensor> {
        let n = self.config.n_context;
        let (b, c, t, h, w) = context.dims5()?;
        if c != self.channels || t < n || coarse.dims() != [b, c, 1, h, w] {
            return Err(Error::Shape {
                what: format!(
                    "refiner input: context (batch, {}, ≥ {n}, H, W) and coarse (batch, {}, 1, H, W)",
                    self.channels, self.channels
                ),
                left: context.dims().to_vec(),
                right: coarse.dims().to_vec(),
            });
        }
        let xs = Tensor::cat(&[&context.narrow(2, t - n, n)?, coarse], 2)?;
        let xs = xs.reshape((b, c * (n + 1), h, w))?;
        let correction = self.unet.forward(&xs)?.reshape((b, c, 1, h, w))?;
        Ok((coarse + correction)?)
    }

    /// MSE of the refined frames of `pairs` against their targets.
    pub fn loss(&self, pairs: &RefinementPairs) -> Result<Tensor> {
        let ys = self.forward(&pairs.context, &pairs.coarse)?;
        Ok((ys - &pairs.target)?.sqr()?.mean_all()?)
    }

    /// Trains on `pairs` for `steps` AdamW steps of `batch_size` pairs (lr from the
    /// config with cosine decay, clipped at norm 10 as PhysiX), and returns the loss of
    /// every step.
    pub fn fit(
        &self,
        pairs: &RefinementPairs,
        steps: usize,
        batch_size: usize,
    ) -> Result<Vec<f64>> {
        use crate::optim::{AdamWConfig, GradClip, Optimiser, ScheduleConfig, sorted_vars};
        use rand::SeedableRng;
        use rand::seq::SliceRandom;
        let n = pairs.len();
        if n == 0 || batch_size == 0 {
            return Err(Error::Empty {
                what: "refinement pairs or batch".into(),
            });
        }
        let names: Vec<String> = sorted_vars(&self.varmap)?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        let mut opt = AdamWConfig::torch_defaults()
            .with_lr(self.config.lr)
            .with_clip(GradClip::GlobalNorm(10.0))
            .build(&self.varmap, names)?;
        let schedule = ScheduleConfig::cosine(self.config.lr, 0, steps.max(1)).build()?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.config.seed ^ 0x7265_6669_6e65);
        let mut order: Vec<usize> = Vec::new();
        let mut losses = Vec::with_capacity(steps);
        for step in 0..steps {
            if order.len() < batch_size {
                let mut pass: Vec<usize> = (0..n).collect();
                pass.shuffle(&mut rng);
                order.extend(pass);
            }
            let batch: Vec<usize> = order.drain(..batch_size.min(n)).collect();
            let loss = self.loss(&pairs.select(&batch)?)?;
            let value = loss.to_scalar::<f32>()? as f64;
            if !value.is_finite() {
                return Err(Error::Divergence {
                    step: step + 1,
                    value: value as f32,
                    tensor: "refinement loss".into(),
                });
            }
            opt.set_lr(schedule.lr(step));
            opt.backward_step(&loss)?;
            losses.push(value);
        }
        Ok(losses)
    }

    /// Parameter counts.
    pub fn param_table(&self) -> ParamTable {
        let title = format!(
            "PhysiX refiner `{}` (ConvNeXt U-Net, {} features, {} stages)",
            self.dataset, self.config.init_features, self.config.stages
        );
        ParamTable::new(
            title,
            &self.varmap,
            vec![Component::new("unet", "ConvNeXt U-Net")],
        )
    }
}

/// Refinement training pairs: the frames before a predicted frame, the decoded AR frame,
/// and the truth, all in the same sample-normalised units.
#[derive(Debug, Clone)]
pub struct RefinementPairs {
    /// `(pairs, channels, n_context, H, W)`: the true frames before each target.
    pub context: Tensor,
    /// `(pairs, channels, 1, H, W)`: the decoded AR frame.
    pub coarse: Tensor,
    /// `(pairs, channels, 1, H, W)`: the true frame.
    pub target: Tensor,
}

impl RefinementPairs {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.target.dim(0).unwrap_or(0)
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The pairs at `indices`.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
        let idx = Tensor::from_vec(idx, indices.len(), self.target.device())?;
        Ok(RefinementPairs {
            context: self.context.index_select(&idx, 0)?,
            coarse: self.coarse.index_select(&idx, 0)?,
            target: self.target.index_select(&idx, 0)?,
        })
    }
    /// All pairs of several sets, in order.
    pub fn concat(sets: &[RefinementPairs]) -> Result<Self> {
        if sets.is_empty() {
            return Err(Error::Empty {
                what: "refinement pair sets".into(),
            });
        }
        let cat = |f: fn(&RefinementPairs) -> &Tensor| -> Result<Tensor> {
            Ok(Tensor::cat(&sets.iter().map(f).collect::<Vec<_>>(), 0)?)
        };
        Ok(RefinementPairs {
            context: cat(|p| &p.context)?,
            coarse: cat(|p| &p.coarse)?,
            target: cat(|p| &p.target)?,
        })
    }
    /// MSE of the unrefined (coarse) frames against the targets.
    pub fn coarse_mse(&self) -> Result<f64> {
        Ok((&self.coarse - &self.target)?
            .sqr()?
            .mean_all()?
            .to_scalar::<f32>()? as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Coarse frames with a blocky, quantisation-like error the refiner can learn to undo.
    fn pairs(n: usize, seed: u64) -> Result<RefinementPairs> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (c, h, w) = (2, 8, 8);
        let mut ctx = Vec::new();
        let mut coarse = Vec::new();
        let mut target = Vec::new();
        for _ in 0..n {
            let (a, b, p): (f32, f32, f32) = (rng.random(), rng.random(), rng.random());
            for ch in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        let phase = p * std::f32::consts::TAU + ch as f32;
                        let v = (a * 2.0 + 0.5)
                            * ((x as f32 * 0.7 + phase).sin() + b * (y as f32 * 0.5).cos());
                        ctx.push(v * 0.9);
                        target.push(v);
                        // the AR frame: the truth rounded to a coarse grid, on 2x2 blocks
                        let (bx, by) = (x - x % 2, y - y % 2);
                        let vb = (a * 2.0 + 0.5)
                            * ((bx as f32 * 0.7 + phase).sin() + b * (by as f32 * 0.5).cos());
                        coarse.push((vb * 2.0).round() / 2.0);
                    }
                }
            }
        }
        let dev = Device::Cpu;
        Ok(RefinementPairs {
            context: Tensor::from_vec(ctx, (n, c, 1, h, w), &dev)?,
            coarse: Tensor::from_vec(coarse, (n, c, 1, h, w), &dev)?,
            target: Tensor::from_vec(target, (n, c, 1, h, w), &dev)?,
        })
    }

    #[test]
    fn training_lowers_held_out_mse_below_the_unrefined_input() -> Result<()> {
        let train = pairs(48, 1)?;
        let held_out = pairs(16, 2)?;
        let refiner = RefinerConfig::tiny()
            .with_lr(3e-3)
            .init("toy", 2, [8, 8], &Device::Cpu)?;
        let unrefined = held_out.coarse_mse()?;
        refiner.fit(&train, 150, 8)?;
        let after = refiner.loss(&held_out)?.to_scalar::<f32>()? as f64;
        assert!(
            after < 0.7 * unrefined,
            "held-out MSE {after} vs unrefined {unrefined}"
        );
        Ok(())
    }

    #[test]
    fn gradients_reach_every_parameter_and_bad_shapes_are_errors() -> Result<()> {
        let refiner = RefinerConfig::tiny().init("toy", 2, [8, 8], &Device::Cpu)?;
        let p = pairs(2, 3)?;
        let grads = refiner.loss(&p)?.backward()?;
        for (name, var) in crate::optim::sorted_vars(refiner.varmap())? {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            let n = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            assert!(n > 0.0 && n.is_finite(), "{name}: {n}");
        }
        let wrong = Tensor::zeros((2, 3, 1, 8, 8), candle_core::DType::F32, &Device::Cpu)?;
        assert!(matches!(
            refiner.forward(&wrong, &p.coarse),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            RefinerConfig::tiny().with_n_context(0).check(),
            Err(ConfigError::NotPositive { .. })
        ));
        Ok(())
    }
}
