//! Fused scaled dot-product attention on the CPU, with a fused backward.
//!
//! `O = softmax(s·Q Kᵀ + B) V` per `(batch, head)` group, `s = 1/sqrt(head_dim)`. The
//! queries are taken in blocks of [`BLOCK`] rows: a block's scores `(BLOCK × L_k)` stay in
//! one per-thread buffer, are turned into probabilities in place (max-subtracted row
//! softmax over the full row, so no online rescaling is needed) and multiplied by `V`
//! straight into the output; nothing of size `L_q × L_k` per group is ever stored. rayon runs
//! over `(group, query block)`, each product single-threaded through `gemm`.
//!
//! Backward (FlashAttention's, recomputing `P` block by block instead of storing it):
//! `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ⊙ (dP − rowsum(P ⊙ dP))`, `dQ = s·dS K`,
//! `dK = s·dSᵀ Q`, `dB = dS`. rayon runs over groups (each group owns its `dK`, `dV`).
//! Keys and values travel packed as `kv (B, H, L_k, 2·head_dim)` so that the bias fits the
//! three arguments of a `CustomOp3`; the gradient comes back as one packed tensor that the
//! `bwd` slices.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::softmax::exp_sub_sum;
use super::{Acc, Mat, SharedMut, contiguous_f32, matmul, raw_matmul};

/// Query rows per block.
pub const BLOCK: usize = 64;

/// Sizes of one attention call: `groups = batch · heads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dims {
    batch: usize,
    heads: usize,
    lq: usize,
    lk: usize,
    d: usize,
}

impl Dims {
    fn new(q: &[usize], kv: &[usize]) -> candle_core::Result<Self> {
        match (q, kv) {
            (&[b, h, lq, d], &[b2, h2, lk, d2]) if b == b2 && h == h2 && d2 == 2 * d => Ok(Self {
                batch: b,
                heads: h,
                lq,
                lk,
                d,
            }),
            _ => Err(candle_core::Error::Msg(format!(
                "attention shapes q {q:?} and packed kv {kv:?}"
            ))),
        }
    }

    fn groups(&self) -> usize {
        self.batch * self.heads
    }

    fn scale(&self) -> f32 {
        1.0 / (self.d as f32).sqrt()
    }

    /// Offset of group `g`'s keys in `kv` (values follow `d` columns later; row stride `2d`).
    fn kv_at(&self, g: usize) -> usize {
        g * self.lk * 2 * self.d
    }

    /// Per-group gradient layout: `dq (lq·d) | dkv (lk·2d) | dS (lq·lk, with a bias)`.
    fn grad_len(&self, bias: bool) -> usize {
        self.lq * self.d + self.lk * 2 * self.d + if bias { self.lq * self.lk } else { 0 }
    }
}

/// A (possibly broadcast, stride-0) bias `(B, H, L_q, L_k)`.
#[derive(Clone, Copy)]
struct BiasView<'a> {
    data: &'a [f32],
    start: usize,
    strides: [usize; 4],
}

impl<'a> BiasView<'a> {
    fn new(storage: &'a CpuStorage, layout: &Layout, dims: &Dims) -> candle_core::Result<Self> {
        if layout.dims() != [dims.batch, dims.heads, dims.lq, dims.lk] {
            return Err(candle_core::Error::Msg(format!(
                "attention bias {:?} vs scores {:?}",
                layout.dims(),
                [dims.batch, dims.heads, dims.lq, dims.lk]
            )));
        }
        let s = layout.stride();
        Ok(Self {
            data: storage.as_slice::<f32>()?,
            start: layout.start_offset(),
            strides: [s[0], s[1], s[2], s[3]],
        })
    }

