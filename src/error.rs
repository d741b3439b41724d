//! The crate's error type.
//!
//! One [`Error`] enum for everything that can go wrong at run time, and one
//! [`ConfigError`] with a variant per configuration rule, so that tests and callers can
//! match on the rule that was broken (`matches!(e, ConfigError::NotPowerOfTwo { .. })`)
//! rather than on message text.

use std::path::PathBuf;

/// Result alias used throughout phystok.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A configuration rule that a setting broke. Checked by every `check()` before anything runs.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A size that must be a power of two is not.
    #[error("{name} must be a power of two, got {value}")]
    NotPowerOfTwo {
        /// The setting or item.
        name: &'static str,
        /// The value given.
        value: usize,
    },
    /// A time length that must be one plus a power of two is not.
    #[error("{name} must be 1 + a power of two, got {value}")]
    NotOnePlusPowerOfTwo {
        /// The setting or item.
        name: &'static str,
        /// The value given.
        value: usize,
    },
    /// A count or size that must be positive is zero.
    #[error("{name} must be positive, got {value}")]
    NotPositive {
        /// The setting or item.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A value is outside the range it must lie in.
    #[error("{name} must lie in {range}, got {value}")]
    OutOfRange {
        /// The setting or item.
        name: &'static str,
        /// The allowed range.
        range: &'static str,
        /// The value given.
        value: f64,
    },
    /// Two settings that must agree do not.
    #[error("{name} ({value}) does not fit {other}")]
    Mismatch {
        /// The setting or item.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it must agree with.
        other: String,
    },
    /// A list that must not be empty is empty.
    #[error("{name} must not be empty")]
    Empty {
        /// The setting or item.
        name: &'static str,
    },
    /// A list holds the same item twice where each must be unique.
    #[error("{name} holds `{value}` twice")]
    Duplicate {
        /// The setting or list.
        name: &'static str,
        /// The repeated item.
        value: String,
    },
    /// A name that must be known is not.
    #[error("unknown {kind} `{name}`; known: {known}")]
    Unknown {
        /// What kind of name.
        kind: &'static str,
        /// The setting or item.
        name: String,
        /// The names that are known.
        known: String,
    },
    /// A parameter selector is not a valid pattern.
    #[error("selector `{selector}` is not a valid pattern: {reason}")]
    BadSelector {
        /// The pattern given.
        selector: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A parameter selector matches no parameter of the model it is applied to (a typo, or a
    /// strategy meant for another model).
    #[error("selector `{selector}` ({rule}) matches no parameter; the model's components: {known}")]
    SelectorMatchesNothing {
        /// The pattern given.
        selector: String,
        /// The rule it belongs to (`train` or `freeze`, and the strategy).
        rule: String,
        /// The model's top-level components (first two path segments).
        known: String,
    },
    /// An index setting (a sample, time step or channel to show) lies past the end of the
    /// data it picks from.
    #[error("{name} {index} is out of range: the data has {len}")]
    IndexOutOfRange {
        /// The setting.
        name: &'static str,
        /// The index given.
        index: usize,
        /// How many there are to pick from.
        len: usize,
    },
    /// A size setting would need more memory than the machine has: refused before anything
    /// is allocated.
    #[error(
        "{name} would need {} of memory, more than the limit of {} ({what}); reduce it",
        human_bytes(*bytes),
        human_bytes(*limit)
    )]
    TooLarge {
        /// The settings that make the size.
        name: &'static str,
        /// What the size is made of.
        what: String,
        /// Bytes needed.
        bytes: u128,
        /// The limit (the machine's available memory).
        limit: u128,
    },
    /// A window needs more frames than every trajectory of a dataset has.
    #[error(
        "a window of {frames} frames (n_steps_input + n_steps_output at stride dt) is longer than the trajectories' {n_steps} frames: there are no windows"
    )]
    WindowLongerThanTrajectory {
        /// Frames a window spans.
        frames: usize,
        /// Frames per trajectory (the longest in the dataset).
        n_steps: usize,
    },
    /// A patch size does not divide the grid it tiles.
    #[error("patch size {value} does not divide the {name} {grid}")]
    PatchDoesNotDivide {
        /// The grid axis (`height`, `width`).
        name: &'static str,
        /// The patch size given.
        value: usize,
        /// The grid size.
        grid: usize,
    },
    /// A patch size is larger than the base kernel it is resized from.
    #[error("patch size {value} is larger than the base patch size {base}")]
    PatchAboveBase {
        /// The patch size given.
        value: usize,
        /// The base (largest) patch size.
        base: usize,
    },
    /// A network halves its grid more often than the grid allows (a U-Net whose `depth`
    /// or `stages` leave a side that is not a multiple of `2^depth`).
    #[error(
        "{name} {depth} is too deep for a grid side of {size}: it must be a positive multiple of 2^{depth}"
    )]
    TooDeep {
        /// The setting (`depth`, `stages`).
        name: &'static str,
        /// The number of halvings.
        depth: usize,
        /// The grid side that does not halve that often.
        size: usize,
    },
    /// A spectral convolution keeps more Fourier modes along an axis than the grid has.
    #[error("{modes} Fourier modes along the {axis} do not fit a grid side of {size}")]
    ModesExceedGrid {
        /// The axis (`height`, `width`).
        axis: &'static str,
        /// The modes asked for.
        modes: usize,
        /// The grid side.
        size: usize,
    },
    /// A setting needs a cargo feature this build was compiled without.
    #[error(
        "{name} needs phystok built with the `{feature}` feature (cargo build --release --features {feature}; see README, \"GPU build\")"
    )]
    FeatureMissing {
        /// The setting (a CLI flag or environment variable).
        name: &'static str,
        /// The cargo feature.
        feature: &'static str,
    },
    /// A GPU ordinal names no GPU of this machine.
    #[error(
        "{name}: GPU {index} does not exist; this machine has {present} CUDA GPU(s) (ordinals 0..{present})"
    )]
    NoSuchGpu {
        /// The setting (`--gpus`, `LOCAL_RANK`).
        name: &'static str,
        /// The ordinal asked for.
        index: usize,
        /// The GPUs present.
        present: usize,
    },
    /// An environment variable of a launcher (torchrun's `RANK`, `WORLD_SIZE`, ...) holds a
    /// value phystok cannot use.
    #[error("environment variable {name}={value}: {expected}")]
    BadEnvironment {
        /// The variable.
        name: &'static str,
        /// Its value (empty when unset).
        value: String,
        /// What it must be.
        expected: String,
    },
    /// The setting asks for something this version does not do yet.
    #[error("{name}: {what} is not supported yet")]
    Unsupported {
        /// The setting.
        name: &'static str,
        /// What was asked for.
        what: String,
    },
}

