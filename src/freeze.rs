//! Which parameters train: freezing strategies as data, over `VarMap` names.
//!
//! The paper (Section 2.4, Table 3) compares a *fully trainable* tokeniser with a *mostly
//! frozen* one, in which only the layers that touch pixel space or latent space train: the
//! encoder head, the decoder head and the two bottlenecks. The processor and its projections
//! always train. A [`FreezeStrategy`] is a list of rules — train or freeze what a
//! [`Selector`] matches — applied in order to every parameter name; the last rule that
//! matches a name decides, and a name no rule matches trains. The paper's strategies are
//! named presets of such rules (serialised by name); [`FreezeStrategy::custom`] starts an
//! empty list that [`FreezeStrategy::train`] and [`FreezeStrategy::freeze`] extend, as
//! burn's parameter groups select by path with exclusions. Frozen variables are never
//! handed to the optimiser, so they stay bit-identical.
//!
//! ```
//! use candle_core::Device;
//! use phystok::freeze::FreezeStrategy;
//! use phystok::model::RolloutConfig;
//!
//! let model = RolloutConfig::tiny().init(&Device::Cpu)?;
//! // the paper's mostly frozen tokeniser, with the decoder head frozen too
//! let strategy = FreezeStrategy::MostlyFrozen
//!     .freeze("tokeniser.decoder.head")
//!     .named("heads_in_only");
//! let table = model.param_table().with_freeze(&strategy)?;
//! assert!(table.trainable() < model.param_table().with_freeze(&FreezeStrategy::MostlyFrozen)?.trainable());
//! // rules that match nothing are refused: a typo cannot silently train everything
//! assert!(model.param_table().with_freeze(&FreezeStrategy::custom().freeze("tokenizer")).is_err());
//! // strategies are data: they round-trip through JSON
//! let json = serde_json::to_string(&strategy)?;
//! assert_eq!(serde_json::from_str::<FreezeStrategy>(&json)?, strategy);
//! # Ok::<(), phystok::Error>(())
//! ```

use std::fmt;

use candle_nn::VarMap;
use serde::{Deserialize, Serialize};

use crate::{ConfigError, Error, Result};

/// A glob over dotted parameter names.
///
/// Pattern and name are split at dots. Within a segment `*` matches any run of characters
/// and `?` one character; a segment `**` matches any number of segments (none included).
/// A pattern selects a name when it matches the name's first segments, so a path selects a
/// whole subtree: `tokeniser.encoder` selects `tokeniser.encoder.head.weight`,
/// `tokeniser.*.head` both heads, `**.bias` every bias.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Selector(String);

impl Selector {
    /// A selector for `pattern`.
    ///
    /// # Errors
    /// [`ConfigError::BadSelector`] for an empty pattern or an empty segment (`a..b`).
    pub fn new(pattern: impl Into<String>) -> Result<Self, ConfigError> {
        let s = Selector(pattern.into());
        s.check()?;
        Ok(s)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let reason = if self.0.is_empty() {
            Some("it is empty")
        } else if self.0.split('.').any(str::is_empty) {
            Some("it has an empty segment")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ConfigError::BadSelector {
                selector: self.0.clone(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The pattern.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern selects `name`.
    pub fn matches(&self, name: &str) -> bool {
        let pattern: Vec<&str> = self.0.split('.').collect();
        let name: Vec<&str> = name.split('.').collect();
        prefix_match(&pattern, &name)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `pattern` matches a non-empty prefix of `name` (both split into segments).
fn prefix_match(pattern: &[&str], name: &[&str]) -> bool {
    match pattern.split_first() {
        None => true,
        Some((&"**", rest)) => (0..=name.len()).any(|skip| prefix_match(rest, &name[skip..])),
        Some((seg, rest)) => match name.split_first() {
            Some((n, name_rest)) => {
                segment_match(seg.as_bytes(), n.as_bytes()) && prefix_match(rest, name_rest)
            }
            None => false,
        },
    }
}

/// `*` and `?` within one segment.
fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| segment_match(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && segment_match(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && segment_match(rest, &s[1..]),
    }
}

/// What a rule does to the names its selector matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    /// They train.
    Train,
    /// They stay as they are.
    Freeze,
}

/// One rule of a [`FreezeStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FreezeRule {
    /// Train or freeze.
    pub action: Action,
    /// What it applies to.
    pub selector: Selector,
}

impl fmt::Display for FreezeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.action {
            Action::Train => "train",
            Action::Freeze => "freeze",
        };
        write!(f, "{verb} {}", self.selector)
    }
}

/// The tokeniser layers that interface with pixel or latent space (Section 2.4): what the
/// mostly frozen strategy keeps training.
const INTERFACES: [&str; 4] = [
    "tokeniser.encoder.head",
    "tokeniser.encoder.bottleneck",
    "tokeniser.decoder.bottleneck",
    "tokeniser.decoder.head",
];

/// Which parameters of a model train. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum FreezeStrategy {
    /// Everything trains (the paper's 🔓 *fully trainable*).
    #[default]
    FullyTrainable,
    /// The tokeniser is frozen but for its heads and bottlenecks (`tokeniser.encoder.head`,
    /// `tokeniser.encoder.bottleneck`, `tokeniser.decoder.bottleneck`,
    /// `tokeniser.decoder.head`); everything else trains (the paper's 🔒 *mostly frozen*).
    MostlyFrozen,
    /// The whole tokeniser (`tokeniser`) is frozen; the processor and projections train.
    Frozen,
    /// Rules of one's own, under a name (the key of an experiment arm).
    Custom {
        /// The name (`custom` unless set with [`FreezeStrategy::named`]).
        name: String,
        /// The rules, applied in order; the last match decides.
        rules: Vec<FreezeRule>,
    },
}

impl FreezeStrategy {
    /// A strategy with no rules yet (everything trains), to extend with
    /// [`FreezeStrategy::train`] and [`FreezeStrategy::freeze`].
    pub fn custom() -> Self {
        FreezeStrategy::Custom {
            name: "custom".into(),
            rules: Vec::new(),
        }
    }

