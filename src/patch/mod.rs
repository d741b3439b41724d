//! Compute-adaptive patching (Mukhopadhyay et al. 2025, "Controllable patching for
//! compute-adaptive surrogate modeling of partial differential equations"): CKM (one base
//! kernel resized per call), CSM (one kernel, stride per call) and the fixed-patch baseline,
//! each an encoder and decoder around the crate's spatiotemporal processor, with the patch
//! size — or the paper's cyclic schedule — chosen at run time.

mod codec;
mod config;
mod model;
#[cfg(test)]
mod tests;

pub use codec::PatchCodec;
pub use config::{PatchConfig, PatchStrategy};
pub use model::{PatchModel, PatchSchedule};