    /// Row `i` of group `g` as a slice, when its elements are contiguous.
    fn row(&self, dims: &Dims, g: usize, i: usize) -> Option<&'a [f32]> {
        let [sb, sh, si, sj] = self.strides;
        if sj != 1 {
            return None;
        }
        let start = self.start + (g / dims.heads) * sb + (g % dims.heads) * sh + i * si;
        self.data.get(start..start + dims.lk)
    }

    fn at(&self, dims: &Dims, g: usize, i: usize, j: usize) -> f32 {
        let [sb, sh, si, sj] = self.strides;
        self.data[self.start + (g / dims.heads) * sb + (g % dims.heads) * sh + i * si + j * sj]
    }
}

/// The probabilities of query rows `i0..i0 + rows` of group `g` into `p (rows × L_k)`.
#[allow(clippy::too_many_arguments)]
fn probabilities(
    dims: &Dims,
    q: &[f32],
    kv: &[f32],
    bias: Option<BiasView>,
    g: usize,
    i0: usize,
    rows: usize,
    p: &mut [f32],
) {
    let (lk, d) = (dims.lk, dims.d);
    let qs = Mat::rows(q, (g * dims.lq + i0) * d, d);
    let kt = Mat::rows(kv, dims.kv_at(g), 2 * d).t();
    matmul(rows, lk, d, p, 0, lk, Acc::Overwrite, qs, kt);
    let scale = dims.scale();
    for (r, row) in p.chunks_exact_mut(lk).enumerate() {
        match bias {
            Some(bias) => match bias.row(dims, g, i0 + r) {
                Some(b) => {
                    for (s, &b) in row.iter_mut().zip(b) {
                        *s = *s * scale + b;
                    }
                }
                None => {
                    for (j, s) in row.iter_mut().enumerate() {
                        *s = *s * scale + bias.at(dims, g, i0 + r, j);
                    }
                }
            },
            None => row.iter_mut().for_each(|s| *s *= scale),
        }
        // a NaN score makes the maximum NaN (f32::max would skip it), so the whole row is
        // NaN, exactly as candle's max, exp and sum make it
        let max = row.iter().copied().fold(f32::NEG_INFINITY, |m, v| {
            if m.is_nan() || v.is_nan() {
                f32::NAN
            } else {
                m.max(v)
            }
        });
        let inv = 1.0 / exp_sub_sum(row, max);
        row.iter_mut().for_each(|s| *s *= inv);
    }
}

fn forward(dims: &Dims, q: &[f32], kv: &[f32], bias: Option<BiasView>) -> Vec<f32> {
    let (lq, lk, d) = (dims.lq, dims.lk, dims.d);
    let mut out = vec![0f32; dims.groups() * lq * d];
    let dst = SharedMut(out.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..dims.groups())
        .flat_map(|g| (0..lq).step_by(BLOCK).map(move |i0| (g, i0)))
        .collect();
    tasks.par_iter().for_each_init(Vec::new, |p, &(g, i0)| {
        let rows = BLOCK.min(lq - i0);
        p.resize(rows * lk, 0.0);
        probabilities(dims, q, kv, bias, g, i0, rows, p);
        let vs = Mat::rows(kv, dims.kv_at(g) + d, 2 * d);
        // SAFETY: task (g, i0) writes only rows i0..i0 + rows of group g's output.
        unsafe {
            let o = dst.ptr().add((g * lq + i0) * d);
            raw_matmul(rows, d, lk, o, d, Acc::Overwrite, Mat::rows(p, 0, lk), vs);
        }
    });
    out
}

