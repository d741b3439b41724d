//! Per-channel bias and gain on the CPU, with backwards that reduce each channel in one pass.
//!
//! `x.broadcast_add(b)` and `x.broadcast_mul(g)` are fast forward, but candle 0.11's backward
//! of a broadcast reduces the gradient with `sum_keepdim` over several non-contiguous axes at
//! once, a strided walk that took 14 ms per call on a `(2, 16, 9, 64, 64)` gradient (19 % of
//! a tokeniser training step, and 18 % of a processor block step through the norms' gains,
//! measured with `perf`). Here the tensor is viewed as `(outer, channels, inner)`:
//!
//! - [`ChannelOp::Add`]: `y = x + b[c]`; `dx = dy` (no copy), `db[c] = Σ dy`.
//! - [`ChannelOp::Mul`]: `y = x · g[c]`; `dx = dy · g[c]`, `dg[c] = Σ dy · x`.
//!
//! Each sum is read once, contiguously, in sixteen `f32` lanes per block of 256 added in
//! `f64`; rayon runs over the outer index.

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::contiguous_f32;

/// `(outer, channels, inner)`: the tensor's shape around the channel axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    outer: usize,
    channels: usize,
    inner: usize,
}

impl Split {
    fn new(dims: &[usize], axis: usize) -> candle_core::Result<Self> {
        if axis >= dims.len() {
            return Err(candle_core::Error::Msg(format!(
                "channel axis {axis} of a rank-{} tensor",
                dims.len()
            )));
        }
        Ok(Self {
            outer: dims[..axis].iter().product(),
            channels: dims[axis],
            inner: dims[axis + 1..].iter().product(),
        })
    }

    fn row(&self) -> usize {
        self.channels * self.inner
    }
}

/// Which per-channel operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelOp {
    /// `x + b[c]`.
    Add,
    /// `x · g[c]`.
    Mul,
}

/// `y = x ∘ v[c]` with `v (channels)` broadcast along every axis but `axis` (a candle op).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelMapOp {
    /// The operation.
    pub op: ChannelOp,
    /// The axis of `x` that `v` runs along.
    pub axis: usize,
}

impl ChannelMapOp {
    /// `x ∘ v` for contiguous `f32` CPU tensors.
    pub fn apply(self, x: &Tensor, v: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op2(&v.contiguous()?, self)
    }
}

/// `out = x ∘ v[c]` over `(outer, channels, inner)`.
fn map(op: ChannelOp, x: &[f32], v: &[f32], split: Split) -> Vec<f32> {
    // one monomorphised (inlined, vectorised) loop per operation
    match op {
        ChannelOp::Add => map_with(x, v, split, |a, b| a + b),
        ChannelOp::Mul => map_with(x, v, split, |a, b| a * b),
    }
}

fn map_with(x: &[f32], v: &[f32], split: Split, f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0f32; x.len()];
    let row = split.row();
    if row == 0 {
        return out;
    }
    // whole rows, at least ~16k elements per rayon item
    let rows_per_item = (16384 / row).max(1);
    out.par_chunks_mut(row * rows_per_item)
        .zip(x.par_chunks(row * rows_per_item))
        .for_each(|(ys, xs)| {
            for (ys, xs) in ys.chunks_mut(row).zip(xs.chunks(row)) {
                if split.inner == 1 {
                    for ((y, &x), &v) in ys.iter_mut().zip(xs).zip(v) {
                        *y = f(x, v);
                    }
                } else {
                    let lines = ys.chunks_mut(split.inner).zip(xs.chunks(split.inner));
                    for ((yl, xl), &v) in lines.zip(v) {
                        for (y, &x) in yl.iter_mut().zip(xl) {
                            *y = f(x, v);
                        }
                    }
                }
            }
        });
    out
}

