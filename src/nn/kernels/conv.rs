//! Causal 3D convolution on the CPU: im2col + GEMM, with input and weight gradients.
//!
//! Output frame `j` sees input frames `j·s_t − (k_t − 1) ..= j·s_t` (the `k_t − 1` causal
//! zero frames are never materialised: taps before frame 0 are skipped). For each
//! `(batch, output frame)` the taps `(dt, c, dy, dx)` that exist are copied into a column
//! matrix `cols (K × H'W')` and one product `W (C_out × K) · cols` writes the output frame in
//! place (row stride `T'·H'W'`, no permute). rayon runs over `batch × frames`, each product
//! single-threaded. A `1x1` spatial kernel at stride 1 skips the copy and multiplies the
//! input frames directly.
//!
//! Backward (the transposed products): `dW += dY · colsᵀ` summed over `(batch, frame)` with
//! one accumulator per rayon split. At unit strides `dX` is itself a convolution, of `dY`
//! with the flipped kernel, reading frames `t ..= t + k_t − 1` and padded by `k − 1 − p`:
//! the same im2col + GEMM path. With strides, `dX` per `(batch, input frame)` gathers every
//! output frame that read it, `dcols = W_dtᵀ · dY`, scattered back by col2im. Matches
//! `causal_conv3d(.., ConvStrategy::FoldedTaps)` to float32 rounding (`tests/kernels.rs`).

use candle_core::{CpuStorage, CustomOp2, Layout, Shape, Tensor};
use rayon::prelude::*;

use super::geom::{ConvKernel, Geom};
use super::ordered::ordered_sum;
use super::{Acc, Mat, SharedMut, contiguous_f32, direct, matmul, raw_matmul};

/// The output indices `o < n_out` whose input index `o·s + off` lies in `0..size`.
fn valid_range(n_out: usize, size: usize, s: usize, off: isize) -> (usize, usize) {
    let lo = if off >= 0 {
        0
    } else {
        ((-off) as usize).div_ceil(s)
    };
    let hi = if off >= size as isize {
        0
    } else {
        ((size as isize - off) as usize).div_ceil(s).min(n_out)
    };
    (lo.min(hi), hi)
}

/// Copies the taps `dt0..dt1` of output frame `to` of batch `b` into `cols`.
fn im2col(g: &Geom, x: &[f32], b: usize, to: usize, (dt0, dt1): (usize, usize), cols: &mut [f32]) {
    let n = g.n_out();
    let mut rows = cols.chunks_exact_mut(n);
    for dt in dt0..dt1 {
        let ti = g.frame_in(to, dt);
        for c in 0..g.c_in {
            let frame = &x[g.x_frame(b, c, ti)..][..g.h * g.w];
            for dy in 0..g.kh {
                for dx in 0..g.kw {
                    let row = rows.next().expect("column matrix holds every tap");
                    tap_row(g, frame, dy, dx, row);
                }
            }
        }
    }
}

/// One column-matrix row: the frame shifted by tap `(dy, dx)`, zeros outside.
fn tap_row(g: &Geom, frame: &[f32], dy: usize, dx: usize, row: &mut [f32]) {
    let (oy, ox) = (dy as isize - g.pad as isize, dx as isize - g.pad as isize);
    let (ylo, yhi) = valid_range(g.h_out, g.h, g.ss, oy);
    let (xlo, xhi) = valid_range(g.w_out, g.w, g.ss, ox);
    for (yo, out) in row.chunks_exact_mut(g.w_out).enumerate() {
        if yo < ylo || yo >= yhi {
            out.fill(0.0);
            continue;
        }
        let yi = (yo * g.ss + dy) - g.pad;
        let line = &frame[yi * g.w..(yi + 1) * g.w];
        out[..xlo].fill(0.0);
        out[xhi..].fill(0.0);
        if g.ss == 1 {
            let x0 = (xlo as isize + ox) as usize;
            out[xlo..xhi].copy_from_slice(&line[x0..x0 + xhi - xlo]);
        } else {
            for (xo, o) in out.iter_mut().enumerate().take(xhi).skip(xlo) {
                *o = line[(xo * g.ss) + dx - g.pad];
            }
        }
    }
}

