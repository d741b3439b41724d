//! 3-D rotary position embedding over `(latent frame, row, column)` token positions, with
//! spatial tables truncated to the input's grid (PhysiX Section 2.2).
//!
//! Cosmos's autoregressive model rotates query and key features by angles that depend on
//! each token's position along time, height and width. The head's features are split into
//! three chunks `[time | height | width]` (`d_h = d_w = 2⌊head_dim/6⌋`, `d_t` the rest);
//! axis `a` with `d_a` features rotates pair `i` by `pos_a · θ^(−2i/d_a)` (`θ = 10,000`),
//! pairs interleaved (`(x₂ᵢ, x₂ᵢ₊₁)`, candle's `rope_i` convention).
//!
//! Tables are made once for the largest grid `(T_max, H_max, W_max)`. PhysiX trains on
//! datasets of different resolutions together by *truncating* the frequency tables along
//! height and width to the current input's size (and time to its frames): a token at
//! `(t, y, x)` of an `H x W` grid gets the rows `t`, `y`, `x` of the full tables, so a
//! smaller grid sees exactly the full tables restricted to it.

use candle_core::{Device, Tensor};

use crate::nn::kernels::rope::RopeOp;
use crate::{ConfigError, Result};

/// The per-axis angle tables of a 3-D RoPE for grids up to `max_grid`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rope3d {
    head_dim: usize,
    axis_dims: [usize; 3],
    max_grid: [usize; 3],
    /// Angles `(max positions, d_a / 2)` per axis, row-major.
    angles: [Vec<f64>; 3],
}

/// Cosine and sine of every token of one sequence, `(tokens, head_dim / 2)`.
#[derive(Debug, Clone)]
pub struct Rope3dTables {
    /// Cosines.
    pub cos: Tensor,
    /// Sines.
    pub sin: Tensor,
}

impl Rope3d {
    /// Tables for heads of `head_dim` features (even, at least 6) and grids up to
    /// `max_grid = [T, H, W]` latent positions, base `theta`.
    pub fn new(head_dim: usize, max_grid: [usize; 3], theta: f64) -> Result<Self> {
        if head_dim < 6 || !head_dim.is_multiple_of(2) {
            return Err(ConfigError::OutOfRange {
                name: "3-D RoPE head_dim",
                range: "even and at least 6",
                value: head_dim as f64,
            }
            .into());
        }
        let spatial = 2 * (head_dim / 6);
        let axis_dims = [head_dim - 2 * spatial, spatial, spatial];
        let angles = std::array::from_fn(|a| {
            let d = axis_dims[a];
            let mut out = Vec::with_capacity(max_grid[a] * d / 2);
            for pos in 0..max_grid[a] {
                for i in 0..d / 2 {
                    out.push(pos as f64 * theta.powf(-(2.0 * i as f64) / d as f64));
                }
            }
            out
        });
        Ok(Rope3d {
            head_dim,
            axis_dims,
            max_grid,
            angles,
        })
    }

    /// Features of each head per axis `[time, height, width]`.
    pub fn axis_dims(&self) -> [usize; 3] {
        self.axis_dims
    }

    /// The largest grid the tables cover.
    pub fn max_grid(&self) -> [usize; 3] {
        self.max_grid
    }

