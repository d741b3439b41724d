//! Well dataset directories: `{root}/{name}/data/{train,valid,test}/*.hdf5` and
//! `{root}/{name}/stats.yaml`, and [`WellDataset`], which indexes windows across the files
//! of one split and reads them lazily.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::h5::WellReader;
use super::stats::DatasetStats;
use super::well::WellFile;
use crate::report::{Table, group_digits};
use crate::{ConfigError, Error, Result};

/// One of a dataset's three splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Split {
    /// `train` (80 % of trajectories in The Well).
    Train,
    /// `valid` (10 %).
    Valid,
    /// `test` (10 %).
    Test,
}

impl Split {
    /// All three, in order.
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// The directory name: `train`, `valid` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Writes a dataset directory: each file under `{root}/{name}/data/{split}/`, named
/// `{name}_{k:02}.hdf5` in the order given, then `{root}/{name}/stats.yaml` computed over
/// the train files (all files when there are none). Returns `{root}/{name}`.
pub fn write_dataset(root: &Path, name: &str, files: &[(Split, &WellFile)]) -> Result<PathBuf> {
    if files.is_empty() {
        return Err(Error::Empty {
            what: format!("dataset `{name}`: list of files"),
        });
    }
    let dir = root.join(name);
    let mut counters = [0usize; 3];
    for (split, file) in files {
        let k = &mut counters[*split as usize];
        let path = dir
            .join("data")
            .join(split.as_str())
            .join(format!("{name}_{:02}.hdf5", *k));
        *k += 1;
        file.write(&path)?;
    }
    let train: Vec<&WellFile> = files
        .iter()
        .filter(|(s, _)| *s == Split::Train)
        .map(|(_, f)| *f)
        .collect();
    let all: Vec<&WellFile> = files.iter().map(|(_, f)| *f).collect();
    let stats = DatasetStats::compute(if train.is_empty() { &all } else { &train })?;
    stats.write_yaml(&dir.join("stats.yaml"))?;
    Ok(dir)
}

/// How windows are cut from trajectories: `n_steps_input + n_steps_output` frames, `dt` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    /// Context frames (the paper: 9).
    pub n_steps_input: usize,
    /// Target frames (the paper: 1 for next-frame training).
    pub n_steps_output: usize,
    /// Time stride between frames.
    pub dt: usize,
}

impl Default for WindowSpec {
    /// The paper's windows: 9 context frames and 1 target (Section 2.1), stride 1.
    fn default() -> Self {
        WindowSpec {
            n_steps_input: 9,
            n_steps_output: 1,
            dt: 1,
        }
    }
}

impl WindowSpec {
    /// `n_steps_input` context and `n_steps_output` target frames at stride 1.
    pub fn new(n_steps_input: usize, n_steps_output: usize) -> Self {
        WindowSpec {
            n_steps_input,
            n_steps_output,
            dt: 1,
        }
    }

    /// Sets the time stride.
    pub fn with_dt(mut self, dt: usize) -> Self {
        self.dt = dt;
        self
    }

    /// Frames per window.
    pub fn n_frames(&self) -> usize {
        self.n_steps_input + self.n_steps_output
    }

    /// Checks the spec: at least one context and one target frame, positive stride.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.n_steps_input == 0 {
            return Err(ConfigError::NotPositive {
                name: "n_steps_input",
                value: 0.0,
            });
        }
        if self.n_steps_output == 0 {
            return Err(ConfigError::NotPositive {
                name: "n_steps_output",
                value: 0.0,
            });
        }
        if self.dt == 0 {
            return Err(ConfigError::NotPositive {
                name: "dt",
                value: 0.0,
            });
        }
        Ok(())
    }

    /// Windows per trajectory of `n_steps` frames, The Well's formula:
    /// `max(0, T − (1 + dt·(n_in + n_out − 1)) + 1)`.
    pub fn windows_per_trajectory(&self, n_steps: usize) -> usize {
        let span = 1 + self.dt * (self.n_frames().saturating_sub(1));
        (n_steps + 1).saturating_sub(span)
    }
}

