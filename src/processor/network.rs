//! The [`Processor`]: latent projection in, processor blocks, projection back.

use std::fmt;
use std::sync::Mutex;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::nn::{Component, Linear, LinearConfig, Mode, ParamTable, seeded_var_builder};
use crate::processor::{ProcessorBlock, ProcessorConfig};
use crate::{Error, Result};

/// Stream offset of the drop-path generator, so that masks never reuse the weights' draws.
const DROP_PATH_STREAM: u64 = 0x9E37_79B9_7F4A_7C15;

/// The Walrus-style processor with its latent projections.
///
/// ```text
/// latents (b, c, t, h, w) ─in_proj─▶ tokens (b, t, h·w, dim) ─blocks─▶ ─out_proj─▶ (b, c, t, h, w)
/// ```
///
/// Weights live in a [`VarMap`] under `in_proj.*`, `blocks.{i}.spatial.*`,
/// `blocks.{i}.temporal.*` and `out_proj.*` (under `processor.` inside a
/// [`RolloutModel`](crate::model::RolloutModel)). The processor is causal in time: output frame `t` depends only on input
/// frames `0..=t`.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::nn::Mode;
/// use phystok::processor::ProcessorConfig;
///
/// let processor = ProcessorConfig::tiny().init(&Device::Cpu)?;
/// let latents = Tensor::zeros((1, 18, 3, 2, 2), candle_core::DType::F32, &Device::Cpu)?;
/// let next = processor.forward(&latents, Mode::Eval)?;
/// assert_eq!(next.dims(), &[1, 18, 3, 2, 2]);
/// println!("{}", processor.param_table());
/// # Ok::<(), phystok::Error>(())
/// ```
pub struct Processor {
    config: ProcessorConfig,
    in_proj: Linear,
    blocks: Vec<ProcessorBlock>,
    out_proj: Linear,
    varmap: VarMap,
    prefix: String,
    rng: Mutex<ChaCha8Rng>,
}

impl Clone for Processor {
    /// A handle on the same weights (training either trains both), with its own copy of the
    /// drop-path generator's position.
    fn clone(&self) -> Self {
        Processor {
            config: self.config.clone(),
            in_proj: self.in_proj.clone(),
            blocks: self.blocks.clone(),
            out_proj: self.out_proj.clone(),
            varmap: self.varmap.clone(),
            prefix: self.prefix.clone(),
            rng: Mutex::new(self.rng.lock().unwrap_or_else(|e| e.into_inner()).clone()),
        }
    }
}

impl fmt::Debug for Processor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processor")
            .field("config", &self.config)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl ProcessorConfig {
    /// Checks the configuration and builds a processor with its own weights on `device`,
    /// drawn from `self.seed`.
    pub fn init(&self, device: &Device) -> Result<Processor> {
        let varmap = VarMap::new();
        Processor::build(
            self,
            &varmap,
            seeded_var_builder(&varmap, self.seed, device),
        )
    }
}

