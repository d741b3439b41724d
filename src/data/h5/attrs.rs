//! Typed reads and writes of HDF5 attributes, and opening groups and datasets with errors
//! that name the file.

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenUnicode};
use hdf5::{Attribute, Dataset, Group, Location};

use crate::data::well::{BoundaryType, TensorOrder};
use crate::{Error, Result};

pub(super) const ORDERS: [TensorOrder; 3] = [
    TensorOrder::Scalar,
    TensorOrder::Vector,
    TensorOrder::Tensor,
];

/// Wraps an HDF5 error with the file it concerns.
pub(super) fn h5err(path: &Path) -> impl Fn(hdf5::Error) -> Error + '_ {
    move |e| Error::Hdf5 {
        path: path.to_path_buf(),
        message: one_line(&e.to_string()),
    }
}

/// An HDF5 library message on one line: the error stack's lines joined by `: `, memory
/// addresses (`0x55d1c3a0`, which change from run to run) dropped, spaces collapsed.
pub(super) fn one_line(message: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in message.lines() {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| {
                let w = w.trim_matches(|c: char| !c.is_ascii_alphanumeric());
                !(w.len() > 2
                    && w[..2].eq_ignore_ascii_case("0x")
                    && w[2..].chars().all(|c| c.is_ascii_hexdigit()))
            })
            .collect();
        let line = words.join(" ");
        let line = line.trim_matches(|c: char| c == ':' || c == ',' || c.is_whitespace());
        if !line.is_empty() && !parts.iter().any(|p| p == line) {
            parts.push(line.to_string());
        }
    }
    parts.join(": ")
}

// ---------------------------------------------------------------- attribute reading

/// Typed attribute reads that name the file and attribute in every error.
pub(super) struct Attrs<'a> {
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

pub(super) fn group(file_path: &Path, parent: &Group, name: &str) -> Result<Group> {
    parent
        .group(name)
        .map_err(|_| Error::format(file_path, format!("missing group `{name}`")))
}

pub(super) fn dataset(file_path: &Path, parent: &Group, name: &str) -> Result<Dataset> {
    parent.dataset(name).map_err(|_| {
        Error::format(
            file_path,
            format!("missing dataset `{}/{name}`", parent.name()),
        )
    })
}

// ---------------------------------------------------------------- attribute writing

pub(super) fn put_str(loc: &Location, name: &str, value: &str) -> hdf5::Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e}")))?;
    loc.new_attr::<VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}

pub(super) fn put_strs(loc: &Location, name: &str, values: &[String]) -> hdf5::Result<()> {
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

pub(super) fn put_bool(loc: &Location, name: &str, value: bool) -> hdf5::Result<()> {
    loc.new_attr::<bool>().create(name)?.write_scalar(&value)
}

pub(super) fn put_bools(loc: &Location, name: &str, values: &[bool]) -> hdf5::Result<()> {
    loc.new_attr::<bool>()
        .shape(values.len())
        .create(name)?
        .write_raw(values)
}

pub(super) fn put_f64(loc: &Location, name: &str, value: f64) -> hdf5::Result<()> {
    loc.new_attr::<f64>().create(name)?.write_scalar(&value)
}

pub(super) fn put_i64(loc: &Location, name: &str, value: i64) -> hdf5::Result<()> {
    loc.new_attr::<i64>().create(name)?.write_scalar(&value)
}

pub(super) fn bc_name(t: BoundaryType) -> &'static str {
    match t {
        BoundaryType::Wall => "WALL",
        BoundaryType::Open => "OPEN",
        BoundaryType::Periodic => "PERIODIC",
    }
}
