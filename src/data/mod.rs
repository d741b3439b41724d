//! The Well data layer: the HDF5 format, datasets, windows, normalisation, mixtures, loading.
//!
//! Tensor layout: a window is `(channels, time, height, width)`, a batch
//! `(batch, channels, time, height, width)`. Channels are the flattened field
//! components in The Well's order: every scalar (t0) field, then every vector (t1)
//! field's components (`velocity_x, velocity_y`), then every tensor (t2) field's
//! (`D_xx, D_xy, D_yx, D_yy`), each group in its `field_names` order.
//!
//! ```
//! # #[cfg(feature = "hdf5")] {
//! use phystok::data::{Split, WellDataset, WindowSpec};
//! // data/sample/ holds a small sample of every simulated system (data/README.md)
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sample/active_matter");
//! let ds = WellDataset::open(dir, Split::Train, WindowSpec::new(4, 1))?;
//! assert_eq!(ds.channel_names().len(), 11); // concentration, velocity (2), D and E (4 each)
//! assert_eq!(ds.channel_names()[3..7], ["D_xx", "D_xy", "D_yx", "D_yy"]);
//! let w = ds.window(0)?; // 4 context frames and the target
//! assert_eq!(w.shape, [11, 5, 32, 32]);
//! # }
//! # Ok::<(), phystok::Error>(())
//! ```

mod coarsen;
#[cfg(feature = "hdf5")]
mod dataset;
mod fields;
#[cfg(feature = "hdf5")]
mod h5;
#[cfg(feature = "hdf5")]
mod loader;
mod normalise;
mod stats;
mod well;

pub use coarsen::coarsen_space;
#[cfg(feature = "hdf5")]
pub use dataset::{Split, WellDataset, Window, WindowSpec, write_dataset};
pub use fields::{ActiveFields, FieldVocabulary};
#[cfg(feature = "hdf5")]
pub use h5::WellReader;
#[cfg(feature = "hdf5")]
pub use loader::{Batch, Loader, LoaderConfig};
pub use normalise::{RMS_EPS, RmsGrouping, STD_FLOOR, SampleRms};
pub use stats::{DatasetStats, FieldStats};
pub use well::{
    BoundaryCondition, BoundaryType, FieldData, GridType, ScalarData, TensorOrder, WellFile,
    component_names,
};
