//! phystok for evcxr notebooks, as one shared library (see `Cargo.toml` for why).
//!
//! ```text
//! :dep phystok-nb = { path = "phystok-nb" }
//! use phystok_nb::{phystok, candle_core, candle_nn};
//! use phystok::prelude::*;
//! ```

pub use phystok;
pub use phystok::{candle_core, candle_nn};
