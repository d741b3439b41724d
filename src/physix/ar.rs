//! [`ArModel`]: PhysiX's autoregressive model (paper Section 2.2, Eq. 1), a causal
//! transformer over the flattened tokens of the context's latent frames, with 3-D RoPE.
//!
//! Tokens of a grid `(T', H', W')` are read frame by frame, row by row; token `n` predicts
//! token `n + 1` (next-token cross-entropy). Each block is pre-norm: `x + attn(LN(x))`,
//! `x + mlp(LN(x))`, attention causal with [`Rope3d`] on queries and keys, the MLP
//! `Linear → GELU → Linear`; a final LayerNorm and a linear head give the logits.
//!
//! Weight names: `embed`, `blocks.{i}.{norm1,qkv,out,norm2,fc1,fc2}`, `norm`, `head`.
//! Every op has a tested gradient: the crate's LayerNorm and fused attention (own
//! backward), and `candle_nn::ops::log_softmax` from plain ops.

use candle_core::{D, DType, Device, Tensor};
use candle_nn::init::Init;
use candle_nn::{VarBuilder, VarMap};

use super::ar_config::ArConfig;
use super::rope3d::{Rope3d, Rope3dTables};
use crate::nn::{Bias, Component, LayerNorm, Linear, LinearConfig, ParamTable, Shift};
use crate::nn::{attention, gelu_erf, seeded_var_builder};
use crate::{Error, Result};

#[derive(Debug, Clone)]
struct Block {
    norm1: LayerNorm,
    qkv: Linear,
    out: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// Keys and values of every block for the tokens seen so far (generation with a KV cache).
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
    /// Tokens cached.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The autoregressive transformer over token grids.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::physix::ArConfig;
///
/// let ar = ArConfig::tiny().init(&Device::Cpu)?;
/// let tokens = Tensor::new(&[[1u32, 4, 2, 7, 0, 3, 3, 9]], &Device::Cpu)?; // 2 frames of 2x2
/// let logits = ar.forward(&tokens, [2, 2, 2])?;
/// assert_eq!(logits.dims(), &[1, 8, 15]);
/// let loss = ar.loss(&tokens, [2, 2, 2])?; // next-token cross-entropy
/// assert!(loss.to_scalar::<f32>()? > 0.0);
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Clone)]
pub struct ArModel {
    config: ArConfig,
    embed: Tensor,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
    rope: Rope3d,
    varmap: VarMap,
}

impl std::fmt::Debug for ArModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArModel")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ArConfig {
    /// Checks the settings and builds the model with its own weights.
    pub fn init(&self, device: &Device) -> Result<ArModel> {
        self.check()?;
        let varmap = VarMap::new();
        let vb = seeded_var_builder(&varmap, self.seed, device);
        ArModel::build(self, &varmap, vb)
    }
}

