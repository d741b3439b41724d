//! Finite scalar quantisation (FSQ; Mentzer et al., ICLR 2024), the bottleneck of PhysiX's
//! universal tokeniser (paper Section 2.1; Cosmos DV tokeniser levels `[8, 8, 8, 5, 5, 5]`,
//! 64,000 codes).
//!
//! Each of the `d = levels.len()` latent channels is bounded to `L` values and rounded
//! (REFERENCE.md, PhysiX / Cosmos):
//!
//! - `half_l = (L − 1)(1 + 1e-3) / 2`, `offset = 0.5` for even `L` else `0`,
//!   `shift = atanh(offset / half_l)`;
//! - `bound(z) = tanh(z + shift) · half_l − offset`, inside `(−L/2, L/2)` so rounding gives
//!   exactly `L` integers (`−L/2 ..= L/2 − 1` for even `L`, `−(L−1)/2 ..= (L−1)/2` for odd);
//! - `ẑ = round_ste(bound(z)) / ⌊L/2⌋`, the rounding's gradient the identity
//!   (straight-through: `x + (round(x) − x).detach()`; candle's `round` has none);
//! - a code's digit per channel is `ẑ·⌊L/2⌋ + ⌊L/2⌋ ∈ 0..L`, its index
//!   `Σ_i digit_i · basis_i` with `basis = cumprod([1, L_0, …, L_{d−2}])`.

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::report::{Table, group_digits};
use crate::{ConfigError, Error, Result};

/// Largest codebook FSQ accepts (indices are `u32` and stay exact in `f32` arithmetic).
pub const FSQ_MAX_CODEBOOK: usize = 1 << 24;

/// Settings of an [`Fsq`] quantiser: the number of levels of each latent channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FsqConfig {
    /// Levels `L_i` per latent channel (each at least 2).
    pub levels: Vec<usize>,
}

impl Default for FsqConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl FsqConfig {
    /// PhysiX's tokeniser (Cosmos DV, REFERENCE.md): `[8, 8, 8, 5, 5, 5]`, 64,000 codes, 6
    /// latent channels.
    pub fn paper() -> Self {
        Self {
            levels: vec![8, 8, 8, 5, 5, 5],
        }
    }

    /// A CPU size: `[8, 5, 5, 5]`, 1,000 codes (FSQ paper's smallest recommended set).
    pub fn small() -> Self {
        Self {
            levels: vec![8, 5, 5, 5],
        }
    }

    /// For tests: `[5, 3]`, 15 codes.
    pub fn tiny() -> Self {
        Self { levels: vec![5, 3] }
    }

    /// Sets the levels.
    pub fn with_levels(mut self, levels: impl Into<Vec<usize>>) -> Self {
        self.levels = levels.into();
        self
    }

    /// Number of codes, `Π L_i`.
    pub fn codebook_size(&self) -> usize {
        self.levels.iter().product()
    }

    /// Checks: at least one channel, every level at least 2, at most
    /// [`FSQ_MAX_CODEBOOK`] codes.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.levels.is_empty() {
            return Err(ConfigError::Empty { name: "fsq levels" });
        }
        if let Some(&l) = self.levels.iter().find(|&&l| l < 2) {
            return Err(ConfigError::OutOfRange {
                name: "fsq level",
                range: "2 or more",
                value: l as f64,
            });
        }
        let size = self
            .levels
            .iter()
            .try_fold(1usize, |acc, &l| acc.checked_mul(l))
            .unwrap_or(usize::MAX);
        if size > FSQ_MAX_CODEBOOK {
            return Err(ConfigError::OutOfRange {
                name: "fsq codebook size",
                range: "at most 2^24",
                value: size as f64,
            });
        }
        Ok(())
    }

    /// Checks and builds the quantiser.
    pub fn build(&self) -> Result<Fsq> {
        self.check()?;
        let mut basis = Vec::with_capacity(self.levels.len());
        let mut acc = 1usize;
        for &l in &self.levels {
            basis.push(acc);
            acc *= l;
        }
        Ok(Fsq {
            levels: self.levels.clone(),
            basis,
        })
    }
}

