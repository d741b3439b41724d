//! Parameters: the one seeded way to create and name them, and the one table that counts them.
//!
//! Every weight of phystok is created through a candle [`VarBuilder`] made by
//! [`seeded_var_builder`], under names from `vb.pp(..)` paths that mirror the module tree
//! (`tokeniser.encoder.head.weight`, `processor.blocks.0.spatial.fused.weight`), and stored
//! as a [`candle_core::Var`] in a [`VarMap`] (so an optimiser can train it and a checkpoint
//! can save it by name).
//!
//! candle's CPU random generator cannot be seeded (`Device::Cpu.set_seed` fails), so the
//! builder draws every new variable itself, from a [`ChaCha8Rng`] seeded with the model's
//! seed **on a stream of its own, keyed by the variable's full name** (FNV-1a of the path).
//! A weight therefore depends only on the seed, its name, its shape and its initialiser:
//! not on the order in which modules are built, not on what else the model holds, not on
//! the thread count. Adding a layer leaves every other weight as it was. Variables already
//! in the map (say, loaded from a checkpoint) are returned unchanged.
//!
//! [`ParamTable`] counts a model's parameters per component, total and trainable under a
//! [`FreezeStrategy`], and renders in evcxr.

use std::fmt;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{Init, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::Result;
use crate::freeze::FreezeStrategy;
use crate::report::{Table, group_digits};

/// The PyTorch default for a convolution with `fan_in = in_channels · kernel volume`:
/// uniform on `±1/sqrt(fan_in)` (kaiming uniform with `a = sqrt(5)`), used for weight and bias.
pub fn conv_uniform(fan_in: usize) -> Init {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Init::Uniform {
        lo: -bound,
        up: bound,
    }
}

/// A `VarBuilder` (`f32`) whose new variables are drawn from `seed` on a stream keyed by
/// their full name and stored in `varmap` (see the module docs).
///
/// ```
/// use candle_core::Device;
/// use candle_nn::VarMap;
/// use phystok::nn::{conv_uniform, seeded_var_builder};
///
/// let varmap = VarMap::new();
/// let vb = seeded_var_builder(&varmap, 7, &Device::Cpu);
/// let w = vb.pp("layer").get_with_hints((4, 3), "weight", conv_uniform(3))?;
/// // the same seed and name give the same weights, whatever else the map holds
/// let other = VarMap::new();
/// let vb2 = seeded_var_builder(&other, 7, &Device::Cpu);
/// vb2.get_with_hints(5, "first", conv_uniform(1))?;
/// let w2 = vb2.pp("layer").get_with_hints((4, 3), "weight", conv_uniform(3))?;
/// assert_eq!(w.to_vec2::<f32>()?, w2.to_vec2::<f32>()?);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn seeded_var_builder(varmap: &VarMap, seed: u64, device: &Device) -> VarBuilder<'static> {
    let backend = SeededVarMap {
        varmap: varmap.clone(),
        seed,
    };
    VarBuilder::from_backend(Box::new(backend), DType::F32, device.clone())
}

/// FNV-1a (64-bit) of a variable's name: its random stream. Written out rather than taken
/// from `std::hash`, whose output may change between Rust releases.
fn name_stream(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A [`VarMap`] whose missing variables are drawn from a seeded generator.
struct SeededVarMap {
    varmap: VarMap,
    seed: u64,
}

impl SeededVarMap {
    fn draw(&self, name: &str, shape: &Shape, init: Init) -> Vec<f32> {
        let n = shape.elem_count();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(name_stream(name));
        let normal = |rng: &mut ChaCha8Rng| -> f64 { StandardNormal.sample(rng) };
        match init {
            Init::Const(c) => vec![c as f32; n],
            Init::Uniform { lo, up } => (0..n).map(|_| rng.random_range(lo..=up) as f32).collect(),
            Init::Randn { mean, stdev } => (0..n)
                .map(|_| (mean + stdev * normal(&mut rng)) as f32)
                .collect(),
            Init::Kaiming {
                dist,
                fan,
                non_linearity,
            } => {
                let std = non_linearity.gain() / (fan.for_shape(shape) as f64).sqrt();
                match dist {
                    candle_nn::init::NormalOrUniform::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        (0..n)
                            .map(|_| rng.random_range(-bound..=bound) as f32)
                            .collect()
                    }
                    candle_nn::init::NormalOrUniform::Normal => {
                        (0..n).map(|_| (std * normal(&mut rng)) as f32).collect()
                    }
                }
            }
        }
    }
}