    /// The rules this strategy applies, in order.
    pub fn rules(&self) -> Vec<FreezeRule> {
        let rule = |action, s: &str| FreezeRule {
            action,
            selector: Selector(s.to_string()),
        };
        match self {
            FreezeStrategy::FullyTrainable => Vec::new(),
            FreezeStrategy::Frozen => vec![rule(Action::Freeze, "tokeniser")],
            FreezeStrategy::MostlyFrozen => std::iter::once(rule(Action::Freeze, "tokeniser"))
                .chain(INTERFACES.iter().map(|p| rule(Action::Train, p)))
                .collect(),
            FreezeStrategy::Custom { rules, .. } => rules.clone(),
        }
    }

    fn push(self, action: Action, selector: impl Into<String>) -> Self {
        let name = self.key();
        let mut rules = self.rules();
        rules.push(FreezeRule {
            action,
            selector: Selector(selector.into()),
        });
        let name = match self {
            FreezeStrategy::Custom { .. } => name,
            _ => format!("{name}_custom"),
        };
        FreezeStrategy::Custom { name, rules }
    }

    /// This strategy, then: the parameters `selector` matches train.
    pub fn train(self, selector: impl Into<String>) -> Self {
        self.push(Action::Train, selector)
    }

    /// This strategy, then: the parameters `selector` matches are frozen.
    pub fn freeze(self, selector: impl Into<String>) -> Self {
        self.push(Action::Freeze, selector)
    }

    /// Names a custom strategy (a preset becomes a custom strategy with its rules).
    pub fn named(self, name: impl Into<String>) -> Self {
        FreezeStrategy::Custom {
            name: name.into(),
            rules: self.rules(),
        }
    }

    /// The short key used in results (`trainable`, `frozen`, `tokeniser_frozen`, or the
    /// custom name).
    pub fn key(&self) -> String {
        match self {
            FreezeStrategy::FullyTrainable => "trainable".into(),
            FreezeStrategy::MostlyFrozen => "frozen".into(),
            FreezeStrategy::Frozen => "tokeniser_frozen".into(),
            FreezeStrategy::Custom { name, .. } => name.clone(),
        }
    }

    /// A label for tables (`fully trainable 🔓`, `mostly frozen 🔒`, …).
    pub fn label(&self) -> String {
        match self {
            FreezeStrategy::FullyTrainable => "fully trainable 🔓".into(),
            FreezeStrategy::MostlyFrozen => "mostly frozen 🔒".into(),
            FreezeStrategy::Frozen => "tokeniser frozen".into(),
            FreezeStrategy::Custom { name, rules } => {
                let rules: Vec<String> = rules.iter().map(ToString::to_string).collect();
                format!("{name} ({})", rules.join(", "))
            }
        }
    }

    /// Whether `name` trains (the last matching rule decides; no match: it trains).
    pub fn is_trainable(&self, name: &str) -> bool {
        self.rules()
            .iter()
            .rev()
            .find(|r| r.selector.matches(name))
            .is_none_or(|r| r.action == Action::Train)
    }

    /// For each of `names`, whether it trains, after checking every rule: its selector is a
    /// valid pattern and matches at least one name.
    ///
    /// # Errors
    /// [`ConfigError::BadSelector`], [`ConfigError::SelectorMatchesNothing`] naming the
    /// selector; [`Error::Empty`] when nothing would train.
    pub fn select(&self, names: &[String]) -> Result<Vec<bool>> {
        for rule in self.rules() {
            rule.selector.check()?;
            if !names.iter().any(|n| rule.selector.matches(n)) {
                let mut known: Vec<String> = names
                    .iter()
                    .map(|n| n.split('.').take(2).collect::<Vec<_>>().join("."))
                    .collect();
                known.dedup();
                return Err(ConfigError::SelectorMatchesNothing {
                    selector: rule.selector.to_string(),
                    rule: format!("{rule} in {}", self.key()),
                    known: known.join(", "),
                }
                .into());
            }
        }
        let out: Vec<bool> = names.iter().map(|n| self.is_trainable(n)).collect();
        if !out.contains(&true) {
            return Err(Error::Empty {
                what: format!("trainable parameters under {}", self.label()),
            });
        }
        Ok(out)
    }

