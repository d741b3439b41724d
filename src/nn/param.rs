//! Seeded parameter creation and parameter-count summaries.
//!
//! candle's CPU random generator cannot be seeded (`Device::Cpu.set_seed` fails), so
//! every weight is drawn here from our own [`ChaCha8Rng`] and stored as a
//! [`candle_core::Var`] in a [`VarMap`] under a dotted path (`blocks.0.spatial.qkv.weight`)
//! that mirrors the module tree, as `VarBuilder::pp` would name it. Two models built from
//! the same seed are bitwise identical, on any thread count.
//!
//! [`ParamSummary`] counts the parameters under each component prefix and renders as an
//! HTML table in evcxr and as text through `Display`.

use std::fmt;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::{Error, Result};

/// A place to create named, seeded parameters: a [`VarMap`], a path prefix, a device and a
/// shared seeded generator.
///
/// [`Params::pp`] descends one level (`params.pp("spatial").pp("qkv")`); all the handles made
/// from one root share its generator, so the draw order, and hence every weight, depends
/// only on the seed and on the order in which modules are built.
///
/// A name that is already in the map is not drawn again: its existing variable is returned
/// (after a shape check), so building a module over a map loaded from a checkpoint reuses
/// the loaded weights.
#[derive(Clone)]
pub struct Params {
    varmap: VarMap,
    prefix: String,
    device: Device,
    rng: Arc<Mutex<ChaCha8Rng>>,
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("prefix", &self.prefix)
            .field("device", &self.device)
            .finish()
    }
}

impl Params {
    /// A root handle over `varmap` on `device`, drawing from `ChaCha8Rng::seed_from_u64(seed)`.
    pub fn new(varmap: &VarMap, device: &Device, seed: u64) -> Self {
        Self {
            varmap: varmap.clone(),
            prefix: String::new(),
            device: device.clone(),
            rng: Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed))),
        }
    }

    /// The handle one level down: names made from it start with `prefix.name.`.
    pub fn pp(&self, name: impl AsRef<str>) -> Self {
        Self {
            prefix: self.path(name.as_ref()),
            ..self.clone()
        }
    }

    /// The full dotted path of `name` under this handle.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// This handle's prefix (empty at the root).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The device parameters are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The variable map parameters are stored in.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// A parameter drawn uniformly from `[-bound, bound)` (PyTorch's default `Linear` init
    /// uses `bound = 1/sqrt(fan_in)`).
    pub fn uniform(&self, name: &str, shape: &[usize], bound: f64) -> Result<Tensor> {
        self.create(name, shape, |rng| (rng.random::<f64>() * 2.0 - 1.0) * bound)
    }

    /// A parameter drawn from a normal distribution with mean 0 and standard deviation `std`.
    pub fn normal(&self, name: &str, shape: &[usize], std: f64) -> Result<Tensor> {
        self.create(name, shape, |rng| {
            let z: f64 = StandardNormal.sample(rng);
            z * std
        })
    }

    /// A parameter with every entry equal to `value` (norm gains 1, biases 0).
    pub fn constant(&self, name: &str, shape: &[usize], value: f64) -> Result<Tensor> {
        self.create(name, shape, |_| value)
    }

    fn create(
        &self,
        name: &str,
        shape: &[usize],
        mut draw: impl FnMut(&mut ChaCha8Rng) -> f64,
    ) -> Result<Tensor> {
        let path = self.path(name);
        let mut data = self
            .varmap
            .data()
            .lock()
            .map_err(|_| Error::Msg("variable map lock poisoned".into()))?;
        if let Some(var) = data.get(&path) {
            if var.dims() != shape {
                return Err(Error::Shape {
                    what: path,
                    left: var.dims().to_vec(),
                    right: shape.to_vec(),
                });
            }
            return Ok(var.as_tensor().clone());
        }
        let n: usize = shape.iter().product();
        let values: Vec<f32> = {
            let mut rng = self
                .rng
                .lock()
                .map_err(|_| Error::Msg("parameter rng lock poisoned".into()))?;
            (0..n).map(|_| draw(&mut rng) as f32).collect()
        };
        let var = Var::from_vec(values, shape, &self.device)?;
        let tensor = var.as_tensor().clone();
        data.insert(path, var);
        Ok(tensor)
    }
}

