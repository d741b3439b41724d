//! The normalisations of the processor as single CPU ops with exact backwards (the gains and
//! biases follow as [`super::channel`] ops).
//!
//! Written with candle's primitives, a layer norm is eight tensor passes forward and about
//! twenty backward (`sqr`, `sum_keepdim`, `broadcast_sub/div`, their gradients and the
//! broadcast reductions), each allocating a full-size tensor on one thread; these ops read
//! the input once for the statistics and once to write, and the backward twice.
//!
//! - [`NormOp::Rms`] (RMS group normalisation, Walrus): `x (outer, tokens, channels)`,
//!   channels in `groups` groups; `z = x / r` with `r = sqrt(mean(x²) + eps)` over one
//!   group's channels and all tokens of one `outer` index. Backward:
//!   `dx = (dz − z · mean(dz · z)) / r` over the same set.
//! - [`NormOp::Layer`] (layer norm over the last axis): `z = (x − μ) / σ`,
//!   `σ = sqrt(var + eps)`. Backward: `dx = (dz − mean(dz) − z · mean(dz · z)) / σ`.
//!
//! Sums run in `f32` along a row and in `f64` across rows. The backward uses the saved
//! output `z` and recomputes only the statistics `1/r` (or `1/σ`) from `x`. `tests` check values and gradients against the
//! candle-primitive versions in [`crate::nn::norm`].

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;

/// Which normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NormOp {
    /// RMS over `groups` channel groups × all tokens, per leading index; `x (…, tokens,
    /// channels)`.
    Rms {
        /// Channel groups.
        groups: usize,
        /// Added to the mean square.
        eps: f64,
    },
    /// Mean and variance over the last axis.
    Layer {
        /// Added to the variance.
        eps: f64,
    },
}

/// The tensor as `(blocks, rows, cols)` with the columns in `groups` equal groups: one
/// statistic per block and group, over the group's columns of every row.
#[derive(Debug, Clone, Copy)]
struct View {
    /// Independent blocks (one statistic set per block and group).
    blocks: usize,
    /// Rows per block (tokens; 1 for the layer norm).
    rows: usize,
    /// Columns per row (channels; the normalised axis for the layer norm).
    cols: usize,
    /// Column groups (1 for the layer norm).
    groups: usize,
    /// Whether the mean is subtracted (layer norm).
    centred: bool,
    eps: f64,
}

impl View {
    fn new(op: NormOp, dims: &[usize]) -> candle_core::Result<Self> {
        let bad = || candle_core::Error::Msg(format!("normalisation {op:?} of {dims:?}"));
        let n = dims.len();
        let elems: usize = dims.iter().product();
        match op {
            NormOp::Rms { groups, eps } => {
                if n < 2 || groups == 0 || !dims[n - 1].is_multiple_of(groups) {
                    return Err(bad());
                }
                let (rows, cols) = (dims[n - 2], dims[n - 1]);
                Ok(Self {
                    blocks: elems / (rows * cols).max(1),
                    rows,
                    cols,
                    groups,
                    centred: false,
                    eps,
                })
            }
            NormOp::Layer { eps } => {
                let cols = *dims.last().ok_or_else(bad)?;
                Ok(Self {
                    blocks: elems / cols.max(1),
                    rows: 1,
                    cols,
                    groups: 1,
                    centred: true,
                    eps,
                })
            }
        }
    }

    fn block_len(&self) -> usize {
        self.rows * self.cols
    }

    fn group_width(&self) -> usize {
        self.cols / self.groups
    }

    /// Elements per statistic.
    fn count(&self) -> f64 {
        (self.rows * self.group_width()) as f64
    }

    /// Layer norms of short rows are batched into one rayon item.
    fn blocks_per_item(&self) -> usize {
        (4096 / self.block_len().max(1)).max(1)
    }
}

/// Per-group sums `Σ f(a, b)` of one block into `sums`, in `f64` (`f32` within a row).
fn group_sums(v: &View, a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32, sums: &mut [f64]) {
    let gw = v.group_width();
    sums.fill(0.0);
    for (ra, rb) in a.chunks_exact(v.cols).zip(b.chunks_exact(v.cols)) {
        for (g, s) in sums.iter_mut().enumerate() {
            let cols = g * gw..(g + 1) * gw;
            let part: f32 = ra[cols.clone()]
                .iter()
                .zip(&rb[cols])
                .map(|(&x, &y)| f(x, y))
                .sum();
            *s += part as f64;
        }
    }
}

/// Per-group means (0 when not centred) and `1/r` of one block.
fn block_stats(v: &View, xb: &[f32], means: &mut [f64], inv: &mut [f32], scratch: &mut [f64]) {
    let n = v.count();
    if v.centred {
        group_sums(v, xb, xb, |a, _| a, means);
        means.iter_mut().for_each(|m| *m /= n);
    } else {
        means.fill(0.0);
    }
    let gw = v.group_width();
    scratch.fill(0.0);
    for row in xb.chunks_exact(v.cols) {
        for (g, s) in scratch.iter_mut().enumerate() {
            let m = means[g] as f32;
            let part: f32 = row[g * gw..(g + 1) * gw]
                .iter()
                .map(|&x| (x - m) * (x - m))
                .sum();
            *s += part as f64;
        }
    }
    for (i, &sq) in inv.iter_mut().zip(scratch.iter()) {
        *i = (1.0 / (sq / n + v.eps).sqrt()) as f32;
    }
}

