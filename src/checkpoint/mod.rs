//! Checkpoints: weights (safetensors, by `VarMap` name), a JSON config, optimiser state,
//! the step, the data generator's position and the history, written atomically; and the
//! loading of named weights into a `VarMap`, whole or by prefix with renaming (a tokeniser
//! checkpoint into a rollout model).

mod store;
mod weights;

pub use store::{Checkpoint, RngState};
pub use weights::{Unused, WeightSelection};
