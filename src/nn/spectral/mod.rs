//! Spectral convolutions (Fourier neural operators) from truncated DFTs as matrix products.

mod conv;
mod dft;

pub use conv::{Factorisation, SpectralConv2d, SpectralConvConfig, spectral_conv2d};

#[cfg(test)]
mod tests;
