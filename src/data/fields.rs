//! Which tokeniser field each data channel is: a [`FieldVocabulary`] names every field a
//! tokeniser's adaptive heads are learned for, and [`ActiveFields`] maps the channels of one
//! batch onto it (Section 2.5: the heads take a variable set of fields, so one tokeniser
//! serves datasets with different fields).
//!
//! The vocabulary must be the same for pretraining and for rollout training: a tokeniser
//! pretrained on shear flow and then used on Euler data needs the Euler fields at the
//! indices the rollout model will use: [`FieldVocabulary::union`] of every dataset a study
//! reads, in a fixed order.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which tokeniser fields a batch holds, and which channels form one physical field (for
/// the per-field RMS normalisation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveFields {
    /// Per channel of the batch, its index among the tokeniser's `total_fields`.
    pub channels: Vec<usize>,
    /// Per channel of the batch, which physical field it belongs to.
    pub field_of_channel: Vec<usize>,
}

impl ActiveFields {
    /// The first `n` tokeniser fields, each its own physical field.
    pub fn first(n: usize) -> Self {
        ActiveFields {
            channels: (0..n).collect(),
            field_of_channel: (0..n).collect(),
        }
    }
    /// Explicit channels and field grouping.
    pub fn new(channels: Vec<usize>, field_of_channel: Vec<usize>) -> Self {
        ActiveFields {
            channels,
            field_of_channel,
        }
    }
}

/// The ordered names of every field a tokeniser knows (its `total_fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldVocabulary {
    names: Vec<String>,
}

impl FieldVocabulary {
    /// A vocabulary of these channel names (duplicates are dropped, first kept).
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut out: Vec<String> = Vec::new();
        for n in names {
            let n = n.into();
            if !out.contains(&n) {
                out.push(n);
            }
        }
        FieldVocabulary { names: out }
    }

    /// The union of several channel lists, in first-seen order.
    pub fn union<'a>(lists: impl IntoIterator<Item = &'a [String]>) -> Self {
        Self::new(lists.into_iter().flatten().cloned())
    }

    /// The names, in index order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of fields (a tokeniser's `total_fields`).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The index of a channel name.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The [`ActiveFields`] of data with these channel names and this grouping into
    /// physical fields; an unknown channel is an error naming it.
    pub fn active(
        &self,
        channel_names: &[String],
        field_of_channel: &[usize],
    ) -> Result<ActiveFields> {
        if channel_names.len() != field_of_channel.len() {
            return Err(Error::Shape {
                what: "channel names vs field_of_channel".into(),
                left: vec![channel_names.len()],
                right: vec![field_of_channel.len()],
            });
        }
        let channels = channel_names
            .iter()
            .map(|c| {
                self.index(c).ok_or_else(|| Error::Mismatch {
                    what: "channel not in the field vocabulary".into(),
                    left: c.clone(),
                    right: self.names.join(", "),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(ActiveFields::new(channels, field_of_channel.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_keeps_first_seen_order_and_maps_channels() -> Result<()> {
        let a = vec!["pressure".to_string(), "velocity_x".into()];
        let b = vec!["density".to_string(), "pressure".into()];
        let v = FieldVocabulary::union([a.as_slice(), b.as_slice()]);
        assert_eq!(v.names(), ["pressure", "velocity_x", "density"]);
        let f = v.active(&b, &[0, 1])?;
        assert_eq!(f.channels, [2, 0]);
        assert_eq!(f.field_of_channel, [0, 1]);
        assert!(v.active(&["tracer".to_string()], &[0]).is_err());
        assert!(v.active(&b, &[0]).is_err());
        Ok(())
    }
}
