//! The Walrus-style processor: factorised space–time attention over tokeniser latents.
//!
//! Paper Section 2.4 and Appendix C "Processor configuration"; architecture from Walrus
//! (McCabe et al. 2025). Latents `(batch, 18, time, height, width)` are projected to the
//! processor width, pass through blocks of full spatial attention (QK-normalised, axial
//! RoPE, parallel SwiGLU MLP) and axial causal temporal attention (T5 relative bias), and
//! are projected back. See [`Processor`].

mod block;
mod config;
mod network;
mod spatial;
mod temporal;

pub use block::ProcessorBlock;
pub use config::ProcessorConfig;
pub use network::Processor;
pub use spatial::SpatialAttention;
pub use temporal::TemporalAttention;