impl CustomOp2 for ChannelMapOp {
    fn name(&self) -> &'static str {
        match self.op {
            ChannelOp::Add => "phystok-channel-add",
            ChannelOp::Mul => "phystok-channel-mul",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        super::alloc::tune_allocator();
        let split = Split::new(l1.dims(), self.axis)?;
        if l2.dims() != [split.channels] {
            return Err(candle_core::Error::Msg(format!(
                "per-channel values {:?} for axis {} of {:?}",
                l2.dims(),
                self.axis,
                l1.dims()
            )));
        }
        let (x, v) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        Ok((
            CpuStorage::F32(map(self.op, x, v, split)),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        x: &Tensor,
        v: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let reduce = ChannelReduce { axis: self.axis };
        Ok(match self.op {
            ChannelOp::Add => (Some(dy.clone()), Some(dy.apply_op1_no_bwd(&reduce)?)),
            ChannelOp::Mul => (
                Some(dy.apply_op2_no_bwd(v, self)?),
                Some(dy.apply_op2_no_bwd(&x.contiguous()?, &reduce)?),
            ),
        })
    }
}

/// `Σ a` (one argument) or `Σ a · b` (two) over every axis but `axis`, giving `(channels)`.
struct ChannelReduce {
    axis: usize,
}

/// `Σ a·b` (or `Σ a`) in blocks of 256 summed in sixteen `f32` lanes (vectorised), blocks
/// added in `f64`.
fn dot(a: &[f32], b: Option<&[f32]>) -> f64 {
    let block_sum = |i: usize, block: &[f32]| -> f64 {
        let mut lanes = [0f32; 16];
        let other = b.map(|b| &b[i * 256..i * 256 + block.len()]);
        let mut tail = 0f32;
        match other {
            Some(o) => {
                let (mut ca, mut cb) = (block.chunks_exact(16), o.chunks_exact(16));
                for (x, y) in (&mut ca).zip(&mut cb) {
                    for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
                        *l += x * y;
                    }
                }
                tail += ca
                    .remainder()
                    .iter()
                    .zip(cb.remainder())
                    .map(|(x, y)| x * y)
                    .sum::<f32>();
            }
            None => {
                let mut ca = block.chunks_exact(16);
                for x in &mut ca {
                    lanes.iter_mut().zip(x).for_each(|(l, v)| *l += v);
                }
                tail += ca.remainder().iter().sum::<f32>();
            }
        }
        lanes.iter().map(|&l| l as f64).sum::<f64>() + tail as f64
    };
    a.chunks(256)
        .enumerate()
        .map(|(i, blk)| block_sum(i, blk))
        .sum()
}

/// Per-channel `Σ a·b` (or `Σ a`) over `(outer, channels, inner)`, accumulated in `f64`.
fn channel_dots(a: &[f32], b: Option<&[f32]>, split: Split) -> Vec<f64> {
    let row = split.row();
    if row == 0 {
        return vec![0.0; split.channels];
    }
    let add_row = |acc: &mut [f64], _: &mut (), &i: &usize| {
        let xs = &a[i * row..(i + 1) * row];
        let ys = b.map(|b| &b[i * row..(i + 1) * row]);
        if split.inner == 1 {
            match ys {
                Some(ys) => acc
                    .iter_mut()
                    .zip(xs.iter().zip(ys))
                    .for_each(|(a, (&x, &y))| *a += (x * y) as f64),
                None => acc.iter_mut().zip(xs).for_each(|(a, &v)| *a += v as f64),
            }
        } else {
            for (c, a) in acc.iter_mut().enumerate() {
                let line = c * split.inner..(c + 1) * split.inner;
                *a += dot(&xs[line.clone()], ys.map(|ys| &ys[line]));
            }
        }
    };
    // a fixed partition summed in index order: the same bits for any thread count
    let rows: Vec<usize> = (0..a.len() / row).collect();
    super::ordered::ordered_sum(&rows, split.channels, || (), add_row)
}

impl ChannelReduce {
    fn finish(
        &self,
        a: &[f32],
        b: Option<&[f32]>,
        l: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let split = Split::new(l.dims(), self.axis)?;
        let sums = channel_dots(a, b, split);
        let out = sums.into_iter().map(|v| v as f32).collect();
        Ok((CpuStorage::F32(out), Shape::from(split.channels)))
    }
}

impl candle_core::CustomOp1 for ChannelReduce {
    fn name(&self) -> &'static str {
        "phystok-channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        self.finish(contiguous_f32(s, l)?, None, l)
    }
}

