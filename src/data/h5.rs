//! Reading and writing [`WellFile`]s as HDF5, and lazy window reads from open files.
//!
//! Written files follow The Well's layout exactly (see [`super::well`]): strings are
//! variable-length UTF-8, lists of strings are 1-D arrays of them, booleans are HDF5's
//! `FALSE/TRUE` enum (what h5py writes for `np.bool_`), data is `f32`. Reading accepts what
//! The Well's own writers produce as well: fixed-length strings, a bare string where a
//! list is expected (`associated_dims = "x"`), an empty float array for an empty list,
//! any integer or float width, and fields or scalars that omit the trajectory, time or a
//! spatial axis (tiled back).

use std::path::{Path, PathBuf};

use hdf5::types::{TypeDescriptor, VarLenUnicode};
use hdf5::{Attribute, Dataset, Group, Location};
use ndarray::{ArrayD, IxDyn};

use super::well::{
    BoundaryCondition, BoundaryType, FieldData, GridType, ScalarData, TensorOrder, WellFile,
};
use crate::{Error, Result};

const ORDERS: [TensorOrder; 3] = [
    TensorOrder::Scalar,
    TensorOrder::Vector,
    TensorOrder::Tensor,
];

/// Wraps an HDF5 error with the file it concerns.
fn h5err(path: &Path) -> impl Fn(hdf5::Error) -> Error + '_ {
    move |e| Error::Hdf5 {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

// ---------------------------------------------------------------- attribute reading

/// Typed attribute reads that name the file and attribute in every error.
pub(crate) struct Attrs<'a> {
    path: &'a Path,
}

impl<'a> Attrs<'a> {
    pub(crate) fn new(path: &'a Path) -> Self {
        Attrs { path }
    }

    fn open(&self, loc: &Location, name: &str) -> Result<Attribute> {
        loc.attr(name).map_err(|_| {
            Error::format(
                self.path,
                format!("missing attribute `{}` on `{}`", name, loc.name()),
            )
        })
    }

    fn wrong(&self, loc: &Location, name: &str, want: &str) -> Error {
        Error::format(
            self.path,
            format!("attribute `{}` on `{}` is not {want}", name, loc.name()),
        )
    }

    fn descriptor(&self, attr: &Attribute) -> Result<TypeDescriptor> {
        attr.dtype()
            .and_then(|t| t.to_descriptor())
            .map_err(h5err(self.path))
    }

