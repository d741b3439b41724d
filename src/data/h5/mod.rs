//! Reading and writing [`WellFile`]s as HDF5, and lazy window reads from open files.
//!
//! Written files follow The Well's layout exactly (see [`super::well`]): strings are
//! variable-length UTF-8, lists of strings are 1-D arrays of them, booleans are HDF5's
//! `FALSE/TRUE` enum (what h5py writes for `np.bool_`), data is `f32`. Reading accepts what
//! The Well's own writers produce as well: fixed-length strings, a bare string where a
//! list is expected (`associated_dims = "x"`), an empty float array for an empty list,
//! any integer or float width, and fields or scalars that omit the trajectory, time or a
//! spatial axis (tiled back).

mod attrs;
mod header;
mod read;
mod shape;
mod write;

pub use read::WellReader;

#[cfg(test)]
mod tests;