impl SimpleBackend for SeededVarMap {
    fn get(
        &self,
        shape: Shape,
        name: &str,
        init: Init,
        dtype: DType,
        device: &Device,
    ) -> candle_core::Result<Tensor> {
        let mut data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(var) = data.get(name) {
            if var.shape() != &shape {
                candle_core::bail!(
                    "parameter `{name}`: the map holds shape {:?}, the model asks for {shape:?}",
                    var.shape()
                )
            }
            return Ok(var.as_tensor().clone());
        }
        let values = self.draw(name, &shape, init);
        let tensor = Tensor::from_vec(values, shape, device)?.to_dtype(dtype)?;
        let var = Var::from_tensor(&tensor)?;
        let out = var.as_tensor().clone();
        data.insert(name.to_string(), var);
        Ok(out)
    }

    fn get_unchecked(
        &self,
        name: &str,
        _dtype: DType,
        _device: &Device,
    ) -> candle_core::Result<Tensor> {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        match data.get(name) {
            Some(var) => Ok(var.as_tensor().clone()),
            None => candle_core::bail!("no parameter named `{name}`"),
        }
    }

    fn contains_tensor(&self, name: &str) -> bool {
        let data = self.varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.contains_key(name)
    }
}

/// `(name, number of elements)` of every variable of `varmap`, sorted by name
/// (`VarMap` iterates in hash order, which changes between runs).
pub(crate) fn sizes(varmap: &VarMap) -> Vec<(String, usize)> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<(String, usize)> = data
        .iter()
        .map(|(k, v)| (k.clone(), v.elem_count()))
        .collect();
    out.sort();
    out
}

/// One part of a model as a [`ParamTable`] row: the path its parameters live under
/// (`tokeniser.encoder.head`) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The `vb.pp` path of the component; a variable belongs to it when its name is the
    /// path or starts with `path.`.
    pub path: String,
    /// What the component is (`adaptive field conv 3x3x3`); may be empty.
    pub kind: String,
}

impl Component {
    /// A component at `path` described by `kind`.
    pub fn new(path: impl Into<String>, kind: impl Into<String>) -> Self {
        Component {
            path: path.into(),
            kind: kind.into(),
        }
    }

    /// The same component under `prefix` (`encoder.head` → `tokeniser.encoder.head`).
    pub fn under(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            self.path = format!("{prefix}.{}", self.path);
        }
        self
    }

    fn holds(&self, name: &str) -> bool {
        name == self.path
            || name
                .strip_prefix(self.path.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }
}

/// One row of a [`ParamTable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRow {
    /// The component's path (or `other` for variables no component claims).
    pub component: String,
    /// What it is.
    pub kind: String,
    /// Parameters that train.
    pub trainable: usize,
    /// All its parameters.
    pub total: usize,
}

/// A model's parameters per component, total and trainable (the paper's Table 3 view),
/// counted from the `VarMap` that holds them. Renders as an HTML table in evcxr.
///
/// Every model has `param_table()`; [`ParamTable::with_freeze`] marks what a
/// [`FreezeStrategy`] leaves trainable (everything, until one is applied).
///
/// ```
/// use candle_core::Device;
/// use phystok::freeze::FreezeStrategy;
/// use phystok::model::RolloutConfig;
///
/// let model = RolloutConfig::tiny().init(&Device::Cpu)?;
/// let table = model.param_table().with_freeze(&FreezeStrategy::MostlyFrozen)?;
/// assert!(table.trainable() < table.total());
/// let (tok_trainable, tok_total) = table.under("tokeniser");
/// assert!(tok_trainable > 0 && tok_trainable < tok_total);
/// println!("{table}");
/// # Ok::<(), phystok::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ParamTable {
    title: String,
    components: Vec<Component>,
    /// `(name, elements, trainable)` of every variable, sorted by name.
    vars: Vec<(String, usize, bool)>,
    strategy: Option<FreezeStrategy>,
}

