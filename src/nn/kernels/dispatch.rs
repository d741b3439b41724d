//! Which path an op takes: the crate's CPU kernels, or candle's primitive ops (CUDA, other
//! dtypes, and CPU tests that switch the kernels off).

use candle_core::{DType, Tensor};

/// Whether the CPU kernels take these tensors: all `f32` on the CPU. Every other device and
/// dtype (CUDA above all) goes through candle's primitive ops, and so do CPU tensors while a
/// test runs under [`testing::primitive_ops`] (so that path is checked on the CPU too).
pub(crate) fn applies(tensors: &[&Tensor]) -> bool {
    #[cfg(test)]
    if testing::primitive_forced() {
        return false;
    }
    tensors
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == DType::F32)
}

/// Test-only switch of the CPU kernels.
#[cfg(test)]
pub(crate) mod testing {
    use std::cell::Cell;

    thread_local! {
        static PRIMITIVE: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn primitive_forced() -> bool {
        PRIMITIVE.with(Cell::get)
    }

    /// Runs `f` with the CPU kernels switched off on this thread: every op dispatched here
    /// takes candle's primitive-op path, the one CUDA and non-`f32` tensors take.
    pub(crate) fn primitive_ops<T>(f: impl FnOnce() -> T) -> T {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                PRIMITIVE.with(|p| p.set(self.0));
            }
        }
        let _reset = Reset(PRIMITIVE.with(|p| p.replace(true)));
        f()
    }
}
