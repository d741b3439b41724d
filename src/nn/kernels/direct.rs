//! Direct (no im2col) causal convolution at unit strides with AVX-512 or AVX2 + FMA, forward
//! and weight gradient; the input gradient at unit strides is itself a forward convolution
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
//! `(batch, output frame)`; weight gradients are summed over a fixed partition in index
//! order. Partial tiles at the right edge use masked loads and stores.
//!
//! CPUs without AVX-512F but with AVX2 + FMA (most laptops and many servers) run the same
//! tiles on 256-bit registers: a forward tile is the same 16 pixels as two `ymm` halves for
//! up to 6 output channels (12 accumulators of the 16 registers), and a weight-gradient strip
//! steps 8 pixels at a time. Each output of the forward pass sums the same products in the
//! same order with the same fused multiply-adds on both paths, so the two give identical
//! bits; weight gradients reduce their lanes in a different order (the same bits for the same
//! path and thread count). [`Isa`] names the paths; `PHYSTOK_SIMD=avx2` forces the AVX2 path
//! and `PHYSTOK_SIMD=none` the im2col + GEMM kernel for a whole process (read once), and
//! [`ConvKernel::DirectAvx2`] the AVX2 path for one convolution. `tests/kernels.rs` checks
//! both against candle's conv2d, forward and gradients.

use std::borrow::Cow;
use std::sync::OnceLock;

use super::geom::{ConvKernel, Geom};

/// Output channels per weight-gradient block.
const GRAD_OUT: usize = 4;
/// Largest `k_w` the weight-gradient kernel takes (its accumulators are `GRAD_OUT × k_w`).
const MAX_KW: usize = 5;
/// Largest `k_t` (the temporal taps of a tile live in a fixed array).
const MAX_KT: usize = 8;
/// Rows of `dY` per weight-gradient strip (the lanes are reduced once per strip).
const STRIP_ROWS: usize = 32;

/// The instruction sets the direct kernels have code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// 256-bit AVX2 with FMA.
    Avx2,
    /// 512-bit AVX-512F.
    Avx512,
}

/// The best path this CPU runs, lowered by `PHYSTOK_SIMD` (`avx2`, or `none` for no direct
/// kernel); read once per process. An unknown value, or asking for more than the CPU has,
/// leaves the CPU's best.
pub fn isa() -> Option<Isa> {
    static ISA: OnceLock<Option<Isa>> = OnceLock::new();
    *ISA.get_or_init(|| {
        let best = detected();
        match std::env::var("PHYSTOK_SIMD").as_deref() {
            Ok("none") => None,
            Ok("avx2") => best.map(|b| b.min(Isa::Avx2)),
            _ => best,
        }
    })
}

