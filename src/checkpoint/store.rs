//! Training checkpoints: weights (safetensors, from a `VarMap`), a JSON config, the
//! optimiser state, the step, the data RNG and the history, saved atomically.
//!
//! A checkpoint is a directory:
//! ```text
//! {dir}/weights.safetensors     every variable, by VarMap name
//! {dir}/optimiser.safetensors   the optimiser's moment tensors (when saved)
//! {dir}/checkpoint.json         step, config, optimiser meta, RNG, history, file sizes
//! ```
//! [`Checkpoint::save`] writes everything into a sibling `{dir}.partial`, fsyncs each file
//! with `checkpoint.json` last, then swaps it in by renames (`{dir}` → `{dir}.old`,
//! `{dir}.partial` → `{dir}`, remove `{dir}.old`). A crash at any point leaves a whole
//! checkpoint: the previous one in `{dir}` or, between the two renames, in `{dir}.old`,
//! which [`Checkpoint::load`] falls back to. A directory without `checkpoint.json`, or
//! whose files do not have the sizes it lists, is never loaded.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::optim::{OptimiserKind, OptimiserState, sorted_vars};
use crate::{Error, Result};

use super::weights::WeightSelection;

const WEIGHTS: &str = "weights.safetensors";
const OPTIMISER: &str = "optimiser.safetensors";
const MANIFEST: &str = "checkpoint.json";

/// The exact position of a `ChaCha8Rng`: seed, stream and word position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// The 32-byte seed.
    pub seed: [u8; 32],
    /// The stream number.
    pub stream: u64,
    /// Words consumed, as a decimal string (JSON numbers cannot hold a `u128`).
    #[serde(with = "u128_string")]
    pub word_pos: u128,
}