impl ParamTable {
    /// Counts the variables of `varmap` under each of `components` (in that order); the
    /// variables no component claims form an `other` row, so the rows always sum to the map.
    pub fn new(title: impl Into<String>, varmap: &VarMap, components: Vec<Component>) -> Self {
        ParamTable {
            title: title.into(),
            components,
            vars: sizes(varmap)
                .into_iter()
                .map(|(n, c)| (n, c, true))
                .collect(),
            strategy: None,
        }
    }

    /// Keeps only the variables under `prefix` (a part of a larger model's map); an empty
    /// prefix keeps everything.
    pub fn within(mut self, prefix: &str) -> Self {
        if !prefix.is_empty() {
            let scope = Component::new(prefix, "");
            self.vars.retain(|v| scope.holds(&v.0));
        }
        self
    }

    /// Marks as trainable exactly what `strategy` trains.
    ///
    /// # Errors
    /// [`crate::ConfigError::SelectorMatchesNothing`] when one of its selectors matches no
    /// parameter of the model, and [`crate::Error::Empty`] when nothing would train.
    pub fn with_freeze(mut self, strategy: &FreezeStrategy) -> Result<Self> {
        let names: Vec<String> = self.vars.iter().map(|v| v.0.clone()).collect();
        let trainable = strategy.select(&names)?;
        for (v, t) in self.vars.iter_mut().zip(trainable) {
            v.2 = t;
        }
        self.strategy = Some(strategy.clone());
        Ok(self)
    }

    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The strategy applied, if any.
    pub fn strategy(&self) -> Option<&FreezeStrategy> {
        self.strategy.as_ref()
    }

    /// The rows, in component order (then `other` when some variable is unclaimed).
    pub fn rows(&self) -> Vec<ParamRow> {
        let mut rows: Vec<ParamRow> = self
            .components
            .iter()
            .map(|c| ParamRow {
                component: c.path.clone(),
                kind: c.kind.clone(),
                trainable: 0,
                total: 0,
            })
            .collect();
        let mut other = ParamRow {
            component: "other".into(),
            kind: String::new(),
            trainable: 0,
            total: 0,
        };
        for (name, n, trainable) in &self.vars {
            let row = match self.components.iter().position(|c| c.holds(name)) {
                Some(i) => &mut rows[i],
                None => &mut other,
            };
            row.total += n;
            if *trainable {
                row.trainable += n;
            }
        }
        if other.total > 0 {
            rows.push(other);
        }
        rows
    }

    /// All parameters.
    pub fn total(&self) -> usize {
        self.vars.iter().map(|v| v.1).sum()
    }

    /// The parameters that train.
    pub fn trainable(&self) -> usize {
        self.vars.iter().filter(|v| v.2).map(|v| v.1).sum()
    }

    /// `(trainable, total)` of the variables under `prefix` (`"tokeniser"`: every
    /// `tokeniser.…` variable).
    pub fn under(&self, prefix: &str) -> (usize, usize) {
        let c = Component::new(prefix, "");
        self.vars
            .iter()
            .filter(|v| c.holds(&v.0))
            .fold((0, 0), |(t, n), v| (t + if v.2 { v.1 } else { 0 }, n + v.1))
    }

    /// Trainable and total parameter counts per variable name, sorted by name.
    pub fn variables(&self) -> impl Iterator<Item = (&str, usize, bool)> {
        self.vars.iter().map(|(n, c, t)| (n.as_str(), *c, *t))
    }

