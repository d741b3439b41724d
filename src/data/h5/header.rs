//! Reading a file's header (everything but field and scalar data) and guarding against
//! malformed global heaps before HDF5 touches them.

use std::path::Path;

use hdf5::Group;

use super::attrs::{Attrs, ORDERS, dataset, group, h5err};
use crate::data::well::{
    BoundaryCondition, BoundaryType, FieldData, GridType, ScalarData, TensorOrder, WellFile,
};
use crate::{Error, Result};

/// How one field is stored in its file.
#[derive(Debug, Clone)]
pub(super) struct StoredField {
    pub name: String,
    pub order: TensorOrder,
    pub sample_varying: bool,
    pub time_varying: bool,
    pub dim_varying: Vec<bool>,
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
pub(super) fn guard_global_heaps(path: &Path, file: &hdf5::File) -> Result<()> {
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

pub(super) fn read_header(path: &Path, file: &hdf5::File) -> Result<(WellFile, Vec<StoredField>)> {
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