/// One group's `dq | dkv | dS` into `grad` (zeroed).
fn backward_group(
    dims: &Dims,
    (q, kv, dout): (&[f32], &[f32], &[f32]),
    bias: Option<BiasView>,
    g: usize,
    grad: &mut [f32],
    (p, dp): (&mut Vec<f32>, &mut Vec<f32>),
) {
    let (lq, lk, d) = (dims.lq, dims.lk, dims.d);
    let (dq_at, dkv_at, ds_at) = (0, lq * d, lq * d + lk * 2 * d);
    let ks = Mat::rows(kv, dims.kv_at(g), 2 * d);
    let vs = Mat::rows(kv, dims.kv_at(g) + d, 2 * d);
    for i0 in (0..lq).step_by(BLOCK) {
        let rows = BLOCK.min(lq - i0);
        p.resize(rows * lk, 0.0);
        dp.resize(rows * lk, 0.0);
        probabilities(dims, q, kv, bias, g, i0, rows, p);
        let dos = Mat::rows(dout, (g * lq + i0) * d, d);
        let ps = Mat::rows(p, 0, lk);
        matmul(lk, d, rows, grad, dkv_at + d, 2 * d, Acc::Add, ps.t(), dos);
        matmul(rows, lk, d, dp, 0, lk, Acc::Overwrite, dos, vs.t());
        for (prow, dprow) in p.chunks_exact(lk).zip(dp.chunks_exact_mut(lk)) {
            let di: f32 = prow.iter().zip(dprow.iter()).map(|(a, b)| a * b).sum();
            for (ds, &pv) in dprow.iter_mut().zip(prow) {
                *ds = pv * (*ds - di);
            }
        }
        if bias.is_some() {
            grad[ds_at + i0 * lk..ds_at + (i0 + rows) * lk].copy_from_slice(dp);
        }
        let dss = Mat::rows(dp, 0, lk);
        matmul(
            rows,
            d,
            lk,
            grad,
            dq_at + i0 * d,
            d,
            Acc::Overwrite,
            dss,
            ks,
        );
        let qs = Mat::rows(q, (g * lq + i0) * d, d);
        matmul(lk, d, rows, grad, dkv_at, 2 * d, Acc::Add, dss.t(), qs);
    }
    let scale = dims.scale();
    grad[dq_at..dkv_at].iter_mut().for_each(|x| *x *= scale);
    for row in grad[dkv_at..ds_at].chunks_exact_mut(2 * d) {
        row[..d].iter_mut().for_each(|x| *x *= scale);
    }
}

fn backward(
    dims: &Dims,
    (q, kv, dout): (&[f32], &[f32], &[f32]),
    bias: Option<BiasView>,
) -> Vec<f32> {
    let len = dims.grad_len(bias.is_some());
    let mut grad = vec![0f32; dims.groups() * len];
    grad.par_chunks_mut(len).enumerate().for_each_init(
        || (Vec::new(), Vec::new()),
        |(p, dp), (g, chunk)| backward_group(dims, (q, kv, dout), bias, g, chunk, (p, dp)),
    );
    grad
}

/// Fused attention over `q (B, H, L_q, D)` and packed `kv (B, H, L_k, 2D)` (`CustomOp2`), or
/// with a bias `(B, H, L_q, L_k)`, possibly a stride-0 broadcast (`CustomOp3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FusedAttentionOp;

impl FusedAttentionOp {
    /// `softmax(q kᵀ / sqrt(D) + bias) v` with `q (B, H, L_q, D)`, `k`, `v (B, H, L_k, D)`
    /// and `bias` broadcastable to `(B, H, L_q, L_k)`; `f32` CPU tensors.
    pub fn apply(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        bias: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let q = q.contiguous()?;
        let kv = Tensor::cat(&[k, v], 3)?;
        let dims = Dims::new(q.dims(), kv.dims())?;
        match bias {
            Some(bias) => {
                let bias = bias.broadcast_as((dims.batch, dims.heads, dims.lq, dims.lk))?;
                q.apply_op3(&kv, &bias, FusedAttentionOp)
            }
            None => q.apply_op2(&kv, FusedAttentionOp),
        }
    }