/// Adds the column-matrix rows of one `dt` (ordered `(c, dy, dx)`) back onto the input
/// frames `frames[c]` (the transpose of [`im2col`]).
fn col2im_add(g: &Geom, cols: &[f32], frames: &mut [&mut [f32]]) {
    let n = g.n_out();
    let mut rows = cols.chunks_exact(n);
    for frame in frames.iter_mut() {
        for dy in 0..g.kh {
            for dx in 0..g.kw {
                let row = rows.next().expect("column matrix holds every tap");
                let (oy, ox) = (dy as isize - g.pad as isize, dx as isize - g.pad as isize);
                let (ylo, yhi) = valid_range(g.h_out, g.h, g.ss, oy);
                let (xlo, xhi) = valid_range(g.w_out, g.w, g.ss, ox);
                for yo in ylo..yhi {
                    let yi = (yo * g.ss + dy) - g.pad;
                    let line = &mut frame[yi * g.w..(yi + 1) * g.w];
                    let src = &row[yo * g.w_out..(yo + 1) * g.w_out];
                    if g.ss == 1 {
                        let x0 = (xlo as isize + ox) as usize;
                        for (d, s) in line[x0..x0 + xhi - xlo].iter_mut().zip(&src[xlo..xhi]) {
                            *d += s;
                        }
                    } else {
                        for (xo, s) in src.iter().enumerate().take(xhi).skip(xlo) {
                            line[xo * g.ss + dx - g.pad] += s;
                        }
                    }
                }
            }
        }
    }
}

