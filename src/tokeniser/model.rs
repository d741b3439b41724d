//! The [`Tokeniser`]: encoder, decoder, and the compression they run at.

use std::sync::Mutex;

use candle_core::{Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::compression::Compression;
use super::config::TokeniserConfig;
use super::decoder::Decoder;
use super::encoder::Encoder;
use crate::nn::{Component, ParamTable, check_active_fields, seeded_var_builder};
use crate::{ConfigError, Error, Result};

/// The MAGVIT-Simple causal-convolution autoencoder with runtime-adjustable compression.
///
/// Fields `(batch, fields, T, H, W)` with `T = 1 + 2^n` and `H`, `W` powers of two are encoded
/// to latents `(batch, latent_channels, (T − 1)/S_t + 1, H/S_s, W/S_s)`, where `S_t`, `S_s`
/// are the products of the per-depth factors of the [`Compression`] chosen for the call. Any
/// subset of the `total_fields` fields can be active (indices into `0..total_fields`).
///
/// # How latent frames line up with pixel frames
/// Every layer is causal and a downsampling layer with factor `s_t` maps frame `j` to frame
/// `s_t·j`, so latent frame `j` is aligned with pixel frame `S_t·j` and depends on pixel
/// frames `≤ S_t·j` only. The decoder gives latent frame 0 pixel frame 0 alone, and latent
/// frame `j ≥ 1` the pixel frames `S_t·(j − 1) + 1 ..= S_t·j`, using latent frames `≤ j`.
/// For temporal compression 2 and 9 frames: 5 latent frames aligned with pixel frames
/// 0, 2, 4, 6, 8; latent 0 ↔ frame 0, latent `j` ↔ frames `2j − 1, 2j`. So changing pixel
/// frame `t` changes no latent frame `j` with `S_t·j < t` and no reconstructed frame `f`
/// with `S_t·⌈f/S_t⌉ < t` (a reconstructed frame may depend on later frames of its own
/// group of `S_t`, never on a later group). The paper's validation setting has `S_t = 4`:
/// 9 frames → 3 latent frames aligned with pixel frames 0, 4, 8.
///
/// # Example
/// ```
/// use candle_core::{DType, Device, Tensor};
/// use phystok::tokeniser::{Compression, TokeniserConfig};
///
/// let tok = TokeniserConfig::tiny().init(&Device::Cpu)?;
/// let xs = Tensor::zeros((1, 2, 5, 16, 16), DType::F32, &Device::Cpu)?;
/// let fields = [0, 2]; // two of the tiny preset's three fields
/// let c = Compression::paper_validation(); // 4x time, 8x space
/// let zs = tok.encode(&xs, &fields, &c)?;
/// assert_eq!(zs.dims(), &[1, 4, 2, 2, 2]);
/// let ys = tok.decode(&zs, &fields, &c)?;
/// assert_eq!(ys.dims(), xs.dims());
/// println!("{}", tok.param_table());
/// # Ok::<(), phystok::Error>(())
/// ```
pub struct Tokeniser {
    config: TokeniserConfig,
    encoder: Encoder,
    decoder: Decoder,
    rng: Mutex<ChaCha8Rng>,
    varmap: VarMap,
    prefix: String,
}

impl Clone for Tokeniser {
    /// A handle on the same weights (candle tensors are reference-counted: training either
    /// trains both), with its own copy of the compression-draw generator's position.
    fn clone(&self) -> Self {
        Tokeniser {
            config: self.config.clone(),
            encoder: self.encoder.clone(),
            decoder: self.decoder.clone(),
            rng: Mutex::new(self.rng.lock().unwrap_or_else(|e| e.into_inner()).clone()),
            varmap: self.varmap.clone(),
            prefix: self.prefix.clone(),
        }
    }
}

impl std::fmt::Debug for Tokeniser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokeniser")
            .field("config", &self.config)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl TokeniserConfig {
    /// Checks the configuration and builds a tokeniser with its own weights (`encoder.*`,
    /// `decoder.*`) on `device`, drawn from `self.seed`.
    pub fn init(&self, device: &Device) -> Result<Tokeniser> {
        let varmap = VarMap::new();
        Tokeniser::build(
            self,
            &varmap,
            seeded_var_builder(&varmap, self.seed, device),
        )
    }
}

impl Tokeniser {
    /// Checks `config` and builds the tokeniser under `vb` (weights `encoder.*` and
    /// `decoder.*`), whose variables live in `varmap` (a larger model passes its map and
    /// `vb.pp("tokeniser")`).
    pub(crate) fn build(config: &TokeniserConfig, varmap: &VarMap, vb: VarBuilder) -> Result<Self> {
        config.check()?;
        let config = config.clone();
        let encoder = Encoder::new(&config, vb.pp("encoder"))?;
        let decoder = Decoder::new(&config, vb.pp("decoder"))?;
        // the compression draws get their own stream, independent of the weights
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(
            config.seed ^ 0x636f_6d70_7265_7373,
        ));
        Ok(Self {
            config,
            encoder,
            decoder,
            rng,
            varmap: varmap.clone(),
            prefix: vb.prefix(),
        })
    }

    /// Its path in the variable map (empty when it has a map of its own).
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The variable map holding its weights (a rollout model's whole map when it is part of
    /// one).
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// The settings.
    pub fn config(&self) -> &TokeniserConfig {
        &self.config
    }

    /// Restarts the compression-draw generator from `seed` (a trainer calls it before each
    /// step so that a resumed run draws the same compressions as an uninterrupted one).
    pub fn reseed(&self, seed: u64) {
        *self.rng.lock().unwrap_or_else(|e| e.into_inner()) =
            ChaCha8Rng::seed_from_u64(seed ^ 0x636f_6d70_7265_7373);
    }

    /// One training compression: a factor per depth drawn uniformly from the configured sets
    /// by the tokeniser's seeded generator (a new draw at every call).
    pub fn sample_compression(&self) -> Compression {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        Compression {
            factors: self
                .config
                .depths
                .iter()
                .map(|d| d.sample(&mut *rng))
                .collect(),
        }
    }

    /// The validation compression of the config.
    pub fn validation_compression(&self) -> Compression {
        self.config.validation.clone()
    }

    /// The latent shape for an input shape `(batch, fields, T, H, W)`, after checking the input
    /// fits the tokeniser, the active fields and the compression.
    pub fn latent_shape(
        &self,
        input: &[usize],
        active: &[usize],
        compression: &Compression,
    ) -> Result<[usize; 5]> {
        compression.check(&self.config.depths)?;
        check_active_fields(active, self.config.total_fields)?;
        let &[b, c, t, h, w] = input else {
            return Err(Error::Shape {
                what: "tokeniser input (batch, fields, time, height, width)".into(),
                left: input.to_vec(),
                right: vec![0; 5],
            });
        };
        if c != active.len() {
            return Err(Error::Shape {
                what: format!("input channels vs {} active fields", active.len()),
                left: input.to_vec(),
                right: active.to_vec(),
            });
        }
        if t < 2 || !(t - 1).is_power_of_two() {
            return Err(ConfigError::NotOnePlusPowerOfTwo {
                name: "input frames",
                value: t,
            }
            .into());
        }
        if (t - 1) % compression.time() != 0 {
            return Err(ConfigError::Mismatch {
                name: "input frames",
                value: t.to_string(),
                other: format!(
                    "temporal compression {} (T − 1 must be a multiple)",
                    compression.time()
                ),
            }
            .into());
        }
        for (name, n) in [("input height", h), ("input width", w)] {
            if !n.is_power_of_two() {
                return Err(ConfigError::NotPowerOfTwo { name, value: n }.into());
            }
            if n < compression.space() {
                return Err(ConfigError::Mismatch {
                    name,
                    value: n.to_string(),
                    other: format!("spatial compression {}", compression.space()),
                }
                .into());
            }
        }
        Ok([
            b,
            self.config.latent_channels,
            (t - 1) / compression.time() + 1,
            h / compression.space(),
            w / compression.space(),
        ])
    }

    /// Encodes the active fields.
    ///
    /// # Shapes
    /// `(batch, active.len(), T, H, W)` → `(batch, latent_channels, (T − 1)/S_t + 1, H/S_s, W/S_s)`.
    ///
    /// # Errors
    /// A typed error naming the setting when the shape, the fields or the compression do not
    /// fit (see [`Tokeniser::latent_shape`]).
    pub fn encode(
        &self,
        xs: &Tensor,
        active: &[usize],
        compression: &Compression,
    ) -> Result<Tensor> {
        let want = self.latent_shape(xs.dims(), active, compression)?;
        let zs = self.encoder.forward(xs, active, compression)?;
        debug_assert_eq!(zs.dims(), &want);
        Ok(zs)
    }

    /// Decodes latents to the active fields at the compression they were encoded with.
    ///
    /// # Shapes
    /// `(batch, latent_channels, T', H', W')` → `(batch, active.len(), S_t·(T' − 1) + 1, H'·S_s, W'·S_s)`.
    pub fn decode(
        &self,
        zs: &Tensor,
        active: &[usize],
        compression: &Compression,
    ) -> Result<Tensor> {
        compression.check(&self.config.depths)?;
        check_active_fields(active, self.config.total_fields)?;
        if zs.rank() != 5 || zs.dim(1)? != self.config.latent_channels {
            return Err(Error::Shape {
                what: format!(
                    "latents (batch, {} latent channels, time, height, width)",
                    self.config.latent_channels
                ),
                left: zs.dims().to_vec(),
                right: vec![self.config.latent_channels],
            });
        }
        self.decoder.forward(zs, active, compression)
    }

    /// Encodes and decodes: the reconstruction of `xs`, same shape.
    pub fn autoencode(
        &self,
        xs: &Tensor,
        active: &[usize],
        compression: &Compression,
    ) -> Result<Tensor> {
        let zs = self.encode(xs, active, compression)?;
        self.decode(&zs, active, compression)
    }

    /// A compression drawn as [`Tokeniser::sample_compression`] does, redrawn until it fits
    /// an input of shape `dims` (rejection keeps the per-depth draws uniform among the
    /// fitting choices; a 128×16 Rayleigh–Bénard window cannot take 32x in space).
    pub fn sample_compression_for(&self, dims: &[usize], active: &[usize]) -> Result<Compression> {
        for _ in 0..256 {
            let c = self.sample_compression();
            if self.latent_shape(dims, active, &c).is_ok() {
                return Ok(c);
            }
        }
        // no draw fitted: say why with the smallest compression's error
        let smallest = self
            .config
            .all_compressions()
            .into_iter()
            .min_by_key(|c| (c.space(), c.time()))
            .unwrap_or_else(|| self.validation_compression());
        self.latent_shape(dims, active, &smallest)?;
        Ok(smallest)
    }

    /// A training forward pass: draws a compression that fits `xs`
    /// ([`Tokeniser::sample_compression_for`]) and autoencodes with it.
    pub fn autoencode_training(
        &self,
        xs: &Tensor,
        active: &[usize],
    ) -> Result<(Tensor, Compression)> {
        let compression = self.sample_compression_for(xs.dims(), active)?;
        Ok((self.autoencode(xs, active, &compression)?, compression))
    }

    /// Parameter counts per component, in data-flow order (heads, levels, bottlenecks).
    pub fn param_table(&self) -> ParamTable {
        let c = &self.config;
        let title = format!(
            "Tokeniser ({} fields, channels {:?}, {} latent channels, {} residual blocks per level, validation {})",
            c.total_fields, c.channels, c.latent_channels, c.res_blocks, c.validation
        );
        ParamTable::new(title, &self.varmap, self.components()).within(&self.prefix)
    }

    /// Its components in data-flow order, under its prefix.
    pub(crate) fn components(&self) -> Vec<Component> {
        self.encoder
            .components()
            .into_iter()
            .chain(self.decoder.components())
            .map(|x| x.under(&self.prefix))
            .collect()
    }

    /// Shows the parameter table in evcxr.
    pub fn evcxr_display(&self) {
        self.param_table().evcxr_display();
    }
}

impl std::fmt::Display for Tokeniser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.param_table())
    }
}
