//! Axial rotary position embeddings with resolution-normalised positions (Walrus).
//!
//! Walrus's spatial attention (`walrus/models/spatial_blocks/full_attention.py`, with
//! lucidrains' `RotaryEmbedding(head_dim // 4, freqs_for="pixel", max_freq=256)`) rotates
//! query and key features by angles that depend on each token's position along every
//! spatial axis:
//!
//! - positions along an axis of `n` tokens are `linspace(-1, 1, n)` (so a coarser grid of
//!   the same domain gets the same positions: resolution-normalised; `n = 1` gives `-1`);
//! - each axis owns `head_dim / 4` features, i.e. `nf = (head_dim / 4) / 2` rotated pairs,
//!   with frequencies `f_k = π · linspace(1, max_freq / 2, nf)_k`;
//! - the axes' chunks are concatenated `[axis 0 | axis 1 | …]` from feature 0; the
//!   remaining features pass unrotated;
//! - pairs are interleaved: features `(2k, 2k+1)` rotate by `θ = pos · f_k`,
//!   `y₀ = x₀ cos θ − x₁ sin θ`, `y₁ = x₁ cos θ + x₀ sin θ`.
//!
//! With two spatial axes (our 2-D latents) half of each head is rotated; Walrus pads 2-D
//! data to three axes with a length-1 third axis, whose constant rotation cancels in
//! every `q · k`, so attention is the same either way.
//!
//! The rotation uses `candle_nn::rotary_emb::rope_i_slow` (differentiable); the fused
//! `rope_i` has no backward pass.

use candle_core::{D, Device, Tensor};

use crate::nn::kernels::rope::RopeOp;
use crate::{ConfigError, Result};

/// Walrus's `max_freq` for the spatial rotary embedding.
pub const WALRUS_ROPE_MAX_FREQ: f64 = 256.0;

/// Axial rotary position embedding for attention heads of `head_dim` features.
#[derive(Debug, Clone, PartialEq)]
pub struct AxialRope {
    head_dim: usize,
    freqs: Vec<f64>,
}

/// Cosine and sine tables for one grid, each `(tokens, rotated_dims / 2)`.
#[derive(Debug, Clone)]
pub struct RopeTables {
    cos: Tensor,
    sin: Tensor,
    rotated_dims: usize,
}

impl RopeTables {
    /// How many leading features of each head are rotated.
    pub fn rotated_dims(&self) -> usize {
        self.rotated_dims
    }
}