/// Parameter counts per component: one row per name prefix, plus the total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSummary {
    /// What the summary describes (for example `Processor (paper)`).
    pub title: String,
    /// `(component, number of parameters)`, in display order.
    pub rows: Vec<(String, usize)>,
}

impl ParamSummary {
    /// Counts the variables of `varmap` whose name starts with each of `components`
    /// (a component `blocks.0` matches `blocks.0.…`, not `blocks.01`).
    pub fn from_prefixes(title: impl Into<String>, varmap: &VarMap, components: &[String]) -> Self {
        let vars = varmap.data().lock().map(|d| {
            d.iter()
                .map(|(k, v)| (k.clone(), v.elem_count()))
                .collect::<Vec<_>>()
        });
        let vars = vars.unwrap_or_default();
        let rows = components
            .iter()
            .map(|c| {
                let dotted = format!("{c}.");
                let n = vars
                    .iter()
                    .filter(|(k, _)| k == c || k.starts_with(&dotted))
                    .map(|(_, n)| n)
                    .sum();
                (c.clone(), n)
            })
            .collect();
        Self {
            title: title.into(),
            rows,
        }
    }

    /// The sum over all rows.
    pub fn total(&self) -> usize {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    /// The HTML table that [`ParamSummary::evcxr_display`] shows.
    pub fn to_html(&self) -> String {
        let mut html = format!(
            "<table><caption>{}</caption><tr><th style=\"text-align:left\">component</th><th style=\"text-align:right\">parameters</th></tr>",
            crate::report::html_escape(&self.title)
        );
        for (name, n) in &self.rows {
            html.push_str(&format!(
                "<tr><td style=\"text-align:left\"><code>{}</code></td><td style=\"text-align:right\">{}</td></tr>",
                crate::report::html_escape(name),
                group_digits(*n)
            ));
        }
        html.push_str(&format!(
            "<tr><th style=\"text-align:left\">total</th><th style=\"text-align:right\">{}</th></tr></table>",
            group_digits(self.total())
        ));
        html
    }

    /// Prints the summary as an HTML table for evcxr.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}

impl fmt::Display for ParamSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .rows
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(f, "{}", self.title)?;
        for (name, n) in &self.rows {
            writeln!(f, "  {name:<width$}  {:>13}", group_digits(*n))?;
        }
        write!(
            f,
            "  {:<width$}  {:>13}",
            "total",
            group_digits(self.total())
        )
    }
}

/// `12345678` → `12 345 678` (thin groups of three, as in the paper's tables).
fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_weights_and_existing_names_are_reused() -> Result<()> {
        let draw = |seed| -> Result<Vec<f32>> {
            let vm = VarMap::new();
            let p = Params::new(&vm, &Device::Cpu, seed);
            Ok(p.pp("a")
                .uniform("w", &[3, 4], 0.5)?
                .flatten_all()?
                .to_vec1()?)
        };
        assert_eq!(draw(7)?, draw(7)?);
        assert_ne!(draw(7)?, draw(8)?);
        assert!(draw(7)?.iter().all(|v| v.abs() <= 0.5));

        let vm = VarMap::new();
        let p = Params::new(&vm, &Device::Cpu, 1);
        let a = p.normal("x", &[5], 1.0)?;
        let b = p.normal("x", &[5], 1.0)?;
        assert_eq!(a.to_vec1::<f32>()?, b.to_vec1::<f32>()?);
        assert!(matches!(p.normal("x", &[6], 1.0), Err(Error::Shape { .. })));
        Ok(())
    }

    #[test]
    fn summary_counts_by_prefix() -> Result<()> {
        let vm = VarMap::new();
        let p = Params::new(&vm, &Device::Cpu, 0);
        p.pp("blocks.0").constant("w", &[2, 3], 1.0)?;
        p.pp("blocks.01").constant("w", &[4], 1.0)?;
        p.pp("in_proj").constant("w", &[5], 1.0)?;
        let s = ParamSummary::from_prefixes(
            "t",
            &vm,
            &["in_proj".into(), "blocks.0".into(), "blocks.01".into()],
        );
        assert_eq!(
            s.rows,
            vec![
                ("in_proj".into(), 5),
                ("blocks.0".into(), 6),
                ("blocks.01".into(), 4)
            ]
        );
        assert_eq!(s.total(), 15);
        assert_eq!(group_digits(99_572_498), "99 572 498");
        assert!(
            s.to_html()
                .contains("<td style=\"text-align:right\">6</td>")
        );
        Ok(())
    }
}