    /// The sorted names of the variables of `varmap` that train (see
    /// [`FreezeStrategy::select`] for the checks).
    pub fn trainable_names(&self, varmap: &VarMap) -> Result<Vec<String>> {
        let mut names: Vec<String> = varmap
            .data()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        names.sort();
        let keep = self.select(&names)?;
        Ok(names
            .into_iter()
            .zip(keep)
            .filter_map(|(n, k)| k.then_some(n))
            .collect())
    }
}

impl fmt::Display for FreezeStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        [
            "processor.blocks.0.spatial.fused.weight",
            "processor.in_proj.bias",
            "tokeniser.decoder.bottleneck.weight",
            "tokeniser.decoder.head.weight",
            "tokeniser.decoder.levels.0.up.conv.weight",
            "tokeniser.encoder.bottleneck.weight",
            "tokeniser.encoder.head.weight",
            "tokeniser.encoder.headroom.weight",
            "tokeniser.encoder.levels.1.down.weight",
        ]
        .map(String::from)
        .to_vec()
    }

    fn trained(s: &FreezeStrategy) -> Vec<String> {
        let n = names();
        let keep = s.select(&n).unwrap();
        n.into_iter()
            .zip(keep)
            .filter_map(|(n, k)| k.then_some(n))
            .collect()
    }

    #[test]
    fn globs_select_whole_subtrees_by_segment() {
        let m = |p: &str, n: &str| Selector::new(p).unwrap().matches(n);
        assert!(m("tokeniser.encoder", "tokeniser.encoder.head.weight"));
        assert!(!m(
            "tokeniser.encoder.head",
            "tokeniser.encoder.headroom.weight"
        ));
        assert!(m(
            "tokeniser.encoder.head*",
            "tokeniser.encoder.headroom.weight"
        ));
        assert!(m("tokeniser.*.head", "tokeniser.decoder.head.weight"));
        assert!(m("**.weight", "tokeniser.decoder.head.weight"));
        assert!(m("**.bias", "processor.in_proj.bias"));
        assert!(!m("**.bias", "processor.in_proj.weight"));
        assert!(m(
            "processor.blocks.?",
            "processor.blocks.0.spatial.fused.weight"
        ));
        assert!(!m("processor.blocks.?", "processor.blocks.10.x"));
        assert!(!m("processor", "processors.x"));
        for bad in ["", "a..b", ".a", "a."] {
            assert!(matches!(
                Selector::new(bad),
                Err(ConfigError::BadSelector { .. })
            ));
        }
    }

    #[test]
    fn the_paper_strategies_train_what_table_3_says() {
        assert_eq!(
            trained(&FreezeStrategy::FullyTrainable).len(),
            names().len()
        );
        assert_eq!(
            trained(&FreezeStrategy::Frozen),
            [
                "processor.blocks.0.spatial.fused.weight",
                "processor.in_proj.bias"
            ]
        );
        assert_eq!(
            trained(&FreezeStrategy::MostlyFrozen),
            [
                "processor.blocks.0.spatial.fused.weight",
                "processor.in_proj.bias",
                "tokeniser.decoder.bottleneck.weight",
                "tokeniser.decoder.head.weight",
                "tokeniser.encoder.bottleneck.weight",
                "tokeniser.encoder.head.weight",
            ]
        );
    }

    #[test]
    fn custom_rules_apply_in_order_and_must_match() {
        let s = FreezeStrategy::custom()
            .freeze("**")
            .train("processor")
            .freeze("**.bias");
        assert_eq!(trained(&s), ["processor.blocks.0.spatial.fused.weight"]);
        let s = FreezeStrategy::MostlyFrozen.freeze("tokeniser.decoder.head");
        assert_eq!(s.key(), "frozen_custom");
        assert!(
            !trained(&s)
                .iter()
                .any(|n| n == "tokeniser.decoder.head.weight")
        );
        assert!(
            trained(&s)
                .iter()
                .any(|n| n == "tokeniser.encoder.head.weight")
        );
        let typo = FreezeStrategy::custom().freeze("tokenizer");
        let err = typo.select(&names()).unwrap_err();
        assert!(
            matches!(&err, Error::Config(ConfigError::SelectorMatchesNothing { selector, .. }) if selector == "tokenizer"),
            "{err}"
        );
        let nothing = FreezeStrategy::custom().freeze("**");
        assert!(matches!(nothing.select(&names()), Err(Error::Empty { .. })));
        assert!(matches!(
            FreezeStrategy::custom().train("a..b").select(&names()),
            Err(Error::Config(ConfigError::BadSelector { .. }))
        ));
    }

    #[test]
    fn strategies_round_trip_through_json_by_name() {
        for s in [
            FreezeStrategy::FullyTrainable,
            FreezeStrategy::MostlyFrozen,
            FreezeStrategy::custom().train("x").named("mine"),
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<FreezeStrategy>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::to_string(&FreezeStrategy::MostlyFrozen).unwrap(),
            "\"MostlyFrozen\""
        );
    }
}
