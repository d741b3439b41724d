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
use crate::nn::{
    AxialRope, Bias, LayerNorm, Linear, LinearInit, Params, RmsGroupNorm, RopeTables, Shift,
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
    /// Creates `norm`, `fused`, `q_norm`, `k_norm`, `attn_out`, `ff_out` under `params`.
    pub fn new(config: &ProcessorConfig, params: &Params) -> Result<Self> {
        let (d, m, hd) = (config.dim, config.mlp_dim, config.head_dim());
        let small = LinearInit::Scaled(config.layer_scale_init);
        Ok(Self {
            norm: RmsGroupNorm::new(config.n_heads, d, &params.pp("norm"))?,
            fused: Linear::new(
                d,
                m + 3 * d,
                Bias::With,
                LinearInit::Default,
                &params.pp("fused"),
            )?,
            q_norm: LayerNorm::new(hd, Shift::GainAndBias, &params.pp("q_norm"))?,
            k_norm: LayerNorm::new(hd, Shift::GainAndBias, &params.pp("k_norm"))?,
            attn_out: Linear::new(d, d, Bias::Without, small, &params.pp("attn_out"))?,
            ff_out: Linear::new(m / 2, d, Bias::With, small, &params.pp("ff_out"))?,
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
