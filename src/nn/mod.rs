//! Neural-network building blocks: causal 3D convolutions, adaptive field heads, flexible
//! down- and upsampling, residual blocks, and seeded initialisation.

pub mod causal_conv;
pub mod init;

pub use causal_conv::{
    Bias, CausalConv3d, CausalConv3dConfig, ConvOptions, ConvStrategy, SpatialPadding,
    causal_conv3d,
};
pub use init::{conv_uniform, seeded_var_builder};
