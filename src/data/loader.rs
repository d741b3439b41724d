//! Batches for training: mixtures of datasets, disjoint shards, recycling, prefetch.
//!
//! The paper's Appendix C, "Data loading and recycling": each worker (GPU rank) reads a
//! disjoint shard of the training windows; a shard holds a fixed number of unique batches
//! (21,000 of size 2 per GPU for tokeniser pretraining, 2,100 for rollout training); once
//! they are consumed the loader reseeds its generator and iterates again, so later passes
//! resample. With several datasets each batch comes from one of them, chosen with equal
//! probability (Section 2.5), and carries the indices of its channels in the union of all
//! the datasets' channels (the tokeniser's adaptive heads take a variable field count).
//!
//! Batches are read on a background thread, `prefetch` ahead, so training does not wait
//! on disk. The sequence depends only on the seed, never on thread timing.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dataset::WellDataset;
use crate::{ConfigError, Error, Result};

/// Loader settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderConfig {
    /// Windows per batch (the paper: 2 per GPU, 16 in all).
    pub batch_size: usize,
    /// This worker's rank, `0..world_size`.
    pub rank: usize,
    /// Number of workers sharing the data (disjoint shards).
    pub world_size: usize,
    /// Unique batches per shard and dataset before reshuffling with a new seed
    /// (Appendix C: 21,000 for tokeniser pretraining, 2,100 for rollout training).
    /// `None`: every window of the shard once per pass.
    pub unique_batches: Option<usize>,
    /// Batches read ahead on the background thread (0: read on demand in `next`).
    pub prefetch: usize,
    /// Seed of the shuffles and of the dataset choice.
    pub seed: u64,
    /// Batches of the sequence to pass over before the first one returned (a resumed run
    /// starts where the interrupted one stopped without reading what it skips).
    #[serde(default)]
    pub skip_batches: usize,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 2,
            rank: 0,
            world_size: 1,
            unique_batches: None,
            prefetch: 4,
            seed: 0,
            skip_batches: 0,
        }
    }
}

impl LoaderConfig {
    /// A config with this batch size and defaults otherwise.
    pub fn new(batch_size: usize) -> Self {
        LoaderConfig {
            batch_size,
            ..Default::default()
        }
    }
    /// Sets the shard: this worker's `rank` of `world_size`.
    pub fn with_shard(mut self, rank: usize, world_size: usize) -> Self {
        self.rank = rank;
        self.world_size = world_size;
        self
    }
    /// Sets the unique batches per shard before recycling.
    pub fn with_unique_batches(mut self, n: usize) -> Self {
        self.unique_batches = Some(n);
        self
    }
    /// Sets how many batches are read ahead.
    pub fn with_prefetch(mut self, n: usize) -> Self {
        self.prefetch = n;
        self
    }
    /// Sets the seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Starts the sequence after its first `n` batches.
    pub fn with_skip_batches(mut self, n: usize) -> Self {
        self.skip_batches = n;
        self
    }
    /// Checks the rules: positive batch size and world size, rank below world size.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.batch_size == 0 {
            return Err(ConfigError::NotPositive {
                name: "batch_size",
                value: 0.0,
            });
        }
        if self.world_size == 0 {
            return Err(ConfigError::NotPositive {
                name: "world_size",
                value: 0.0,
            });
        }
        if self.rank >= self.world_size {
            return Err(ConfigError::OutOfRange {
                name: "rank",
                range: "0..world_size",
                value: self.rank as f64,
            });
        }
        if self.unique_batches == Some(0) {
            return Err(ConfigError::NotPositive {
                name: "unique_batches",
                value: 0.0,
            });
        }
        Ok(())
    }
}

/// One batch: `(batch, channels, time, *spatial)` values of one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Row-major values.
    pub data: Vec<f32>,
    /// `[batch, channels, time, *spatial]`.
    pub shape: Vec<usize>,
    /// Which dataset of the loader it came from.
    pub dataset: usize,
    /// Indices of its channels in [`Loader::channel_names`] (the union over datasets).
    pub active_channels: Vec<usize>,
    /// Window indices within the dataset.
    pub windows: Vec<usize>,
    /// Pass over the shard this batch belongs to (0 first; reshuffled each pass).
    pub pass: usize,
}

