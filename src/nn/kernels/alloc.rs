//! Keeping freed tensor buffers in the process heap (glibc `mallopt`), so that the next
//! tensor of the same size does not page-fault its memory in again.
//!
//! Every candle CPU op allocates its output as a fresh `Vec`. glibc serves buffers above its
//! mmap threshold (dynamic, starting at 128 KiB) with `mmap` and returns them with `munmap`
//! when freed, and trims the heap top above 128 KiB, so a training step's few-megabyte
//! activations and gradients are faulted in and zeroed by the kernel page by page on every
//! step. Measured on 2 cores (`perf`): page faults and unmapping were ~20 % of a causal conv
//! layer's forward + backward; with the settings below the layer (16 → 16 channels, 9x64x64,
//! batch 2, bias, squared-mean loss) went from 42 to 13 ms and a `TokeniserConfig::small`
//! training step from 124 to 64 ms (medians, same binary, `MALLOC_*` environment variables).
//! PyTorch avoids the same cost with transparent huge pages for large CPU tensors.
//!
//! [`tune_allocator`] sets the mmap threshold to glibc's maximum (32 MiB) and the trim
//! threshold to 1 GiB, once per process, the first time a phystok CPU kernel runs. The cost:
//! up to 1 GiB of freed memory stays with the process instead of going back to the system.
//! `PHYSTOK_MALLOC_TUNING=off` leaves the allocator alone; other C libraries are untouched.

use std::sync::OnceLock;

/// What [`tune_allocator`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorTuning {
    /// The thresholds were set (glibc).
    Tuned,
    /// `PHYSTOK_MALLOC_TUNING=off` was set.
    Disabled,
    /// Not glibc, or glibc refused a setting.
    Unsupported,
}

/// glibc's `M_TRIM_THRESHOLD`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_TRIM_THRESHOLD: i32 = -1;
/// glibc's `M_MMAP_THRESHOLD`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_MMAP_THRESHOLD: i32 = -3;
/// The largest mmap threshold glibc accepts on 64-bit targets (`HEAP_MAX_SIZE / 2`).
pub const MMAP_THRESHOLD: i32 = 32 << 20;
/// Freed memory kept at the top of the heap before glibc trims it.
pub const TRIM_THRESHOLD: i32 = 1 << 30;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallopt(param: i32, value: i32) -> i32;
}

static TUNING: OnceLock<AllocatorTuning> = OnceLock::new();

fn apply() -> AllocatorTuning {
    if std::env::var("PHYSTOK_MALLOC_TUNING").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return AllocatorTuning::Disabled;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator parameters; it is thread-safe in glibc.
        let ok = unsafe {
            mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        };
        if ok {
            return AllocatorTuning::Tuned;
        }
    }
    AllocatorTuning::Unsupported
}

/// Sets glibc's mmap and trim thresholds (module docs) once per process and reports what
/// happened; later calls return the first call's result.
pub fn tune_allocator() -> AllocatorTuning {
    *TUNING.get_or_init(apply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_is_applied_once_and_reported() {
        let first = tune_allocator();
        assert_eq!(tune_allocator(), first);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if std::env::var("PHYSTOK_MALLOC_TUNING").is_err() {
            assert_eq!(first, AllocatorTuning::Tuned);
        }
    }
}