/// What the CPU supports, ignoring `PHYSTOK_SIMD`.
fn detected() -> Option<Isa> {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return Some(Isa::Avx512);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return Some(Isa::Avx2);
        }
        None
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The path that runs this geometry, if any: unit strides, `k_t ≤ 8`, `k_w ≤ 5`, a direct
/// kernel asked for, and a CPU that has its instructions.
pub(crate) fn select(g: &Geom) -> Option<Isa> {
    if g.st != 1 || g.ss != 1 || g.kt > MAX_KT || g.kw > MAX_KW {
        return None;
    }
    match g.kernel {
        ConvKernel::Direct => isa(),
        // every detected path includes AVX2 + FMA
        ConvKernel::DirectAvx2 => detected().map(|_| Isa::Avx2),
        ConvKernel::Im2colGemm => None,
    }
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

/// Where one forward tile reads and writes (both paths).
#[cfg(target_arch = "x86_64")]
struct FwdTile {
    /// `x` at `[b, 0, 0, ho, wo]` (padded); strides of a channel, frame and row.
    x: *const f32,
    x_cs: usize,
    x_fs: usize,
    x_rs: usize,
    /// `(input frame, dt)` of every temporal tap that reads a real frame.
    taps: [(usize, usize); MAX_KT],
    n_taps: usize,
    c_in: usize,
    kt: usize,
    kh: usize,
    kw: usize,
    /// Packed weights at output channel `o0`; row stride `c_out`.
    w: *const f32,
    c_out: usize,
    /// `y` at `[b, o0, to, ho, wo]`; stride between output channels.
    y: *mut f32,
    y_cs: usize,
    /// Valid pixels of the tile's 16 (the rest are neither read nor written).
    valid: usize,
}

/// Where one weight-gradient block reads (both paths): `GRAD_OUT` output channels, one
/// `(c, dt, dy)` input row per output row, over a strip of rows.
#[cfg(target_arch = "x86_64")]
struct GradStrip {
    /// `dY` at `[b, o0, to, ho0, 0]`; stride between output channels; row length `w_out`.
    dy: *const f32,
    dy_cs: usize,
    w_out: usize,
    /// `x` at `[b, c, ti, ho0 + dy, 0]` (padded); row stride.
    x: *const f32,
    x_rs: usize,
    rows: usize,
    /// Valid output channels of the block (the rest read as zero).
    n_out: usize,
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{FwdTile, GRAD_OUT, GradStrip};

    /// The first `n` of 16 lanes.
    fn lanes(n: usize) -> __mmask16 {
        if n >= 16 { 0xffff } else { (1u16 << n) - 1 }
    }

    /// `R` output channels × 16 pixels of one output row.
    ///
    /// # Safety
    /// AVX-512F present; every address the tile reads (masked lanes excepted) and writes
    /// lies in its buffer, and no other thread writes the tile's outputs.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn fwd_tile<const R: usize>(t: &FwdTile) {
        unsafe {
            let mask = lanes(t.valid);
            let mut acc = [_mm512_setzero_ps(); R];
            for c in 0..t.c_in {
                for &(ti, dt) in &t.taps[..t.n_taps] {
                    for dy in 0..t.kh {
                        let xrow = t.x.add(c * t.x_cs + ti * t.x_fs + dy * t.x_rs);
                        let wrow = t.w.add((((c * t.kt + dt) * t.kh + dy) * t.kw) * t.c_out);
                        for dx in 0..t.kw {
                            let xv = _mm512_maskz_loadu_ps(mask, xrow.add(dx));
                            let wk = wrow.add(dx * t.c_out);
                            for (r, a) in acc.iter_mut().enumerate() {
                                *a = _mm512_fmadd_ps(_mm512_set1_ps(*wk.add(r)), xv, *a);
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                _mm512_mask_storeu_ps(t.y.add(r * t.y_cs), mask, *a);
            }
        }
    }

    /// Returns `Σ dY[o0 + r, p]·x[p + dx]` over the strip for `r < 4`, `dx < KW`.
    ///
    /// # Safety
    /// AVX-512F present; the strip's rows lie in their buffers.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn grad_strip<const KW: usize>(s: &GradStrip) -> [[f32; KW]; GRAD_OUT] {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); KW]; GRAD_OUT];
            for row in 0..s.rows {
                let mut wo = 0;
                while wo < s.w_out {
                    let mask = lanes(s.w_out - wo);
                    // channels past the block's valid ones read as zero (mask 0: no access;
                    // `wrapping_add` because that address may lie past the buffer)
                    let dyv: [__m512; GRAD_OUT] = std::array::from_fn(|r| {
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
            let mut out = [[0f32; KW]; GRAD_OUT];
            for r in 0..GRAD_OUT {
                for dx in 0..KW {
                    out[r][dx] = _mm512_reduce_add_ps(acc[r][dx]);
                }
            }
            out
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{FwdTile, GRAD_OUT, GradStrip};

    /// A `maskload`/`maskstore` mask of the first `n` of 8 lanes.
    #[target_feature(enable = "avx2")]
    fn lanes(n: usize) -> __m256i {
        let n = n.min(8) as i32;
        _mm256_cmpgt_epi32(
            _mm256_set1_epi32(n),
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
        )
    }

    /// `R` output channels × 16 pixels of one output row, as two 8-lane halves (`R ≤ 6`:
    /// 12 accumulators, an input pair and a broadcast in the 16 `ymm` registers).
    ///
    /// # Safety
    /// AVX2 and FMA present; every address the tile reads (masked lanes excepted) and writes
    /// lies in its buffer, and no other thread writes the tile's outputs.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fwd_tile<const R: usize>(t: &FwdTile) {
        unsafe {
            let lo = lanes(t.valid);
            let hi = lanes(t.valid.saturating_sub(8));
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for c in 0..t.c_in {
                for &(ti, dt) in &t.taps[..t.n_taps] {
                    for dy in 0..t.kh {
                        let xrow = t.x.add(c * t.x_cs + ti * t.x_fs + dy * t.x_rs);
                        let wrow = t.w.add((((c * t.kt + dt) * t.kh + dy) * t.kw) * t.c_out);
                        for dx in 0..t.kw {
                            // the upper half may lie past the row's buffer when fully
                            // masked: no access then, hence `wrapping_add`
                            let x0 = _mm256_maskload_ps(xrow.add(dx), lo);
                            let x1 = _mm256_maskload_ps(xrow.wrapping_add(dx + 8), hi);
                            let wk = wrow.add(dx * t.c_out);
                            for (r, a) in acc.iter_mut().enumerate() {
                                let wv = _mm256_broadcast_ss(&*wk.add(r));
                                a[0] = _mm256_fmadd_ps(wv, x0, a[0]);
                                a[1] = _mm256_fmadd_ps(wv, x1, a[1]);
                            }
                        }
                    }
                }
            }
            for (r, a) in acc.iter().enumerate() {
                let y = t.y.add(r * t.y_cs);
                _mm256_maskstore_ps(y, lo, a[0]);
                _mm256_maskstore_ps(y.wrapping_add(8), hi, a[1]);
            }
        }
    }

    /// The sum of the 8 lanes, in a fixed order.
    #[target_feature(enable = "avx2")]
    fn reduce(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// Returns `Σ dY[o0 + r, p]·x[p + dx]` over the strip for `r < 4`, `dx < KW`, 8 pixels
    /// at a time.
    ///
    /// # Safety
    /// AVX2 and FMA present; the strip's rows lie in their buffers.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn grad_strip<const KW: usize>(s: &GradStrip) -> [[f32; KW]; GRAD_OUT] {
        unsafe {
            let none = _mm256_setzero_si256();
            let mut acc = [[_mm256_setzero_ps(); KW]; GRAD_OUT];
            for row in 0..s.rows {
                let mut wo = 0;
                while wo < s.w_out {
                    let mask = lanes(s.w_out - wo);
                    // channels past the block's valid ones read as zero (no access)
                    let dyv: [__m256; GRAD_OUT] = std::array::from_fn(|r| {
                        let m = if r < s.n_out { mask } else { none };
                        _mm256_maskload_ps(s.dy.wrapping_add(r * s.dy_cs + row * s.w_out + wo), m)
                    });
                    let xrow = s.x.add(row * s.x_rs + wo);
                    for dx in 0..KW {
                        let xv = _mm256_maskload_ps(xrow.add(dx), mask);
                        for (a, &d) in acc.iter_mut().zip(&dyv) {
                            a[dx] = _mm256_fmadd_ps(d, xv, a[dx]);
                        }
                    }
                    wo += 8;
                }
            }
            let mut out = [[0f32; KW]; GRAD_OUT];
            for r in 0..GRAD_OUT {
                for dx in 0..KW {
                    out[r][dx] = reduce(acc[r][dx]);
                }
            }
            out
        }
    }
}

/// `y = conv(x, w)` at unit strides (`g.st == g.ss == 1`), `y (B, C_out, T', H', W')`.
///
/// Call only with the path [`select`] returned.
pub(crate) fn forward(g: &Geom, isa: Isa, x: &[f32], w: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        forward_x86(g, isa, x, w)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (g, isa, x, w);
        unreachable!("direct kernels run only on x86-64 (checked by `select`)")
    }
}

/// Runs the widest forward tile of `isa` that fits `left` output channels; returns how many
/// it computed.
///
/// # Safety
/// `isa` is present (from [`select`]) and the tile lies inside its buffers.
#[cfg(target_arch = "x86_64")]
unsafe fn fwd_tile(isa: Isa, left: usize, tile: &FwdTile) -> usize {
    unsafe {
        match isa {
            Isa::Avx512 => match left {
                16.. => {
                    avx512::fwd_tile::<16>(tile);
                    16
                }
                8.. => {
                    avx512::fwd_tile::<8>(tile);
                    8
                }
                4.. => {
                    avx512::fwd_tile::<4>(tile);
                    4
                }
                2.. => {
                    avx512::fwd_tile::<2>(tile);
                    2
                }
                _ => {
                    avx512::fwd_tile::<1>(tile);
                    1
                }
            },
            Isa::Avx2 => match left {
                6.. => {
                    avx2::fwd_tile::<6>(tile);
                    6
                }
                4.. => {
                    avx2::fwd_tile::<4>(tile);
                    4
                }
                2.. => {
                    avx2::fwd_tile::<2>(tile);
                    2
                }
                _ => {
                    avx2::fwd_tile::<1>(tile);
                    1
                }
            },
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn forward_x86(g: &Geom, isa: Isa, x: &[f32], w: &[f32]) -> Vec<f32> {
    use rayon::prelude::*;

    use super::SharedMut;

    assert!(select(g).is_some(), "direct forward geometry");
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
                let mut o0 = 0;
                while o0 < g.c_out {
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
                        valid: (g.w_out - wo).min(16),
                    };
                    // SAFETY: `isa` came from `select`; the tile is in bounds (above).
                    o0 += unsafe { fwd_tile(isa, g.c_out - o0, &tile) };
                }
            }
        }
    });
    y
}

/// `dW (C_out, C_in, k_t, k_h, k_w)` of `y = conv(x, w)` at unit strides.
///
/// Call only with the path [`select`] returned.
pub(crate) fn weight_grad(g: &Geom, isa: Isa, x: &[f32], dy: &[f32]) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        weight_grad_x86(g, isa, x, dy)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (g, isa, x, dy);
        unreachable!("direct kernels run only on x86-64 (checked by `select`)")
    }
}

#[cfg(target_arch = "x86_64")]
fn weight_grad_x86(g: &Geom, isa: Isa, x: &[f32], dy: &[f32]) -> Vec<f32> {
    assert!(select(g).is_some(), "direct weight-gradient geometry");
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
                                let sums = dispatch_grad(isa, g.kw, &strip);
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

/// The weight-gradient strip of `isa` for the strip's `k_w` (1 ..= 5), padded to 5 columns.
#[cfg(target_arch = "x86_64")]
fn dispatch_grad(isa: Isa, kw: usize, s: &GradStrip) -> [[f32; MAX_KW]; GRAD_OUT] {
    fn widen<const KW: usize>(v: [[f32; KW]; GRAD_OUT]) -> [[f32; MAX_KW]; GRAD_OUT] {
        let mut out = [[0f32; MAX_KW]; GRAD_OUT];
        for (o, v) in out.iter_mut().zip(v) {
            o[..KW].copy_from_slice(&v);
        }
        out
    }
    macro_rules! strip {
        ($m:ident) => {
            match kw {
                1 => widen($m::grad_strip::<1>(s)),
                2 => widen($m::grad_strip::<2>(s)),
                3 => widen($m::grad_strip::<3>(s)),
                4 => widen($m::grad_strip::<4>(s)),
                _ => widen($m::grad_strip::<5>(s)),
            }
        };
    }
    // SAFETY: `isa` came from `select` (the CPU has it); the caller built the strip inside
    // its buffers.
    unsafe {
        match isa {
            Isa::Avx512 => strip!(avx512),
            Isa::Avx2 => strip!(avx2),
        }
    }
}