/// The quantiser: bound, round, and the code ↔ index maps. Has no weights.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use phystok::physix::FsqConfig;
///
/// let fsq = FsqConfig::paper().build()?;
/// assert_eq!(fsq.codebook_size(), 64_000);
/// let z = Tensor::randn(0f32, 2.0, (2, 6, 1, 4, 4), &Device::Cpu)?; // (batch, d, T, H, W)
/// let codes = fsq.quantise(&z, 1)?;
/// let idx = fsq.codes_to_indices(&codes, 1)?; // (2, 1, 4, 4) u32
/// let back = fsq.indices_to_codes(&idx, 1)?;
/// assert_eq!(back.to_vec3::<f32>().is_err(), true); // rank 5
/// assert_eq!(back.dims(), codes.dims());
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fsq {
    levels: Vec<usize>,
    basis: Vec<usize>,
}

/// Per-channel constant `values` as a tensor of `rank` axes, broadcastable along `dim`.
fn channel_constant(values: &[f32], dim: usize, rank: usize, device: &Device) -> Result<Tensor> {
    let mut shape = vec![1usize; rank];
    shape[dim] = values.len();
    Ok(Tensor::from_vec(values.to_vec(), shape, device)?)
}

impl Fsq {
    /// Levels per channel.
    pub fn levels(&self) -> &[usize] {
        &self.levels
    }

    /// Latent channels `d` (the length of a code).
    pub fn dim(&self) -> usize {
        self.levels.len()
    }

    /// Number of codes.
    pub fn codebook_size(&self) -> usize {
        self.levels.iter().product()
    }

    fn check_dim(&self, xs: &Tensor, dim: usize) -> Result<()> {
        if dim >= xs.rank() || xs.dim(dim)? != self.dim() {
            return Err(Error::Shape {
                what: format!(
                    "fsq input: axis {dim} must hold the {} code channels",
                    self.dim()
                ),
                left: xs.dims().to_vec(),
                right: vec![self.dim()],
            });
        }
        Ok(())
    }