/// Everything that can fail in phystok.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration broke one of its rules.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// A tensor operation failed inside candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Well-format file is missing something or holds something of the wrong kind.
    #[error("{path}: {what}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What was being handled.
        what: String,
    },
    /// The HDF5 library reported an error.
    #[error("{path}: hdf5: {message}")]
    Hdf5 {
        /// The file concerned.
        path: PathBuf,
        /// The library's message.
        message: String,
    },
    /// A dataset directory exists but lacks part of The Well's layout
    /// (`stats.yaml`, or a `data/{train,valid,test}` split with at least one `.hdf5` file).
    #[error(
        "{dir}: incomplete dataset, {missing} is missing (remove the directory to have it generated again)"
    )]
    IncompleteDataset {
        /// The dataset directory.
        dir: PathBuf,
        /// The part that is missing, relative to `dir` (`stats.yaml`, `data/valid`).
        missing: String,
    },
    /// Data holds a NaN or an infinity where a finite number is needed.
    #[error("non-finite value in {what}")]
    NonFinite {
        /// What was being handled.
        what: String,
    },
    /// An index lies past the end of what it indexes.
    #[error("{what}: index {index} out of range (len {len})")]
    OutOfRange {
        /// What was being handled.
        what: String,
        /// The index given.
        index: usize,
        /// The length indexed.
        len: usize,
    },
    /// Two things that must have the same shape do not.
    #[error("shape mismatch: {what}: {left:?} vs {right:?}")]
    Shape {
        /// What was being handled.
        what: String,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
    },
    /// Two things that must agree (field names, channel lists) do not.
    #[error("mismatch: {what}: {left} vs {right}")]
    Mismatch {
        /// What was compared.
        what: String,
        /// The first side (e.g. the prediction's channel list).
        left: String,
        /// The second side.
        right: String,
    },
    /// Something is empty that must hold at least one item.
    #[error("{what} is empty")]
    Empty {
        /// What was being handled.
        what: String,
    },
    /// A loss became NaN or infinite during training.
    #[error("training diverged at step {step}: {tensor} is {value} (the weights are those of step {prev}; a checkpoint folder keeps the last good checkpoint)", prev = step.saturating_sub(1))]
    Divergence {
        /// The training step.
        step: usize,
        /// The value given (the loss, or the first non-finite element of `tensor`).
        value: f32,
        /// The first non-finite tensor: `loss`, or `gradient of NAME` (trainable variables in
        /// name order).
        tensor: String,
    },
    /// A named variable (a weight, an optimiser state tensor) is missing where it must be.
    #[error("{what}: missing variable `{name}`")]
    MissingVariable {
        /// Where it was looked for.
        what: String,
        /// The variable's name.
        name: String,
    },
    /// JSON (de)serialisation failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Any other failure, with what was being done.
    #[error("{0}")]
    Msg(String),
    /// Trainable variables received no gradient from the loss (they would never change);
    /// `TrainerConfig::missing_gradients` turns this into a warning in the history.
    #[error(
        "step {step}: {} trainable variable(s) received no gradient: {} (set TrainerConfig::with_missing_gradients(MissingGradients::Warn) to train anyway)",
        names.len(),
        names.join(", ")
    )]
    MissingGradient {
        /// The training step.
        step: usize,
        /// The variables without a gradient, in name order.
        names: Vec<String>,
    },
    /// Training stopped on SIGINT or SIGTERM after finishing a step.
    #[error("{signal} at step {step}: {}", match checkpoint {
        Some(dir) => format!("checkpoint saved to {} (resume from it to continue)", dir.display()),
        None => "no checkpoint folder was set, nothing saved".to_string(),
    })]
    Interrupted {
        /// The signal's name.
        signal: String,
        /// The last step completed.
        step: usize,
        /// Where the checkpoint was saved.
        checkpoint: Option<PathBuf>,
    },
}

impl Error {
    /// An I/O error tagged with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error tagged with the path it concerns.
    pub fn format(path: impl Into<PathBuf>, what: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            what: what.into(),
        }
    }
}

/// `bytes` with a binary unit (`3.2 GiB`).
pub fn human_bytes(bytes: u128) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}
