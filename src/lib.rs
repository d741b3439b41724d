//! # phystok
//!
//! Tokeniser pretraining for physics foundation models, from evcxr Jupyter notebooks.
//!
//! phystok builds the causal-convolution tokeniser of *On the Value of Tokeniser
//! Pretraining in Physics Foundation Models* (MAGVIT-Simple with runtime-adjustable
//! spatiotemporal compression), pretrains it as an autoencoder, puts a Walrus-style
//! transformer processor on top, chooses which tokeniser parameters stay frozen, trains
//! next-frame emulators on The Well–format physics data, and measures what happened across
//! spatial scales (VRMSE, NEPS power spectra).
//!
//! Data flows as plain values: simulators ([`sim`]) write Well-format HDF5 files that
//! [`data`] reads into windows of `(channels, time, height, width)`.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod data;
pub mod device;
pub mod error;
#[cfg(feature = "hdf5")]
pub mod experiment;
pub mod freeze;
pub mod metrics;
pub mod model;
pub mod nn;
pub mod optim;
#[cfg(feature = "plot")]
pub mod plot;
pub mod processor;
pub mod report;
pub mod sim;
pub mod tokeniser;
pub mod train;

/// candle's tensors and layers, re-exported so a notebook needs only `:dep phystok`.
pub use candle_core;
/// candle's `VarMap` and layers, re-exported.
pub use candle_nn;
pub use checkpoint::Checkpoint;
pub use device::DeviceChoice;
pub use error::{ConfigError, Error, Result};
pub use optim::{AdamWConfig, Optimiser, ScheduleConfig, SoapConfig};
pub use tokeniser::{Compression, Tokeniser, TokeniserConfig};
pub use train::History;