/// `n` evenly spaced values from `start` to `end` inclusive (`torch.linspace`); `n = 1` gives `[start]`.
pub fn linspace(start: f64, end: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![start],
        _ => (0..n)
            .map(|i| start + (end - start) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

impl AxialRope {
    /// The embedding for heads of `head_dim` features with Walrus's "pixel" frequencies
    /// `π · linspace(1, max_freq / 2, (head_dim / 4) / 2)`.
    pub fn new(head_dim: usize, max_freq: f64) -> Self {
        let nf = (head_dim / 4) / 2;
        let freqs = linspace(1.0, max_freq / 2.0, nf)
            .into_iter()
            .map(|f| f * std::f64::consts::PI)
            .collect();
        Self { head_dim, freqs }
    }

    /// The per-axis frequencies `f_k` (radians per unit of normalised position).
    pub fn freqs(&self) -> &[f64] {
        &self.freqs
    }

    /// How many features of each head are rotated for a grid with `n_axes` axes.
    pub fn rotated_dims(&self, n_axes: usize) -> usize {
        2 * self.freqs.len() * n_axes
    }

    /// The rotation angles for a grid: `(tokens, rotated_dims / 2)` in row-major token order
    /// (last axis fastest), computed on the host in `f64`.
    pub fn angles(&self, grid: &[usize]) -> Result<Vec<Vec<f64>>> {
        if self.rotated_dims(grid.len()) > self.head_dim {
            return Err(ConfigError::Mismatch {
                name: "rotary axes",
                value: grid.len().to_string(),
                other: format!(
                    "head_dim {} (each axis takes head_dim / 4 features)",
                    self.head_dim
                ),
            }
            .into());
        }
        let positions: Vec<Vec<f64>> = grid.iter().map(|&n| linspace(-1.0, 1.0, n)).collect();
        let n_tokens: usize = grid.iter().product();
        let mut out = Vec::with_capacity(n_tokens);
        for token in 0..n_tokens {
            let mut rest = token;
            let mut index = vec![0; grid.len()];
            for (a, &n) in grid.iter().enumerate().rev() {
                index[a] = rest % n;
                rest /= n;
            }
            let mut row = Vec::with_capacity(self.rotated_dims(grid.len()) / 2);
            for (a, &i) in index.iter().enumerate() {
                row.extend(self.freqs.iter().map(|f| positions[a][i] * f));
            }
            out.push(row);
        }
        Ok(out)
    }

    /// Cosine and sine tables for a grid (for example `[height, width]`), on `device`.
    pub fn tables(&self, grid: &[usize], device: &Device) -> Result<RopeTables> {
        let angles = self.angles(grid)?;
        let n_tokens = angles.len();
        let half = self.rotated_dims(grid.len()) / 2;
        let flat: Vec<f64> = angles.into_iter().flatten().collect();
        let cos: Vec<f32> = flat.iter().map(|a| a.cos() as f32).collect();
        let sin: Vec<f32> = flat.iter().map(|a| a.sin() as f32).collect();
        Ok(RopeTables {
            cos: Tensor::from_vec(cos, (n_tokens, half), device)?,
            sin: Tensor::from_vec(sin, (n_tokens, half), device)?,
            rotated_dims: 2 * half,
        })
    }

    /// Rotates the leading `tables.rotated_dims()` features of every head.
    ///
    /// # Shapes
    /// `(batch, heads, tokens, head_dim) → (batch, heads, tokens, head_dim)`, with `tokens`
    /// equal to the product of the grid the tables were made for.
    pub fn apply(&self, xs: &Tensor, tables: &RopeTables) -> Result<Tensor> {
        let rot = tables.rotated_dims;
        if rot == 0 {
            return Ok(xs.clone());
        }
        if crate::nn::kernels::applies(&[xs, &tables.cos, &tables.sin]) {
            return Ok(RopeOp::apply(xs, &tables.cos, &tables.sin)?);
        }
        let hd = xs.dim(D::Minus1)?;
        let rotated = candle_nn::rotary_emb::rope_i_slow(
            &xs.narrow(D::Minus1, 0, rot)?,
            &tables.cos,
            &tables.sin,
        )?;
        if rot == hd {
            return Ok(rotated);
        }
        Ok(Tensor::cat(
            &[rotated, xs.narrow(D::Minus1, rot, hd - rot)?],
            D::Minus1,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::test_device;
    use candle_core::Var;

    test_device!(
        fn rope_equals_naive_rotation(dev) {
            let (b, h, grid, hd) = (2, 3, [3usize, 4usize], 20);
            let rope = AxialRope::new(hd, WALRUS_ROPE_MAX_FREQ);
            // head_dim 20: 5 features per axis -> 2 pairs per axis, frequencies pi and 128 pi
            assert_eq!(rope.freqs().len(), 2);
            assert!((rope.freqs()[1] - 128.0 * std::f64::consts::PI).abs() < 1e-9);
            let n = grid[0] * grid[1];
            let data: Vec<f32> = (0..b * h * n * hd)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                .collect();
            let xs = Tensor::from_vec(data.clone(), (b, h, n, hd), dev)?;
            let tables = rope.tables(&grid, dev)?;
            assert_eq!(tables.rotated_dims(), 8);
            let ys: Vec<f32> = rope.apply(&xs, &tables)?.flatten_all()?.to_vec1()?;

            let pi = std::f64::consts::PI;
            for bh in 0..b * h {
                for (i, j) in (0..grid[0]).flat_map(|i| (0..grid[1]).map(move |j| (i, j))) {
                    let token = i * grid[1] + j;
                    let pos = [-1.0 + 2.0 * i as f64 / 2.0, -1.0 + 2.0 * j as f64 / 3.0];
                    let base = (bh * n + token) * hd;
                    for f in 0..hd {
                        let got = ys[base + f] as f64;
                        let want = if f < 8 {
                            let (axis, k) = (f / 4, (f % 4) / 2);
                            let theta = pos[axis] * [pi, 128.0 * pi][k];
                            let (x0, x1) = (
                                data[base + f - f % 2] as f64,
                                data[base + f - f % 2 + 1] as f64,
                            );
                            if f % 2 == 0 {
                                x0 * theta.cos() - x1 * theta.sin()
                            } else {
                                x1 * theta.cos() + x0 * theta.sin()
                            }
                        } else {
                            data[base + f] as f64
                        };
                        assert!(
                            (got - want).abs() < 1e-4,
                            "b·h {bh} token {token} feature {f}: {got} vs {want}"
                        );
                    }
                }
            }
            Ok(())
        }
    );

    test_device!(
        fn rope_keeps_norm_and_passes_gradient(dev) {
            let rope = AxialRope::new(16, WALRUS_ROPE_MAX_FREQ);
            let tables = rope.tables(&[2, 3], dev)?;
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (1, 2, 6, 16), dev)?)?;
            let y = rope.apply(x.as_tensor(), &tables)?;
            let (nx, ny) = (
                x.as_tensor().sqr()?.sum_all()?.to_scalar::<f32>()?,
                y.sqr()?.sum_all()?.to_scalar::<f32>()?,
            );
            assert!((nx - ny).abs() < 1e-3 * nx);
            let g = y.sum_all()?.backward()?;
            assert!(g.get(x.as_tensor()).is_some());
            assert!(rope.tables(&[2, 2, 2, 2, 2], dev).is_err());
            Ok(())
        }
    );
}