/// The weight `(C_out, C_in, k_t, k_h, k_w)` reordered to `(C_out, k_t, C_in, k_h, k_w)`
/// (`Inverse` undoes it).
fn permute_weight(g: &Geom, w: &[f32], direction: Direction) -> Vec<f32> {
    let kk = g.kk();
    let mut out = vec![0f32; w.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for dt in 0..g.kt {
                let orig = ((o * g.c_in + c) * g.kt + dt) * kk;
                let tap = ((o * g.kt + dt) * g.c_in + c) * kk;
                let (from, to) = match direction {
                    Direction::Forward => (orig, tap),
                    Direction::Inverse => (tap, orig),
                };
                out[to..to + kk].copy_from_slice(&w[from..from + kk]);
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Forward,
    Inverse,
}

fn forward(g: &Geom, x: &[f32], w: &[f32]) -> Vec<f32> {
    if let Some(isa) = direct::select(g) {
        return direct::forward(g, isa, x, w);
    }
    let wk = permute_weight(g, w, Direction::Forward);
    let (k, n, kk) = (g.k(), g.n_out(), g.kk());
    let mut y = vec![0f32; g.b * g.c_out * g.t_out * n];
    let dst = SharedMut(y.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..g.b)
        .flat_map(|b| (0..g.t_out).map(move |to| (b, to)))
        .collect();
    tasks.par_iter().for_each_init(Vec::new, |cols, &(b, to)| {
        let (dt0, dt1) = g.taps(to);
        if dt0 == dt1 {
            return; // only padding: the output frame stays zero
        }
        // SAFETY: task (b, to) writes only y[b, :, to, :], disjoint from every other task.
        let out = unsafe { dst.ptr().add(g.y_frame(b, to)) };
        let y_rs = g.t_out * n;
        if g.pointwise() {
            for dt in dt0..dt1 {
                let acc = if dt == dt0 { Acc::Overwrite } else { Acc::Add };
                let a = Mat::rows(&wk, dt * g.c_in, k);
                let xs = Mat::rows(x, g.x_frame(b, 0, g.frame_in(to, dt)), g.t * n);
                // SAFETY: as above.
                unsafe { raw_matmul(g.c_out, n, g.c_in, out, y_rs, acc, a, xs) };
            }
        } else {
            let rows = (dt1 - dt0) * g.c_in * kk;
            cols.resize(rows * n, 0.0);
            im2col(g, x, b, to, (dt0, dt1), cols);
            let a = Mat::rows(&wk, dt0 * g.c_in * kk, k);
            // SAFETY: as above.
            unsafe {
                raw_matmul(
                    g.c_out,
                    n,
                    rows,
                    out,
                    y_rs,
                    Acc::Overwrite,
                    a,
                    Mat::rows(cols, 0, n),
                )
            };
        }
    });
    y
}

fn weight_grad(g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    if let Some(isa) = direct::select(g) {
        return direct::weight_grad(g, isa, x, dy);
    }
    let (k, n, kk) = (g.k(), g.n_out(), g.kk());
    let y_rs = g.t_out * n;
    let tasks: Vec<(usize, usize)> = (0..g.b)
        .flat_map(|b| (0..g.t_out).map(move |to| (b, to)))
        .collect();
    // a fixed partition summed in index order: the same bits for any thread count
    let dwk = ordered_sum(
        &tasks,
        g.c_out * k,
        Vec::new,
        |dwk: &mut [f32], cols: &mut Vec<f32>, &(b, to)| {
            let (dt0, dt1) = g.taps(to);
            let dys = Mat::rows(dy, g.y_frame(b, to), y_rs);
            if g.pointwise() {
                for dt in dt0..dt1 {
                    let xs = Mat::rows(x, g.x_frame(b, 0, g.frame_in(to, dt)), g.t * n).t();
                    matmul(g.c_out, g.c_in, n, dwk, dt * g.c_in, k, Acc::Add, dys, xs);
                }
            } else {
                let rows = (dt1 - dt0) * g.c_in * kk;
                cols.resize(rows * n, 0.0);
                im2col(g, x, b, to, (dt0, dt1), cols);
                let colst = Mat::rows(cols, 0, n).t();
                matmul(
                    g.c_out,
                    rows,
                    n,
                    dwk,
                    dt0 * g.c_in * kk,
                    k,
                    Acc::Add,
                    dys,
                    colst,
                );
            }
        },
    );
    permute_weight(g, &dwk, Direction::Inverse)
}

/// `w (C_out, C_in, k_t, k_h, k_w)` → `w' (C_in, C_out, k_t, k_h, k_w)` with every tap
/// reversed: `w'[c, o, a, b, d] = w[o, c, k_t − 1 − a, k_h − 1 − b, k_w − 1 − d]`.
fn flip_weight(g: &Geom, w: &[f32]) -> Vec<f32> {
    let taps = g.kt * g.kk();
    let mut out = vec![0f32; w.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            let src = &w[(o * g.c_in + c) * taps..][..taps];
            let dst = &mut out[(c * g.c_out + o) * taps..][..taps];
            for (d, s) in dst.iter_mut().zip(src.iter().rev()) {
                *d = *s;
            }
        }
    }
    out
}

fn input_grad(g: &Geom, w: &[f32], dy: &[f32]) -> Vec<f32> {
    if g.st == 1 && g.ss == 1 {
        // a plain convolution of dY with the flipped kernel: one GEMM per frame with
        // K = C_out·k_t·k_h·k_w instead of k_t GEMMs with K = C_out and a scatter
        return forward(&g.transposed(), dy, &flip_weight(g, w));
    }
    let wk = permute_weight(g, w, Direction::Forward);
    let (k, n, kk, hw) = (g.k(), g.n_out(), g.kk(), g.h * g.w);
    let y_rs = g.t_out * n;
    let mut dx = vec![0f32; g.b * g.c_in * g.t * hw];
    let dst = SharedMut(dx.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..g.b)
        .flat_map(|b| (0..g.t).map(move |ti| (b, ti)))
        .collect();
    tasks.par_iter().for_each_init(Vec::new, |cols, &(b, ti)| {
        for dt in 0..g.kt {
            let lag = ti + g.kt - 1 - dt;
            if !lag.is_multiple_of(g.st) || lag / g.st >= g.t_out {
                continue;
            }
            let to = lag / g.st;
            let dys = Mat::rows(dy, g.y_frame(b, to), y_rs);
            // W_dtᵀ: rows (c, dy, dx) of tap dt, columns o.
            let wt = Mat::rows(&wk, dt * g.c_in * kk, k).t();
            if g.pointwise() {
                // SAFETY: task (b, ti) writes only dx[b, :, ti, :], disjoint from every other.
                let out = unsafe { dst.ptr().add(g.x_frame(b, 0, ti)) };
                unsafe { raw_matmul(g.c_in, n, g.c_out, out, g.t * hw, Acc::Add, wt, dys) };
            } else {
                let rows = g.c_in * kk;
                cols.resize(rows * n, 0.0);
                matmul(rows, n, g.c_out, cols, 0, n, Acc::Overwrite, wt, dys);
                // SAFETY: as above; the frames of different channels do not overlap.
                let mut frames: Vec<&mut [f32]> = (0..g.c_in)
                    .map(|c| unsafe {
                        std::slice::from_raw_parts_mut(dst.ptr().add(g.x_frame(b, c, ti)), hw)
                    })
                    .collect();
                col2im_add(g, cols, &mut frames);
            }
        }
    });
    dx
}

/// The causal convolution `y = conv(x, w)` (no bias) as a candle op with its backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CausalConvOp {
    /// Temporal stride `s_t`.
    pub stride_time: usize,
    /// Spatial stride `s_s`.
    pub stride_space: usize,
    /// Zero pixels added on each spatial side.
    pub pad: usize,
    /// Which kernel runs it.
    pub kernel: ConvKernel,
}