impl Processor {
    /// Checks `config` and creates the processor's parameters under `vb`, whose variables
    /// live in `varmap` (a larger model passes its map and `vb.pp("processor")`).
    pub(crate) fn build(config: &ProcessorConfig, varmap: &VarMap, vb: VarBuilder) -> Result<Self> {
        config.check()?;
        let (c, d) = (config.latent_channels, config.dim);
        let in_proj = LinearConfig::new(c, d).build(vb.pp("in_proj"))?;
        let blocks = (0..config.n_blocks)
            .map(|i| {
                ProcessorBlock::new(
                    config,
                    config.drop_path_rate(i),
                    vb.pp(format!("blocks.{i}")),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let out_proj = LinearConfig::new(d, c).build(vb.pp("out_proj"))?;
        Ok(Self {
            config: config.clone(),
            in_proj,
            blocks,
            out_proj,
            varmap: varmap.clone(),
            prefix: vb.prefix(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed ^ DROP_PATH_STREAM)),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ProcessorConfig {
        &self.config
    }

    /// The variable map holding its weights (shared with the caller's map).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The blocks, in order.
    pub fn blocks(&self) -> &[ProcessorBlock] {
        &self.blocks
    }

    /// Restarts the drop-path generator from `seed` (a trainer can call it with
    /// `seed + step` so that a resumed run draws the same masks as an uninterrupted one).
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) =
            ChaCha8Rng::seed_from_u64(seed ^ DROP_PATH_STREAM);
    }

    /// Projects latents to tokens.
    ///
    /// # Shapes
    /// `(batch, latent_channels, time, height, width) → (batch, time, height·width, dim)`.
    pub fn project_in(&self, latents: &Tensor) -> Result<Tensor> {
        let (b, c, t, h, w) = latents.dims5()?;
        if c != self.config.latent_channels {
            return Err(Error::Shape {
                what: "processor input channels".into(),
                left: latents.dims().to_vec(),
                right: vec![b, self.config.latent_channels, t, h, w],
            });
        }
        let tokens = latents
            .permute((0, 2, 3, 4, 1))?
            .reshape((b, t, h * w, c))?;
        self.in_proj.forward(&tokens)
    }

    /// Projects tokens back to latents.
    ///
    /// # Shapes
    /// `(batch, time, height·width, dim) → (batch, latent_channels, time, height, width)`.
    pub fn project_out(&self, tokens: &Tensor, height: usize, width: usize) -> Result<Tensor> {
        let (b, t, n, _) = tokens.dims4()?;
        if n != height * width {
            return Err(Error::Shape {
                what: "processor tokens vs grid".into(),
                left: vec![n],
                right: vec![height, width],
            });
        }
        let c = self.config.latent_channels;
        Ok(self
            .out_proj
            .forward(tokens)?
            .reshape((b, t, height, width, c))?
            .permute((0, 4, 1, 2, 3))?
            .contiguous()?)
    }

    /// Runs the blocks on tokens of a `height × width` grid.
    ///
    /// # Shapes
    /// `(batch, time, height·width, dim) → (batch, time, height·width, dim)`.
    pub fn forward_tokens(
        &self,
        tokens: &Tensor,
        height: usize,
        width: usize,
        mode: Mode,
    ) -> Result<Tensor> {
        let Some(first) = self.blocks.first() else {
            return Ok(tokens.clone());
        };
        let tables = first
            .spatial()
            .rope()
            .tables(&[height, width], tokens.device())?;
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let mut xs = tokens.clone();
        for block in &self.blocks {
            xs = block.forward(&xs, &tables, mode, &mut rng)?;
        }
        Ok(xs)
    }

    /// Projection in, all blocks, projection out.
    ///
    /// # Shapes
    /// `(batch, latent_channels, time, height, width) → (batch, latent_channels, time, height, width)`.
    pub fn forward(&self, latents: &Tensor, mode: Mode) -> Result<Tensor> {
        let (_, _, _, h, w) = latents.dims5()?;
        let tokens = self.forward_tokens(&self.project_in(latents)?, h, w, mode)?;
        self.project_out(&tokens, h, w)
    }

    /// Its components in data-flow order: `in_proj`, each block's `spatial` and
    /// `temporal`, `out_proj` (under its prefix).
    pub(crate) fn components(&self) -> Vec<Component> {
        let c = &self.config;
        let mut out = vec![Component::new(
            "in_proj",
            format!("linear {} → {}", c.latent_channels, c.dim),
        )];
        for i in 0..self.blocks.len() {
            out.push(Component::new(
                format!("blocks.{i}.spatial"),
                format!(
                    "spatial attention, {} heads, SwiGLU {}",
                    c.n_heads, c.mlp_dim
                ),
            ));
            out.push(Component::new(
                format!("blocks.{i}.temporal"),
                "causal temporal attention",
            ));
        }
        out.push(Component::new(
            "out_proj",
            format!("linear {} → {}", c.dim, c.latent_channels),
        ));
        out.into_iter().map(|x| x.under(&self.prefix)).collect()
    }

    /// Parameter counts per component, read from the variable map.
    pub fn param_table(&self) -> ParamTable {
        let c = &self.config;
        let title = format!(
            "Processor (dim {}, {} blocks, {} heads, MLP {})",
            c.dim, c.n_blocks, c.n_heads, c.mlp_dim
        );
        ParamTable::new(title, &self.varmap, self.components()).within(&self.prefix)
    }

    /// Shows the parameter table in evcxr.
    pub fn evcxr_display(&self) {
        self.param_table().evcxr_display()
    }
}

impl fmt::Display for Processor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.param_table())
    }
}
