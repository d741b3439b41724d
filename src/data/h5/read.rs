//! [`WellReader`]: an open Well-format file whose data is read on demand, by windows or
//! whole.

use std::path::{Path, PathBuf};

use hdf5::Dataset;
use ndarray::ArrayD;

use super::attrs::{ORDERS, dataset, group, h5err, one_line};
use super::header::{StoredField, guard_global_heaps, read_header};
use super::shape::{first_non_finite, tile};
use crate::data::well::WellFile;
use crate::{Error, Result};

impl WellFile {
    /// Reads a whole Well-format file into memory, tiling omitted axes back.
    pub fn read(path: impl AsRef<Path>) -> Result<WellFile> {
        let path = path.as_ref();
        let reader = WellReader::open(path)?;
        reader.read_all()
    }
}

/// An open Well-format file: its header read, its data read on demand.
#[derive(Debug)]
pub struct WellReader {
    path: PathBuf,
    file: hdf5::File,
    header: WellFile,
    stored: Vec<StoredField>,
    /// One open handle per stored field (same order), so window reads skip the lookups.
    datasets: Vec<Dataset>,
    /// Per stored field, the byte offset of its values when they can be read directly
    /// from the file (see [`raw_offset`]); `None` reads through HDF5.
    pub(super) raw: Vec<Option<u64>>,
    /// The file opened for those direct reads.
    data_file: std::fs::File,
}

