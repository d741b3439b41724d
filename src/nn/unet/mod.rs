//! The Well's U-Nets on images `(batch, channels, height, width)`: the classic U-Net and the
//! ConvNeXt U-Net (also PhysiX's refinement network), with the 2D layers they are built from.

mod check;
mod classic;
mod convnext;
mod layers;

pub(crate) use check::{check_depth, check_input};
pub use classic::{UNetClassic, UNetClassicConfig};
pub use convnext::{UNetConvNext, UNetConvNextConfig};
pub use layers::{BUFFER_SUFFIXES, is_buffer};

#[cfg(test)]
mod tests;
