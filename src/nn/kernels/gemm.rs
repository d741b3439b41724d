//! Matrix products over strided views (`gemm`, or plain loops for small products), shared
//! raw pointers for disjoint parallel writes, and contiguous `f32` views of CPU storage.

use candle_core::{CpuStorage, Layout};

use gemm::Parallelism;

/// A matrix view into a slice: element `(i, j)` is `data[offset + i·rs + j·cs]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major view with row stride `rs` starting at `offset`.
    pub fn rows(data: &'a [f32], offset: usize, rs: usize) -> Self {
        Self {
            data,
            offset,
            rs,
            cs: 1,
        }
    }

    /// The transposed view.
    pub fn t(self) -> Self {
        Self {
            rs: self.cs,
            cs: self.rs,
            ..self
        }
    }

    /// Panics (a bug, never user input) when an `m × n` window leaves the slice.
    fn check(&self, m: usize, n: usize) {
        if m > 0 && n > 0 {
            let last = self.offset + (m - 1) * self.rs + (n - 1) * self.cs;
            assert!(last < self.data.len(), "matrix view out of bounds");
        }
    }
}

/// Whether a product overwrites or adds to its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Acc {
    /// `dst = a·b`.
    Overwrite,
    /// `dst += a·b`.
    Add,
}

/// `dst (m × n) (+)= a (m × k) · b (k × n)`, single-threaded (callers parallelise outside).
///
/// `dst` starts at `dst_offset` with row stride `dst_rs` and column stride 1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    dst_offset: usize,
    dst_rs: usize,
    acc: Acc,
    a: Mat,
    b: Mat,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if acc == Acc::Overwrite {
            for i in 0..m {
                let row = dst_offset + i * dst_rs;
                dst[row..row + n].fill(0.0);
            }
        }
        return;
    }
    a.check(m, k);
    b.check(k, n);
    assert!(
        dst_offset + (m - 1) * dst_rs + n <= dst.len(),
        "destination out of bounds"
    );
    // SAFETY: every index the product touches was bounds-checked above; `dst` is borrowed
    // mutably, so it cannot alias `a` or `b`.
    unsafe {
        raw_matmul(m, n, k, dst.as_mut_ptr().add(dst_offset), dst_rs, acc, a, b);
    }
}

/// [`matmul`] into a raw destination (for disjoint writes from several threads).
///
/// # Safety
/// `dst + i·dst_rs + j` must be valid and exclusively owned for `i < m`, `j < n`; `a` and
/// `b` must hold their `m × k` and `k × n` windows.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn raw_matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    acc: Acc,
    a: Mat,
    b: Mat,
) {
    a.check(m, k);
    b.check(k, n);
    if m * n * k <= SMALL_PRODUCT {
        // SAFETY: as below; the loops touch the same elements `gemm` would.
        unsafe { small_matmul(m, n, k, dst, dst_rs, acc, a, b) };
        return;
    }
    // SAFETY: the caller guarantees the destination; the sources were checked above.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            acc == Acc::Add,
            a.data.as_ptr().add(a.offset),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr().add(b.offset),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// Products up to this many multiply-adds skip `gemm` (whose packing and dispatch cost
/// more than the arithmetic for, say, the `3 × 68 · 68 × 3` scores of temporal attention).
const SMALL_PRODUCT: usize = 4096;

/// [`raw_matmul`] by plain loops, row by row of `a` (`i, p, j` order: `b`'s rows are read
/// contiguously when it is row-major).
///
/// # Safety
/// As [`raw_matmul`].
#[allow(clippy::too_many_arguments)]
unsafe fn small_matmul(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    acc: Acc,
    a: Mat,
    b: Mat,
) {
    let mut row = [0f32; 64];
    let mut big = Vec::new();
    for i in 0..m {
        let out: &mut [f32] = if n <= row.len() {
            &mut row[..n]
        } else {
            big.resize(n, 0.0);
            &mut big[..]
        };
        out.fill(0.0);
        for p in 0..k {
            let av = a.data[a.offset + i * a.rs + p * a.cs];
            let brow = b.offset + p * b.rs;
            for (j, o) in out.iter_mut().enumerate() {
                *o += av * b.data[brow + j * b.cs];
            }
        }
        // SAFETY: the caller owns dst + i·dst_rs + j for i < m, j < n.
        let d = unsafe { std::slice::from_raw_parts_mut(dst.add(i * dst_rs), n) };
        match acc {
            Acc::Overwrite => d.copy_from_slice(out),
            Acc::Add => d.iter_mut().zip(out.iter()).for_each(|(d, o)| *d += o),
        }
    }
}

/// A raw pointer that rayon tasks may share; each task writes a disjoint set of elements.
#[derive(Clone, Copy)]
pub(crate) struct SharedMut(pub *mut f32);

impl SharedMut {
    /// The pointer (a method, so that closures capture the whole `Sync` wrapper).
    pub fn ptr(&self) -> *mut f32 {
        self.0
    }
}

// SAFETY: used only for writes to disjoint elements, documented at each use.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}

/// The `f32` slice of a contiguous CPU tensor (callers pass `.contiguous()` tensors).
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a [f32]> {
    let data = storage.as_slice::<f32>()?;
    match layout.contiguous_offsets() {
        Some((start, end)) => Ok(&data[start..end]),
        None => Err(candle_core::Error::RequiresContiguous {
            op: "phystok cpu kernel",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain loops of small products equal `gemm` for row-major and transposed views,
    /// overwriting and adding.
    #[test]
    fn small_products_equal_gemm() {
        let data: Vec<f32> = (0..4000).map(|i| (0.37 * i as f32).sin()).collect();
        for (m, n, k) in [(3, 3, 68), (5, 70, 7), (1, 1, 1), (16, 16, 16)] {
            for transposed in [false, true] {
                let a = if transposed {
                    Mat::rows(&data, 11, m).t()
                } else {
                    Mat::rows(&data, 11, k)
                };
                let b = Mat::rows(&data, 500, n + 3);
                for acc in [Acc::Overwrite, Acc::Add] {
                    let start: Vec<f32> = (0..m * (n + 1)).map(|i| i as f32 * 0.01).collect();
                    let (mut ours, mut reference) = (start.clone(), start);
                    unsafe {
                        small_matmul(m, n, k, ours.as_mut_ptr(), n + 1, acc, a, b);
                        gemm::gemm(
                            m,
                            n,
                            k,
                            reference.as_mut_ptr(),
                            1,
                            (n + 1) as isize,
                            acc == Acc::Add,
                            a.data.as_ptr().add(a.offset),
                            a.cs as isize,
                            a.rs as isize,
                            b.data.as_ptr().add(b.offset),
                            b.cs as isize,
                            b.rs as isize,
                            1.0,
                            1.0,
                            false,
                            false,
                            false,
                            Parallelism::None,
                        );
                    }
                    for (x, y) in ours.iter().zip(&reference) {
                        assert!((x - y).abs() < 1e-4, "{m}x{n}x{k} {acc:?}: {x} vs {y}");
                    }
                }
            }
        }
    }
}
