//! Parallel sums over a fixed partition, combined in index order.
//!
//! rayon's `fold`/`reduce` split the work where thread timing lets them, so a sum of `f32`
//! partials came out in a different order (and rounded differently) from run to run. Here
//! the tasks are cut into a number of chunks that depends only on the problem's size,
//! each chunk is summed sequentially in task order on whichever thread takes it, and the
//! chunks' partials are added in chunk order. The result is therefore the same bits for
//! every run and every rayon thread count.

use std::ops::AddAssign;

use rayon::prelude::*;

/// Most chunks a reduction is cut into (more only adds partial buffers to combine).
const MAX_CHUNKS: usize = 32;
/// Bytes of partial accumulators a reduction may hold at once.
const PARTIAL_BYTES: usize = 256 << 20;

/// The number of chunks `n_tasks` tasks with accumulators of `len` elements of `bytes`
/// each are cut into: a function of the sizes only, never of the thread count.
pub(crate) fn chunk_count(n_tasks: usize, len: usize, bytes: usize) -> usize {
    let by_memory = PARTIAL_BYTES / (len * bytes).max(1);
    n_tasks.min(MAX_CHUNKS).min(by_memory).max(1)
}

/// `Σ_t add(t)` into a zeroed accumulator of `len` elements: `add(acc, scratch, task)` adds
/// one task's contribution; `scratch()` makes per-chunk working space.
pub(crate) fn ordered_sum<T, A, S>(
    tasks: &[T],
    len: usize,
    scratch: impl Fn() -> S + Sync,
    add: impl Fn(&mut [A], &mut S, &T) + Sync,
) -> Vec<A>
where
    T: Sync,
    A: Copy + Default + AddAssign + Send,
{
    let chunks = chunk_count(tasks.len(), len, std::mem::size_of::<A>());
    let per = tasks.len().div_ceil(chunks).max(1);
    let partials: Vec<Vec<A>> = tasks
        .par_chunks(per)
        .map(|chunk| {
            let mut acc = vec![A::default(); len];
            let mut s = scratch();
            for t in chunk {
                add(&mut acc, &mut s, t);
            }
            acc
        })
        .collect();
    let mut parts = partials.into_iter();
    let mut total = parts.next().unwrap_or_else(|| vec![A::default(); len]);
    for p in parts {
        total.iter_mut().zip(&p).for_each(|(a, &b)| *a += b);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("rayon pool")
            .install(f)
    }

    /// Values whose float sum depends on the order of addition.
    fn tasks() -> Vec<f32> {
        (0..10_000)
            .map(|i| ((i * 7919) % 1000) as f32 * 1.37e-3 + if i % 97 == 0 { 1e4 } else { 0.0 })
            .collect()
    }

    #[test]
    fn same_bits_for_every_thread_count_and_run() {
        let xs = tasks();
        let sum = |xs: &[f32]| {
            ordered_sum(
                xs,
                3,
                || (),
                |acc: &mut [f32], _, &x| {
                    acc[0] += x;
                    acc[1] += x * x;
                    acc[2] -= x;
                },
            )
        };
        let one = in_pool(1, || sum(&xs));
        for threads in [1, 2, 3, 8] {
            for _ in 0..3 {
                let other = in_pool(threads, || sum(&xs));
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&one), bits(&other), "{threads} threads");
            }
        }
        let exact: f64 = xs.iter().map(|&x| x as f64).sum();
        assert!((one[0] as f64 - exact).abs() < 1e-4 * exact);
    }

    #[test]
    fn chunking_depends_on_sizes_only() {
        assert_eq!(chunk_count(0, 10, 4), 1);
        assert_eq!(chunk_count(5, 10, 4), 5);
        assert_eq!(chunk_count(1000, 10, 4), MAX_CHUNKS);
        // a huge accumulator is not duplicated past the memory budget
        assert_eq!(chunk_count(1000, PARTIAL_BYTES / 4, 4), 1);
        let empty: Vec<f32> = ordered_sum(&[] as &[u8], 4, || (), |_: &mut [f32], _, _| {});
        assert_eq!(empty, vec![0.0; 4]);
    }
}
