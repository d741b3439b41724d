//! Element-wise maps of `f32` slices on rayon over a fixed partition (the same chunks and
//! the same work whatever the thread count), shared by the activation ops ([`super::silu`],
//! [`super::gelu`]).

use rayon::prelude::*;

#[cfg(test)]
use candle_core::Tensor;

/// Elements per rayon task.
const CHUNK: usize = 16384;

/// `f(a[i])` for every `i`.
pub(crate) fn map1(a: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0f32; a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .for_each(|(o, a)| {
            for (o, &a) in o.iter_mut().zip(a) {
                *o = f(a);
            }
        });
    out
}

/// `f(a[i], b[i])` for every `i` (`a` and `b` of one length).
pub(crate) fn map2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0f32; a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK)))
        .for_each(|(o, (a, b))| {
            for (o, (&a, &b)) in o.iter_mut().zip(a.iter().zip(b)) {
                *o = f(a, b);
            }
        });
    out
}

/// `f(a[i], b[i], c[i])` for every `i` (all of one length).
pub(crate) fn map3(
    a: &[f32],
    b: &[f32],
    c: &[f32],
    f: impl Fn(f32, f32, f32) -> f32 + Sync,
) -> Vec<f32> {
    let mut out = vec![0f32; a.len()];
    out.par_chunks_mut(CHUNK)
        .zip(a.par_chunks(CHUNK))
        .zip(b.par_chunks(CHUNK).zip(c.par_chunks(CHUNK)))
        .for_each(|((o, a), (b, c))| {
            for (o, ((&a, &b), &c)) in o.iter_mut().zip(a.iter().zip(b).zip(c)) {
                *o = f(a, b, c);
            }
        });
    out
}

/// The bits of every element of an `f32` tensor, for bit-for-bit comparisons in tests.
#[cfg(test)]
pub(crate) fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|v| v.to_bits())
        .collect()
}
