//! Writing a [`WellFile`] in The Well's layout, atomically.

use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};

use super::attrs::{
    ORDERS, bc_name, h5err, put_bool, put_bools, put_f64, put_i64, put_str, put_strs,
};
use super::shape::strides;
use crate::data::well::{FieldData, GridType, ScalarData, TensorOrder, WellFile};
use crate::{Error, Result};

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
    let in_strides = strides(shape);
    let out_shape: Vec<usize> = shape
        .iter()
        .zip(keep)
        .map(|(&n, &k)| if k { n } else { 1 })
        .collect();
    let n_out: usize = out_shape.iter().product();
    let out_strides = strides(&out_shape);
    (0..n_out)
        .map(|i| {
            let src: usize = out_strides
                .iter()
                .zip(&in_strides)
                .zip(&out_shape)
                .map(|((&os, &s), &n)| (i / os) % n * s)
                .sum();
            data[src]
        })
        .collect()
}
