//! [`PhysixTokeniser`]: PhysiX's universal discrete tokeniser (paper Section 2.1).
//!
//! One shared causal-convolution encoder (the crate's [`tokeniser`](crate::tokeniser)
//! blocks at a fixed compression) reads the union of every dataset's channels; a channel a
//! dataset lacks is replaced by a learned 2-D tensor of its own (`missing`, one
//! `(height, width)` slice per union channel, resampled bilinearly to the input's grid and
//! repeated over batch and time). The encoder's latents go through an [`Fsq`] bottleneck;
//! one decoder per dataset, selected by name, maps the codes back to that dataset's
//! channels.
//!
//! Weight names: `encoder.*`, `missing`, `decoders.{dataset}.*`.

use candle_core::{Device, Tensor};
use candle_nn::init::Init;
use candle_nn::{VarBuilder, VarMap};

use super::fsq::{CodebookUsage, Fsq};
use super::tokeniser_config::PhysixTokeniserConfig;
use crate::data::FieldVocabulary;
use crate::nn::{Component, ParamTable, SamplePositions, interpolation_matrix, seeded_var_builder};
use crate::tokeniser::{Decoder, Encoder};
use crate::{ConfigError, Error, Result};

/// The universal discrete tokeniser: shared encoder, FSQ, a decoder per dataset.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::physix::{DatasetChannels, PhysixTokeniserConfig};
///
/// let tok = PhysixTokeniserConfig::tiny()
///     .with_datasets([
///         DatasetChannels::new("a", ["u", "v"]),
///         DatasetChannels::new("b", ["u", "p"]),
///     ])
///     .init(&Device::Cpu)?;
/// let xs = Tensor::randn(0f32, 1.0, (1, 2, 5, 16, 16), &Device::Cpu)?;
/// let tokens = tok.tokenise(&xs, "b")?; // `v` is missing: its learned tensor stands in
/// assert_eq!(tokens.dims(), &[1, 2, 2, 2]); // (batch, T', H/8, W/8)
/// let ys = tok.detokenise(&tokens, "b")?;
/// assert_eq!(ys.dims(), xs.dims());
/// assert!(tok.tokenise(&xs, "c").is_err()); // no decoder for `c`
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Clone)]
pub struct PhysixTokeniser {
    config: PhysixTokeniserConfig,
    vocabulary: FieldVocabulary,
    encoder: Encoder,
    decoders: Vec<Decoder>,
    missing: Tensor,
    fsq: Fsq,
    varmap: VarMap,
}

impl std::fmt::Debug for PhysixTokeniser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhysixTokeniser")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl PhysixTokeniserConfig {
    /// Checks the settings and builds the tokeniser with its own weights, drawn from
    /// `self.seed`.
    pub fn init(&self, device: &Device) -> Result<PhysixTokeniser> {
        self.check()?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, self.seed, device);
        PhysixTokeniser::build(self, &varmap, vb)
    }
}

