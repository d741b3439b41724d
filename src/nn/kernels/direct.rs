//! Direct (no im2col) causal convolution at unit strides with AVX-512, forward and weight
//! gradient; the input gradient at unit strides is itself a forward convolution
//! ([`super::conv`] calls this module's `forward` on the transposed geometry).
//!
//! The im2col + GEMM path copies every tap of every frame into a `K × H'W'` column matrix
//! (`K = C_in·27`, 7 MB per frame for 16 channels at 64²) that the GEMM then packs again;
//! with only 16 output channels the products are too thin for the copies to pay off. Here
//! the input is padded spatially once and the products are accumulated in registers:
//!
//! - forward: a tile of 16 output pixels along a row (one `zmm`) for up to 16 output
//!   channels (16 accumulators). For each tap `(c, dt, dy, dx)` the 16 input pixels are one
//!   unaligned load from the padded row and each output channel's weight one broadcast:
//!   16 FMAs per load, the weights (`K × C_out`, 27 KB for 16 → 16) stay in L1.
//! - weight gradient: `dW[o, c, dt, dy, dx] = Σ_pixels dY[o, p]·x[c, p + tap]`; 16 pixels
//!   of `dY` for 4 output channels stay in registers while the `k_w` taps of one row of
//!   `x` are loaded, 4·`k_w` accumulators, reduced across lanes once per strip of rows.
//!
//! Causal taps before frame 0 are skipped (`Geom::taps`), never padded. rayon runs over
//! `(batch, output frame)`; weight gradients are summed per rayon split. Partial tiles at
//! the right edge use masked loads and stores. Used only when the CPU has AVX-512F
//! ([`available`]); `tests/kernels.rs` checks it against candle's conv2d.

use std::borrow::Cow;

use super::geom::Geom;

/// Output channels per forward tile (one accumulator each).
const MAX_OUT: usize = 16;
/// Output channels per weight-gradient block.
const GRAD_OUT: usize = 4;
/// Largest `k_w` the weight-gradient kernel takes (its accumulators are `GRAD_OUT × k_w`).
const MAX_KW: usize = 5;
/// Largest `k_t` (the temporal taps of a tile live in a fixed array).
const MAX_KT: usize = 8;
/// Rows of `dY` per weight-gradient strip (the lanes are reduced once per strip).
const STRIP_ROWS: usize = 32;

/// Whether this CPU runs the direct kernels (x86-64 with AVX-512F).
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the direct kernels take this geometry: unit strides, `k_t ≤ 8`, `k_w ≤ 5`,
/// and an AVX-512 CPU.
pub(crate) fn supports(g: &Geom) -> bool {
    g.st == 1 && g.ss == 1 && g.kt <= MAX_KT && g.kw <= MAX_KW && available()
}

/// `x (B, C_in, T, H, W)` with `pad` zero pixels on each spatial side.
fn pad_spatially<'a>(g: &Geom, x: &'a [f32]) -> (Cow<'a, [f32]>, usize, usize) {
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    if g.pad == 0 {
        return (Cow::Borrowed(x), hp, wp);
    }
    let mut out = vec![0f32; g.b * g.c_in * g.t * hp * wp];
    for (src, dst) in x.chunks_exact(g.h * g.w).zip(out.chunks_exact_mut(hp * wp)) {
        for (y, line) in src.chunks_exact(g.w).enumerate() {
            let start = (y + g.pad) * wp + g.pad;
            dst[start..start + g.w].copy_from_slice(line);
        }
    }
    (Cow::Owned(out), hp, wp)
}

