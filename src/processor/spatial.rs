//! Full spatial attention with a parallel SwiGLU MLP (Walrus's `FullAttention`).
//!
//! From `walrus/models/spatial_blocks/full_attention.py`, per frame:
//!
//! ```text
//! h = RMSGroupNorm(heads)(x)
//! [ff | q | k | v] = Linear(d → mlp + 3d)(h)                 one fused projection
//! q, k = LayerNorm(head_dim)(q), LayerNorm(head_dim)(k)        QK normalisation
//! q, k = axial RoPE(q), axial RoPE(k)                          positions linspace(-1, 1)
//! branch = attn_out(attention(q, k, v)) + ff_out(SwiGLU(ff))   parallel (PaLM-style)
//! ```
//!
//! `attn_out` (no bias) and `ff_out` start at 1e-6 of PyTorch's default scale. The block
//! adds drop path and the residual.

use candle_core::Tensor;

use crate::Result;
use candle_nn::VarBuilder;

use crate::nn::{
    AxialRope, Bias, LayerNorm, Linear, LinearConfig, LinearInit, RmsGroupNorm, RopeTables, Shift,
    attention, swiglu_parts,
};
use crate::processor::ProcessorConfig;

/// Full spatial attention plus SwiGLU MLP, as one residual branch.
#[derive(Debug, Clone)]
pub struct SpatialAttention {
    norm: RmsGroupNorm,
    fused: Linear,
    q_norm: LayerNorm,
    k_norm: LayerNorm,
    attn_out: Linear,
    ff_out: Linear,
    rope: AxialRope,
    n_heads: usize,
    dim: usize,
    mlp_dim: usize,
}

impl SpatialAttention {
    /// Creates `norm`, `fused`, `q_norm`, `k_norm`, `attn_out`, `ff_out` under `vb`.
    pub fn new(config: &ProcessorConfig, vb: VarBuilder) -> Result<Self> {
        let (d, m, hd) = (config.dim, config.mlp_dim, config.head_dim());
        let small = LinearInit::Scaled(config.layer_scale_init);
        Ok(Self {
            norm: RmsGroupNorm::new(config.n_heads, d, vb.pp("norm"))?,
            fused: LinearConfig::new(d, m + 3 * d).build(vb.pp("fused"))?,
            q_norm: LayerNorm::new(hd, Shift::GainAndBias, vb.pp("q_norm"))?,
            k_norm: LayerNorm::new(hd, Shift::GainAndBias, vb.pp("k_norm"))?,
            attn_out: LinearConfig::new(d, d)
                .with_bias(Bias::Without)
                .with_init(small)
                .build(vb.pp("attn_out"))?,
            ff_out: LinearConfig::new(m / 2, d)
                .with_init(small)
                .build(vb.pp("ff_out"))?,
            rope: AxialRope::new(hd, config.rope_max_freq),
            n_heads: config.n_heads,
            dim: d,
            mlp_dim: m,
        })
    }

    /// The rotary embedding this layer uses (to build [`RopeTables`] once per grid).
    pub fn rope(&self) -> &AxialRope {
        &self.rope
    }

    /// The residual branch (without the residual itself).
    ///
    /// # Shapes
    /// `xs`: `(batch, time, tokens, dim)` with `tokens = height · width` row-major, and
    /// `tables` made for `[height, width]` → `(batch, time, tokens, dim)`.
    pub fn forward(&self, xs: &Tensor, tables: &RopeTables) -> Result<Tensor> {
        let (b, t_len, n, d) = xs.dims4()?;
        let (h, hd) = (self.n_heads, self.dim / self.n_heads);
        // the fused projection [ff | q | k | v], one product per part (Linear::forward_outputs)
        let normed = self.norm.forward(xs)?;
        let m = self.mlp_dim;
        let part = |start: usize, len: usize| self.fused.forward_outputs(&normed, start, len);
        let heads = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b * t_len, n, h, hd))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = self
            .rope
            .apply(&self.q_norm.forward(&heads(part(m, d)?)?)?, tables)?;
        let k = self
            .rope
            .apply(&self.k_norm.forward(&heads(part(m + d, d)?)?)?, tables)?;
        let v = heads(part(m + 2 * d, d)?)?;
        let att = attention(&q, &k, &v, None)?
            .transpose(1, 2)?
            .reshape((b, t_len, n, d))?;
        let ff = swiglu_parts(&part(0, m / 2)?, &part(m / 2, m / 2)?)?;
        Ok((self.attn_out.forward(&att)? + self.ff_out.forward(&ff)?)?)
    }
}