    /// A list of strings; a bare string is a one-element list, an empty numeric array an
    /// empty list.
    pub(crate) fn strings(&self, loc: &Location, name: &str) -> Result<Vec<String>> {
        let attr = self.open(loc, name)?;
        let desc = self.descriptor(&attr)?;
        let out = match desc {
            TypeDescriptor::VarLenUnicode => attr
                .read_raw::<VarLenUnicode>()
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            TypeDescriptor::VarLenAscii => attr
                .read_raw::<hdf5::types::VarLenAscii>()
                .map(|v| v.iter().map(|s| s.to_string()).collect()),
            TypeDescriptor::FixedAscii(_) | TypeDescriptor::FixedUnicode(_) => {
                // Read as raw bytes of the fixed width, trimming NUL padding.
                let dtype = attr.dtype().map_err(h5err(self.path))?;
                let width = dtype.size();
                let n = attr.size();
                let mut bytes = vec![0u8; width * n];
                let reader = attr.as_reader();
                let raw = reader.read_raw::<u8>();
                match raw {
                    Ok(v) if v.len() == bytes.len() => bytes.copy_from_slice(&v),
                    _ => return Err(self.wrong(loc, name, "a string")),
                }
                Ok(bytes
                    .chunks(width)
                    .map(|c| {
                        String::from_utf8_lossy(c)
                            .trim_end_matches('\0')
                            .trim_end()
                            .to_string()
                    })
                    .collect())
            }
            TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_)
                if attr.size() == 0 =>
            {
                Ok(Vec::new())
            }
            _ => return Err(self.wrong(loc, name, "a string or list of strings")),
        };
        out.map_err(h5err(self.path))
    }

    /// One string.
    pub(crate) fn string(&self, loc: &Location, name: &str) -> Result<String> {
        let mut v = self.strings(loc, name)?;
        if v.len() != 1 {
            return Err(self.wrong(loc, name, "a single string"));
        }
        Ok(v.remove(0))
    }

    /// Numbers of any integer or float width, as f64.
    pub(crate) fn numbers(&self, loc: &Location, name: &str) -> Result<Vec<f64>> {
        let attr = self.open(loc, name)?;
        match self.descriptor(&attr)? {
            TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
                attr.read_raw::<f64>().map_err(h5err(self.path))
            }
            TypeDescriptor::Boolean | TypeDescriptor::Enum(_) => Ok(self
                .bools(loc, name)?
                .into_iter()
                .map(|b| if b { 1.0 } else { 0.0 })
                .collect()),
            _ => Err(self.wrong(loc, name, "a number")),
        }
    }

    /// One number.
    pub(crate) fn number(&self, loc: &Location, name: &str) -> Result<f64> {
        match self.numbers(loc, name)?.as_slice() {
            [x] => Ok(*x),
            _ => Err(self.wrong(loc, name, "a single number")),
        }
    }

    /// A non-negative whole number.
    pub(crate) fn count(&self, loc: &Location, name: &str) -> Result<usize> {
        let x = self.number(loc, name)?;
        if x < 0.0 || x.fract() != 0.0 || !x.is_finite() {
            return Err(self.wrong(loc, name, "a non-negative integer"));
        }
        Ok(x as usize)
    }

    /// Booleans (HDF5 bool enum, or integers 0/1).
    pub(crate) fn bools(&self, loc: &Location, name: &str) -> Result<Vec<bool>> {
        let attr = self.open(loc, name)?;
        match self.descriptor(&attr)? {
            TypeDescriptor::Boolean | TypeDescriptor::Enum(_) => {
                attr.read_raw::<bool>().map_err(h5err(self.path))
            }
            TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => Ok(attr
                .read_raw::<i64>()
                .map_err(h5err(self.path))?
                .into_iter()
                .map(|x| x != 0)
                .collect()),
            _ => Err(self.wrong(loc, name, "a boolean")),
        }
    }

    /// One boolean.
    pub(crate) fn flag(&self, loc: &Location, name: &str) -> Result<bool> {
        match self.bools(loc, name)?.as_slice() {
            [b] => Ok(*b),
            _ => Err(self.wrong(loc, name, "a single boolean")),
        }
    }
}

fn group(file_path: &Path, parent: &Group, name: &str) -> Result<Group> {
    parent
        .group(name)
        .map_err(|_| Error::format(file_path, format!("missing group `{name}`")))
}

fn dataset(file_path: &Path, parent: &Group, name: &str) -> Result<Dataset> {
    parent.dataset(name).map_err(|_| {
        Error::format(
            file_path,
            format!("missing dataset `{}/{name}`", parent.name()),
        )
    })
}

// ---------------------------------------------------------------- attribute writing

fn put_str(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e}")))?;
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}

fn put_strs(loc: &Location, name: &str, values: &[String]) -> hdf5::Result<()> {
    let v: Vec<VarLenUnicode> = values
        .iter()
        .map(|s| {
            s.parse::<VarLenUnicode>()
                .map_err(|e| hdf5::Error::from(format!("{e}")))
        })
        .collect::<hdf5::Result<_>>()?;
    loc.new_attr::<VarLenUnicode>()
        .shape(v.len())
        .create(name)?
        .write_raw(&v)
}

fn put_bool(loc: &Location, name: &str, value: bool) -> hdf5::Result<()> {
    loc.new_attr::<bool>().create(name)?.write_scalar(&value)
}

