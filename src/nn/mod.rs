//! Neural-network building blocks shared by the tokeniser and the processor.
//!
//! Every layer here is built from candle operations whose backward passes are exact on
//! the CPU (see REFERENCE.md for the fused kernels that silently drop gradients), and
//! every weight is drawn from a seeded generator through [`Params`].

pub mod attention;
pub mod drop_path;
pub mod mlp;
pub mod norm;
pub mod param;
pub mod position_bias;
pub mod rope;

pub use attention::attention;
pub use drop_path::{DropPath, Mode};
pub use mlp::{Bias, Linear, LinearInit, swiglu};
pub use norm::{LayerNorm, RmsGroupNorm, Shift};
pub use param::{ParamSummary, Params};
pub use position_bias::{RelativePositionBias, causal_bucket};
pub use rope::{AxialRope, RopeTables};