impl PhysixTokeniser {
    fn build(config: &PhysixTokeniserConfig, varmap: &VarMap, vb: VarBuilder) -> Result<Self> {
        let vocabulary = config.vocabulary();
        let encoder = Encoder::new(&config.block_config(vocabulary.len()), vb.pp("encoder"))?;
        let decoders = config
            .datasets
            .iter()
            .map(|d| {
                Decoder::new(
                    &config.block_config(d.channels.len()),
                    vb.pp("decoders").pp(&d.name),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let (h, w) = config.missing_grid;
        let missing = vb.get_with_hints(
            (vocabulary.len(), h, w),
            "missing",
            Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
        )?;
        Ok(Self {
            config: config.clone(),
            vocabulary,
            encoder,
            decoders,
            missing,
            fsq: config.fsq.build()?,
            varmap: varmap.clone(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &PhysixTokeniserConfig {
        &self.config
    }
    /// The weights.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
    /// The quantiser.
    pub fn fsq(&self) -> &Fsq {
        &self.fsq
    }
    /// The union of channels the encoder reads.
    pub fn vocabulary(&self) -> &FieldVocabulary {
        &self.vocabulary
    }
    /// The learned missing-channel tensors `(union channels, height, width)`.
    pub fn missing(&self) -> &Tensor {
        &self.missing
    }

    /// The index of dataset `name`; an unknown name is [`ConfigError::Unknown`] listing the
    /// known ones.
    pub fn dataset_index(&self, name: &str) -> Result<usize> {
        self.config
            .datasets
            .iter()
            .position(|d| d.name == name)
            .ok_or_else(|| {
                ConfigError::Unknown {
                    kind: "dataset",
                    name: name.to_string(),
                    known: self
                        .config
                        .datasets
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .into()
            })
    }

    /// The dataset whose channels, mapped into the union, are `channels` (the
    /// [`ActiveFields`](crate::data::ActiveFields) of a batch), if one is.
    pub fn dataset_of_channels(&self, channels: &[usize]) -> Result<&str> {
        self.config
            .datasets
            .iter()
            .find(|d| {
                d.channels.len() == channels.len()
                    && d.channels
                        .iter()
                        .zip(channels)
                        .all(|(n, &c)| self.vocabulary.index(n) == Some(c))
            })
            .map(|d| d.name.as_str())
            .ok_or_else(|| Error::Mismatch {
                what: "no tokeniser dataset has these union channels".into(),
                left: format!("{channels:?}"),
                right: self.vocabulary.names().join(", "),
            })
    }

    /// The latent grid `(T', H', W')` of an input of `T` frames on an `H x W` grid, after
    /// checking it fits: `T − 1` a multiple of the temporal compression, `H` and `W`
    /// multiples of the spatial compression.
    pub fn latent_grid(&self, t: usize, h: usize, w: usize) -> Result<(usize, usize, usize)> {
        let (st, ss) = (
            self.config.time_compression(),
            self.config.space_compression(),
        );
        if t == 0 || !(t - 1).is_multiple_of(st) {
            return Err(ConfigError::Mismatch {
                name: "input frames",
                value: t.to_string(),
                other: format!("temporal compression {st} (T − 1 must be a multiple)"),
            }
            .into());
        }
        for (name, n) in [("input height", h), ("input width", w)] {
            if n == 0 || !n.is_multiple_of(ss) {
                return Err(ConfigError::Mismatch {
                    name,
                    value: n.to_string(),
                    other: format!("spatial compression {ss} (must be a multiple)"),
                }
                .into());
            }
        }
        Ok(((t - 1) / st + 1, h / ss, w / ss))
    }

    /// The missing tensor of union channel `k` on an `h x w` grid.
    fn missing_on(&self, k: usize, h: usize, w: usize) -> Result<Tensor> {
        let m = self.missing.get(k)?;
        let (h0, w0) = self.config.missing_grid;
        if (h, w) == (h0, w0) {
            return Ok(m);
        }
        let dev = m.device();
        let ah = Tensor::from_vec(
            interpolation_matrix(h, h0, SamplePositions::CellCentres),
            (h, h0),
            dev,
        )?;
        let aw = Tensor::from_vec(
            interpolation_matrix(w, w0, SamplePositions::CellCentres),
            (w, w0),
            dev,
        )?;
        Ok(ah.matmul(&m)?.matmul(&aw.t()?)?)
    }

    /// The encoder's input: dataset `name`'s channels placed in the union, every missing
    /// channel filled by its learned tensor.
    ///
    /// # Shapes
    /// `(batch, dataset channels, T, H, W)` → `(batch, union channels, T, H, W)`.
    pub fn union_input(&self, xs: &Tensor, name: &str) -> Result<Tensor> {
        let d = &self.config.datasets[self.dataset_index(name)?];
        let (b, c, t, h, w) = xs.dims5().map_err(|_| Error::Shape {
            what: "tokeniser input (batch, channels, time, height, width)".into(),
            left: xs.dims().to_vec(),
            right: vec![0; 5],
        })?;
        if c != d.channels.len() {
            return Err(Error::Shape {
                what: format!(
                    "input channels vs dataset `{name}`'s {} channels",
                    d.channels.len()
                ),
                left: xs.dims().to_vec(),
                right: vec![d.channels.len()],
            });
        }
        let mut parts = Vec::with_capacity(self.vocabulary.len());
        for (k, union_name) in self.vocabulary.names().iter().enumerate() {
            match d.channels.iter().position(|n| n == union_name) {
                Some(i) => parts.push(xs.narrow(1, i, 1)?),
                None => parts.push(
                    self.missing_on(k, h, w)?
                        .reshape((1, 1, 1, h, w))?
                        .broadcast_as((b, 1, t, h, w))?,
                ),
            }
        }
        Ok(Tensor::cat(&parts, 1)?)
    }

    /// Encodes and quantises: FSQ codes (straight-through, so training flows through them).
    ///
    /// # Shapes
    /// `(batch, dataset channels, T, H, W)` → `(batch, d, T', H/S, W/S)`, `d` the FSQ
    /// channels.
    pub fn encode(&self, xs: &Tensor, name: &str) -> Result<Tensor> {
        let (_, _, t, h, w) = xs.dims5()?;
        self.latent_grid(t, h, w)?;
        let union = self.union_input(xs, name)?;
        let all: Vec<usize> = (0..self.vocabulary.len()).collect();
        let zs = self
            .encoder
            .forward(&union, &all, &self.config.compression())?;
        self.fsq.quantise(&zs, 1)
    }

    /// Decodes codes with dataset `name`'s decoder.
    ///
    /// # Shapes
    /// `(batch, d, T', H', W')` → `(batch, dataset channels, S_t·(T' − 1) + 1, H'·S, W'·S)`.
    pub fn decode(&self, codes: &Tensor, name: &str) -> Result<Tensor> {
        let i = self.dataset_index(name)?;
        if codes.rank() != 5 || codes.dim(1)? != self.fsq.dim() {
            return Err(Error::Shape {
                what: format!("codes (batch, {} fsq channels, T', H', W')", self.fsq.dim()),
                left: codes.dims().to_vec(),
                right: vec![self.fsq.dim()],
            });
        }
        let n = self.config.datasets[i].channels.len();
        let active: Vec<usize> = (0..n).collect();
        self.decoders[i].forward(codes, &active, &self.config.compression())
    }

    /// Encodes, quantises and decodes: the reconstruction, same shape as `xs`.
    pub fn autoencode(&self, xs: &Tensor, name: &str) -> Result<Tensor> {
        self.decode(&self.encode(xs, name)?, name)
    }

    /// The token indices of `xs`.
    ///
    /// # Shapes
    /// `(batch, dataset channels, T, H, W)` → `u32 (batch, T', H', W')`.
    pub fn tokenise(&self, xs: &Tensor, name: &str) -> Result<Tensor> {
        let codes = self.encode(&xs.detach(), name)?.detach();
        self.fsq.codes_to_indices(&codes, 1)
    }

    /// Decodes token indices.
    ///
    /// # Shapes
    /// `u32 (batch, T', H', W')` → `(batch, dataset channels, T, H, W)`.
    pub fn detokenise(&self, tokens: &Tensor, name: &str) -> Result<Tensor> {
        let codes = self.fsq.indices_to_codes(tokens, 1)?;
        self.decode(&codes, name)
    }

    /// Codebook usage of the tokens of `xs`.
    pub fn usage(&self, xs: &Tensor, name: &str) -> Result<CodebookUsage> {
        self.fsq.usage(&self.tokenise(xs, name)?)
    }

    /// Parameter counts: encoder, missing tensors, one decoder per dataset.
    pub fn param_table(&self) -> ParamTable {
        let mut components = vec![
            Component::new("missing", "learned 2-D tensor per union channel"),
            Component::new("encoder", "shared causal-conv encoder"),
        ];
        for d in &self.config.datasets {
            components.push(Component::new(
                format!("decoders.{}", d.name),
                format!("decoder, {} channels", d.channels.len()),
            ));
        }
        let title = format!(
            "PhysiX tokeniser ({} union channels, {}x time, {}x space, FSQ {:?} = {} codes)",
            self.vocabulary.len(),
            self.config.time_compression(),
            self.config.space_compression(),
            self.fsq.levels(),
            self.fsq.codebook_size()
        );
        ParamTable::new(title, &self.varmap, components)
    }

    /// Shows the parameter table in evcxr.
    pub fn evcxr_display(&self) {
        self.param_table().evcxr_display();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physix::DatasetChannels;

    fn mse(xs: &Tensor, ys: &Tensor) -> Result<Tensor> {
        Ok((xs - ys)?.sqr()?.mean_all()?)
    }

    fn two_datasets() -> PhysixTokeniserConfig {
        PhysixTokeniserConfig::tiny().with_datasets([
            DatasetChannels::new("a", ["u", "v", "p"]),
            DatasetChannels::new("b", ["p", "u"]),
        ])
    }

    #[test]
    fn missing_channel_gets_the_learned_tensor_and_its_gradient() -> Result<()> {
        let tok = two_datasets().init(&Device::Cpu)?;
        let xs = Tensor::randn(0f32, 1.0, (2, 2, 5, 16, 16), &Device::Cpu)?;
        let union = tok.union_input(&xs, "b")?;
        // union order u, v, p: `v` (index 1) is missing from `b`
        let v = union.narrow(1, 1, 1)?.squeeze(1)?;
        for bi in 0..2 {
            for t in 0..5 {
                let diff = (v.get(bi)?.get(t)? - tok.missing().get(1)?)?
                    .abs()?
                    .max_all()?
                    .to_scalar::<f32>()?;
                assert_eq!(diff, 0.0);
            }
        }
        // present channels are the data's, moved to their union slots
        let u = (union.narrow(1, 0, 1)? - xs.narrow(1, 1, 1)?)?
            .abs()?
            .max_all()?;
        assert_eq!(u.to_scalar::<f32>()?, 0.0);
        // the loss reaches the missing slice of `v` and not those of present channels
        let vars = tok.varmap().data().lock().expect("varmap").clone();
        let missing = vars.get("missing").expect("missing var");
        let loss = mse(&tok.autoencode(&xs, "b")?, &xs)?;
        let grads = loss.backward()?;
        let g = grads
            .get(missing.as_tensor())
            .expect("gradient reaches `missing`");
        let norm =
            |k: usize| -> Result<f32> { Ok(g.get(k)?.sqr()?.sum_all()?.to_scalar::<f32>()?) };
        assert!(
            norm(1)? > 0.0,
            "no gradient on the missing channel's tensor"
        );
        assert_eq!(norm(0)?, 0.0);
        assert_eq!(norm(2)?, 0.0);
        // on another grid the tensor is resampled, and still trained
        let small = Tensor::randn(0f32, 1.0, (1, 2, 5, 8, 8), &Device::Cpu)?;
        let loss = mse(&tok.autoencode(&small, "b")?, &small)?;
        let g = loss.backward()?;
        let g = g.get(missing.as_tensor()).expect("gradient at 8x8");
        assert!(g.get(1)?.sqr()?.sum_all()?.to_scalar::<f32>()? > 0.0);
        Ok(())
    }

    #[test]
    fn gradients_reach_every_parameter_of_the_datasets_used() -> Result<()> {
        let tok = two_datasets().with_res_blocks(1).init(&Device::Cpu)?;
        let xa = Tensor::randn(0f32, 1.0, (1, 3, 5, 16, 16), &Device::Cpu)?;
        let xb = Tensor::randn(0f32, 1.0, (1, 2, 5, 16, 16), &Device::Cpu)?;
        let loss = (mse(&tok.autoencode(&xa, "a")?, &xa)? + mse(&tok.autoencode(&xb, "b")?, &xb)?)?;
        let grads = loss.backward()?;
        let vars = tok.varmap().data().lock().expect("varmap").clone();
        assert!(vars.len() > 10);
        for (name, var) in &vars {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            let n = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            assert!(n > 0.0 && n.is_finite(), "{name}: gradient norm {n}");
        }
        Ok(())
    }

    #[test]
    fn decoders_are_selected_by_name() -> Result<()> {
        let tok = two_datasets().init(&Device::Cpu)?;
        let codes = Tensor::zeros((1, 2, 2, 2, 2), candle_core::DType::F32, &Device::Cpu)?;
        assert_eq!(tok.decode(&codes, "a")?.dim(1)?, 3);
        assert_eq!(tok.decode(&codes, "b")?.dim(1)?, 2);
        let err = tok.decode(&codes, "nope").unwrap_err();
        assert!(matches!(
            err,
            Error::Config(ConfigError::Unknown { kind: "dataset", ref name, .. }) if name == "nope"
        ));
        let xs = Tensor::zeros((1, 2, 5, 16, 16), candle_core::DType::F32, &Device::Cpu)?;
        assert!(matches!(tok.encode(&xs, "a"), Err(Error::Shape { .. })));
        let bad_t = Tensor::zeros((1, 2, 4, 16, 16), candle_core::DType::F32, &Device::Cpu)?;
        assert!(matches!(
            tok.encode(&bad_t, "b"),
            Err(Error::Config(ConfigError::Mismatch {
                name: "input frames",
                ..
            }))
        ));
        assert_eq!(tok.dataset_of_channels(&[2, 0])?, "b");
        assert!(matches!(
            two_datasets().with_datasets(Vec::new()).check(),
            Err(ConfigError::Empty { .. })
        ));
        Ok(())
    }

    #[test]
    fn tokens_round_trip_through_detokenise() -> Result<()> {
        let tok = two_datasets().init(&Device::Cpu)?;
        let xs = Tensor::randn(0f32, 1.0, (1, 3, 9, 16, 16), &Device::Cpu)?;
        let tokens = tok.tokenise(&xs, "a")?;
        assert_eq!(tokens.dims(), &[1, 3, 2, 2]);
        let a = tok.detokenise(&tokens, "a")?;
        let b = tok.autoencode(&xs, "a")?;
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5, "{diff}");
        let usage = tok.usage(&xs, "a")?;
        assert_eq!(usage.tokens, 12);
        Ok(())
    }
}