fn put_bools(loc: &Location, name: &str, values: &[bool]) -> hdf5::Result<()> {
    loc.new_attr::<bool>()
        .shape(values.len())
        .create(name)?
        .write_raw(values)
}

fn put_f64(loc: &Location, name: &str, value: f64) -> hdf5::Result<()> {
    loc.new_attr::<f64>().create(name)?.write_scalar(&value)
}

fn put_i64(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    loc.new_attr::<i64>().create(name)?.write_scalar(&value)
}

fn bc_name(t: BoundaryType) -> &'static str {
    match t {
        BoundaryType::Wall => "WALL",
        BoundaryType::Open => "OPEN",
        BoundaryType::Periodic => "PERIODIC",
    }
}

impl WellFile {
    /// Writes this file in The Well's HDF5 layout, replacing `path` atomically (written to a
    /// temporary file beside it, then renamed).
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.validate().map_err(|what| Error::format(path, what))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let tmp = tmp_path(path);
        let result = self.write_to(&tmp).map_err(h5err(path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    fn write_to(&self, path: &Path) -> hdf5::Result<()> {
        let file = hdf5::File::create(path)?;
        put_str(&file, "dataset_name", &self.dataset_name)?;
        put_str(
            &file,
            "grid_type",
            match self.grid_type {
                GridType::Cartesian => "cartesian",
                GridType::Spherical => "spherical",
            },
        )?;
        put_i64(&file, "n_spatial_dims", self.n_spatial_dims() as i64)?;
        put_i64(&file, "n_trajectories", self.n_trajectories as i64)?;
        let names: Vec<String> = self.parameters.iter().map(|(n, _)| n.clone()).collect();
        put_strs(&file, "simulation_parameters", &names)?;
        for (name, value) in &self.parameters {
            put_f64(&file, name, *value)?;
        }

        let dims = file.create_group("dimensions")?;
        put_strs(&dims, "spatial_dims", &self.spatial_dims)?;
        let time = dims
            .new_dataset_builder()
            .with_data(&self.time)
            .create("time")?;
        put_bool(&time, "sample_varying", false)?;
        put_bool(&time, "time_varying", true)?;
        for (name, coords) in self.spatial_dims.iter().zip(&self.coords) {
            let ds = dims
                .new_dataset_builder()
                .with_data(coords)
                .create(name.as_str())?;
            put_bool(&ds, "sample_varying", false)?;
            put_bool(&ds, "time_varying", false)?;
        }

        let bcs = file.create_group("boundary_conditions")?;
        for bc in &self.boundary_conditions {
            let g = bcs.create_group(&bc.name)?;
            put_strs(&g, "associated_dims", &bc.associated_dims)?;
            put_strs(&g, "associated_fields", &bc.associated_fields)?;
            put_str(&g, "bc_type", bc_name(bc.bc_type))?;
            put_bool(&g, "sample_varying", bc.sample_varying)?;
            put_bool(&g, "time_varying", bc.time_varying)?;
            g.new_dataset_builder().with_data(&bc.mask).create("mask")?;
            g.new_dataset_builder()
                .with_data(&bc.values)
                .create("values")?;
        }

        let scalars = file.create_group("scalars")?;
        let names: Vec<String> = self.scalars.iter().map(|s| s.name.clone()).collect();
        put_strs(&scalars, "field_names", &names)?;
        for s in &self.scalars {
            let (shape, data) = stored_scalar(self, s);
            let arr = ArrayD::from_shape_vec(IxDyn(&shape), data)
                .map_err(|e| hdf5::Error::from(e.to_string()))?;
            let ds = scalars
                .new_dataset_builder()
                .with_data(&arr)
                .create(s.name.as_str())?;
            put_bool(&ds, "time_varying", s.time_varying)?;
            put_bool(&ds, "sample_varying", s.sample_varying)?;
        }

        for order in ORDERS {
            let g = file.create_group(order.group())?;
            let fields: Vec<&FieldData> = self.fields.iter().filter(|f| f.order == order).collect();
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            put_strs(&g, "field_names", &names)?;
            for f in fields {
                let (shape, data) = stored_field(self, f);
                let arr = ArrayD::from_shape_vec(IxDyn(&shape), data)
                    .map_err(|e| hdf5::Error::from(e.to_string()))?;
                let ds = g
                    .new_dataset_builder()
                    .with_data(&arr)
                    .create(f.name.as_str())?;
                put_bools(&ds, "dim_varying", &f.dim_varying)?;
                put_bool(&ds, "sample_varying", f.sample_varying)?;
                put_bool(&ds, "time_varying", f.time_varying)?;
                if order == TensorOrder::Tensor {
                    put_bool(&ds, "symmetric", false)?;
                    put_bool(&ds, "antisymmetric", false)?;
                }
            }
        }
        file.flush()?;
        Ok(())
    }

    /// Reads a whole Well-format file into memory, tiling omitted axes back.
    pub fn read(path: impl AsRef<Path>) -> Result<WellFile> {
        let path = path.as_ref();
        let reader = WellReader::open(path)?;
        reader.read_all()
    }

    /// Checks internal consistency: lengths of data against shapes, names unique.
    pub(crate) fn validate(&self) -> std::result::Result<(), String> {
        let n_dims = self.n_spatial_dims();
        if self.coords.len() != n_dims {
            return Err(format!(
                "{} coordinate arrays for {n_dims} dims",
                self.coords.len()
            ));
        }
        for (i, (c, &n)) in self.coords.iter().zip(&self.spatial_shape).enumerate() {
            if c.len() != n {
                return Err(format!(
                    "coordinates of dim {i} have {} points, not {n}",
                    c.len()
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for f in &self.fields {
            if !names.insert(f.name.as_str()) {
                return Err(format!("field `{}` appears twice", f.name));
            }
            if f.data.len() != self.field_len(f.order) {
                return Err(format!(
                    "field `{}` holds {} values, not {}",
                    f.name,
                    f.data.len(),
                    self.field_len(f.order)
                ));
            }
            if f.dim_varying.len() != n_dims {
                return Err(format!("field `{}`: dim_varying has wrong length", f.name));
            }
        }
        for s in &self.scalars {
            if s.data.len() != self.n_trajectories * self.n_steps() {
                return Err(format!("scalar `{}` has wrong length", s.name));
            }
        }
        Ok(())
    }
}

fn tmp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".tmp{}", std::process::id()));
    path.with_file_name(name)
}

/// Shape and data of a field as stored: axes that do not vary are dropped.
fn stored_field(file: &WellFile, f: &FieldData) -> (Vec<usize>, Vec<f32>) {
    let comps = f.order.n_components(file.n_spatial_dims());
    let mut full = vec![file.n_trajectories, file.n_steps()];
    full.extend(&file.spatial_shape);
    full.push(comps);
    let keep: Vec<bool> = [f.sample_varying, f.time_varying]
        .into_iter()
        .chain(f.dim_varying.iter().copied())
        .chain(std::iter::once(true))
        .collect();
    let data = take_first_along(&f.data, &full, &keep);
    let mut shape: Vec<usize> = full
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(n, _)| *n)
        .collect();
    // split the component axis back into (D) or (D, D)
    shape.pop();
    for _ in 0..f.order.rank() {
        shape.push(file.n_spatial_dims());
    }
    (shape, data)
}

fn stored_scalar(file: &WellFile, s: &ScalarData) -> (Vec<usize>, Vec<f32>) {
    let full = [file.n_trajectories, file.n_steps()];
    let keep = [s.sample_varying, s.time_varying];
    let data = take_first_along(&s.data, &full, &keep);
    let shape = full
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(n, _)| *n)
        .collect();
    (shape, data)
}

/// Keeps index 0 along every axis where `keep` is false.
fn take_first_along(data: &[f32], shape: &[usize], keep: &[bool]) -> Vec<f32> {
    let strides = strides(shape);
    let out_shape: Vec<usize> = shape
        .iter()
        .zip(keep)
        .map(|(&n, &k)| if k { n } else { 1 })
        .collect();
    let n_out: usize = out_shape.iter().product();
    let out_strides = strides_of(&out_shape);
    (0..n_out)
        .map(|i| {
            let src: usize = out_strides
                .iter()
                .zip(&strides)
                .zip(&out_shape)
                .map(|((&os, &s), &n)| (i / os) % n * s)
                .sum();
            data[src]
        })
        .collect()
}

pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    strides_of(shape)
}