impl WellReader {
    /// Opens a file and reads its header (everything but field and scalar data).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let file = hdf5::File::open(&path).map_err(h5err(&path))?;
        // before any variable-length string is read (read_header reads them)
        guard_global_heaps(&path, &file)?;
        let (header, stored) = read_header(&path, &file)?;
        let datasets = stored
            .iter()
            .map(|sf| dataset(&path, &group(&path, &file, sf.order.group())?, &sf.name))
            .collect::<Result<Vec<_>>>()?;
        let data_file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let file_len = data_file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let raw = stored
            .iter()
            .zip(&datasets)
            .map(|(sf, ds)| raw_offset(&header, sf, ds, file_len))
            .collect();
        Ok(WellReader {
            path,
            file,
            header,
            stored,
            datasets,
            raw,
            data_file,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The header: a [`WellFile`] whose fields and scalars hold no data.
    pub fn header(&self) -> &WellFile {
        &self.header
    }

    /// Reads `n_steps` frames of trajectory `traj` from `t0` with stride `dt`, all fields, as
    /// `(channels, time, *spatial)` row-major values, written into `out`.
    pub fn read_window_into(
        &self,
        traj: usize,
        t0: usize,
        n_steps: usize,
        dt: usize,
        out: &mut [f32],
    ) -> Result<()> {
        let h = &self.header;
        if traj >= h.n_trajectories {
            return Err(Error::OutOfRange {
                what: format!("{}: trajectory", self.path.display()),
                index: traj,
                len: h.n_trajectories,
            });
        }
        let last = t0 + dt.max(1) * n_steps.saturating_sub(1);
        if n_steps == 0 || last >= h.n_steps() {
            return Err(Error::OutOfRange {
                what: format!("{}: window end time step", self.path.display()),
                index: last,
                len: h.n_steps(),
            });
        }
        let frame = h.frame_len();
        let n_dims = h.n_spatial_dims();
        let want: usize = self.channel_count() * n_steps * frame;
        if out.len() != want {
            return Err(Error::Shape {
                what: "window buffer".into(),
                left: vec![out.len()],
                right: vec![want],
            });
        }
        let len = n_steps * frame;
        let mut rest = &mut *out;
        for order in ORDERS {
            let comps = order.n_components(n_dims);
            for k in (0..self.stored.len()).filter(|&k| self.stored[k].order == order) {
                let (block, tail) = std::mem::take(&mut rest).split_at_mut(comps * len);
                rest = tail;
                if let Some(offset) = self.raw[k] {
                    self.read_raw_window(offset, comps, traj, t0, n_steps, dt, block)?;
                    continue;
                }
                let (sf, ds) = (&self.stored[k], &self.datasets[k]);
                let values = self.read_field_window(sf, ds, traj, t0, n_steps, dt)?;
                // values: (n_steps, *spatial, comps) -> block[c, t, *spatial]
                if comps == 1 {
                    block.copy_from_slice(&values);
                } else {
                    for (c, dst) in block.chunks_exact_mut(len).enumerate() {
                        for (d, v) in dst.iter_mut().zip(values.chunks_exact(comps)) {
                            *d = v[c];
                        }
                    }
                }
            }
        }
        if let Some(i) = first_non_finite(out) {
            let (c, rest) = (i / (n_steps * frame), i % (n_steps * frame));
            return Err(Error::NonFinite {
                what: format!(
                    "{}: channel `{}`, trajectory {traj}, time step {}",
                    self.path.display(),
                    h.channel_names().get(c).cloned().unwrap_or_default(),
                    t0 + dt * (rest / frame)
                ),
            });
        }
        Ok(())
    }

    /// Reads one fully stored field's window straight from the file at `offset` into
    /// `block`, `(comps, n_steps, *spatial)`, splitting interleaved components on the way.
    #[allow(clippy::too_many_arguments)]
    fn read_raw_window(
        &self,
        offset: u64,
        comps: usize,
        traj: usize,
        t0: usize,
        n_steps: usize,
        dt: usize,
        block: &mut [f32],
    ) -> Result<()> {
        /// Values per read when components are split: small enough to stay in cache.
        const CHUNK: usize = 1 << 14;
        let h = &self.header;
        let frame = h.frame_len();
        let len = n_steps * frame;
        let at = |t: usize, p: usize| {
            offset + 4 * (((traj * h.n_steps() + t) * frame + p) * comps) as u64
        };
        let read = |buf: &mut [f32], pos: u64| {
            read_exact_at(&self.data_file, bytemuck::cast_slice_mut(buf), pos)
                .map_err(|e| Error::io(&self.path, e))
        };
        if comps == 1 {
            // the whole window at once when its frames are adjacent
            if dt <= 1 {
                return read(block, at(t0, 0));
            }
            for (i, dst) in block.chunks_exact_mut(frame).enumerate() {
                read(dst, at(t0 + i * dt, 0))?;
            }
            return Ok(());
        }
        let pixels = (CHUNK / comps).max(1);
        let mut buf = vec![0f32; pixels.min(frame) * comps];
        for i in 0..n_steps {
            for p0 in (0..frame).step_by(pixels) {
                let n = pixels.min(frame - p0);
                let b = &mut buf[..n * comps];
                read(b, at(t0 + i * dt, p0))?;
                for (c, channel) in block.chunks_exact_mut(len).enumerate() {
                    let dst = &mut channel[i * frame + p0..i * frame + p0 + n];
                    for (d, v) in dst.iter_mut().zip(b.chunks_exact(comps)) {
                        *d = v[c];
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of channels (flattened field components).
    pub fn channel_count(&self) -> usize {
        let n = self.header.n_spatial_dims();
        self.stored.iter().map(|s| s.order.n_components(n)).sum()
    }

    /// Reads one field's window, tiled to `(n_steps, *spatial, comps)`.
    fn read_field_window(
        &self,
        sf: &StoredField,
        ds: &Dataset,
        traj: usize,
        t0: usize,
        n_steps: usize,
        dt: usize,
    ) -> Result<Vec<f32>> {
        let h = &self.header;
        let n_dims = h.n_spatial_dims();
        use hdf5::SliceOrIndex as S;
        let mut sel = Vec::new();
        let mut expect = Vec::new();
        if sf.sample_varying {
            sel.push(S::Index(traj));
        }
        if sf.time_varying {
            sel.push(S::SliceCount {
                start: t0,
                step: dt.max(1),
                count: n_steps,
                block: 1,
            });
            expect.push(n_steps);
        }
        for (d, &varying) in sf.dim_varying.iter().enumerate() {
            if varying {
                sel.push(S::SliceCount {
                    start: 0,
                    step: 1,
                    count: h.spatial_shape[d],
                    block: 1,
                });
                expect.push(h.spatial_shape[d]);
            }
        }
        for _ in 0..sf.order.rank() {
            sel.push(S::SliceCount {
                start: 0,
                step: 1,
                count: n_dims,
                block: 1,
            });
            expect.push(n_dims);
        }
        let mut full_stored = Vec::new();
        if sf.sample_varying {
            full_stored.push(h.n_trajectories);
        }
        full_stored.extend_from_slice(&expect);
        if sf.time_varying {
            full_stored[usize::from(sf.sample_varying)] = h.n_steps();
        }
        let shape = ds.shape();
        if shape != full_stored {
            return Err(Error::format(
                &self.path,
                format!(
                    "field `{}/{}` has shape {:?}, expected {:?}",
                    sf.order.group(),
                    sf.name,
                    shape,
                    full_stored
                ),
            ));
        }
        let arr: ArrayD<f32> =
            ds.read_slice(hdf5::Hyperslab::from(sel))
                .map_err(|e| Error::Hdf5 {
                    path: self.path.clone(),
                    message: format!("field `{}`: {}", sf.name, one_line(&e.to_string())),
                })?;
        let data: Vec<f32> = if arr.is_standard_layout() {
            arr.into_raw_vec_and_offset().0
        } else {
            arr.iter().copied().collect()
        };
        // tile back to (n_steps, *spatial, comps)
        let comps = sf.order.n_components(n_dims);
        let mut src_shape = vec![if sf.time_varying { n_steps } else { 1 }];
        src_shape.extend(
            sf.dim_varying
                .iter()
                .zip(&h.spatial_shape)
                .map(|(&v, &n)| if v { n } else { 1 }),
        );
        src_shape.push(comps);
        let mut dst_shape = vec![n_steps];
        dst_shape.extend(&h.spatial_shape);
        dst_shape.push(comps);
        Ok(if src_shape == dst_shape {
            data
        } else {
            tile(&data, &src_shape, &dst_shape)
        })
    }

    /// The shape a stored field's dataset must have by the header: `[n_trajectories]` when
    /// sample-varying, `[n_steps]` when time-varying, the varying spatial axes, then one
    /// axis of `n_dims` per tensor rank.
    fn stored_shape(&self, sf: &StoredField) -> Vec<usize> {
        let h = &self.header;
        let mut shape = Vec::new();
        if sf.sample_varying {
            shape.push(h.n_trajectories);
        }
        if sf.time_varying {
            shape.push(h.n_steps());
        }
        for (d, &varying) in sf.dim_varying.iter().enumerate() {
            if varying {
                shape.push(h.spatial_shape[d]);
            }
        }
        shape.extend(std::iter::repeat_n(h.n_spatial_dims(), sf.order.rank()));
        shape
    }

    /// Before [`WellReader::read_all`] allocates: every stored field has the shape the
    /// header implies, and the whole file fits in the machine's available memory (a corrupt
    /// `n_trajectories` could otherwise ask for terabytes).
    fn check_sizes(&self) -> Result<()> {
        for (sf, ds) in self.stored.iter().zip(&self.datasets) {
            let want = self.stored_shape(sf);
            if ds.shape() != want {
                return Err(Error::format(
                    &self.path,
                    format!(
                        "field `{}/{}` has shape {:?}, the header implies {:?}",
                        sf.order.group(),
                        sf.name,
                        ds.shape(),
                        want
                    ),
                ));
            }
        }
        let h = &self.header;
        let bytes: u128 = h
            .fields
            .iter()
            .map(|f| h.field_len(f.order) as u128 * 4)
            .sum();
        let limit = crate::device::available_memory();
        if bytes > limit {
            return Err(crate::ConfigError::TooLarge {
                name: "the file's fields",
                what: format!(
                    "{}: {} trajectories × {} frames × {:?}",
                    self.path.display(),
                    h.n_trajectories,
                    h.n_steps(),
                    h.spatial_shape
                ),
                bytes,
                limit,
            }
            .into());
        }
        Ok(())
    }

    /// Reads every field and scalar of the file.
    pub fn read_all(&self) -> Result<WellFile> {
        self.check_sizes()?;
        let h = &self.header;
        let mut out = h.clone();
        let n = h.n_steps();
        for ((f, sf), ds) in out.fields.iter_mut().zip(&self.stored).zip(&self.datasets) {
            let mut data = Vec::with_capacity(h.field_len(f.order));
            for traj in 0..h.n_trajectories {
                data.extend(self.read_field_window(sf, ds, traj, 0, n, 1)?);
            }
            if let Some(i) = first_non_finite(&data) {
                let per_traj = (h.field_len(f.order) / h.n_trajectories.max(1)).max(1);
                // (time, *spatial, component) of the element within its trajectory
                let mut dims = vec![n];
                dims.extend(&h.spatial_shape);
                let comps = per_traj / dims.iter().product::<usize>().max(1);
                if comps > 1 {
                    dims.push(comps);
                }
                let mut at = vec![0; dims.len()];
                let mut rest = i % per_traj;
                for (a, d) in at.iter_mut().zip(&dims).rev() {
                    *a = rest % d.max(&1);
                    rest /= d.max(&1);
                }
                let axes = if comps > 1 {
                    "time, spatial…, component"
                } else {
                    "time, spatial…"
                };
                return Err(Error::NonFinite {
                    what: format!(
                        "{}: field `{}`, trajectory {}, time step {}, element {at:?} ({axes}): {}",
                        self.path.display(),
                        f.name,
                        i / per_traj,
                        at[0],
                        data[i]
                    ),
                });
            }
            f.data = data;
        }
        let g = self.file.group("scalars").map_err(h5err(&self.path))?;
        for s in out.scalars.iter_mut() {
            let ds = dataset(&self.path, &g, &s.name)?;
            let raw: Vec<f32> = ds.read_raw::<f32>().map_err(h5err(&self.path))?;
            let src = [
                if s.sample_varying {
                    h.n_trajectories
                } else {
                    1
                },
                if s.time_varying { n } else { 1 },
            ];
            if raw.len() != src[0] * src[1] {
                return Err(Error::format(
                    &self.path,
                    format!(
                        "scalar `{}` has {} values, expected {:?}",
                        s.name,
                        raw.len(),
                        src
                    ),
                ));
            }
            s.data = tile(&raw, &src, &[h.n_trajectories, n]);
        }
        Ok(out)
    }
}

/// The byte offset of a field's values if they can be read with plain positioned reads:
/// every axis stored, contiguous layout (no chunks, hence no filters), native `f32`, and
/// storage of exactly the expected size inside the file. Anything else reads through HDF5.
fn raw_offset(h: &WellFile, sf: &StoredField, ds: &Dataset, file_len: u64) -> Option<u64> {
    if !cfg!(unix) || !sf.sample_varying || !sf.time_varying || sf.dim_varying.contains(&false) {
        return None;
    }
    let mut shape = vec![h.n_trajectories, h.n_steps()];
    shape.extend(&h.spatial_shape);
    shape.extend(std::iter::repeat_n(h.n_spatial_dims(), sf.order.rank()));
    let bytes = shape
        .iter()
        .try_fold(4u64, |n, &d| n.checked_mul(d as u64))?;
    let native_f32 = ds.dtype().is_ok_and(|t| t.is::<f32>());
    if !native_f32 || ds.layout() != hdf5::dataset::Layout::Contiguous || ds.shape() != shape {
        return None;
    }
    let offset = ds.offset()?;
    (ds.storage_size() == bytes && offset.checked_add(bytes)? <= file_len).then_some(offset)
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

#[cfg(not(unix))]
fn read_exact_at(_: &std::fs::File, _: &mut [u8], _: u64) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "positioned reads",
    ))
}