/// One window read from a dataset: `(channels, time, *spatial)` values and where they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Row-major values of shape [`Window::shape`].
    pub data: Vec<f32>,
    /// `[channels, time, *spatial]`.
    pub shape: Vec<usize>,
    /// Index of the file in its split.
    pub file: usize,
    /// Trajectory within the file.
    pub trajectory: usize,
    /// First time step.
    pub t0: usize,
}

impl Window {
    /// The window as a `(channels, time, *spatial)` tensor.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.data,
            self.shape.as_slice(),
            device,
        )?)
    }
}

/// One split of a Well dataset directory, with its windows indexed across files.
///
/// Files are opened once and read lazily: a window reads only its own frames.
#[derive(Debug)]
pub struct WellDataset {
    name: String,
    dir: PathBuf,
    split: Split,
    spec: WindowSpec,
    readers: Vec<WellReader>,
    /// Cumulative window counts: file `i` holds windows `offsets[i]..offsets[i + 1]`.
    offsets: Vec<usize>,
    channel_names: Vec<String>,
}

impl WellDataset {
    /// Opens `{dir}/data/{split}/*.hdf5` (sorted by name) and indexes its windows.
    ///
    /// Every file must have the same dataset name, channels and spatial shape.
    pub fn open(dir: impl AsRef<Path>, split: Split, spec: WindowSpec) -> Result<Self> {
        spec.check()?;
        let dir = dir.as_ref().to_path_buf();
        let split_dir = dir.join("data").join(split.as_str());
        if !dir.is_dir() || !dir.join("data").is_dir() {
            return Err(Error::format(
                &dir,
                format!(
                    "not a Well dataset directory ({}; a dataset directory holds data/{{train,valid,test}}/*.hdf5 and stats.yaml)",
                    if !dir.exists() {
                        "it does not exist"
                    } else if !dir.is_dir() {
                        "it is a file"
                    } else {
                        "it has no data/ folder"
                    }
                ),
            ));
        }
        let entries = std::fs::read_dir(&split_dir).map_err(|e| Error::io(&split_dir, e))?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("hdf5" | "h5")))
            .collect();
        paths.sort();
        if paths.is_empty() {
            return Err(Error::Empty {
                what: format!("split {}", split_dir.display()),
            });
        }
        Self::from_files(&paths, split, spec).map(|mut d| {
            d.dir = dir;
            d
        })
    }

    /// Indexes windows across the given files (all of one dataset).
    pub fn from_files(paths: &[PathBuf], split: Split, spec: WindowSpec) -> Result<Self> {
        spec.check()?;
        let readers = paths
            .iter()
            .map(WellReader::open)
            .collect::<Result<Vec<_>>>()?;
        let first = readers.first().ok_or_else(|| Error::Empty {
            what: "file list".into(),
        })?;
        let h0 = first.header();
        let channel_names = h0.channel_names();
        let mut offsets = vec![0];
        for r in &readers {
            let h = r.header();
            if h.dataset_name != h0.dataset_name
                || h.channel_names() != channel_names
                || h.spatial_shape != h0.spatial_shape
            {
                return Err(Error::format(
                    r.path(),
                    format!(
                        "does not match {}: dataset {} {:?} {:?} vs {} {:?} {:?}",
                        first.path().display(),
                        h.dataset_name,
                        h.channel_names(),
                        h.spatial_shape,
                        h0.dataset_name,
                        channel_names,
                        h0.spatial_shape
                    ),
                ));
            }
            let n = h.n_trajectories * spec.windows_per_trajectory(h.n_steps());
            offsets.push(offsets.last().copied().unwrap_or(0) + n);
        }
        if offsets.last() == Some(&0) {
            let n_steps = readers.iter().map(|r| r.header().n_steps()).max();
            if let Some(n_steps) = n_steps
                && spec.windows_per_trajectory(n_steps) == 0
            {
                return Err(ConfigError::WindowLongerThanTrajectory {
                    frames: 1 + spec.dt * (spec.n_frames() - 1),
                    n_steps,
                }
                .into());
            }
        }
        let dir = paths[0]
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(WellDataset {
            name: h0.dataset_name.clone(),
            dir,
            split,
            spec,
            readers,
            offsets,
            channel_names,
        })
    }

    /// The dataset name (root attribute `dataset_name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The dataset directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Which split this is.
    pub fn split(&self) -> Split {
        self.split
    }

    /// How windows are cut.
    pub fn spec(&self) -> WindowSpec {
        self.spec
    }

    /// Channel names in order.
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    /// The header of the first file (metadata: fields, boundary conditions, parameters).
    pub fn header(&self) -> &WellFile {
        self.readers[0].header()
    }

    /// Spatial shape.
    pub fn spatial_shape(&self) -> &[usize] {
        &self.header().spatial_shape
    }

    /// Number of files.
    pub fn n_files(&self) -> usize {
        self.readers.len()
    }

    /// Total trajectories over all files.
    pub fn n_trajectories(&self) -> usize {
        self.readers.iter().map(|r| r.header().n_trajectories).sum()
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Whether there are no windows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values per window.
    pub fn window_len(&self) -> usize {
        self.channel_names.len() * self.spec.n_frames() * self.header().frame_len()
    }

    /// `[channels, time, *spatial]` of every window.
    pub fn window_shape(&self) -> Vec<usize> {
        let mut s = vec![self.channel_names.len(), self.spec.n_frames()];
        s.extend(self.spatial_shape());
        s
    }

    /// Where window `index` lies: (file, trajectory, first time step).
    pub fn locate(&self, index: usize) -> Result<(usize, usize, usize)> {
        if index >= self.len() {
            return Err(Error::OutOfRange {
                what: format!("window of dataset {} ({})", self.name, self.split),
                index,
                len: self.len(),
            });
        }
        let file = self.offsets.partition_point(|&o| o <= index) - 1;
        let local = index - self.offsets[file];
        let per = self
            .spec
            .windows_per_trajectory(self.readers[file].header().n_steps());
        Ok((file, local / per, local % per))
    }

    /// Reads window `index` into `out` (length [`WellDataset::window_len`]).
    pub fn read_window_into(&self, index: usize, out: &mut [f32]) -> Result<()> {
        let (file, traj, t0) = self.locate(index)?;
        self.readers[file].read_window_into(traj, t0, self.spec.n_frames(), self.spec.dt, out)
    }

    /// Reads window `index`.
    pub fn window(&self, index: usize) -> Result<Window> {
        let (file, trajectory, t0) = self.locate(index)?;
        let mut data = vec![0.0; self.window_len()];
        self.readers[file].read_window_into(
            trajectory,
            t0,
            self.spec.n_frames(),
            self.spec.dt,
            &mut data,
        )?;
        Ok(Window {
            data,
            shape: self.window_shape(),
            file,
            trajectory,
            t0,
        })
    }
}