    /// `half_l`, `offset`, `shift` and `⌊L/2⌋` of every channel.
    fn constants(&self) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut half = Vec::new();
        let mut offset = Vec::new();
        let mut shift = Vec::new();
        let mut width = Vec::new();
        for &l in &self.levels {
            let h = (l as f64 - 1.0) * (1.0 + 1e-3) / 2.0;
            let o = if l % 2 == 0 { 0.5 } else { 0.0 };
            half.push(h as f32);
            offset.push(o as f32);
            shift.push((o / h).atanh() as f32);
            width.push((l / 2) as f32);
        }
        (half, offset, shift, width)
    }

    /// `tanh(z + shift) · half_l − offset` per channel along `dim`: every value rounds to
    /// one of the channel's `L` integers.
    pub fn bound(&self, zs: &Tensor, dim: usize) -> Result<Tensor> {
        self.check_dim(zs, dim)?;
        let (half, offset, shift, _) = self.constants();
        let (r, dev) = (zs.rank(), zs.device());
        let shifted = zs.broadcast_add(&channel_constant(&shift, dim, r, dev)?)?;
        let scaled = shifted
            .tanh()?
            .broadcast_mul(&channel_constant(&half, dim, r, dev)?)?;
        Ok(scaled.broadcast_sub(&channel_constant(&offset, dim, r, dev)?)?)
    }

    /// Bounds, rounds (straight-through) and normalises: codes on the grid
    /// `{k / ⌊L/2⌋}` in `[−1, 1]`.
    ///
    /// # Shapes
    /// Any shape whose axis `dim` holds the `d` channels → the same shape.
    pub fn quantise(&self, zs: &Tensor, dim: usize) -> Result<Tensor> {
        let bounded = self.bound(zs, dim)?;
        let rounded = round_ste(&bounded)?;
        let (_, _, _, width) = self.constants();
        let w = channel_constant(&width, dim, zs.rank(), zs.device())?;
        Ok(rounded.broadcast_div(&w)?)
    }

    /// The index of every code (codes as [`Fsq::quantise`] returns them).
    ///
    /// # Shapes
    /// `codes` with `d` channels on axis `dim` → `u32` indices with that axis removed.
    pub fn codes_to_indices(&self, codes: &Tensor, dim: usize) -> Result<Tensor> {
        self.check_dim(codes, dim)?;
        let (_, _, _, width) = self.constants();
        let (r, dev) = (codes.rank(), codes.device());
        let w = channel_constant(&width, dim, r, dev)?;
        let digits = codes.broadcast_mul(&w)?.broadcast_add(&w)?.round()?;
        let basis: Vec<f32> = self.basis.iter().map(|&b| b as f32).collect();
        let idx = digits
            .broadcast_mul(&channel_constant(&basis, dim, r, dev)?)?
            .sum(dim)?;
        Ok(idx.round()?.to_dtype(DType::U32)?)
    }

    /// The code of every index; an index past the codebook is an error naming it.
    ///
    /// # Shapes
    /// `u32` indices of any shape → codes with a new axis `dim` of `d` channels.
    pub fn indices_to_codes(&self, indices: &Tensor, dim: usize) -> Result<Tensor> {
        if dim > indices.rank() {
            return Err(Error::Shape {
                what: format!("fsq code axis {dim} past the indices' rank"),
                left: indices.dims().to_vec(),
                right: vec![dim],
            });
        }
        let flat = indices
            .flatten_all()?
            .to_dtype(DType::U32)?
            .to_vec1::<u32>()?;
        let size = self.codebook_size();
        let d = self.dim();
        let mut out = vec![0f32; flat.len() * d];
        for (n, &i) in flat.iter().enumerate() {
            let i = i as usize;
            if i >= size {
                return Err(Error::OutOfRange {
                    what: "fsq code index".into(),
                    index: i,
                    len: size,
                });
            }
            for (c, (&l, &b)) in self.levels.iter().zip(&self.basis).enumerate() {
                let digit = (i / b) % l;
                let w = (l / 2) as f32;
                out[n * d + c] = (digit as f32 - w) / w;
            }
        }
        let mut shape = indices.dims().to_vec();
        shape.push(d);
        let codes = Tensor::from_vec(out, shape, indices.device())?;
        // move the trailing channel axis to `dim`
        let r = codes.rank();
        let mut perm: Vec<usize> = (0..r - 1).collect();
        perm.insert(dim, r - 1);
        Ok(codes.permute(perm)?.contiguous()?)
    }

    /// Codebook usage and perplexity of a set of indices.
    pub fn usage(&self, indices: &Tensor) -> Result<CodebookUsage> {
        let flat = indices
            .flatten_all()?
            .to_dtype(DType::U32)?
            .to_vec1::<u32>()?;
        CodebookUsage::of(&flat, self.codebook_size())
    }
}

/// `x + (round(x) − x).detach()`: the rounded value forward, the identity backward.
pub fn round_ste(xs: &Tensor) -> Result<Tensor> {
    Ok((xs + (xs.round()? - xs)?.detach())?)
}

/// How much of a codebook a set of tokens uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodebookUsage {
    /// Tokens counted.
    pub tokens: usize,
    /// Distinct codes among them.
    pub used: usize,
    /// Codebook size.
    pub codebook_size: usize,
    /// `used / codebook_size`.
    pub fraction: f64,
    /// `exp(H)` of the empirical code distribution (natural log): 1 when one code is used,
    /// `codebook_size` when all are used equally.
    pub perplexity: f64,
}

