//! Per-field statistics of a dataset, written as The Well's `stats.yaml`.
//!
//! For each field: `mean`, `std`, `rms` over trajectories, time steps and grid points, and
//! the same of the one-step differences (`mean_delta`, `std_delta`, `rms_delta`). A scalar
//! field has one number, a vector field a list of `D`, a tensor field a `D × D` list, as in
//! The Well's files.

use std::fmt::Write as _;
use std::path::Path;

use super::well::{TensorOrder, WellFile};
use crate::{Error, Result};

/// Statistics of one field, per component.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldStats {
    /// Field name.
    pub name: String,
    /// Tensor order (decides how the YAML nests).
    pub order: TensorOrder,
    /// Mean per component.
    pub mean: Vec<f64>,
    /// Standard deviation per component (population, as The Well's `stats.yaml`).
    pub std: Vec<f64>,
    /// Root mean square per component.
    pub rms: Vec<f64>,
    /// Mean of one-step differences.
    pub mean_delta: Vec<f64>,
    /// Standard deviation of one-step differences.
    pub std_delta: Vec<f64>,
    /// RMS of one-step differences.
    pub rms_delta: Vec<f64>,
}

/// Statistics of every field of a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetStats {
    /// Number of spatial dims (for nesting tensor components).
    pub n_spatial_dims: usize,
    /// Per field, in file order.
    pub fields: Vec<FieldStats>,
}

#[derive(Default, Clone, Copy)]
struct Moments {
    n: f64,
    sum: f64,
    sum_sq: f64,
}

impl Moments {
    fn push(&mut self, x: f64) {
        self.n += 1.0;
        self.sum += x;
        self.sum_sq += x * x;
    }
    fn mean(&self) -> f64 {
        self.sum / self.n.max(1.0)
    }
    fn rms(&self) -> f64 {
        (self.sum_sq / self.n.max(1.0)).sqrt()
    }
    fn std(&self) -> f64 {
        let m = self.mean();
        (self.sum_sq / self.n.max(1.0) - m * m).max(0.0).sqrt()
    }
}

impl DatasetStats {
    /// Computes statistics over all the given files (which must share their fields).
    pub fn compute(files: &[&WellFile]) -> Result<Self> {
        let first = files.first().ok_or_else(|| Error::Empty {
            what: "files for stats".into(),
        })?;
        let n_dims = first.n_spatial_dims();
        let mut fields = Vec::new();
        for (fi, f0) in first.fields.iter().enumerate() {
            let comps = f0.order.n_components(n_dims);
            let mut m = vec![Moments::default(); comps];
            let mut d = vec![Moments::default(); comps];
            for file in files {
                let f = file
                    .fields
                    .get(fi)
                    .filter(|f| f.name == f0.name)
                    .ok_or_else(|| {
                        Error::Msg(format!("files disagree on field {fi} (`{}`)", f0.name))
                    })?;
                let frame = file.frame_len() * comps;
                let n_t = file.n_steps();
                for traj in f.data.chunks_exact(n_t * frame) {
                    for (i, &x) in traj.iter().enumerate() {
                        m[i % comps].push(x as f64);
                    }
                    for t in 1..n_t {
                        let (prev, cur) = (
                            &traj[(t - 1) * frame..t * frame],
                            &traj[t * frame..(t + 1) * frame],
                        );
                        for (i, (&a, &b)) in prev.iter().zip(cur).enumerate() {
                            d[i % comps].push(b as f64 - a as f64);
                        }
                    }
                }
            }
            let get = |v: &[Moments], g: fn(&Moments) -> f64| v.iter().map(g).collect::<Vec<_>>();
            fields.push(FieldStats {
                name: f0.name.clone(),
                order: f0.order,
                mean: get(&m, Moments::mean),
                std: get(&m, Moments::std),
                rms: get(&m, Moments::rms),
                mean_delta: get(&d, Moments::mean),
                std_delta: get(&d, Moments::std),
                rms_delta: get(&d, Moments::rms),
            });
        }
        Ok(DatasetStats {
            n_spatial_dims: n_dims,
            fields,
        })
    }

    /// The `stats.yaml` text.
    pub fn to_yaml(&self) -> String {
        let mut s = String::new();
        type Get = fn(&FieldStats) -> &Vec<f64>;
        let keys: [(&str, Get); 6] = [
            ("mean", |f| &f.mean),
            ("std", |f| &f.std),
            ("rms", |f| &f.rms),
            ("mean_delta", |f| &f.mean_delta),
            ("std_delta", |f| &f.std_delta),
            ("rms_delta", |f| &f.rms_delta),
        ];
        for (key, get) in keys {
            let _ = writeln!(s, "{key}:");
            for f in &self.fields {
                let v = get(f);
                let value = match f.order {
                    TensorOrder::Scalar => num(v[0]),
                    TensorOrder::Vector => list(v),
                    TensorOrder::Tensor => format!(
                        "[{}]",
                        v.chunks(self.n_spatial_dims)
                            .map(list)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let _ = writeln!(s, "  {}: {value}", f.name);
            }
        }
        s
    }

    /// Writes `stats.yaml` atomically.
    pub fn write_yaml(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("yaml.tmp");
        std::fs::write(&tmp, self.to_yaml()).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }
}

fn num(x: f64) -> String {
    // Plain decimal (Rust's shortest round-trip form, never an exponent), with a point so
    // YAML 1.1 readers such as PyYAML read a float.
    if !x.is_finite() {
        return ".nan".into();
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

fn list(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter().map(|&x| num(x)).collect::<Vec<_>>().join(", ")
    )
}
