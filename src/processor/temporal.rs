//! Axial causal temporal attention (Walrus's `AxialTimeAttention`, `causal_in_time=True`).
//!
//! From `walrus/models/temporal_blocks/axial_time_attention.py`: every spatial token
//! attends over time, on its own:
//!
//! ```text
//! h = RMSGroupNorm(heads)(x)                   per frame, as in the spatial block
//! qkv = Linear(d → 3d)(h)                      Walrus: 1×1×1 Conv3d; per head [q | k | v]
//! q, k = LayerNorm(head_dim)(q), LayerNorm(head_dim)(k)
//! branch = out(attention(q, k, v, bias = T5 relative bias with -inf in the future))
//! ```
//!
//! Differences from Walrus, all without effect on the forward pass: the key norm has no
//! bias (softmax ignores a shift shared by all keys, so Walrus's bias never receives a
//! gradient; 68 parameters per block in the paper preset), and there is no MLP here, as in
//! Walrus (its channel mixing is the identity).

use candle_core::Tensor;

use crate::Result;
use candle_nn::VarBuilder;

use crate::nn::{
    LayerNorm, Linear, LinearConfig, LinearInit, RelativePositionBias, RmsGroupNorm, Shift,
    attention,
};
use crate::processor::ProcessorConfig;

/// Causal attention over time at every spatial position, as one residual branch.
#[derive(Debug, Clone)]
pub struct TemporalAttention {
    norm: RmsGroupNorm,
    qkv: Linear,
    q_norm: LayerNorm,
    k_norm: LayerNorm,
    out: Linear,
    bias: RelativePositionBias,
    n_heads: usize,
}

impl TemporalAttention {
    /// Creates `norm`, `qkv`, `q_norm`, `k_norm`, `out`, `rel_pos` under `vb`.
    pub fn new(config: &ProcessorConfig, vb: VarBuilder) -> Result<Self> {
        let (d, hd) = (config.dim, config.head_dim());
        Ok(Self {
            norm: RmsGroupNorm::new(config.n_heads, d, vb.pp("norm"))?,
            qkv: LinearConfig::new(d, 3 * d).build(vb.pp("qkv"))?,
            q_norm: LayerNorm::new(hd, Shift::GainAndBias, vb.pp("q_norm"))?,
            k_norm: LayerNorm::new(hd, Shift::GainOnly, vb.pp("k_norm"))?,
            out: LinearConfig::new(d, d)
                .with_init(LinearInit::Scaled(config.layer_scale_init))
                .build(vb.pp("out"))?,
            bias: RelativePositionBias::new(
                config.n_heads,
                config.num_buckets,
                config.max_distance,
                vb.pp("rel_pos"),
            )?,
            n_heads: config.n_heads,
        })
    }

    /// The residual branch (without the residual itself). Output frame `t` depends only on
    /// input frames `0..=t`.
    ///
    /// # Shapes
    /// `(batch, time, tokens, dim) → (batch, time, tokens, dim)`.
    pub fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, t, n, d) = xs.dims4()?;
        let (h, hd) = (self.n_heads, d / self.n_heads);
        let qkv = self.qkv.forward(&self.norm.forward(xs)?)?; // (b, t, n, 3d)
        // (b, t, n, h, 3hd) -> (b, n, h, t, 3hd) -> (b·n, h, t, 3hd); per head [q | k | v]
        let qkv = qkv
            .reshape((b, t, n, h, 3 * hd))?
            .permute((0, 2, 3, 1, 4))?
            .reshape((b * n, h, t, 3 * hd))?;
        let q = self.q_norm.forward(&qkv.narrow(3, 0, hd)?)?;
        let k = self.k_norm.forward(&qkv.narrow(3, hd, hd)?)?;
        let v = qkv.narrow(3, 2 * hd, hd)?;
        let bias = self.bias.forward(t, xs.device())?;
        let att = attention(&q, &k, &v, Some(&bias))?; // (b·n, h, t, hd)
        let att = att
            .reshape((b, n, h, t, hd))?
            .permute((0, 3, 1, 2, 4))?
            .reshape((b, t, n, d))?;
        self.out.forward(&att)
    }
}