impl Batch {
    /// The batch as a tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_slice(
            &self.data,
            self.shape.as_slice(),
            device,
        )?)
    }

    /// The batch as a tensor on `device`, consuming it: on the CPU the values are moved into
    /// the tensor, not copied (what a training loop wants; [`Batch::to_tensor`] copies).
    pub fn into_tensor(self, device: &Device) -> Result<Tensor> {
        Ok(Tensor::from_vec(self.data, self.shape, device)?)
    }
}

/// The deterministic plan of which windows form which batch: no I/O.
#[derive(Debug, Clone)]
struct Plan {
    shards: Vec<Vec<usize>>,
    queues: Vec<Vec<usize>>,
    pass: Vec<usize>,
    cursor: Vec<usize>,
    pick: ChaCha8Rng,
    cfg: LoaderConfig,
}

impl Plan {
    fn new(lens: &[usize], cfg: &LoaderConfig) -> Result<Self> {
        let shards: Vec<Vec<usize>> = lens
            .iter()
            .map(|&n| (cfg.rank..n).step_by(cfg.world_size).collect())
            .collect();
        for (d, s) in shards.iter().enumerate() {
            if s.is_empty() {
                return Err(Error::Empty {
                    what: format!("shard {} of {} of dataset {d}", cfg.rank, cfg.world_size),
                });
            }
        }
        let n = shards.len();
        let mut plan = Plan {
            shards,
            queues: vec![Vec::new(); n],
            pass: vec![0; n],
            cursor: vec![0; n],
            pick: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x005e_ed0f_d47a),
            cfg: cfg.clone(),
        };
        for d in 0..n {
            plan.refill(d);
        }
        for _ in 0..cfg.skip_batches {
            plan.next();
        }
        Ok(plan)
    }

    /// Lays out the windows of pass `self.pass[d]` of dataset `d`.
    fn refill(&mut self, d: usize) {
        let seed = self.cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ ((d as u64) << 32)
            ^ self.pass[d] as u64;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut order = self.shards[d].clone();
        order.shuffle(&mut rng);
        let b = self.cfg.batch_size;
        let want = match self.cfg.unique_batches {
            Some(k) => k * b,
            None => order.len().div_ceil(b) * b,
        };
        // cycle the shuffled shard until `want` windows are laid out
        self.queues[d] = order.iter().cycle().take(want).copied().collect();
        self.cursor[d] = 0;
    }

    fn next(&mut self) -> (usize, Vec<usize>, usize) {
        let n = self.shards.len();
        let d = if n == 1 {
            0
        } else {
            self.pick.random_range(0..n)
        };
        if self.cursor[d] >= self.queues[d].len() {
            self.pass[d] += 1;
            self.refill(d);
        }
        let b = self.cfg.batch_size;
        let at = self.cursor[d];
        self.cursor[d] += b;
        (d, self.queues[d][at..at + b].to_vec(), self.pass[d])
    }
}

/// Reads batches from one or more datasets (a mixture), endlessly.
pub struct Loader {
    datasets: Arc<Vec<WellDataset>>,
    channel_names: Vec<String>,
    active: Arc<Vec<Vec<usize>>>,
    plan: Option<Plan>,
    rx: Option<Receiver<Result<Batch>>>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field(
                "datasets",
                &self.datasets.iter().map(|d| d.name()).collect::<Vec<_>>(),
            )
            .field("channel_names", &self.channel_names)
            .finish()
    }
}

impl Loader {
    /// A loader over one dataset or an equal-probability mixture of several.
    ///
    /// All datasets must cut windows of the same length.
    pub fn new(datasets: Vec<WellDataset>, cfg: LoaderConfig) -> Result<Self> {
        cfg.check()?;
        let first = datasets.first().ok_or_else(|| Error::Empty {
            what: "loader datasets".into(),
        })?;
        let frames = first.spec().n_frames();
        let mut channel_names: Vec<String> = Vec::new();
        let mut active = Vec::new();
        for ds in &datasets {
            if ds.spec().n_frames() != frames {
                return Err(ConfigError::Mismatch {
                    name: "window frames",
                    value: format!("{} ({})", ds.spec().n_frames(), ds.name()),
                    other: format!("{frames} ({})", first.name()),
                }
                .into());
            }
            let idx = ds
                .channel_names()
                .iter()
                .map(|c| match channel_names.iter().position(|u| u == c) {
                    Some(i) => i,
                    None => {
                        channel_names.push(c.clone());
                        channel_names.len() - 1
                    }
                })
                .collect();
            active.push(idx);
        }
        let lens: Vec<usize> = datasets.iter().map(WellDataset::len).collect();
        let plan = Plan::new(&lens, &cfg)?;
        let mut loader = Loader {
            datasets: Arc::new(datasets),
            channel_names,
            active: Arc::new(active),
            plan: Some(plan),
            rx: None,
            worker: None,
        };
        if cfg.prefetch > 0 {
            let (tx, rx) = sync_channel(cfg.prefetch);
            let plan = loader.plan.take().expect("plan present");
            let (datasets, active) = (loader.datasets.clone(), loader.active.clone());
            loader.worker = Some(std::thread::spawn(move || {
                prefetch(plan, datasets, active, tx)
            }));
            loader.rx = Some(rx);
        }
        Ok(loader)
    }

