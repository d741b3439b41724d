//! Neural-network building blocks shared by the tokeniser and the processor: causal 3D
//! convolutions, adaptive field heads, flexible down- and upsampling, residual blocks,
//! attention, rotary embeddings, norms, MLPs, and seeded initialisation.
//!
//! Every layer here is built from candle operations whose backward passes are exact on
//! the CPU (see REFERENCE.md for the fused kernels that silently drop gradients), and
//! every weight is drawn from a seeded generator.

pub mod attention;
pub mod causal_conv;
pub mod drop_path;
pub mod field_head;
pub mod flex_down;
pub mod flex_up;
pub mod init;
pub mod kernels;
pub mod mlp;
pub mod norm;
pub mod param;
pub mod position_bias;
pub mod residual;
pub mod rope;
pub mod scale;

pub use attention::{AttentionKernel, attention, attention_with};
pub use causal_conv::{
    CausalConv3d, CausalConv3dConfig, ConvOptions, ConvStrategy, SpatialPadding, causal_conv3d,
};
pub use drop_path::{DropPath, Mode};
pub use field_head::{AdaptiveFieldConv, FieldSide, check_active_fields};
pub use flex_down::FlexDownsample;
pub use flex_up::{FlexUpsample, depth_to_space};
pub use init::{conv_uniform, seeded_var_builder};
pub use mlp::{Bias, Linear, LinearInit, swiglu, swiglu_parts};
pub use norm::{LayerNorm, RmsGroupNorm, Shift};
pub use param::{ParamSummary, Params};
pub use position_bias::{RelativePositionBias, causal_bucket};
pub use residual::ResidualBlock;
pub use rope::{AxialRope, RopeTables};
pub use scale::{SamplePositions, ScaleFactor, interpolation_matrix};