/// The weight `(C_out, C_in, k_t, k_h, k_w)` as `(C_in, k_t, k_h, k_w, C_out)`: each tap's
/// output channels contiguous, for broadcasts.
fn pack_weight(g: &Geom, w: &[f32]) -> Vec<f32> {
    let taps = g.c_in * g.kt * g.kh * g.kw;
    let mut out = vec![0f32; w.len()];
    for (o, row) in w.chunks_exact(taps).enumerate() {
        for (k, &v) in row.iter().enumerate() {
            out[k * g.c_out + o] = v;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// Where one forward tile reads and writes.
    pub(super) struct FwdTile {
        /// `x` at `[b, 0, 0, ho, wo]` (padded); strides of a channel, frame and row.
        pub x: *const f32,
        pub x_cs: usize,
        pub x_fs: usize,
        pub x_rs: usize,
        /// `(input frame, dt)` of every temporal tap that reads a real frame.
        pub taps: [(usize, usize); super::MAX_KT],
        pub n_taps: usize,
        pub c_in: usize,
        pub kt: usize,
        pub kh: usize,
        pub kw: usize,
        /// Packed weights at output channel `o0`; row stride `c_out`.
        pub w: *const f32,
        pub c_out: usize,
        /// `y` at `[b, o0, to, ho, wo]`; stride between output channels.
        pub y: *mut f32,
        pub y_cs: usize,
        pub mask: __mmask16,
    }

    /// `R` output channels × 16 pixels of one output row.
    ///
    /// # Safety
    /// AVX-512F present; every address the tile reads (masked lanes excepted) and writes
    /// lies in its buffer, and no other thread writes the tile's outputs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fwd_tile<const R: usize>(t: &FwdTile) {
        unsafe {
            let mut acc = [_mm512_setzero_ps(); R];
            for c in 0..t.c_in {
                for &(ti, dt) in &t.taps[..t.n_taps] {
                    for dy in 0..t.kh {
                        let xrow = t.x.add(c * t.x_cs + ti * t.x_fs + dy * t.x_rs);
                        let wrow = t.w.add((((c * t.kt + dt) * t.kh + dy) * t.kw) * t.c_out);
                        for dx in 0..t.kw {
                            let xv = _mm512_maskz_loadu_ps(t.mask, xrow.add(dx));
                            let wk = wrow.add(dx * t.c_out);
                            for (r, a) in acc.iter_mut().enumerate() {
                                *a = _mm512_fmadd_ps(_mm512_set1_ps(*wk.add(r)), xv, *a);
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(t.y.add(r * t.y_cs), t.mask, *a);
            }
        }
    }

    /// Where one weight-gradient block reads: `GRAD_OUT` output channels, one `(c, dt, dy)`
    /// input row per output row, over a strip of rows.
    pub(super) struct GradStrip {
        /// `dY` at `[b, o0, to, ho0, 0]`; stride between output channels; row length `w_out`.
        pub dy: *const f32,
        pub dy_cs: usize,
        pub w_out: usize,
        /// `x` at `[b, c, ti, ho0 + dy, 0]` (padded); row stride.
        pub x: *const f32,
        pub x_rs: usize,
        pub rows: usize,
        /// Valid output channels of the block (the rest read as zero).
        pub n_out: usize,
    }

    /// Returns `Σ dY[o0 + r, p]·x[p + dx]` over the strip for `r < 4`, `dx < KW`.
    ///
    /// # Safety
    /// AVX-512F present; the strip's rows lie in their buffers.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_strip<const KW: usize>(s: &GradStrip) -> [[f32; KW]; 4] {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); KW]; 4];
            for row in 0..s.rows {
                let mut wo = 0;
                while wo < s.w_out {
                    let left = s.w_out - wo;
                    let mask: __mmask16 = if left >= 16 {
                        0xffff
                    } else {
                        (1u16 << left) - 1
                    };
                    // channels past the block's valid ones read as zero (mask 0: no access;
                    // `wrapping_add` because that address may lie past the buffer)
                    let dyv: [__m512; 4] = std::array::from_fn(|r| {
                        let m = if r < s.n_out { mask } else { 0 };
                        _mm512_maskz_loadu_ps(
                            m,
                            s.dy.wrapping_add(r * s.dy_cs + row * s.w_out + wo),
                        )
                    });
                    let xrow = s.x.add(row * s.x_rs + wo);
                    for dx in 0..KW {
                        let xv = _mm512_maskz_loadu_ps(mask, xrow.add(dx));
                        for (a, &d) in acc.iter_mut().zip(&dyv) {
                            a[dx] = _mm512_fmadd_ps(d, xv, a[dx]);
                        }
                    }
                    wo += 16;
                }
            }
            let mut out = [[0f32; KW]; 4];
            for r in 0..4 {
                for dx in 0..KW {
                    out[r][dx] = _mm512_reduce_add_ps(acc[r][dx]);
                }
            }
            out
        }
    }
}

/// `y = conv(x, w)` at unit strides (`g.st == g.ss == 1`), `y (B, C_out, T', H', W')`.
///
/// Call only when [`supports`] holds.
pub(crate) fn forward(g: &Geom, x: &[f32], w: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        forward_x86(g, x, w)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (g, x, w);
        unreachable!("direct kernels run only on x86-64 (checked by `supports`)")
    }
}

#[cfg(target_arch = "x86_64")]
fn forward_x86(g: &Geom, x: &[f32], w: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;

    use super::SharedMut;
    use avx512::{FwdTile, fwd_tile};

    assert!(supports(g), "direct forward geometry");
    let (xp, hp, wp) = pad_spatially(g, x);
    let packed = pack_weight(g, w);
    let n = g.n_out();
    let mut y = vec![0f32; g.b * g.c_out * g.t_out * n];
    let dst = SharedMut(y.as_mut_ptr());
    let tasks: Vec<(usize, usize)> = (0..g.b)
        .flat_map(|b| (0..g.t_out).map(move |to| (b, to)))
        .collect();
    tasks.par_iter().for_each(|&(b, to)| {
        let (dt0, dt1) = g.taps(to);
        let mut taps = [(0, 0); MAX_KT];
        for (i, dt) in (dt0..dt1).enumerate() {
            taps[i] = (g.frame_in(to, dt), dt);
        }
        for ho in 0..g.h_out {
            for wo in (0..g.w_out).step_by(16) {
                let left = g.w_out - wo;
                let mask = if left >= 16 {
                    0xffff
                } else {
                    (1u16 << left) - 1
                };
                let mut o0 = 0;
                while o0 < g.c_out {
                    let r = (g.c_out - o0).min(MAX_OUT);
                    // SAFETY: task (b, to) writes only y[b, :, to, :, :]; the reads stay
                    // in the padded input (rows ho..ho + k_h, columns wo..wo + 16 + k_w − 1,
                    // masked past w_out) and the packed weights.
                    let tile = FwdTile {
                        x: unsafe { xp.as_ptr().add((b * g.c_in * g.t * hp + ho) * wp + wo) },
                        x_cs: g.t * hp * wp,
                        x_fs: hp * wp,
                        x_rs: wp,
                        taps,
                        n_taps: dt1 - dt0,
                        c_in: g.c_in,
                        kt: g.kt,
                        kh: g.kh,
                        kw: g.kw,
                        w: unsafe { packed.as_ptr().add(o0) },
                        c_out: g.c_out,
                        y: unsafe {
                            dst.ptr()
                                .add(g.y_frame(b, to) + o0 * g.t_out * n + ho * g.w_out + wo)
                        },
                        y_cs: g.t_out * n,
                        mask,
                    };
                    let used = unsafe {
                        match r {
                            16.. => {
                                fwd_tile::<16>(&tile);
                                16
                            }
                            8.. => {
                                fwd_tile::<8>(&tile);
                                8
                            }
                            4.. => {
                                fwd_tile::<4>(&tile);
                                4
                            }
                            2.. => {
                                fwd_tile::<2>(&tile);
                                2
                            }
                            _ => {
                                fwd_tile::<1>(&tile);
                                1
                            }
                        }
                    };
                    o0 += used;
                }
            }
        }
    });
    y
}

/// `dW (C_out, C_in, k_t, k_h, k_w)` of `y = conv(x, w)` at unit strides.
///
/// Call only when [`supports`] holds.
pub(crate) fn weight_grad(g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        weight_grad_x86(g, x, dy)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (g, x, dy);
        unreachable!("direct kernels run only on x86-64 (checked by `supports`)")
    }
}

#[cfg(target_arch = "x86_64")]
fn weight_grad_x86(g: &Geom, x: &[f32], dy: &[f32]) -> Vec<f32> {
    use avx512::GradStrip;

    assert!(supports(g), "direct weight-gradient geometry");
    let (xp, hp, wp) = pad_spatially(g, x);
    let n = g.n_out();
    let len = g.c_out * g.c_in * g.kt * g.kh * g.kw;
    let tasks: Vec<(usize, usize)> = (0..g.b)
        .flat_map(|b| (0..g.t_out).map(move |to| (b, to)))
        .collect();
    // a fixed partition summed in index order: the same bits for any thread count
    super::ordered::ordered_sum(
        &tasks,
        len,
        || (),
        |dw: &mut [f32], _, &(b, to)| {
            let (dt0, dt1) = g.taps(to);
            for ho0 in (0..g.h_out).step_by(STRIP_ROWS) {
                let rows = (g.h_out - ho0).min(STRIP_ROWS);
                for o0 in (0..g.c_out).step_by(GRAD_OUT) {
                    let n_out = (g.c_out - o0).min(GRAD_OUT);
                    for c in 0..g.c_in {
                        for dt in dt0..dt1 {
                            let ti = g.frame_in(to, dt);
                            for ky in 0..g.kh {
                                let x_at = (((b * g.c_in + c) * g.t + ti) * hp + ho0 + ky) * wp;
                                let strip = GradStrip {
                                    // SAFETY: offsets inside `dy` and the padded `x`
                                    // (rows ho0 + ky .. + rows of a padded frame).
                                    dy: unsafe {
                                        dy.as_ptr().add(
                                            g.y_frame(b, to) + o0 * g.t_out * n + ho0 * g.w_out,
                                        )
                                    },
                                    dy_cs: g.t_out * n,
                                    w_out: g.w_out,
                                    x: unsafe { xp.as_ptr().add(x_at) },
                                    x_rs: wp,
                                    rows,
                                    n_out,
                                };
                                let sums = dispatch_grad(g.kw, &strip);
                                for (r, row) in sums.iter().enumerate().take(n_out) {
                                    let base =
                                        ((((o0 + r) * g.c_in + c) * g.kt + dt) * g.kh + ky) * g.kw;
                                    for (dx, v) in row.iter().take(g.kw).enumerate() {
                                        dw[base + dx] += v;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// [`avx512::grad_strip`] for the strip's `k_w` (1 ..= 5), padded to 5 columns.
#[cfg(target_arch = "x86_64")]
fn dispatch_grad(kw: usize, s: &avx512::GradStrip) -> [[f32; MAX_KW]; 4] {
    use avx512::grad_strip;
    fn widen<const KW: usize>(v: [[f32; KW]; 4]) -> [[f32; MAX_KW]; 4] {
        let mut out = [[0f32; MAX_KW]; 4];
        for (o, v) in out.iter_mut().zip(v) {
            o[..KW].copy_from_slice(&v);
        }
        out
    }
    // SAFETY: `supports` checked AVX-512F; the caller built the strip inside its buffers.
    unsafe {
        match kw {
            1 => widen(grad_strip::<1>(s)),
            2 => widen(grad_strip::<2>(s)),
            3 => widen(grad_strip::<3>(s)),
            4 => widen(grad_strip::<4>(s)),
            _ => widen(grad_strip::<5>(s)),
        }
    }
}
