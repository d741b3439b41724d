//! Neural-network building blocks shared by the tokeniser and the processor: causal 3D
//! convolutions, adaptive field heads, flexible down- and upsampling, residual blocks,
//! attention, rotary embeddings, norms, MLPs, and seeded initialisation.
//!
//! Every layer here is built from candle operations whose backward passes are exact on
//! the CPU (see REFERENCE.md for the fused kernels that silently drop gradients), and
//! every weight is drawn from a seeded generator.

mod attention;
mod causal_conv;
mod drop_path;
mod field_head;
mod flex_down;
mod flex_up;
mod kernel_resize;
pub(crate) mod kernels;
mod mlp;
mod norm;
mod params;
#[cfg(test)]
mod parity;
mod position_bias;
mod residual;
mod rope;
mod scale;
mod spectral;
mod unet;

pub use attention::{AttentionKernel, attention, attention_with};
pub use causal_conv::{
    CausalConv3d, CausalConv3dConfig, ConvOptions, ConvStrategy, SpatialPadding, causal_conv3d,
};
pub use drop_path::{DropPath, Mode};
pub use field_head::{AdaptiveFieldConv, FieldSide, check_active_fields};
pub use flex_down::FlexDownsample;
pub use flex_up::{FlexTransposedUpsample, FlexUpsample, depth_to_space};
pub use kernel_resize::{KernelResize, KernelResizer, bilinear_resize_matrix, resize_axis_matrix};
pub use kernels::direct::{Isa as ConvIsa, isa as conv_isa};
pub use mlp::{Bias, Linear, LinearConfig, LinearInit, gelu_erf, silu, swiglu, swiglu_parts};
pub use norm::{LayerNorm, RmsGroupNorm, Shift};
pub use params::{Component, ParamRow, ParamTable, conv_uniform, seeded_var_builder};
pub use position_bias::{
    RelativePositionBias, WALRUS_MAX_DISTANCE, WALRUS_NUM_BUCKETS, causal_bucket,
};
pub use residual::{FRAME_GROUP_NORM_EPS, FrameGroupNorm, ResidualBlock, ResidualNorm};
pub use rope::{AxialRope, RopeTables, WALRUS_ROPE_MAX_FREQ};
pub use scale::{SamplePositions, ScaleFactor, interpolation_matrix};
pub use spectral::{Factorisation, SpectralConv2d, SpectralConvConfig, spectral_conv2d};
pub use unet::{
    BUFFER_SUFFIXES, UNetClassic, UNetClassicConfig, UNetConvNext, UNetConvNextConfig, is_buffer,
};