    fn grads(
        q: &Tensor,
        kv: &Tensor,
        bias: Option<&Tensor>,
        dout: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Option<Tensor>)> {
        let dims = Dims::new(q.dims(), kv.dims())?;
        let op = AttentionGradOp {
            q: q.clone(),
            kv: kv.clone(),
            bias: bias.cloned(),
        };
        let packed = dout.contiguous()?.apply_op1_no_bwd(&op)?;
        let (b, h, lq, lk, d) = (dims.batch, dims.heads, dims.lq, dims.lk, dims.d);
        let part = |at: usize, len: usize| packed.narrow(1, at, len)?.contiguous();
        let dq = part(0, lq * d)?.reshape((b, h, lq, d))?;
        let dkv = part(lq * d, lk * 2 * d)?.reshape((b, h, lk, 2 * d))?;
        let dbias = match bias {
            Some(_) => Some(part(lq * d + lk * 2 * d, lq * lk)?.reshape((b, h, lq, lk))?),
            None => None,
        };
        Ok((dq, dkv, dbias))
    }
}

impl CustomOp2 for FusedAttentionOp {
    fn name(&self) -> &'static str {
        "phystok-fused-attention"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        super::alloc::tune_allocator();
        let dims = Dims::new(l1.dims(), l2.dims())?;
        let out = forward(
            &dims,
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            None,
        );
        Ok((CpuStorage::F32(out), Shape::from(l1.dims())))
    }

    fn bwd(
        &self,
        q: &Tensor,
        kv: &Tensor,
        _res: &Tensor,
        dout: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dq, dkv, _) = Self::grads(q, kv, None, dout)?;
        Ok((Some(dq), Some(dkv)))
    }
}

impl CustomOp3 for FusedAttentionOp {
    fn name(&self) -> &'static str {
        "phystok-fused-attention-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let dims = Dims::new(l1.dims(), l2.dims())?;
        let bias = BiasView::new(s3, l3, &dims)?;
        let out = forward(
            &dims,
            contiguous_f32(s1, l1)?,
            contiguous_f32(s2, l2)?,
            Some(bias),
        );
        Ok((CpuStorage::F32(out), Shape::from(l1.dims())))
    }

    fn bwd(
        &self,
        q: &Tensor,
        kv: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        dout: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dq, dkv, dbias) = Self::grads(q, kv, Some(bias), dout)?;
        Ok((Some(dq), Some(dkv), dbias))
    }
}

/// The packed gradient `(B·H, dq | dkv | dS)` of [`FusedAttentionOp`] from `dO`.
struct AttentionGradOp {
    q: Tensor,
    kv: Tensor,
    bias: Option<Tensor>,
}

fn cpu(storage: &Storage) -> candle_core::Result<&CpuStorage> {
    match storage {
        Storage::Cpu(s) => Ok(s),
        _ => Err(candle_core::Error::Msg(
            "fused attention runs on the cpu only".into(),
        )),
    }
}

impl CustomOp1 for AttentionGradOp {
    fn name(&self) -> &'static str {
        "phystok-fused-attention-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (qs, ql) = self.q.storage_and_layout();
        let (kvs, kvl) = self.kv.storage_and_layout();
        let dims = Dims::new(ql.dims(), kvl.dims())?;
        if l.dims() != ql.dims() {
            return Err(candle_core::Error::Msg(format!(
                "attention output gradient {:?} vs queries {:?}",
                l.dims(),
                ql.dims()
            )));
        }
        let q = contiguous_f32(cpu(&qs)?, ql)?;
        let kv = contiguous_f32(cpu(&kvs)?, kvl)?;
        let dout = contiguous_f32(s, l)?;
        let grad = match &self.bias {
            Some(bias) => {
                let (bs, bl) = bias.storage_and_layout();
                let view = BiasView::new(cpu(&bs)?, bl, &dims)?;
                backward(&dims, (q, kv, dout), Some(view))
            }
            None => backward(&dims, (q, kv, dout), None),
        };
        let len = dims.grad_len(self.bias.is_some());
        Ok((CpuStorage::F32(grad), Shape::from((dims.groups(), len))))
    }
}