impl ArModel {
    fn build(config: &ArConfig, varmap: &VarMap, vb: VarBuilder) -> Result<Self> {
        let d = config.dim;
        let embed = vb.get_with_hints(
            (config.vocab_size, d),
            "embed",
            Init::Randn {
                mean: 0.0,
                stdev: 0.02,
            },
        )?;
        let blocks = (0..config.n_layers)
            .map(|i| {
                let vb = vb.pp("blocks").pp(i);
                Ok(Block {
                    norm1: LayerNorm::new(d, Shift::GainAndBias, vb.pp("norm1"))?,
                    qkv: LinearConfig::new(d, 3 * d)
                        .with_bias(Bias::Without)
                        .build(vb.pp("qkv"))?,
                    out: LinearConfig::new(d, d).build(vb.pp("out"))?,
                    norm2: LayerNorm::new(d, Shift::GainAndBias, vb.pp("norm2"))?,
                    fc1: LinearConfig::new(d, config.mlp_ratio * d).build(vb.pp("fc1"))?,
                    fc2: LinearConfig::new(config.mlp_ratio * d, d).build(vb.pp("fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: config.clone(),
            embed,
            blocks,
            norm: LayerNorm::new(d, Shift::GainAndBias, vb.pp("norm"))?,
            head: LinearConfig::new(d, config.vocab_size).build(vb.pp("head"))?,
            rope: Rope3d::new(config.head_dim(), config.max_grid, config.rope_theta)?,
            varmap: varmap.clone(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &ArConfig {
        &self.config
    }
    /// The weights.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }
    /// The rotary tables.
    pub fn rope(&self) -> &Rope3d {
        &self.rope
    }
    /// The device of the weights.
    pub fn device(&self) -> &Device {
        self.embed.device()
    }

    fn check_tokens(&self, tokens: &Tensor) -> Result<(usize, usize)> {
        let (b, n) = tokens.dims2().map_err(|_| Error::Shape {
            what: "tokens (batch, sequence)".into(),
            left: tokens.dims().to_vec(),
            right: vec![0, 0],
        })?;
        if n == 0 {
            return Err(Error::Empty {
                what: "token sequence".into(),
            });
        }
        let max = tokens.to_dtype(DType::U32)?.max_all()?.to_scalar::<u32>()? as usize;
        if max >= self.config.vocab_size {
            return Err(Error::OutOfRange {
                what: "token".into(),
                index: max,
                len: self.config.vocab_size,
            });
        }
        Ok((b, n))
    }

    /// Logits of the tokens at positions `start..start + n` of a sequence on `grid`, given
    /// the keys and values of positions `0..start` in `cache` (which this extends).
    fn forward_from(
        &self,
        tokens: &Tensor,
        grid: [usize; 3],
        cache: Option<&mut KvCache>,
    ) -> Result<Tensor> {
        let (b, n) = self.check_tokens(tokens)?;
        let start = cache.as_ref().map_or(0, |c| c.len);
        let tables = self.rope.tables(grid, start, n, tokens.device())?;
        let ids = tokens.to_dtype(DType::U32)?.flatten_all()?;
        let mut xs = self
            .embed
            .index_select(&ids, 0)?
            .reshape((b, n, self.config.dim))?;
        let mask = causal_mask(n, start, tokens.device())?;
        let mut cache = cache;
        if let Some(c) = cache.as_deref_mut()
            && c.layers.len() != self.blocks.len()
        {
            c.layers = vec![None; self.blocks.len()];
        }
        for (i, block) in self.blocks.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            xs = self.block_forward(block, &xs, &tables, mask.as_ref(), slot)?;
        }
        if let Some(c) = cache {
            c.len += n;
        }
        self.head.forward(&self.norm.forward(&xs)?)
    }

    fn block_forward(
        &self,
        block: &Block,
        xs: &Tensor,
        tables: &Rope3dTables,
        mask: Option<&Tensor>,
        slot: Option<&mut Option<(Tensor, Tensor)>>,
    ) -> Result<Tensor> {
        let (b, n, d) = xs.dims3()?;
        let (h, hd) = (self.config.n_heads, self.config.head_dim());
        let heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, n, h, hd))?.transpose(1, 2)?.contiguous()?)
        };
        let x = block.norm1.forward(xs)?;
        let q = heads(block.qkv.forward_outputs(&x, 0, d)?)?;
        let k = heads(block.qkv.forward_outputs(&x, d, d)?)?;
        let v = heads(block.qkv.forward_outputs(&x, 2 * d, d)?)?;
        let q = Rope3d::apply(&q, tables)?;
        let mut k = Rope3d::apply(&k, tables)?;
        let mut v = v;
        if let Some(slot) = slot {
            if let Some((pk, pv)) = slot.as_ref() {
                k = Tensor::cat(&[pk, &k], 2)?;
                v = Tensor::cat(&[pv, &v], 2)?;
            }
            *slot = Some((k.clone(), v.clone()));
        }
        let a = attention(&q, &k, &v, mask)?;
        let a = a.transpose(1, 2)?.reshape((b, n, d))?;
        let xs = (xs + block.out.forward(&a)?)?;
        let m = gelu_erf(&block.fc1.forward(&block.norm2.forward(&xs)?)?)?;
        Ok((&xs + block.fc2.forward(&m)?)?)
    }

    /// Logits of every position of a whole token sequence laid out on `grid`
    /// (`[latent frames, height, width]`; the sequence may end inside the grid).
    ///
    /// # Shapes
    /// `u32 (batch, n)` → `(batch, n, vocab_size)`.
    pub fn forward(&self, tokens: &Tensor, grid: [usize; 3]) -> Result<Tensor> {
        self.forward_from(tokens, grid, None)
    }

    /// Logits of the next tokens given a [`KvCache`] of the sequence so far (extended in
    /// place): `forward_cached` over a sequence in pieces equals [`ArModel::forward`] over
    /// the whole.
    ///
    /// # Shapes
    /// `u32 (batch, new tokens)` → `(batch, new tokens, vocab_size)`.
    pub fn forward_cached(
        &self,
        tokens: &Tensor,
        grid: [usize; 3],
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        self.forward_from(tokens, grid, Some(cache))
    }

    /// Eq. (1): the mean next-token cross-entropy of a sequence on `grid` (every token from
    /// the second predicted from those before it).
    pub fn loss(&self, tokens: &Tensor, grid: [usize; 3]) -> Result<Tensor> {
        let (b, n) = self.check_tokens(tokens)?;
        if n < 2 {
            return Err(Error::Empty {
                what: "next-token targets (a sequence of one token)".into(),
            });
        }
        let logits = self.forward(&tokens.narrow(1, 0, n - 1)?, grid)?;
        let targets = tokens.narrow(1, 1, n - 1)?.to_dtype(DType::U32)?;
        cross_entropy(
            &logits.reshape((b * (n - 1), self.config.vocab_size))?,
            &targets.flatten_all()?,
        )
    }

    /// Parameter counts per component.
    pub fn param_table(&self) -> ParamTable {
        let c = &self.config;
        let mut comps = vec![Component::new("embed", "token embedding")];
        for i in 0..c.n_layers {
            comps.push(Component::new(
                format!("blocks.{i}"),
                "causal attention (3-D RoPE) + MLP",
            ));
        }
        comps.push(Component::new("norm", "final LayerNorm"));
        comps.push(Component::new("head", "logits"));
        let title = format!(
            "PhysiX AR model (width {}, {} layers, {} heads, vocabulary {})",
            c.dim, c.n_layers, c.n_heads, c.vocab_size
        );
        ParamTable::new(title, &self.varmap, comps)
    }

    /// Shows the parameter table in evcxr.
    pub fn evcxr_display(&self) {
        self.param_table().evcxr_display();
    }
}

/// `0` where query `start + i` may see key `j ≤ start + i`, `−∞` elsewhere; `None` for a
/// single query (it sees every cached key).
fn causal_mask(n: usize, start: usize, device: &Device) -> Result<Option<Tensor>> {
    if n == 1 {
        return Ok(None);
    }
    let k = start + n;
    let mut m = vec![0f32; n * k];
    for i in 0..n {
        for j in start + i + 1..k {
            m[i * k + j] = f32::NEG_INFINITY;
        }
    }
    Ok(Some(Tensor::from_vec(m, (1, 1, n, k), device)?))
}

/// Mean cross-entropy of `logits (n, vocab)` against `targets u32 (n)`, from
/// `log_softmax` (plain ops, differentiable) and a one-hot product.
pub(crate) fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let picked = logp
        .contiguous()?
        .gather(&targets.unsqueeze(1)?.contiguous()?, 1)?;
    Ok(picked.mean_all()?.neg()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(b: usize, n: usize, vocab: u32, seed: u32) -> Result<Tensor> {
        let v: Vec<u32> = (0..b * n)
            .map(|i| ((i as u32 * 2654435761u32).wrapping_add(seed * 97)) % vocab)
            .collect();
        Ok(Tensor::from_vec(v, (b, n), &Device::Cpu)?)
    }

    #[test]
    fn changing_token_j_changes_no_earlier_logit() -> Result<()> {
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        let grid = [2, 3, 3];
        let xs = tokens(2, 18, 15, 1)?;
        let base = ar.forward(&xs, grid)?;
        for j in [0usize, 5, 11, 17] {
            let mut v = xs.to_vec2::<u32>()?;
            for row in &mut v {
                row[j] = (row[j] + 7) % 15;
            }
            let changed = ar.forward(&Tensor::new(v, &Device::Cpu)?, grid)?;
            let diff = (&changed - &base)?.abs()?;
            if j > 0 {
                let before = diff.narrow(1, 0, j)?.max_all()?.to_scalar::<f32>()?;
                assert_eq!(before, 0.0, "a change at {j} moved an earlier logit");
            }
            let at = diff.narrow(1, j, 18 - j)?.max_all()?.to_scalar::<f32>()?;
            assert!(at > 0.0, "token {j} changed nothing");
        }
        Ok(())
    }

    #[test]
    fn cached_forward_equals_the_whole_sequence() -> Result<()> {
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        let grid = [3, 2, 3];
        let xs = tokens(2, 18, 15, 2)?;
        let whole = ar.forward(&xs, grid)?;
        let mut cache = KvCache::new();
        let mut parts = vec![ar.forward_cached(&xs.narrow(1, 0, 7)?, grid, &mut cache)?];
        for i in 7..18 {
            parts.push(ar.forward_cached(&xs.narrow(1, i, 1)?, grid, &mut cache)?);
        }
        assert_eq!(cache.len(), 18);
        let pieced = Tensor::cat(&parts, 1)?;
        let diff = (pieced - whole)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-4, "{diff}");
        Ok(())
    }

    #[test]
    fn gradients_reach_every_parameter() -> Result<()> {
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        // every vocabulary entry appears, so every embedding row gets a gradient
        let v: Vec<u32> = (0..32).map(|i| i % 15).collect();
        let xs = Tensor::from_vec(v, (1, 32), &Device::Cpu)?;
        let loss = ar.loss(&xs, [2, 4, 4])?;
        let grads = loss.backward()?;
        let vars = ar.varmap().data().lock().expect("varmap").clone();
        for (name, var) in &vars {
            let g = grads
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient for {name}"));
            let n = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            assert!(n > 0.0 && n.is_finite(), "{name}: {n}");
        }
        Ok(())
    }

    #[test]
    fn cross_entropy_matches_the_formula_and_bad_tokens_are_errors() -> Result<()> {
        let logits = Tensor::new(&[[1f32, 2.0, 0.5], [0.0, 0.0, 3.0]], &Device::Cpu)?;
        let t = Tensor::new(&[1u32, 0], &Device::Cpu)?;
        let got = cross_entropy(&logits, &t)?.to_scalar::<f32>()?;
        let lse = |r: [f32; 3]| r.iter().map(|x| x.exp()).sum::<f32>().ln();
        let want = ((lse([1.0, 2.0, 0.5]) - 2.0) + (lse([0.0, 0.0, 3.0]) - 0.0)) / 2.0;
        assert!((got - want).abs() < 1e-5);
        let ar = ArConfig::tiny().init(&Device::Cpu)?;
        let bad = Tensor::new(&[[3u32, 15]], &Device::Cpu)?;
        assert!(matches!(
            ar.forward(&bad, [1, 2, 2]),
            Err(Error::OutOfRange { index: 15, .. })
        ));
        let big = tokens(1, 4, 15, 0)?;
        assert!(ar.forward(&big, [5, 4, 4]).is_err());
        assert!(matches!(
            ArConfig::tiny().with_n_heads(5).check(),
            Err(crate::ConfigError::Mismatch { name: "dim", .. })
        ));
        Ok(())
    }
}