    /// The table as a [`Table`] (component, kind, trainable, total, fraction).
    pub fn to_table(&self) -> Table {
        let caption = match &self.strategy {
            Some(s) => format!("{} — {}", self.title, s.label()),
            None => self.title.clone(),
        };
        let show_trainable = self.strategy.is_some();
        let mut header = vec!["component", "kind"];
        if show_trainable {
            header.extend(["trainable", "total", "trainable %"]);
        } else {
            header.push("parameters");
        }
        let mut table = Table::new(header).with_caption(caption);
        let mut push = |name: String, kind: String, t: usize, n: usize| {
            let mut row = vec![name, kind];
            if show_trainable {
                row.extend([group_digits(t), group_digits(n), percent(t, n)]);
            } else {
                row.push(group_digits(n));
            }
            // widths always match the header
            let _ = table.push_row(row);
        };
        for r in self.rows() {
            push(r.component, r.kind, r.trainable, r.total);
        }
        push(
            "total".into(),
            String::new(),
            self.trainable(),
            self.total(),
        );
        table
    }

    /// The HTML table that [`ParamTable::evcxr_display`] shows.
    pub fn to_html(&self) -> String {
        self.to_table().to_html()
    }

    /// Shows the table in evcxr.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}

fn percent(a: usize, b: usize) -> String {
    if b == 0 {
        "–".into()
    } else {
        format!("{:.1}", 100.0 * a as f64 / b as f64)
    }
}

impl fmt::Display for ParamTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_table())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freeze::FreezeStrategy;

    fn draw(seed: u64, before: &[&str]) -> Vec<f32> {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, seed, &Device::Cpu);
        for name in before {
            vb.get_with_hints(3, name, conv_uniform(1)).unwrap();
        }
        vb.pp("a")
            .get_with_hints((3, 4), "w", conv_uniform(4))
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap()
    }

    /// Same seed and name, same weights, whatever was built before; another seed or name
    /// changes them; bounds hold; an existing name is reused after a shape check.
    #[test]
    fn weights_depend_on_seed_and_name_only() {
        assert_eq!(draw(7, &[]), draw(7, &["x", "y.z"]));
        assert_ne!(draw(7, &[]), draw(8, &[]));
        assert!(draw(7, &[]).iter().all(|v| v.abs() <= 0.5));
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, 1, &Device::Cpu);
        let a = vb
            .get_with_hints(
                5,
                "x",
                Init::Randn {
                    mean: 0.,
                    stdev: 1.,
                },
            )
            .unwrap();
        let b = vb
            .get_with_hints(
                5,
                "y",
                Init::Randn {
                    mean: 0.,
                    stdev: 1.,
                },
            )
            .unwrap();
        assert_ne!(a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
        let again = vb.get_with_hints(5, "x", Init::Const(3.0)).unwrap();
        assert_eq!(a.to_vec1::<f32>().unwrap(), again.to_vec1::<f32>().unwrap());
        assert!(vb.get_with_hints(6, "x", Init::Const(0.0)).is_err());
        assert_eq!(name_stream(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(name_stream("a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_table_counts_by_component_and_strategy() -> Result<()> {
        let vm = VarMap::new();
        let vb = seeded_var_builder(&vm, 0, &Device::Cpu);
        vb.pp("tokeniser.encoder.head")
            .get_with_hints((2, 3), "weight", Init::Const(0.))?;
        vb.pp("tokeniser.encoder.levels.0")
            .get_with_hints(4, "w", Init::Const(0.))?;
        vb.pp("processor.blocks.0")
            .get_with_hints(5, "w", Init::Const(0.))?;
        vb.pp("processor.blocks.01")
            .get_with_hints(7, "w", Init::Const(0.))?;
        let table = ParamTable::new(
            "t",
            &vm,
            vec![
                Component::new("tokeniser.encoder.head", "head"),
                Component::new("tokeniser.encoder.levels", "levels"),
                Component::new("processor.blocks.0", "block"),
            ],
        );
        let rows = table.rows();
        assert_eq!(
            rows.iter().map(|r| r.total).collect::<Vec<_>>(),
            [6, 4, 5, 7]
        );
        assert_eq!(rows[3].component, "other");
        assert_eq!((table.trainable(), table.total()), (22, 22));
        let frozen = table.clone().with_freeze(&FreezeStrategy::Frozen)?;
        assert_eq!(frozen.under("tokeniser"), (0, 10));
        assert_eq!(frozen.trainable(), 12);
        assert!(frozen.to_html().contains("12"));
        assert_eq!(group_digits(4_848_100), "4,848,100");
        Ok(())
    }
}
