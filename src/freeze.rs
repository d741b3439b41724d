//! Which parameters train: freezing strategies as selections of `VarMap` names.
//!
//! The paper (Section 2.4, Table 3) compares a *fully trainable* tokeniser with a *mostly
//! frozen* one, in which only the layers that touch pixel space or latent space train: the
//! encoder head, the decoder head and the two bottlenecks. The processor and its projections
//! always train. A strategy resolves to the sorted list of trainable variable names; frozen
//! variables are simply never handed to the optimiser (as burn's `ParamGroup`s select by
//! path, predicate or regex with exclusions).

use std::collections::BTreeMap;
use std::sync::Arc;

use candle_nn::VarMap;

use crate::{Error, Result};

/// Prefix of the tokeniser's variables in a [`crate::model::RolloutModel`].
pub const TOKENISER_PREFIX: &str = "tokeniser.";
/// Prefix of the processor's variables (projections included).
pub const PROCESSOR_PREFIX: &str = "processor.";
/// The tokeniser layers that interface with pixel or latent space (Section 2.4).
pub const INTERFACE_PREFIXES: [&str; 4] = [
    "tokeniser.encoder.head.",
    "tokeniser.encoder.bottleneck.",
    "tokeniser.decoder.bottleneck.",
    "tokeniser.decoder.head.",
];

/// A rule that selects variable names.
#[derive(Clone)]
pub enum Selector {
    /// Names starting with this prefix.
    Prefix(String),
    /// Names for which the predicate holds.
    Predicate(Arc<dyn Fn(&str) -> bool + Send + Sync>),
}

impl std::fmt::Debug for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Prefix(p) => write!(f, "Prefix({p:?})"),
            Selector::Predicate(_) => write!(f, "Predicate(..)"),
        }
    }
}

impl Selector {
    /// Selects names starting with `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Selector::Prefix(prefix.into())
    }

    /// Selects names for which `f` holds.
    pub fn predicate(f: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Selector::Predicate(Arc::new(f))
    }

    /// Whether `name` is selected.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Selector::Prefix(p) => name.starts_with(p.as_str()),
            Selector::Predicate(f) => f(name),
        }
    }
}

/// Which parameters of a rollout model train.
#[derive(Debug, Clone, Default)]
pub enum FreezeStrategy {
    /// Everything trains (the paper's 🔓 *fully trainable*).
    #[default]
    FullyTrainable,
    /// The processor, the encoder and decoder heads and the bottlenecks train; the
    /// tokeniser's residual blocks and sampling layers are frozen (🔒 *mostly frozen*).
    MostlyFrozen,
    /// The whole tokeniser is frozen; only the processor and projections train.
    Frozen,
    /// Names selected by any of `include` and by none of `exclude` train.
    Custom {
        /// Selected names train...
        include: Vec<Selector>,
        /// ...unless one of these selects them too.
        exclude: Vec<Selector>,
    },
}

impl FreezeStrategy {
    /// Whether variable `name` trains under this strategy.
    pub fn is_trainable(&self, name: &str) -> bool {
        match self {
            FreezeStrategy::FullyTrainable => true,
            FreezeStrategy::MostlyFrozen => {
                !name.starts_with(TOKENISER_PREFIX)
                    || INTERFACE_PREFIXES.iter().any(|p| name.starts_with(p))
            }
            FreezeStrategy::Frozen => !name.starts_with(TOKENISER_PREFIX),
            FreezeStrategy::Custom { include, exclude } => {
                include.iter().any(|s| s.matches(name)) && !exclude.iter().any(|s| s.matches(name))
            }
        }
    }

