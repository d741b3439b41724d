//! The MAGVIT-Simple tokeniser with runtime-adjustable spatiotemporal compression (paper
//! Section 2.4, Appendices B and C): configuration, compression choices, encoder, decoder,
//! the [`Tokeniser`].

mod compression;
mod config;
mod decoder;
mod encoder;
mod model;

pub use compression::{Compression, DepthChoices};
pub use config::{HeadScaling, PAPER_NORM_GROUPS, TokeniserConfig, Upsampling};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use model::Tokeniser;