/// `1/r` (or `1/σ`) per block and group; with `z`, also writes the normalised values.
fn forward(v: &View, x: &[f32], z: Option<&mut [f32]>) -> Vec<f32> {
    let (bl, gw, per) = (v.block_len(), v.group_width(), v.blocks_per_item());
    let mut inv = vec![0f32; v.blocks * v.groups];
    if bl == 0 {
        return inv;
    }
    let item = |xs: &[f32], invs: &mut [f32], mut zs: Option<&mut [f32]>| {
        let (mut means, mut scratch) = (vec![0f64; v.groups], vec![0f64; v.groups]);
        for (k, (xb, ib)) in xs.chunks(bl).zip(invs.chunks_mut(v.groups)).enumerate() {
            block_stats(v, xb, &mut means, ib, &mut scratch);
            let Some(zs) = zs.as_deref_mut() else {
                continue;
            };
            let zb = &mut zs[k * bl..(k + 1) * bl];
            for (zr, xr) in zb.chunks_exact_mut(v.cols).zip(xb.chunks_exact(v.cols)) {
                for (g, &i) in ib.iter().enumerate() {
                    let m = means[g] as f32;
                    let cols = g * gw..(g + 1) * gw;
                    for (z, &x) in zr[cols.clone()].iter_mut().zip(&xr[cols]) {
                        *z = (x - m) * i;
                    }
                }
            }
        }
    };
    let (xs, invs) = (x.par_chunks(bl * per), inv.par_chunks_mut(v.groups * per));
    match z {
        Some(z) => z
            .par_chunks_mut(bl * per)
            .zip(xs.zip(invs))
            .for_each(|(zs, (xs, invs))| item(xs, invs, Some(zs))),
        None => xs.zip(invs).for_each(|(xs, invs)| item(xs, invs, None)),
    }
    inv
}

/// Backward: `dx` from `dz`, the saved `z` and `1/r`.
fn backward(v: &View, dz: &[f32], z: &[f32], inv: &[f32]) -> Vec<f32> {
    let (bl, n, gw, per) = (
        v.block_len(),
        v.count(),
        v.group_width(),
        v.blocks_per_item(),
    );
    let mut dx = vec![0f32; dz.len()];
    if bl == 0 {
        return dx;
    }
    dx.par_chunks_mut(bl * per)
        .zip(dz.par_chunks(bl * per).zip(z.par_chunks(bl * per)))
        .zip(inv.par_chunks(v.groups * per))
        .for_each(|((dxs, (dzs, zs)), invs)| {
            let (mut dot, mut mean) = (vec![0f64; v.groups], vec![0f64; v.groups]);
            let blocks = dxs.chunks_mut(bl).zip(dzs.chunks(bl).zip(zs.chunks(bl)));
            for ((dxb, (dzb, zb)), ib) in blocks.zip(invs.chunks(v.groups)) {
                group_sums(v, dzb, zb, |a, b| a * b, &mut dot);
                if v.centred {
                    group_sums(v, dzb, dzb, |a, _| a, &mut mean);
                }
                let rows = dzb.chunks_exact(v.cols).zip(zb.chunks_exact(v.cols));
                for (dxr, (dzr, zr)) in dxb.chunks_exact_mut(v.cols).zip(rows) {
                    for (g, &i) in ib.iter().enumerate() {
                        let cols = g * gw..(g + 1) * gw;
                        let (d, m) = ((dot[g] / n) as f32, (mean[g] / n) as f32);
                        let parts = dxr[cols.clone()]
                            .iter_mut()
                            .zip(dzr[cols.clone()].iter().zip(&zr[cols]));
                        for (dx, (&dz, &z)) in parts {
                            *dx = (dz - m - z * d) * i;
                        }
                    }
                }
            }
        });
    dx
}

/// The normalisation as a candle op: input `x`, output `z` (same shape).
#[derive(Debug, Clone, Copy)]
pub struct NormalizeOp(pub NormOp);

impl NormalizeOp {
    /// `z` for a contiguous `f32` CPU tensor.
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op1(self)
    }
}

impl CustomOp1 for NormalizeOp {
    fn name(&self) -> &'static str {
        "phystok-normalise"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        super::alloc::tune_allocator();
        let v = View::new(self.0, l.dims())?;
        let x = contiguous_f32(s, l)?;
        let mut z = vec![0f32; x.len()];
        forward(&v, x, Some(&mut z));
        Ok((CpuStorage::F32(z), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, z: &Tensor, dz: &Tensor) -> candle_core::Result<Option<Tensor>> {
        let inv = x.apply_op1_no_bwd(&InverseScale(self.0))?;
        let dx = dz
            .contiguous()?
            .apply_op2_no_bwd(&z.contiguous()?, &NormGrad { op: self.0, inv })?;
        Ok(Some(dx))
    }
}

/// `1/r` (or `1/σ`) per block and group of `x`.
struct InverseScale(NormOp);

impl CustomOp1 for InverseScale {
    fn name(&self) -> &'static str {
        "phystok-normalise-scale"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let v = View::new(self.0, l.dims())?;
        let inv = forward(&v, contiguous_f32(s, l)?, None);
        let len = inv.len();
        Ok((CpuStorage::F32(inv), Shape::from(len)))
    }
}

/// `dx` from `(dz, z)` and the saved `1/r`.
struct NormGrad {
    op: NormOp,
    inv: Tensor,
}

impl CustomOp2 for NormGrad {
    fn name(&self) -> &'static str {
        "phystok-normalise-grad"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            return Err(candle_core::Error::Msg(
                "normalisation gradient shapes".into(),
            ));
        }
        let v = View::new(self.op, l1.dims())?;
        let inv = self.inv.flatten_all()?.to_vec1::<f32>()?;
        let dx = backward(&v, contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?, &inv);
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