impl CodebookUsage {
    /// Usage of `indices` in a codebook of `codebook_size` codes.
    pub fn of(indices: &[u32], codebook_size: usize) -> Result<Self> {
        if indices.is_empty() {
            return Err(Error::Empty {
                what: "tokens for codebook usage".into(),
            });
        }
        let mut counts = vec![0usize; codebook_size];
        for &i in indices {
            let i = i as usize;
            if i >= codebook_size {
                return Err(Error::OutOfRange {
                    what: "code index".into(),
                    index: i,
                    len: codebook_size,
                });
            }
            counts[i] += 1;
        }
        let n = indices.len() as f64;
        let used = counts.iter().filter(|&&c| c > 0).count();
        let entropy: f64 = counts
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| {
                let p = c as f64 / n;
                -p * p.ln()
            })
            .sum();
        Ok(CodebookUsage {
            tokens: indices.len(),
            used,
            codebook_size,
            fraction: used as f64 / codebook_size as f64,
            perplexity: entropy.exp(),
        })
    }

    /// As a table.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new(["tokens", "codes used", "codebook", "usage", "perplexity"]);
        // the widths match the header
        let _ = t.push_row([
            group_digits(self.tokens),
            group_digits(self.used),
            group_digits(self.codebook_size),
            format!("{:.1}%", 100.0 * self.fraction),
            format!("{:.1}", self.perplexity),
        ]);
        t
    }

    /// Renders in a notebook.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_table().to_html()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn every_code_round_trips_through_its_index() -> Result<()> {
        for cfg in [FsqConfig::tiny(), FsqConfig::small(), FsqConfig::paper()] {
            let fsq = cfg.build()?;
            let n = fsq.codebook_size();
            let idx = Tensor::arange(0u32, n as u32, &Device::Cpu)?;
            let codes = fsq.indices_to_codes(&idx, 1)?;
            assert_eq!(codes.dims(), &[n, fsq.dim()]);
            let back = fsq.codes_to_indices(&codes, 1)?.to_vec1::<u32>()?;
            assert_eq!(back, (0..n as u32).collect::<Vec<_>>());
            // all codes distinct is implied by the bijection; codes are quantise's fixed points
            let again = fsq.codes_to_indices(&fsq.quantise(&codes.affine(1.0, 0.0)?, 1)?, 1);
            assert!(again.is_ok());
        }
        Ok(())
    }

    #[test]
    fn outputs_lie_on_the_grid_and_the_bound_keeps_range() -> Result<()> {
        let fsq = FsqConfig::paper().build()?;
        let z = (Tensor::randn(0f32, 1.0, (3, 6, 2, 5, 5), &Device::Cpu)? * 50.0)?;
        let b = fsq.bound(&z, 1)?.permute((0, 2, 3, 4, 1))?.flatten_to(3)?;
        let q = fsq
            .quantise(&z, 1)?
            .permute((0, 2, 3, 4, 1))?
            .flatten_to(3)?;
        let b = b.to_vec2::<f32>()?;
        let q = q.to_vec2::<f32>()?;
        let mut seen_extremes = [false; 2];
        for (brow, qrow) in b.iter().zip(&q) {
            for (c, (&bv, &qv)) in brow.iter().zip(qrow).enumerate() {
                let l = fsq.levels()[c] as f32;
                let (half, offset) = (
                    (l - 1.0) * (1.0 + 1e-3) / 2.0,
                    if l % 2.0 == 0.0 { 0.5 } else { 0.0 },
                );
                assert!(
                    bv >= -half - offset && bv <= half - offset,
                    "bound {bv} for L={l}"
                );
                // the bound rounds to exactly the L integers of the level
                let r = bv.round();
                assert!(
                    r >= -(l / 2.0).floor() && r <= ((l - 1.0) / 2.0).floor(),
                    "{r} for L={l}"
                );
                let w = (fsq.levels()[c] / 2) as f32;
                let k = qv * w;
                assert!((k - k.round()).abs() < 1e-5, "{qv} off the grid");
                assert!((-1.0..=1.0).contains(&qv));
                let digits = (k.round() + w) as i64;
                assert!((0..fsq.levels()[c] as i64).contains(&digits));
                if digits == 0 {
                    seen_extremes[0] = true;
                }
                if digits == fsq.levels()[c] as i64 - 1 {
                    seen_extremes[1] = true;
                }
            }
        }
        // large inputs reach both ends of every level range
        assert_eq!(seen_extremes, [true, true]);
        Ok(())
    }

    #[test]
    fn straight_through_gradient_is_the_identity() -> Result<()> {
        let x = Var::from_tensor(&Tensor::randn(0f32, 3.0, (4, 7), &Device::Cpu)?)?;
        let w = Tensor::randn(0f32, 1.0, (4, 7), &Device::Cpu)?;
        let y = round_ste(x.as_tensor())?;
        assert_eq!(
            y.to_vec2::<f32>()?,
            x.as_tensor().round()?.to_vec2::<f32>()?
        );
        let g = (y * &w)?.sum_all()?.backward()?;
        let gx = g.get(x.as_tensor()).expect("gradient reaches the input");
        assert_eq!(gx.to_vec2::<f32>()?, w.to_vec2::<f32>()?);
        // through quantise: d/dz = tanh'(z + shift) · half_l / ⌊L/2⌋
        let fsq = FsqConfig::tiny().build()?;
        let z = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 2), &Device::Cpu)?)?;
        let g = fsq.quantise(z.as_tensor(), 1)?.sum_all()?.backward()?;
        let gz = g.get(z.as_tensor()).expect("gradient").to_vec2::<f32>()?;
        let (half, _, shift, width) = fsq.constants();
        for (row, zrow) in gz.iter().zip(z.as_tensor().to_vec2::<f32>()?) {
            for c in 0..2 {
                let t = (zrow[c] + shift[c]).tanh();
                let want = (1.0 - t * t) * half[c] / width[c];
                assert!((row[c] - want).abs() < 1e-5, "{} vs {want}", row[c]);
            }
        }
        Ok(())
    }

    #[test]
    fn bad_levels_and_indices_are_typed_errors() -> Result<()> {
        assert!(matches!(
            FsqConfig::paper().with_levels([8, 1]).check(),
            Err(ConfigError::OutOfRange {
                name: "fsq level",
                ..
            })
        ));
        assert!(matches!(
            FsqConfig::paper().with_levels(Vec::<usize>::new()).check(),
            Err(ConfigError::Empty { .. })
        ));
        assert!(matches!(
            FsqConfig::paper().with_levels([1 << 13, 1 << 12]).check(),
            Err(ConfigError::OutOfRange {
                name: "fsq codebook size",
                ..
            })
        ));
        let fsq = FsqConfig::tiny().build()?;
        let idx = Tensor::new(&[3u32, 15], &Device::Cpu)?;
        assert!(matches!(
            fsq.indices_to_codes(&idx, 1),
            Err(Error::OutOfRange { index: 15, .. })
        ));
        let z = Tensor::zeros((2, 3), DType::F32, &Device::Cpu)?;
        assert!(matches!(fsq.quantise(&z, 1), Err(Error::Shape { .. })));
        Ok(())
    }

    #[test]
    fn usage_and_perplexity() -> Result<()> {
        let u = CodebookUsage::of(&[0, 1, 2, 3], 8)?;
        assert_eq!(u.used, 4);
        assert!((u.fraction - 0.5).abs() < 1e-12);
        assert!((u.perplexity - 4.0).abs() < 1e-9);
        let one = CodebookUsage::of(&[5, 5, 5], 8)?;
        assert!((one.perplexity - 1.0).abs() < 1e-12);
        assert!(CodebookUsage::of(&[9], 8).is_err());
        Ok(())
    }
}
