//! Two Well-format files compared frame by frame: what `phystok metrics --pred P.hdf5
//! --target T.hdf5 [--json]` prints.
//!
//! Every (trajectory, time step, channel) frame is scored with The Well's definitions
//! ([`MetricsConfig::the_well`]); the summary averages per frame and per field, then over
//! fields (the paper, Section 2.2). The JSON form is
//! `{"<channel>": {"vrmse", "neps_low", "neps_mid", "neps_high"}, …, "mean": {…}}`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::evaluate::MetricsConfig;
use super::summary::FrameScores;
use super::summary::{MetricGrid, MetricSummary, ScoreSet};
use crate::data::WellFile;
use crate::{Error, Result};

/// The result of comparing a prediction file with a target file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileComparison {
    /// Prediction file, when read from disk.
    pub pred_path: Option<PathBuf>,
    /// Target file, when read from disk.
    pub target_path: Option<PathBuf>,
    /// Every frame's scores, `(trajectory, time, channel)`.
    pub grid: MetricGrid,
    /// Per-channel and mean scores with warnings.
    pub summary: MetricSummary,
}

/// Reads two Well-format HDF5 files and compares them frame by frame: what
/// `phystok metrics --pred P.hdf5 --target T.hdf5 [--json]` prints (feature `hdf5`).
#[cfg(feature = "hdf5")]
pub fn compare_well_files(pred: &Path, target: &Path) -> Result<FileComparison> {
    for (what, path) in [("prediction", pred), ("target", target)] {
        if path.is_dir() {
            return Err(Error::format(
                path,
                format!("the {what} is a directory; a Well .hdf5 file is expected"),
            ));
        }
    }
    let p = WellFile::read(pred)?;
    let t = WellFile::read(target)?;
    let mut cmp = compare_well(&p, &t).map_err(|e| match e {
        Error::Shape { what, left, right } => Error::Shape {
            what: format!("{what} ({} vs {})", pred.display(), target.display()),
            left,
            right,
        },
        Error::Mismatch { what, left, right } => Error::Mismatch {
            what: format!("{what} ({} vs {})", pred.display(), target.display()),
            left,
            right,
        },
        other => other,
    })?;
    cmp.pred_path = Some(pred.to_path_buf());
    cmp.target_path = Some(target.to_path_buf());
    Ok(cmp)
}

/// Compares two in-memory Well files (same grid, trajectories, steps and channels).
///
/// Mismatched grids or step counts give [`Error::Shape`], mismatched channel lists
/// [`Error::Mismatch`]; both name the two sides.
pub fn compare_well(pred: &WellFile, target: &WellFile) -> Result<FileComparison> {
    compare_well_with(pred, target, &MetricsConfig::the_well())
}

/// [`compare_well`] with explicit metric settings.
pub fn compare_well_with(
    pred: &WellFile,
    target: &WellFile,
    config: &MetricsConfig,
) -> Result<FileComparison> {
    check_compatible(pred, target)?;
    let evaluator = config.build(&target.spatial_shape)?;
    let (b_n, t_n, n) = (target.n_trajectories, target.n_steps(), target.frame_len());
    let names = target.channel_names();
    let mut per_channel: Vec<Vec<FrameScores>> = Vec::with_capacity(names.len());
    let pred_fields = pred.fields_in_channel_order();
    for (pf, tf) in pred_fields.iter().zip(target.fields_in_channel_order()) {
        let n_comp = tf.order.n_components(target.n_spatial_dims());
        for comp in 0..n_comp {
            // frame (b, t) of component `comp` starts at (b·T + t)·N·n_comp + comp, stride n_comp
            let start = |f: usize| f * n * n_comp + comp;
            per_channel.push(evaluator.frames(&pf.data, &tf.data, b_n * t_n, start, n_comp));
        }
    }
    let c_n = per_channel.len();
    let mut scores = Vec::with_capacity(b_n * t_n * c_n);
    for f in 0..b_n * t_n {
        scores.extend(per_channel.iter().map(|ch| ch[f]));
    }
    let grid = MetricGrid::new(b_n, t_n, c_n, names, scores)?;
    let summary = grid.summary();
    Ok(FileComparison {
        pred_path: None,
        target_path: None,
        grid,
        summary,
    })
}

fn check_compatible(pred: &WellFile, target: &WellFile) -> Result<()> {
    let dims = |w: &WellFile| {
        let mut d = vec![w.n_trajectories, w.n_steps()];
        d.extend(&w.spatial_shape);
        d
    };
    if dims(pred) != dims(target) {
        return Err(Error::Shape {
            what: format!(
                "prediction `{}` vs target `{}` (trajectories, steps, *spatial)",
                pred.dataset_name, target.dataset_name
            ),
            left: dims(pred),
            right: dims(target),
        });
    }
    let (pn, tn) = (pred.channel_names(), target.channel_names());
    if pn != tn {
        return Err(Error::Mismatch {
            what: "channels of prediction vs target".into(),
            left: pn.join(", "),
            right: tn.join(", "),
        });
    }
    for (p, t) in pred
        .fields_in_channel_order()
        .iter()
        .zip(target.fields_in_channel_order())
    {
        for (what, f) in [("prediction", p), ("target", &t)] {
            let want = target.field_len(f.order);
            if f.data.len() != want {
                return Err(Error::Shape {
                    what: format!("{what} field {} values", f.name),
                    left: vec![f.data.len()],
                    right: vec![want],
                });
            }
        }
    }
    if tn.is_empty() {
        return Err(Error::Empty {
            what: "fields to compare".into(),
        });
    }
    Ok(())
}

/// The four numbers the CLI prints per channel.
#[derive(Serialize)]
struct CliScores {
    vrmse: f64,
    neps_low: f64,
    neps_mid: f64,
    neps_high: f64,
}

impl From<&ScoreSet> for CliScores {
    fn from(s: &ScoreSet) -> Self {
        CliScores {
            vrmse: s.vrmse,
            neps_low: s.neps.low,
            neps_mid: s.neps.mid,
            neps_high: s.neps.high,
        }
    }
}

impl Serialize for FileComparison {
    /// `{"<channel>": {vrmse, neps_low, neps_mid, neps_high}, …, "mean": {…}}`, channels
    /// in The Well's order. NaN (from a non-finite prediction) serialises as `null`.
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.summary.per_channel.len() + 1))?;
        for c in &self.summary.per_channel {
            map.serialize_entry(&c.name, &CliScores::from(&c.scores))?;
        }
        map.serialize_entry("mean", &CliScores::from(&self.summary.mean))?;
        map.end()
    }
}

impl FileComparison {
    /// The CLI's JSON (pretty-printed).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Shows the comparison inline in an evcxr notebook.
    pub fn evcxr_display(&self) {
        let title = match (&self.pred_path, &self.target_path) {
            (Some(p), Some(t)) => format!("<p>{} vs {}</p>", p.display(), t.display()),
            _ => String::new(),
        };
        crate::report::evcxr_html(&format!("{title}{}", self.summary.to_html()));
    }
}

impl std::fmt::Display for FileComparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(p), Some(t)) = (&self.pred_path, &self.target_path) {
            writeln!(f, "{} vs {}", p.display(), t.display())?;
        }
        write!(f, "{}", self.summary)
    }
}
