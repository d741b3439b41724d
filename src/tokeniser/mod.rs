//! The MAGVIT-Simple tokeniser with runtime-adjustable spatiotemporal compression (paper
//! Section 2.4, Appendices B and C): configuration, compression choices, encoder, decoder,
//! the [`Tokeniser`] and its [`ParameterSummary`].

pub mod compression;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod model;
pub mod summary;

pub use compression::{Compression, DepthChoices};
pub use config::TokeniserConfig;
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use model::Tokeniser;
pub use summary::{Component, ParameterSummary};