impl CausalConvOp {
    fn geom(&self, x: &[usize], w: &[usize]) -> candle_core::Result<Geom> {
        Geom::new(
            x,
            w,
            (self.stride_time, self.stride_space),
            self.pad,
            self.kernel,
        )
    }

    /// Applies the op to contiguous `f32` CPU tensors `x (B, C_in, T, H, W)` and
    /// `w (C_out, C_in, k_t, k_h, k_w)`.
    pub fn apply(self, x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
        x.contiguous()?.apply_op2(&w.contiguous()?, self)
    }
}

fn out_shape(g: &Geom) -> Shape {
    Shape::from((g.b, g.c_out, g.t_out, g.h_out, g.w_out))
}

impl CustomOp2 for CausalConvOp {
    fn name(&self) -> &'static str {
        "phystok-causal-conv3d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        super::alloc::tune_allocator();
        let g = self.geom(l1.dims(), l2.dims())?;
        let y = forward(&g, contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        Ok((CpuStorage::F32(y), out_shape(&g)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let dy = dy.contiguous()?;
        let dx = dy.apply_op2_no_bwd(
            &w.contiguous()?,
            &GradOp {
                conv: *self,
                wrt: Wrt::Input,
                other: x.dims().to_vec(),
            },
        )?;
        let dw = dy.apply_op2_no_bwd(
            &x.contiguous()?,
            &GradOp {
                conv: *self,
                wrt: Wrt::Weight,
                other: w.dims().to_vec(),
            },
        )?;
        Ok((Some(dx), Some(dw)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wrt {
    /// `(dy, w) → dx`.
    Input,
    /// `(dy, x) → dw`.
    Weight,
}

/// One gradient of [`CausalConvOp`]; `other` is the shape of the argument not passed in.
struct GradOp {
    conv: CausalConvOp,
    wrt: Wrt,
    other: Vec<usize>,
}

impl CustomOp2 for GradOp {
    fn name(&self) -> &'static str {
        match self.wrt {
            Wrt::Input => "phystok-causal-conv3d-input-grad",
            Wrt::Weight => "phystok-causal-conv3d-weight-grad",
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (dy, arg) = (contiguous_f32(s1, l1)?, contiguous_f32(s2, l2)?);
        let (g, out, shape) = match self.wrt {
            Wrt::Input => {
                let g = self.conv.geom(&self.other, l2.dims())?;
                (g, input_grad(&g, arg, dy), Shape::from(self.other.clone()))
            }
            Wrt::Weight => {
                let g = self.conv.geom(l2.dims(), &self.other)?;
                (g, weight_grad(&g, arg, dy), Shape::from(self.other.clone()))
            }
        };
        if l1.dims() != out_shape(&g).dims() {
            return Err(candle_core::Error::Msg(format!(
                "causal conv gradient {:?} vs output {:?}",
                l1.dims(),
                out_shape(&g).dims()
            )));
        }
        Ok((CpuStorage::F32(out), shape))
    }
}