    /// Checks a grid fits the tables.
    pub fn check_grid(&self, grid: [usize; 3]) -> Result<()> {
        for (a, name) in ["latent frames", "latent height", "latent width"]
            .into_iter()
            .enumerate()
        {
            if grid[a] == 0 || grid[a] > self.max_grid[a] {
                return Err(ConfigError::Mismatch {
                    name,
                    value: grid[a].to_string(),
                    other: format!("the RoPE tables' largest grid {:?}", self.max_grid),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Tables for sequence positions `start..start + len` of a token sequence laid out
    /// frame by frame, row by row on `grid = [T, H, W]` (position `n` is
    /// `(n / HW, (n / W) mod H, n mod W)`).
    pub fn tables(
        &self,
        grid: [usize; 3],
        start: usize,
        len: usize,
        device: &Device,
    ) -> Result<Rope3dTables> {
        self.check_grid(grid)?;
        let [t_n, h_n, w_n] = grid;
        if start + len > t_n * h_n * w_n {
            return Err(ConfigError::Mismatch {
                name: "token positions",
                value: format!("{start}..{}", start + len),
                other: format!("grid {grid:?}"),
            }
            .into());
        }
        let half = self.head_dim / 2;
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for n in start..start + len {
            let pos = [n / (h_n * w_n), (n / w_n) % h_n, n % w_n];
            for ((&p, &dims), angles) in pos.iter().zip(&self.axis_dims).zip(&self.angles) {
                let d = dims / 2;
                for &angle in &angles[p * d..(p + 1) * d] {
                    cos.push(angle.cos() as f32);
                    sin.push(angle.sin() as f32);
                }
            }
        }
        Ok(Rope3dTables {
            cos: Tensor::from_vec(cos, (len, half), device)?,
            sin: Tensor::from_vec(sin, (len, half), device)?,
        })
    }

    /// Rotates every head's features.
    ///
    /// # Shapes
    /// `(batch, heads, tokens, head_dim)` with tables of `tokens` rows → same.
    pub fn apply(xs: &Tensor, tables: &Rope3dTables) -> Result<Tensor> {
        if crate::nn::kernels::applies(&[xs, &tables.cos, &tables.sin]) {
            return Ok(RopeOp::apply(xs, &tables.cos, &tables.sin)?);
        }
        Ok(candle_nn::rotary_emb::rope_i_slow(
            &xs.contiguous()?,
            &tables.cos,
            &tables.sin,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_tables_equal_the_full_tables_restricted() -> Result<()> {
        let rope = Rope3d::new(16, [4, 8, 8], 10_000.0)?;
        assert_eq!(rope.axis_dims(), [8, 4, 4]);
        let full = rope.tables([4, 8, 8], 0, 4 * 64, &Device::Cpu)?;
        let (fc, fs) = (full.cos.to_vec2::<f32>()?, full.sin.to_vec2::<f32>()?);
        let small = [2, 3, 5];
        let n = 2 * 3 * 5;
        let part = rope.tables(small, 0, n, &Device::Cpu)?;
        let (pc, ps) = (part.cos.to_vec2::<f32>()?, part.sin.to_vec2::<f32>()?);
        for (i, (row_c, row_s)) in pc.iter().zip(&ps).enumerate() {
            let (t, y, x) = (i / 15, (i / 5) % 3, i % 5);
            let j = t * 64 + y * 8 + x;
            assert_eq!(row_c, &fc[j], "cos of token ({t}, {y}, {x})");
            assert_eq!(row_s, &fs[j]);
        }
        // a window of positions equals the same rows of the whole sequence
        let tail = rope
            .tables(small, 7, 4, &Device::Cpu)?
            .cos
            .to_vec2::<f32>()?;
        assert_eq!(tail, pc[7..11].to_vec());
        assert!(rope.tables([5, 8, 8], 0, 1, &Device::Cpu).is_err());
        assert!(rope.tables(small, 28, 3, &Device::Cpu).is_err());
        Ok(())
    }

    #[test]
    fn rotation_matches_rope_i_slow_and_keeps_relative_dot_products() -> Result<()> {
        let rope = Rope3d::new(12, [3, 4, 4], 10_000.0)?;
        let tables = rope.tables([3, 4, 4], 0, 48, &Device::Cpu)?;
        let xs = Tensor::randn(0f32, 1.0, (1, 2, 48, 12), &Device::Cpu)?;
        let a = Rope3d::apply(&xs, &tables)?;
        let b = candle_nn::rotary_emb::rope_i_slow(&xs, &tables.cos, &tables.sin)?;
        let diff = (a - b)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(diff < 1e-5);
        Ok(())
    }
}