impl CustomOp2 for ChannelReduce {
    fn name(&self) -> &'static str {
        "phystok-channel-dot"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            return Err(candle_core::Error::Msg(format!(
                "channel dot of {:?} and {:?}",
                l1.dims(),
                l2.dims()
            )));
        }
        self.finish(contiguous_f32(s1, l1)?, Some(contiguous_f32(s2, l2)?), l1)
    }
}

/// `x + b`, `b (channels)` along `axis` of `x`: [`ChannelMapOp`] for `f32` CPU tensors,
/// candle's `broadcast_add` everywhere else.
pub fn add_channel_bias(x: &Tensor, b: &Tensor, axis: usize) -> candle_core::Result<Tensor> {
    channel_map(ChannelOp::Add, x, b, axis)
}

/// `x · g`, `g (channels)` along `axis` of `x`: [`ChannelMapOp`] for `f32` CPU tensors,
/// candle's `broadcast_mul` everywhere else.
pub fn mul_channel_gain(x: &Tensor, g: &Tensor, axis: usize) -> candle_core::Result<Tensor> {
    channel_map(ChannelOp::Mul, x, g, axis)
}

fn channel_map(op: ChannelOp, x: &Tensor, v: &Tensor, axis: usize) -> candle_core::Result<Tensor> {
    if super::applies(&[x, v]) {
        return ChannelMapOp { op, axis }.apply(x, v);
    }
    let mut shape = vec![1; x.rank()];
    if axis < shape.len() {
        shape[axis] = v.elem_count();
    }
    let v = v.reshape(shape)?;
    match op {
        ChannelOp::Add => x.broadcast_add(&v),
        ChannelOp::Mul => x.broadcast_mul(&v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn values(n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|i| scale * (0.37 * i as f32).sin()).collect()
    }

    /// Forward and both gradients equal `broadcast_add`'s and `broadcast_mul`'s, for a
    /// middle and a last axis, and lines longer than one 256-element block.
    #[test]
    fn matches_broadcast_ops_forward_and_backward() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        let cases = [
            (vec![2, 3, 4, 5], 1),
            (vec![6, 7], 1),
            (vec![3, 5, 4], 2),
            (vec![2, 3, 300], 1),
        ];
        for ((dims, axis), op) in cases
            .iter()
            .flat_map(|c| [(c.clone(), ChannelOp::Add), (c.clone(), ChannelOp::Mul)])
        {
            let n: usize = dims.iter().product();
            let c = dims[axis];
            let x = Var::from_vec(values(n, 1.0), dims.clone(), &dev)?;
            let b = Var::from_vec(values(c, 0.5), c, &dev)?;
            let weights = Tensor::from_vec(values(n, 2.0), dims.clone(), &dev)?;
            let loss = |y: Tensor| (y * &weights)?.sum_all();

            let ours = channel_map(op, x.as_tensor(), b.as_tensor(), axis)?;
            let grads = loss(ours.clone())?.backward()?;
            let mut shape = vec![1; dims.len()];
            shape[axis] = c;
            let bs = b.as_tensor().reshape(shape)?;
            let plain = match op {
                ChannelOp::Add => x.as_tensor().broadcast_add(&bs)?,
                ChannelOp::Mul => x.as_tensor().broadcast_mul(&bs)?,
            };
            let plain_grads = loss(plain.clone())?.backward()?;

            let diff = |a: &Tensor, b: &Tensor| -> candle_core::Result<f32> {
                (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
            };
            assert_eq!(diff(&ours, &plain)?, 0.0);
            for v in [&x, &b] {
                let (g, p) = (grads.get(v).unwrap(), plain_grads.get(v).unwrap());
                let scale = p.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
                assert!(scale > 0.0);
                assert!(diff(g, p)? < 1e-5 * scale, "{op:?} {dims:?} axis {axis}");
            }
        }
        Ok(())
    }

    #[test]
    fn values_of_the_wrong_length_are_an_error() {
        let x = Tensor::zeros((2, 3, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let b = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        for op in [ChannelOp::Add, ChannelOp::Mul] {
            assert!(ChannelMapOp { op, axis: 1 }.apply(&x, &b).is_err());
            assert!(ChannelMapOp { op, axis: 3 }.apply(&x, &b).is_err());
        }
    }
}