    /// The union of the datasets' channel names, in first-seen order.
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    /// The datasets.
    pub fn datasets(&self) -> &[WellDataset] {
        &self.datasets
    }

    /// The next batch.
    #[allow(clippy::should_implement_trait)] // fallible and endless: not an Iterator
    pub fn next(&mut self) -> Result<Batch> {
        if let Some(rx) = &self.rx {
            return rx
                .recv()
                .map_err(|_| Error::Msg("loader thread stopped".into()))?;
        }
        let plan = self.plan.as_mut().expect("plan present without prefetch");
        let (d, windows, pass) = plan.next();
        read_batch(&self.datasets, &self.active, d, windows, pass)
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.rx.take(); // the worker's next send fails and it returns
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn prefetch(
    mut plan: Plan,
    datasets: Arc<Vec<WellDataset>>,
    active: Arc<Vec<Vec<usize>>>,
    tx: SyncSender<Result<Batch>>,
) {
    loop {
        let (d, windows, pass) = plan.next();
        let batch = read_batch(&datasets, &active, d, windows, pass);
        let stop = batch.is_err();
        if tx.send(batch).is_err() || stop {
            return;
        }
    }
}

fn read_batch(
    datasets: &[WellDataset],
    active: &[Vec<usize>],
    d: usize,
    windows: Vec<usize>,
    pass: usize,
) -> Result<Batch> {
    let ds = &datasets[d];
    let len = ds.window_len();
    let mut data = vec![0.0; len * windows.len()];
    for (chunk, &w) in data.chunks_exact_mut(len).zip(&windows) {
        ds.read_window_into(w, chunk)?;
    }
    let mut shape = vec![windows.len()];
    shape.extend(ds.window_shape());
    Ok(Batch {
        data,
        shape,
        dataset: d,
        active_channels: active[d].clone(),
        windows,
        pass,
    })
}

/// The windows of one plan, for tests: which (dataset, windows, pass) come in order.
#[cfg(test)]
pub(crate) fn plan_sequence(
    lens: &[usize],
    cfg: &LoaderConfig,
    n: usize,
) -> Vec<(usize, Vec<usize>, usize)> {
    let mut p = Plan::new(lens, cfg).unwrap();
    (0..n).map(|_| p.next()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let world = 3;
        let mut seen = HashSet::new();
        for rank in 0..world {
            let cfg = LoaderConfig::new(2).with_shard(rank, world).with_seed(7);
            for (_, w, pass) in plan_sequence(&[30], &cfg, 5) {
                assert_eq!(pass, 0);
                for i in w {
                    assert_eq!(i % world, rank, "window {i} in shard {rank}");
                    seen.insert(i);
                }
            }
        }
        assert_eq!(seen.len(), 30);
    }

    /// Data-parallel sharding for world sizes 1–8: over one epoch (pass 0) the ranks' shards
    /// are disjoint and together hold every window; within a rank every window of its
    /// shard comes exactly once, except that the last batch of the pass is completed with
    /// the first windows of the shuffled shard when the shard does not fill whole batches
    /// (fewer than one batch of repeats, all in that last batch).
    #[test]
    fn rank_shards_cover_every_window_once_per_epoch() {
        for world in 1..=8 {
            for n in [37, 40, 64] {
                for b in [1, 2, 3] {
                    let mut owner = vec![None; n];
                    for rank in 0..world {
                        let cfg = LoaderConfig::new(b).with_shard(rank, world).with_seed(11);
                        let len = (rank..n).step_by(world).count();
                        let batches = len.div_ceil(b);
                        let seq = plan_sequence(&[n], &cfg, batches);
                        let mut count = vec![0usize; n];
                        for (k, (d, w, pass)) in seq.iter().enumerate() {
                            assert_eq!((*d, *pass), (0, 0), "one epoch, one dataset");
                            assert_eq!(w.len(), b);
                            for (j, &i) in w.iter().enumerate() {
                                count[i] += 1;
                                if count[i] > 1 {
                                    assert_eq!(k, batches - 1, "repeat outside the last batch");
                                    assert!(k * b + j >= len, "repeat before the shard ran out");
                                }
                            }
                        }
                        for i in 0..n {
                            if count[i] > 0 {
                                assert_eq!(
                                    owner[i], None,
                                    "window {i} in two shards (world {world})"
                                );
                                owner[i] = Some(rank);
                            }
                        }
                        let repeats: usize = count.iter().map(|&c| c.saturating_sub(1)).sum();
                        assert_eq!(
                            repeats,
                            batches * b - len,
                            "world {world} rank {rank} n {n} b {b}"
                        );
                        assert!(count.iter().all(|&c| c <= 2));
                    }
                    assert!(
                        owner.iter().all(Option::is_some),
                        "world {world}: a window in no shard"
                    );
                }
            }
        }
    }

    #[test]
    fn recycles_after_unique_batches_with_a_new_order() {
        let cfg = LoaderConfig::new(2).with_unique_batches(3).with_seed(1);
        let seq = plan_sequence(&[40], &cfg, 9);
        let passes: Vec<usize> = seq.iter().map(|s| s.2).collect();
        assert_eq!(passes, [0, 0, 0, 1, 1, 1, 2, 2, 2]);
        let pass0: Vec<usize> = seq[..3].iter().flat_map(|s| s.1.clone()).collect();
        let pass1: Vec<usize> = seq[3..6].iter().flat_map(|s| s.1.clone()).collect();
        assert_eq!(
            pass0.iter().collect::<HashSet<_>>().len(),
            6,
            "unique within a pass"
        );
        assert_ne!(pass0, pass1, "reseeded between passes");
        // deterministic for a seed, different for another
        assert_eq!(seq, plan_sequence(&[40], &cfg, 9));
        assert_ne!(seq, plan_sequence(&[40], &cfg.clone().with_seed(2), 9));
    }

    #[test]
    fn skipping_batches_continues_the_same_sequence() {
        let cfg = LoaderConfig::new(2).with_unique_batches(3).with_seed(4);
        let all = plan_sequence(&[20, 9], &cfg, 10);
        let rest = plan_sequence(&[20, 9], &cfg.clone().with_skip_batches(4), 6);
        assert_eq!(rest, all[4..]);
    }

    #[test]
    fn mixture_picks_datasets_with_equal_probability() {
        let cfg = LoaderConfig::new(1).with_seed(3);
        let seq = plan_sequence(&[10, 1000, 50], &cfg, 3000);
        let mut counts = [0usize; 3];
        for (d, _, _) in &seq {
            counts[*d] += 1;
        }
        for c in counts {
            assert!((900..1100).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn into_tensor_equals_to_tensor() -> Result<()> {
        let batch = Batch {
            data: (0..2 * 3 * 4).map(|i| i as f32 * 0.5 - 3.0).collect(),
            shape: vec![2, 3, 1, 2, 2],
            dataset: 0,
            active_channels: vec![0, 1, 2],
            windows: vec![4, 1],
            pass: 0,
        };
        let copied = batch.to_tensor(&Device::Cpu)?;
        let moved = batch.clone().into_tensor(&Device::Cpu)?;
        assert_eq!(moved.dims(), [2, 3, 1, 2, 2]);
        assert_eq!(
            moved.flatten_all()?.to_vec1::<f32>()?,
            copied.flatten_all()?.to_vec1::<f32>()?
        );
        assert_eq!(moved.flatten_all()?.to_vec1::<f32>()?, batch.data);
        Ok(())
    }

    #[test]
    fn bad_configs_are_typed_errors() {
        assert!(matches!(
            LoaderConfig::new(0).check(),
            Err(ConfigError::NotPositive {
                name: "batch_size",
                ..
            })
        ));
        assert!(matches!(
            LoaderConfig::new(1).with_shard(2, 2).check(),
            Err(ConfigError::OutOfRange { name: "rank", .. })
        ));
        assert!(matches!(
            Plan::new(&[1], &LoaderConfig::new(1).with_shard(1, 2)),
            Err(Error::Empty { .. })
        ));
    }
}