impl RngState {
    /// Captures `rng`'s position.
    pub fn capture(rng: &ChaCha8Rng) -> Self {
        RngState {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator at exactly the captured position.
    pub fn restore(&self) -> ChaCha8Rng {
        let mut rng = ChaCha8Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

mod u128_string {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&v.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    step: usize,
    config: serde_json::Value,
    optimiser: Option<(OptimiserKind, serde_json::Value)>,
    rng: Option<RngState>,
    history: Option<serde_json::Value>,
    /// `(file name, size in bytes)` of every other file.
    files: Vec<(String, u64)>,
    /// `(file name, FNV-1a 64-bit hash in hex)` of every other file: a flipped byte is an
    /// error on load, never silently different weights (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<(String, String)>,
}

/// FNV-1a, 64 bits, of `bytes`, in hex.
fn checksum(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Everything needed to resume training, in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Optimiser steps taken.
    pub step: usize,
    /// The run's configuration as JSON (see [`Checkpoint::config`]).
    pub config: serde_json::Value,
    /// Weights by variable name.
    pub weights: HashMap<String, Tensor>,
    /// The optimiser's state.
    pub optimiser: Option<OptimiserState>,
    /// The data RNG's position.
    pub rng: Option<RngState>,
    /// The training history as JSON (see [`Checkpoint::history`]).
    pub history: Option<serde_json::Value>,
}

/// Where a save stops, to simulate a crash in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crash {
    Never,
    BeforeManifest,
    BeforeSwap,
    BetweenRenames,
}

impl Checkpoint {
    /// An empty checkpoint at `step`.
    pub fn new(step: usize) -> Self {
        Checkpoint {
            step,
            config: serde_json::Value::Null,
            weights: HashMap::new(),
            optimiser: None,
            rng: None,
            history: None,
        }
    }

    /// Copies every variable of `varmap`.
    pub fn with_weights(mut self, varmap: &VarMap) -> Result<Self> {
        for (name, var) in sorted_vars(varmap)? {
            self.weights.insert(name, var.as_tensor().copy()?);
        }
        Ok(self)
    }

    /// Stores any serialisable config.
    pub fn with_config<C: Serialize>(mut self, config: &C) -> Result<Self> {
        self.config = serde_json::to_value(config)?;
        Ok(self)
    }

    /// Stores an optimiser state ([`crate::optim::Optimiser::state`]).
    pub fn with_optimiser(mut self, state: OptimiserState) -> Self {
        self.optimiser = Some(state);
        self
    }

    /// Stores the data RNG's position.
    pub fn with_rng(mut self, rng: &ChaCha8Rng) -> Self {
        self.rng = Some(RngState::capture(rng));
        self
    }

    /// Stores the training history (any serialisable type, usually [`crate::train::History`]).
    pub fn with_history<H: Serialize>(mut self, history: &H) -> Result<Self> {
        self.history = Some(serde_json::to_value(history)?);
        Ok(self)
    }

    /// The config as `C`.
    pub fn config<C: DeserializeOwned>(&self) -> Result<C> {
        Ok(serde_json::from_value(self.config.clone())?)
    }

    /// The history as `H`, if one was saved.
    pub fn history<H: DeserializeOwned>(&self) -> Result<Option<H>> {
        Ok(self
            .history
            .clone()
            .map(serde_json::from_value)
            .transpose()?)
    }

    /// Copies the selected weights into `varmap`'s variables; returns the variable names set.
    /// See [`WeightSelection`] for the matching rules and errors.
    pub fn load_weights_into(
        &self,
        varmap: &VarMap,
        selection: &WeightSelection,
    ) -> Result<Vec<String>> {
        super::weights::load_into(&self.weights, varmap, selection)
    }

    /// Saves atomically to the directory `dir` (see the module docs).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.save_until(dir.as_ref(), Crash::Never)
    }

    fn save_until(&self, dir: &Path, crash: Crash) -> Result<()> {
        let partial = sibling(dir, "partial");
        let old = sibling(dir, "old");
        // Recover from a save interrupted between its renames before touching anything.
        if !dir.exists() && old.join(MANIFEST).exists() {
            fs::rename(&old, dir).map_err(|e| Error::io(&old, e))?;
        }
        if partial.exists() {
            fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        }
        fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut files = Vec::new();
        files.push(write_tensors(&partial, WEIGHTS, &self.weights)?);
        if let Some(opt) = &self.optimiser {
            files.push(write_tensors(&partial, OPTIMISER, &opt.tensors)?);
        }
        if crash == Crash::BeforeManifest {
            return Ok(());
        }
        let manifest = Manifest {
            step: self.step,
            config: self.config.clone(),
            optimiser: self.optimiser.as_ref().map(|o| (o.kind, o.meta.clone())),
            rng: self.rng,
            history: self.history.clone(),
            checksums: files
                .iter()
                .map(|(name, _)| {
                    let p = partial.join(name);
                    let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
                    Ok((name.clone(), checksum(&bytes)))
                })
                .collect::<Result<_>>()?,
            files,
        };
        let path = partial.join(MANIFEST);
        fs::write(&path, serde_json::to_vec_pretty(&manifest)?).map_err(|e| Error::io(&path, e))?;
        sync(&path)?;
        sync(&partial)?;
        if crash == Crash::BeforeSwap {
            return Ok(());
        }
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        if dir.exists() {
            fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        }
        if crash == Crash::BetweenRenames {
            return Ok(());
        }
        fs::rename(&partial, dir).map_err(|e| Error::io(dir, e))?;
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync(parent)?;
        }
        if old.exists() {
            fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }

    /// Loads the checkpoint in `dir` (or in `{dir}.old` when a save was interrupted
    /// between its renames), putting tensors on `device`.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let dir = dir.as_ref();
        let old = sibling(dir, "old");
        let dir = if !dir.join(MANIFEST).exists() && old.join(MANIFEST).exists() {
            old.as_path()
        } else {
            dir
        };
        let path = dir.join(MANIFEST);
        let text = fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| Error::format(&path, format!("bad manifest: {e}")))?;
        for (name, size) in &manifest.files {
            let p = dir.join(name);
            let actual = fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
            if actual != *size {
                return Err(Error::format(
                    &p,
                    format!("size {actual} bytes, manifest says {size}"),
                ));
            }
        }
        let read = |name: &str| -> Result<HashMap<String, Tensor>> {
            let p = dir.join(name);
            let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
            if let Some((_, want)) = manifest.checksums.iter().find(|(n, _)| n == name) {
                let got = checksum(&bytes);
                if &got != want {
                    return Err(Error::format(
                        &p,
                        format!("checksum {got}, the manifest says {want}: the file is corrupt"),
                    ));
                }
            }
            candle_core::safetensors::load_buffer(&bytes, device)
                .map_err(|e| Error::format(&p, e.to_string()))
        };
        let weights = read(WEIGHTS)?;
        let optimiser = match manifest.optimiser {
            Some((kind, meta)) => Some(OptimiserState {
                kind,
                meta,
                tensors: read(OPTIMISER)?,
            }),
            None => None,
        };
        Ok(Checkpoint {
            step: manifest.step,
            config: manifest.config,
            weights,
            optimiser,
            rng: manifest.rng,
            history: manifest.history,
        })
    }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}

fn write_tensors(
    dir: &Path,
    name: &str,
    tensors: &HashMap<String, Tensor>,
) -> Result<(String, u64)> {
    let path = dir.join(name);
    candle_core::safetensors::save(tensors, &path)
        .map_err(|e| Error::format(&path, e.to_string()))?;
    sync(&path)?;
    let size = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
    Ok((name.to_string(), size))
}

/// fsync of a file or directory.
fn sync(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
