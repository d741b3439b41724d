//! Neural-network building blocks: causal 3D convolutions, adaptive field heads, flexible
//! down- and upsampling, residual blocks, and seeded initialisation.

pub mod causal_conv;
pub mod field_head;
pub mod flex_down;
pub mod flex_up;
pub mod init;
pub mod residual;
pub mod scale;

pub use causal_conv::{
    Bias, CausalConv3d, CausalConv3dConfig, ConvOptions, ConvStrategy, SpatialPadding,
    causal_conv3d,
};
pub use field_head::{AdaptiveFieldConv, FieldSide, check_active_fields};
pub use flex_down::FlexDownsample;
pub use flex_up::{FlexUpsample, depth_to_space};
pub use init::{conv_uniform, seeded_var_builder};
pub use residual::ResidualBlock;
pub use scale::{SamplePositions, ScaleFactor, interpolation_matrix};