fn strides_of(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

// ---------------------------------------------------------------- lazy reading

/// How one field is stored in its file.
#[derive(Debug, Clone)]
pub(crate) struct StoredField {
    pub name: String,
    pub order: TensorOrder,
    pub sample_varying: bool,
    pub time_varying: bool,
    pub dim_varying: Vec<bool>,
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
    raw: Vec<Option<u64>>,
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
                    message: format!("field `{}`: {e}", sf.name),
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

    /// Reads every field and scalar of the file.
    pub fn read_all(&self) -> Result<WellFile> {
        let h = &self.header;
        let mut out = h.clone();
        let n = h.n_steps();
        for ((f, sf), ds) in out.fields.iter_mut().zip(&self.stored).zip(&self.datasets) {
            let mut data = Vec::with_capacity(h.field_len(f.order));
            for traj in 0..h.n_trajectories {
                data.extend(self.read_field_window(sf, ds, traj, 0, n, 1)?);
            }
            if let Some(i) = first_non_finite(&data) {
                let per_traj = h.field_len(f.order) / h.n_trajectories.max(1);
                return Err(Error::NonFinite {
                    what: format!(
                        "{}: field `{}`, trajectory {}, value {}",
                        self.path.display(),
                        f.name,
                        i / per_traj.max(1),
                        i % per_traj.max(1)
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

/// Index of the first NaN or infinity, scanning in blocks the compiler vectorises: a value
/// is not finite when its exponent bits are all set, so the block's largest magnitude bit
/// pattern tells whether it holds one.
fn first_non_finite(xs: &[f32]) -> Option<usize> {
    const BLOCK: usize = 1024;
    const EXPONENT: u32 = 0x7f80_0000;
    let magnitude = |b: &[f32]| b.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7fff_ffff));
    let (k, block) = xs
        .chunks(BLOCK)
        .enumerate()
        .find(|(_, b)| magnitude(b) >= EXPONENT)?;
    block
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| k * BLOCK + i)
}

/// Broadcasts `data` of `src` shape (each axis equal to `dst`'s or 1) to `dst`.
fn tile(data: &[f32], src: &[usize], dst: &[usize]) -> Vec<f32> {
    if src == dst {
        return data.to_vec();
    }
    let ss = strides_of(src);
    let ds = strides_of(dst);
    let n: usize = dst.iter().product();
    (0..n)
        .map(|i| {
            let j: usize = (0..dst.len())
                .map(|a| {
                    if src[a] == 1 {
                        0
                    } else {
                        (i / ds[a]) % dst[a] * ss[a]
                    }
                })
                .sum();
            data[j]
        })
        .collect()
}

/// The most bytes outside contiguous dataset storage scanned for global heap collections
/// (chunked or compressed data counts here, so a file of only chunked data is scanned up
/// to this size).
const HEAP_SCAN_BYTES: u64 = 64 << 20;

/// Rejects files with a corrupt global heap collection that would make the HDF5 library
/// loop forever.
///
/// HDF5 (2.x, `H5HG__cache_heap_deserialize`) never terminates on a collection whose
/// free-space object (index 0) has length zero: it advances by zero bytes. Variable-length
/// strings, which every Well file holds in its attributes, live in these collections, so a
/// flipped byte there would hang a read. We walk each `GCOL` collection as HDF5 does and
/// refuse the file if the walk would stall. Only the bytes outside the datasets'
/// contiguous storage are read (collections are metadata), so the cost follows the size
/// of the metadata, not of the data.
fn guard_global_heaps(path: &Path, file: &hdf5::File) -> Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut extents = Vec::new();
    dataset_extents(file, &mut extents);
    extents.sort_unstable();
    let mut budget = HEAP_SCAN_BYTES;
    let mut at = 0u64;
    for (start, end) in extents.into_iter().chain(std::iter::once((len, len))) {
        let gap_end = start.min(len);
        if gap_end > at && budget > 0 {
            let n = (gap_end - at).min(budget);
            budget -= n;
            let mut bytes = Vec::with_capacity(n as usize);
            f.seek(SeekFrom::Start(at))
                .map_err(|e| Error::io(path, e))?;
            (&mut f)
                .take(n)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
            check_heap_collections(&bytes).map_err(|off| {
                Error::format(
                    path,
                    format!(
                        "corrupt global heap collection at byte {} (zero-length object)",
                        at + off as u64
                    ),
                )
            })?;
        }
        at = at.max(end);
    }
    Ok(())
}

/// (start, end) byte ranges of every contiguous dataset's storage under `group`.
fn dataset_extents(group: &Group, out: &mut Vec<(u64, u64)>) {
    for name in group.member_names().unwrap_or_default() {
        if let Ok(g) = group.group(&name) {
            dataset_extents(&g, out);
        } else if let Ok(ds) = group.dataset(&name)
            && let Some(off) = ds.offset()
        {
            out.push((off, off.saturating_add(ds.storage_size())));
        }
    }
}

/// Walks every `GCOL` collection in `bytes` as HDF5 does; `Err(offset)` of one whose walk
/// would stall.
fn check_heap_collections(bytes: &[u8]) -> std::result::Result<(), usize> {
    const HDR: usize = 16; // GCOL, version, 3 reserved, 8-byte collection size
    let mut at = 0;
    while let Some(off) = bytes[at..].windows(4).position(|w| w == b"GCOL") {
        let start = at + off;
        at = start + 4;
        let Some(size) = bytes.get(start + 8..start + 16) else {
            break;
        };
        let size = u64::from_le_bytes(size.try_into().expect("8 bytes")) as usize;
        let Some(end) = start.checked_add(size).filter(|&e| e <= bytes.len()) else {
            continue;
        };
        let mut p = start + HDR;
        while p < end {
            if p + 16 > end {
                break; // trailing free space
            }
            let idx = u16::from_le_bytes([bytes[p], bytes[p + 1]]);
            let len =
                u64::from_le_bytes(bytes[p + 8..p + 16].try_into().expect("8 bytes")) as usize;
            let need = if idx > 0 {
                16usize.saturating_add(len.saturating_add(7) & !7)
            } else {
                len
            };
            if need == 0 {
                return Err(start);
            }
            p = p.saturating_add(need);
        }
    }
    Ok(())
}

fn parse_bc(path: &Path, s: &str) -> Result<BoundaryType> {
    match s.to_ascii_uppercase().as_str() {
        "WALL" => Ok(BoundaryType::Wall),
        "OPEN" => Ok(BoundaryType::Open),
        "PERIODIC" => Ok(BoundaryType::Periodic),
        other => Err(Error::format(path, format!("unknown bc_type `{other}`"))),
    }
}

fn read_header(path: &Path, file: &hdf5::File) -> Result<(WellFile, Vec<StoredField>)> {
    let a = Attrs::new(path);
    let root: &Group = file;
    let dataset_name = a.string(file, "dataset_name")?;
    let grid_type = match a.string(file, "grid_type")?.as_str() {
        "cartesian" => GridType::Cartesian,
        "spherical" => GridType::Spherical,
        other => return Err(Error::format(path, format!("unknown grid_type `{other}`"))),
    };
    let n_spatial_dims = a.count(file, "n_spatial_dims")?;
    let n_trajectories = a.count(file, "n_trajectories")?;
    let param_names = a.strings(file, "simulation_parameters")?;
    let parameters = param_names
        .into_iter()
        .map(|n| {
            let v = a.number(file, &n)?;
            Ok((n, v))
        })
        .collect::<Result<Vec<_>>>()?;

    let dims = group(path, root, "dimensions")?;
    let spatial_dims = a.strings(&dims, "spatial_dims")?;
    if spatial_dims.len() != n_spatial_dims {
        return Err(Error::format(
            path,
            format!(
                "{} spatial_dims but n_spatial_dims = {n_spatial_dims}",
                spatial_dims.len()
            ),
        ));
    }
    let time_ds = dataset(path, &dims, "time")?;
    let time_shape = time_ds.shape();
    let n_steps = *time_shape
        .last()
        .ok_or_else(|| Error::format(path, "time is a scalar"))?;
    let time_all: Vec<f32> = time_ds.read_raw().map_err(h5err(path))?;
    let time = time_all[..n_steps.min(time_all.len())].to_vec();
    let mut spatial_shape = Vec::new();
    let mut coords = Vec::new();
    for d in &spatial_dims {
        let ds = dataset(path, &dims, d)?;
        let n = *ds
            .shape()
            .last()
            .ok_or_else(|| Error::format(path, format!("{d} is a scalar")))?;
        let c: Vec<f32> = ds.read_raw().map_err(h5err(path))?;
        spatial_shape.push(n);
        coords.push(c[..n.min(c.len())].to_vec());
    }

    let mut boundary_conditions = Vec::new();
    if let Ok(bcs) = root.group("boundary_conditions") {
        for name in bcs.member_names().map_err(h5err(path))? {
            let g = group(path, &bcs, &name)?;
            let mask = match g.dataset("mask") {
                Ok(ds) => ds.read_raw::<bool>().map_err(h5err(path))?,
                Err(_) => Vec::new(),
            };
            let values = match g.dataset("values") {
                Ok(ds) => ds.read_raw::<f32>().unwrap_or_default(),
                Err(_) => Vec::new(),
            };
            boundary_conditions.push(BoundaryCondition {
                bc_type: parse_bc(path, &a.string(&g, "bc_type")?)?,
                associated_dims: a.strings(&g, "associated_dims")?,
                associated_fields: a.strings(&g, "associated_fields").unwrap_or_default(),
                sample_varying: a.flag(&g, "sample_varying").unwrap_or(false),
                time_varying: a.flag(&g, "time_varying").unwrap_or(false),
                name,
                mask,
                values,
            });
        }
    }

    let mut scalars = Vec::new();
    if let Ok(g) = root.group("scalars") {
        for name in a.strings(&g, "field_names")? {
            let ds = dataset(path, &g, &name)?;
            scalars.push(ScalarData {
                time_varying: a.flag(&ds, "time_varying")?,
                sample_varying: a.flag(&ds, "sample_varying")?,
                name,
                data: Vec::new(),
            });
        }
    }

    let mut fields = Vec::new();
    let mut stored = Vec::new();
    for order in ORDERS {
        let g = group(path, root, order.group())?;
        for name in a.strings(&g, "field_names")? {
            let ds = dataset(path, &g, &name)?;
            let dim_varying = a.bools(&ds, "dim_varying")?;
            if dim_varying.len() != n_spatial_dims {
                return Err(Error::format(
                    path,
                    format!(
                        "field `{name}`: dim_varying has {} entries",
                        dim_varying.len()
                    ),
                ));
            }
            let sf = StoredField {
                name: name.clone(),
                order,
                sample_varying: a.flag(&ds, "sample_varying")?,
                time_varying: a.flag(&ds, "time_varying")?,
                dim_varying: dim_varying.clone(),
            };
            fields.push(FieldData {
                name,
                order,
                time_varying: sf.time_varying,
                sample_varying: sf.sample_varying,
                dim_varying,
                data: Vec::new(),
            });
            stored.push(sf);
        }
    }
    // fields in channel order: t0, t1, t2 (the loop above already is)
    let header = WellFile {
        dataset_name,
        grid_type,
        spatial_dims,
        spatial_shape,
        n_trajectories,
        parameters,
        time,
        coords,
        boundary_conditions,
        scalars,
        fields,
    };
    Ok((header, stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct positioned reads and reads through HDF5 give the same windows.
    #[test]
    fn first_non_finite_finds_the_first_nan_or_infinity() {
        let mut xs = vec![1.0f32; 5000];
        xs[4999] = -0.0;
        assert_eq!(first_non_finite(&xs), None);
        for (at, bad) in [
            (0, f32::NAN),
            (1023, f32::INFINITY),
            (1024, f32::NEG_INFINITY),
            (4999, -f32::NAN),
        ] {
            let mut ys = xs.clone();
            ys[at] = bad;
            ys[4000] = f32::NAN;
            assert_eq!(first_non_finite(&ys), Some(at.min(4000)), "{bad} at {at}");
        }
        assert_eq!(
            first_non_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE]),
            None
        );
    }

    #[test]
    fn raw_reads_equal_hdf5_reads() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        // frames of 9000 points: components are split across several read chunks
        let (n_traj, n_t, nx, ny) = (2, 7, 100, 90);
        let time = (0..n_t).map(|t| t as f32).collect();
        let mut f = WellFile::new("raw", &["x", "y"], &[nx, ny], n_traj, time)?;
        let values = |k: usize, n: usize| {
            (0..n)
                .map(|i| ((i * 7 + k * 13) % 31) as f32 - 15.0)
                .collect()
        };
        let n = n_traj * n_t * nx * ny;
        f.push_field("density", TensorOrder::Scalar, values(0, n))?
            .push_field("velocity", TensorOrder::Vector, values(1, 2 * n))?
            .push_field("stress", TensorOrder::Tensor, values(2, 4 * n))?;
        let path = dir.path().join("raw.hdf5");
        f.write(&path)?;
        let raw = WellReader::open(&path)?;
        assert!(raw.raw.iter().all(Option::is_some), "fast path not taken");
        let mut slow = WellReader::open(&path)?;
        slow.raw = vec![None; slow.raw.len()];
        for (traj, t0, steps, dt) in [(0, 0, 7, 1), (1, 2, 3, 2), (1, 6, 1, 1), (0, 1, 2, 5)] {
            let len = 7 * steps * nx * ny;
            let (mut a, mut b) = (vec![0.0; len], vec![1.0; len]);
            raw.read_window_into(traj, t0, steps, dt, &mut a)?;
            slow.read_window_into(traj, t0, steps, dt, &mut b)?;
            assert_eq!(a, b, "traj {traj} t0 {t0} steps {steps} dt {dt}");
            // and both equal the values written, channel by channel
            let frame = nx * ny;
            let mut channel = 0;
            for field in &f.fields {
                let comps = field.order.n_components(2);
                for c in 0..comps {
                    for i in 0..steps {
                        for p in 0..frame {
                            let src = (((traj * n_t) + t0 + i * dt) * frame + p) * comps + c;
                            let dst = ((channel + c) * steps + i) * frame + p;
                            assert_eq!(a[dst], field.data[src], "{} component {c}", field.name);
                        }
                    }
                }
                channel += comps;
            }
        }
        Ok(())
    }
}
