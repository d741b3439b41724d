//! # phystok
//!
//! Physics foundation-model components for evcxr Jupyter notebooks: tokenisers,
//! processors, freezing strategies, training from notebook cells on CPU or GPU, and
//! spectral error analysis (VRMSE, NEPS) rendered inline.
//!
//! phystok builds the causal-convolution tokeniser of *On the Value of Tokeniser
//! Pretraining in Physics Foundation Models* (MAGVIT-Simple with runtime-adjustable
//! spatiotemporal compression), pretrains it as an autoencoder, puts a Walrus-style
//! transformer processor on top, chooses which tokeniser parameters stay frozen, trains
//! next-frame emulators on The Well–format physics data, and measures what happened across
//! spatial scales.
//!
//! ## A first model, on the CPU
//! ```
//! use phystok::prelude::*;
//!
//! let device = DeviceChoice::Cpu.device()?; // DeviceChoice::Cuda(0) with `--features cuda`
//! // a rollout model: the tokeniser, the processor, one seed for every weight
//! let model = RolloutConfig::tiny().with_n_steps_input(5).init(&device)?;
//! // what trains under the paper's "mostly frozen" strategy (Table 3)
//! let table = model.param_table().with_freeze(&FreezeStrategy::MostlyFrozen)?;
//! assert!(table.trainable() < table.total());
//! // next frame and a rollout from five frames of two fields on a 16² grid
//! let context = Tensor::randn(0f32, 1.0, (1, 2, 5, 16, 16), &device)?;
//! let fields = ActiveFields::first(2);
//! let frames = model.rollout(&context, &fields, 3)?;
//! assert_eq!(frames.dims(), &[1, 2, 3, 16, 16]);
//! # Ok::<(), phystok::Error>(())
//! ```
//!
//! ## Where things are
//! Data flows as plain values, lower modules never importing higher ones:
//! [`sim`] simulates Well-format HDF5 files that [`data`] reads into windows
//! `(batch, channels, time, height, width)`; [`nn`] holds the layers (and the one seeded
//! [`VarBuilder`](candle_nn::VarBuilder) every weight is made with); [`tokeniser`] and
//! [`processor`] build [`model::RolloutModel`], an [`emulator::Emulator`]; [`freeze`] says
//! what trains; [`optim`] and [`checkpoint`] are model-agnostic; [`train`] runs bounded
//! training from a notebook cell; [`metrics`], [`plot`] and [`report`] measure and show;
//! [`experiment`] reproduces the paper's study. [`prelude`] imports what a notebook needs
//! in one line.
//!
//! ## Determinism
//! A run's numbers depend on its seed and its rayon thread count only: the same seed and
//! threads give bit-identical losses, weights and results (every parallel reduction in
//! phystok's kernels runs over a fixed partition in index order; the data order is a
//! function of the seed); different thread counts agree to float32 rounding.
#![warn(missing_docs)]

pub mod baselines;
pub mod checkpoint;
pub mod data;
mod device;
pub mod emulator;
mod error;
#[cfg(feature = "hdf5")]
pub mod experiment;
pub mod freeze;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod optim;
pub mod patch;
pub mod physix;
#[cfg(feature = "plot")]
pub mod plot;
pub mod prelude;
pub mod processor;
pub mod report;
pub mod sim;
pub mod tokeniser;
pub mod train;

/// candle's tensors, re-exported so a notebook needs only `:dep phystok`.
pub use candle_core;
/// candle's `VarMap`, `VarBuilder` and layers, re-exported.
pub use candle_nn;
pub use device::{DeviceChoice, available_memory};
pub use error::{ConfigError, Error, Result};