impl WellDataset {
    /// A one-table summary: name, split, files, trajectories, windows, shape, channels,
    /// boundary conditions.
    fn summary_rows(&self) -> Vec<(&'static str, String)> {
        let h = self.header();
        let bcs: Vec<String> = h
            .boundary_conditions
            .iter()
            .map(|b| format!("{}: {:?}", b.associated_dims.join(","), b.bc_type))
            .collect();
        vec![
            ("dataset", self.name.clone()),
            ("split", self.split.to_string()),
            ("files", group_digits(self.n_files())),
            ("trajectories", group_digits(self.n_trajectories())),
            ("steps per trajectory", group_digits(h.n_steps())),
            ("spatial shape", format!("{:?}", h.spatial_shape)),
            ("channels", self.channel_names.join(", ")),
            (
                "window",
                format!(
                    "{} in + {} out, dt {}",
                    self.spec.n_steps_input, self.spec.n_steps_output, self.spec.dt
                ),
            ),
            ("windows", group_digits(self.len())),
            ("boundary conditions", bcs.join("; ")),
        ]
    }

    /// The summary as a table of properties, one per row.
    pub fn to_table(&self) -> Table {
        let mut t = Table::new(["property", "value"]).with_row_headers();
        for (k, v) in self.summary_rows() {
            // one cell per column by construction
            let _ = t.push_row([k.to_string(), v]);
        }
        t
    }

    /// Renders the summary as an HTML table in evcxr.
    pub fn evcxr_display(&self) {
        self.to_table().evcxr_display();
    }
}

impl std::fmt::Display for WellDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, v) in self.summary_rows() {
            writeln!(f, "{k:>22}: {v}")?;
        }
        Ok(())
    }
}
