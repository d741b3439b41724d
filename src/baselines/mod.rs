//! The Well's benchmark models (its `the_well.benchmark.models`): FNO, TFNO, the classic
//! U-Net and the ConvNeXt U-Net, as phystok [`Emulator`](crate::emulator::Emulator)s with
//! The Well's input convention (four context frames stacked as channels, the next frame
//! as target, MSE), so the crate's metrics, horizons, figures and the leaderboard take
//! them unchanged.

mod config;
mod fno;
mod model;

pub use config::{Architecture, BaselineConfig, BaselineKind};
pub use fno::{Fno, FnoConfig};
pub use model::Baseline;

#[cfg(test)]
mod tests;