    /// The sorted names of the trainable variables of `varmap`; an error if there are none.
    pub fn trainable_names(&self, varmap: &VarMap) -> Result<Vec<String>> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::Msg("varmap lock poisoned".into()))?;
        let mut names: Vec<String> = data
            .keys()
            .filter(|n| self.is_trainable(n))
            .cloned()
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(Error::Empty {
                what: format!("trainable parameters under {self:?}"),
            });
        }
        Ok(names)
    }

    /// Trainable and total parameter counts per component (the first two name segments:
    /// `tokeniser.encoder`, `processor.blocks`, …) and in all.
    pub fn table(&self, varmap: &VarMap) -> Result<TrainableTable> {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| Error::Msg("varmap lock poisoned".into()))?;
        let mut rows: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for (name, var) in data.iter() {
            let n = var.elem_count();
            let component = component_of(name);
            let row = rows.entry(component).or_default();
            row.1 += n;
            if self.is_trainable(name) {
                row.0 += n;
            }
        }
        Ok(TrainableTable {
            strategy: format!("{self:?}"),
            rows: rows.into_iter().map(|(c, (t, n))| (c, t, n)).collect(),
        })
    }
}

/// `tokeniser.encoder.head.weight` → `tokeniser.encoder.head`; `processor.blocks.3.x` →
/// `processor.blocks`.
fn component_of(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    let keep = match parts.as_slice() {
        ["tokeniser", _, "head" | "bottleneck", ..] => 3,
        _ => 2,
    };
    parts[..keep.min(parts.len().saturating_sub(1)).max(1)].join(".")
}

/// Trainable parameters per component (Table 3's view). Renders in evcxr.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainableTable {
    /// The strategy it describes.
    pub strategy: String,
    /// (component, trainable, total) per component.
    pub rows: Vec<(String, usize, usize)>,
}

impl TrainableTable {
    /// Trainable parameters in all.
    pub fn trainable(&self) -> usize {
        self.rows.iter().map(|r| r.1).sum()
    }
    /// Parameters in all.
    pub fn total(&self) -> usize {
        self.rows.iter().map(|r| r.2).sum()
    }
    /// (trainable, total) of the components under `prefix` (e.g. `"tokeniser"`).
    pub fn under(&self, prefix: &str) -> (usize, usize) {
        self.rows
            .iter()
            .filter(|r| r.0 == prefix || r.0.starts_with(&format!("{prefix}.")))
            .fold((0, 0), |a, r| (a.0 + r.1, a.1 + r.2))
    }

    /// An HTML table with the trainable fraction per component and of the tokeniser.
    pub fn to_html(&self) -> String {
        let mut s = format!(
            "<table><caption>{}</caption><tr><th>component</th><th>trainable</th><th>total</th><th>fraction</th></tr>",
            self.strategy
        );
        for (c, t, n) in &self.rows {
            s += &format!(
                "<tr><td>{c}</td><td>{t}</td><td>{n}</td><td>{:.1} %</td></tr>",
                pct(*t, *n)
            );
        }
        let (tt, tn) = self.under("tokeniser");
        s += &format!(
            "<tr><th>tokeniser</th><th>{tt}</th><th>{tn}</th><th>{:.1} %</th></tr><tr><th>all</th><th>{}</th><th>{}</th><th>{:.1} %</th></tr></table>",
            pct(tt, tn),
            self.trainable(),
            self.total(),
            pct(self.trainable(), self.total())
        );
        s
    }

    /// Renders in evcxr.
    pub fn evcxr_display(&self) {
        crate::report::evcxr_html(&self.to_html());
    }
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

impl std::fmt::Display for TrainableTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{}", self.strategy)?;
        for (c, t, n) in &self.rows {
            writeln!(f, "{c:<32} {t:>12} / {n:>12}  {:>5.1} %", pct(*t, *n))?;
        }
        let (tt, tn) = self.under("tokeniser");
        writeln!(
            f,
            "{:<32} {tt:>12} / {tn:>12}  {:>5.1} %",
            "tokeniser",
            pct(tt, tn)
        )?;
        write!(
            f,
            "{:<32} {:>12} / {:>12}  {:>5.1} %",
            "all",
            self.trainable(),
            self.total(),
            pct(self.trainable(), self.total())
        )
    }
}
