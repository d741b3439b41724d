//! The Trainer: losses fall, validation runs, checkpoints resume exactly, frozen weights
//! stay bit-identical, a diverging loss stops with a typed error and keeps the last good
//! checkpoint, and a pretrained tokeniser checkpoint loads into a rollout model.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use phystok::Error;
use phystok::checkpoint::Checkpoint;
use phystok::data::{ActiveFields, Split, WellDataset, WindowSpec};
use phystok::freeze::FreezeStrategy;
use phystok::model::RolloutConfig;
use phystok::sim::{GenerateConfig, System};
use phystok::tokeniser::TokeniserConfig;
use phystok::train::{Progress, RolloutTask, TokeniserTask, TrainTask, Trainer, TrainerConfig};

/// A small Euler dataset: 32² (the largest training compression is 32x in space), 5
/// trajectories (3 train), 12 frames.
fn euler(root: &Path) -> PathBuf {
    GenerateConfig::new(System::EulerPeriodic, root)
        .with_resolution(32)
        .with_trajectories(5)
        .with_steps(12)
        .generate()
        .unwrap()
}

fn open(dir: &Path, split: Split) -> WellDataset {
    WellDataset::open(dir, split, WindowSpec::new(9, 1)).unwrap()
}

fn tokeniser_task() -> TokeniserTask {
    TokeniserTask::new(
        TokeniserConfig::tiny()
            .with_total_fields(5)
            .with_seed(1)
            .init(&Device::Cpu)
            .unwrap(),
    )
}

fn rollout_task(strategy: FreezeStrategy) -> RolloutTask {
    let mut cfg = RolloutConfig::tiny().with_seed(2);
    cfg.tokeniser.total_fields = 5;
    RolloutTask::new(cfg.init(&Device::Cpu).unwrap(), strategy)
}

fn quiet(cfg: TrainerConfig) -> TrainerConfig {
    cfg.with_progress(Progress::Quiet)
}

fn snapshot(vm: &VarMap) -> Vec<(String, Vec<f32>)> {
    let data = vm.data().lock().unwrap();
    let mut v: Vec<(String, Vec<f32>)> = data
        .iter()
        .map(|(n, t)| (n.clone(), t.flatten_all().unwrap().to_vec1().unwrap()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[test]
fn tokeniser_pretraining_lowers_the_loss_and_validates() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let cfg = quiet(TrainerConfig::quick_tokeniser(40)).with_validation_windows(4);
    let mut trainer = Trainer::builder(tokeniser_task(), cfg)
        .train_data(vec![open(&dir, Split::Train)])
        .valid_data(vec![open(&dir, Split::Valid)])
        .build()
        .unwrap();
    let before = trainer.validate().unwrap();
    let h = trainer.fit_steps(40).unwrap();
    assert_eq!(h.steps.len(), 40);
    assert_eq!(h.validation.len(), 4, "every 10 steps");
    assert!(h.steps.windows(2).all(|w| w[1].wall_s >= w[0].wall_s));
    let first: f64 = h.steps[..5].iter().map(|r| r.loss).sum::<f64>() / 5.0;
    let last = h.recent_loss(5).unwrap();
    assert!(last < 0.7 * first, "loss {first} -> {last}");
    let after = h.validation.last().unwrap();
    assert!(after.vrmse < before.vrmse, "{before:?} -> {after:?}");
    // a second call continues the same run
    let h2 = trainer.fit_steps(2).unwrap();
    assert_eq!(h2.steps.len(), 42);
    assert_eq!(h2.steps.last().unwrap().step, 42);
}

#[test]
fn resuming_gives_the_same_losses_as_never_stopping() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    // drop path on, so the per-step generator matters; mostly frozen, so groups matter
    let cfg = quiet(TrainerConfig::quick_rollout(8))
        .with_validate_every(0)
        .with_seed(5);
    let run = stop_and_resume(&dir, &root.path().join("ckpt"), &cfg, 3);
    assert_eq!(run.resumed_at, 3);
    assert_eq!(
        run.resumed.losses(),
        run.straight,
        "bit-identical losses after resuming"
    );
    assert_eq!(
        run.resumed_weights, run.straight_weights,
        "bit-identical weights"
    );
}

/// A mostly frozen rollout run of `2 × half` steps straight through, and the same run
/// stopped after `half` steps, checkpointed and resumed in a new trainer.
struct StopAndResume {
    straight: Vec<f64>,
    straight_weights: Vec<(String, Vec<f32>)>,
    resumed_at: usize,
    resumed: phystok::train::History,
    resumed_weights: Vec<(String, Vec<f32>)>,
}

fn stop_and_resume(dir: &Path, ckpt: &Path, cfg: &TrainerConfig, half: usize) -> StopAndResume {
    let build = |resume: Option<&Path>| {
        let mut b = Trainer::builder(rollout_task(FreezeStrategy::MostlyFrozen), cfg.clone())
            .train_data(vec![open(dir, Split::Train)]);
        if let Some(r) = resume {
            b = b.resume_from(r);
        }
        b.build().unwrap()
    };
    let mut straight = build(None);
    let straight_losses = straight.fit_steps(2 * half).unwrap().losses();
    let mut first = build(None);
    first.fit_steps(half).unwrap();
    first.save_checkpoint(ckpt).unwrap();
    drop(first);
    let mut resumed = build(Some(ckpt));
    let resumed_at = resumed.step();
    let history = resumed.fit_steps(half).unwrap();
    StopAndResume {
        straight: straight_losses,
        straight_weights: snapshot(straight.task().varmap()),
        resumed_at,
        resumed: history,
        resumed_weights: snapshot(resumed.task().varmap()),
    }
}

#[test]
fn frozen_weights_stay_bit_identical_and_trainable_ones_move() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let task = rollout_task(FreezeStrategy::MostlyFrozen);
    let before = snapshot(task.model().varmap());
    let mut trainer = Trainer::builder(
        task,
        quiet(TrainerConfig::quick_rollout(3)).with_validate_every(0),
    )
    .train_data(vec![open(&dir, Split::Train)])
    .build()
    .unwrap();
    trainer.fit_steps(3).unwrap();
    let after = snapshot(trainer.task().model().varmap());
    let strategy = FreezeStrategy::MostlyFrozen;
    let (mut frozen, mut moved) = (0, 0);
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        if strategy.is_trainable(name) {
            moved += usize::from(a != b);
        } else {
            assert_eq!(a, b, "{name} is frozen");
            frozen += 1;
        }
    }
    assert!(frozen > 0 && moved > 0, "frozen {frozen}, moved {moved}");
}

/// A tokeniser task whose loss turns NaN at one step (data with NaN is refused earlier,
/// by the reader, so a model blowing up is what this stands for).
struct Poisoned {
    inner: TokeniserTask,
    calls: AtomicUsize,
    at: usize,
}

impl TrainTask for Poisoned {
    fn name(&self) -> &'static str {
        "poisoned"
    }
    fn varmap(&self) -> &VarMap {
        self.inner.varmap()
    }
    fn trainable_names(&self) -> phystok::Result<Vec<String>> {
        self.inner.trainable_names()
    }
    fn total_fields(&self) -> usize {
        self.inner.total_fields()
    }
    fn window_spec(&self) -> WindowSpec {
        self.inner.window_spec()
    }
    fn reseed(&self, seed: u64) {
        self.inner.reseed(seed)
    }
    fn loss(&self, window: &Tensor, fields: &ActiveFields) -> phystok::Result<Tensor> {
        let loss = self.inner.loss(window, fields)?;
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.at {
            return Ok((loss * f64::NAN)?);
        }
        Ok(loss)
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> phystok::Result<(Tensor, Tensor)> {
        self.inner.predict(window, fields)
    }
    fn config_json(&self) -> phystok::Result<serde_json::Value> {
        self.inner.config_json()
    }
}

#[test]
fn a_nan_loss_stops_with_a_typed_error_and_keeps_the_last_good_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let ckpt = root.path().join("ckpt");
    let cfg = quiet(TrainerConfig::quick_tokeniser(50))
        .with_validate_every(0)
        .with_checkpoint_every(1)
        .with_seed(3);
    let task = Poisoned {
        inner: tokeniser_task(),
        calls: AtomicUsize::new(0),
        at: 4,
    };
    let mut trainer = Trainer::builder(task, cfg)
        .train_data(vec![open(&dir, Split::Train)])
        .checkpoint_dir(&ckpt)
        .build()
        .unwrap();
    let err = trainer.fit_steps(50).unwrap_err();
    let Error::Divergence {
        step,
        value,
        ref tensor,
    } = err
    else {
        panic!("expected Divergence, got {err}");
    };
    assert!(value.is_nan());
    assert_eq!(tensor, "loss", "the first non-finite tensor is named");
    assert!(err.to_string().contains("step 4"), "{err}");
    assert_eq!(
        (step, trainer.step()),
        (4, 3),
        "step 4 failed after 3 good ones"
    );
    let saved = Checkpoint::load(&ckpt, &Device::Cpu).unwrap();
    assert_eq!(saved.step, trainer.step());
    let weights = snapshot(trainer.task().varmap());
    for (name, w) in &weights {
        assert!(w.iter().all(|v| v.is_finite()), "{name} finite");
        let s: Vec<f32> = saved.weights[name]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(&s, w, "{name}: checkpoint equals the weights in memory");
    }
}

#[test]
fn a_pretrained_tokeniser_checkpoint_loads_into_a_rollout_model() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let mut trainer = Trainer::builder(tokeniser_task(), quiet(TrainerConfig::quick_tokeniser(2)))
        .train_data(vec![open(&dir, Split::Train)])
        .build()
        .unwrap();
    trainer.fit_steps(2).unwrap();
    let ckpt = root.path().join("tok");
    trainer.save_checkpoint(&ckpt).unwrap();
    let tok = snapshot(trainer.task().varmap());
    let mut cfg = RolloutConfig::tiny().with_seed(9);
    cfg.tokeniser = TokeniserConfig::tiny().with_total_fields(5);
    let model = cfg.init(&Device::Cpu).unwrap();
    let set = model.load_tokeniser(&ckpt).unwrap();
    assert_eq!(set.len(), tok.len());
    let all = snapshot(model.varmap());
    for (name, w) in &tok {
        let got = &all
            .iter()
            .find(|(n, _)| *n == format!("tokeniser.{name}"))
            .unwrap()
            .1;
        assert_eq!(got, w, "{name}");
    }
}

#[test]
fn bad_settings_are_typed_errors() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let err = Trainer::builder(tokeniser_task(), TrainerConfig::quick_tokeniser(2))
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
    let cfg = TrainerConfig::quick_tokeniser(2).with_batch_size(0);
    let err = Trainer::builder(tokeniser_task(), cfg)
        .train_data(vec![open(&dir, Split::Train)])
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
    // three tokeniser fields cannot hold Euler's five
    let task = TokeniserTask::new(TokeniserConfig::tiny().init(&Device::Cpu).unwrap());
    let err = Trainer::builder(task, TrainerConfig::quick_tokeniser(2))
        .train_data(vec![open(&dir, Split::Train)])
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("field vocabulary"), "{err}");
}

#[test]
fn the_optimiser_and_schedule_settings_take_effect() {
    use phystok::optim::{AdamWConfig, ScheduleConfig, SoapConfig};
    use phystok::train::OptimiserConfig;
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let run = |opt: OptimiserConfig, lr: f64| {
        let cfg = quiet(TrainerConfig::quick_tokeniser(3))
            .with_optimiser(opt)
            .with_schedule(ScheduleConfig::constant(lr))
            .with_validate_every(0);
        let mut t = Trainer::builder(tokeniser_task(), cfg)
            .train_data(vec![open(&dir, Split::Train)])
            .build()
            .unwrap();
        let h = t.fit_steps(3).unwrap();
        assert!(
            h.steps.iter().all(|r| r.lr == lr),
            "the schedule's rate is used"
        );
        h.losses()
    };
    let adam = OptimiserConfig::AdamW(AdamWConfig::paper_rollout());
    let soap = OptimiserConfig::Soap(SoapConfig::paper_tokeniser());
    let a1 = run(adam, 1e-3);
    let a2 = run(adam, 1e-2);
    let s1 = run(soap, 1e-3);
    assert_eq!(a1[0], a2[0], "same first batch and weights");
    assert_ne!(a1[2], a2[2], "the learning rate changes the run");
    assert_ne!(a1[2], s1[2], "the optimiser changes the run");
}

/// A rollout task with no randomness of its own (drop path off), so that the trainer's
/// per-micro-batch reseeding changes nothing and only the batching differs.
fn deterministic_rollout_task() -> RolloutTask {
    let mut cfg = RolloutConfig::tiny()
        .with_seed(2)
        .with_processor(phystok::processor::ProcessorConfig::tiny().with_drop_path(0.0));
    cfg.tokeniser.total_fields = 5;
    RolloutTask::new(
        cfg.init(&Device::Cpu).unwrap(),
        FreezeStrategy::FullyTrainable,
    )
}

#[test]
fn accumulating_micro_batches_gives_the_update_of_one_large_batch() {
    use phystok::data::LoaderConfig;
    use phystok::optim::{AdamWConfig, SoapConfig};
    use phystok::train::OptimiserConfig;
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    for (optimiser, compare_weights) in [
        (
            OptimiserConfig::AdamW(AdamWConfig::paper_rollout().with_lr(1e-3)),
            true,
        ),
        // SOAP: the losses after its updates agree as tightly, but its weights are not
        // compared element by element: its first eigenbases come from rank-deficient
        // preconditioners (layer scale starts at 1e-6), whose eigenvectors are not unique,
        // so rounding-level gradient differences may rotate a near-null subspace.
        (OptimiserConfig::Soap(SoapConfig::paper_tokeniser()), false),
    ] {
        let run = |batch: usize, k: usize| {
            // two steps of 4 windows: within one pass over the 9 training windows, so every
            // batching reads the same windows in the same order
            let cfg = quiet(TrainerConfig::quick_rollout(2))
                .with_validate_every(0)
                .with_optimiser(optimiser)
                .with_loader(LoaderConfig::new(batch).with_prefetch(0))
                .with_accumulation(k);
            assert_eq!(cfg.effective_batch(), 4);
            let mut t = Trainer::builder(deterministic_rollout_task(), cfg)
                .train_data(vec![open(&dir, Split::Train)])
                .build()
                .unwrap();
            let h = t.fit_steps(2).unwrap();
            assert_eq!(h.effective_batch, 4);
            (h.losses(), snapshot(t.task().varmap()))
        };
        let (one_loss, one) = run(4, 1);
        for (b, k) in [(2, 2), (1, 4)] {
            let (loss, acc) = run(b, k);
            // step 2 sees the weights after the first update
            for (x, y) in loss.iter().zip(&one_loss) {
                assert!(
                    (x - y).abs() <= 1e-6 * y.abs(),
                    "{optimiser:?}: loss {x} vs {y} ({b}×{k})"
                );
            }
            if compare_weights {
                for ((name, a), (_, w)) in acc.iter().zip(&one) {
                    let scale = w.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-2);
                    let diff = a.iter().zip(w).fold(0f32, |m, (p, q)| m.max((p - q).abs()));
                    assert!(
                        diff <= 1e-5 * scale,
                        "{name}: {diff} vs scale {scale} ({b}×{k})"
                    );
                }
            }
        }
    }
}

#[test]
fn resuming_an_accumulating_run_gives_the_same_losses_as_never_stopping() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let cfg = quiet(TrainerConfig::quick_rollout(8))
        .with_validate_every(0)
        .with_seed(5)
        .with_accumulation(3);
    let run = stop_and_resume(&dir, &root.path().join("ckpt"), &cfg, 2);
    let h = run.resumed;
    assert_eq!(
        h.losses(),
        run.straight,
        "the loader resumes 3 micro-batches per step on"
    );
    assert_eq!(h.effective_batch, 2 * 3);
    assert!(
        TrainerConfig::quick_rollout(8)
            .with_accumulation(0)
            .check()
            .is_err()
    );
    assert_eq!(
        TrainerConfig::paper_rollout().effective_batch(),
        16,
        "Table 6"
    );
    assert_eq!(
        TrainerConfig::paper_tokeniser().effective_batch(),
        16,
        "Table 6"
    );
}

/// Removes every `keys` entry from the objects of `v`, at any depth.
fn strip_keys(v: &mut serde_json::Value, keys: &[&str]) -> usize {
    match v {
        serde_json::Value::Object(map) => {
            let mut n = 0;
            for k in keys {
                n += usize::from(map.remove(*k).is_some());
            }
            n + map.values_mut().map(|x| strip_keys(x, keys)).sum::<usize>()
        }
        serde_json::Value::Array(items) => items.iter_mut().map(|x| strip_keys(x, keys)).sum(),
        _ => 0,
    }
}

#[test]
fn a_checkpoint_from_before_the_tokeniser_options_resumes_and_a_changed_option_does_not() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let ckpt = root.path().join("ckpt");
    let cfg = quiet(TrainerConfig::quick_rollout(2)).with_validate_every(0);
    let build = |task: RolloutTask, resume: Option<&Path>| {
        let mut b = Trainer::builder(task, cfg.clone()).train_data(vec![open(&dir, Split::Train)]);
        if let Some(r) = resume {
            b = b.resume_from(r);
        }
        b.build()
    };
    let mut first = build(rollout_task(FreezeStrategy::FullyTrainable), None).unwrap();
    first.fit_steps(1).unwrap();
    first.save_checkpoint(&ckpt).unwrap();
    drop(first);
    // the checkpoint as one made before the three settings existed
    let path = ckpt.join("checkpoint.json");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let removed = strip_keys(&mut json, &["upsampling", "residual_norm", "kernel_resize"]);
    assert_eq!(removed, 3, "the tokeniser's three settings are saved once");
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    let resumed = build(rollout_task(FreezeStrategy::FullyTrainable), Some(&ckpt)).unwrap();
    assert_eq!(resumed.step(), 1);
    drop(resumed);
    // a run that switches one of them is refused, naming it
    let mut changed = RolloutConfig::tiny().with_seed(2);
    changed.tokeniser.total_fields = 5;
    changed.tokeniser = changed
        .tokeniser
        .with_upsampling(phystok::tokeniser::Upsampling::Transposed);
    let task = RolloutTask::new(
        changed.init(&Device::Cpu).unwrap(),
        FreezeStrategy::FullyTrainable,
    );
    let Err(err) = build(task, Some(&ckpt)) else {
        panic!("a changed upsampling resumed")
    };
    assert!(err.to_string().contains("upsampling"), "{err}");
}

/// A world of one through the data-parallel path (`average_gradients` over
/// `SingleProcess`, the code NCCL's communicator runs with its sum) trains bit for bit like
/// the plain path: the same losses and weights, with accumulation and AdamW.
#[test]
fn a_world_of_one_through_the_communicator_is_the_plain_path_bit_for_bit() {
    use phystok::data::LoaderConfig;
    use phystok::train::dist::SingleProcess;
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let run = |comm: bool| {
        let cfg = quiet(TrainerConfig::quick_rollout(3))
            .with_validate_every(0)
            .with_loader(LoaderConfig::new(2).with_prefetch(0))
            .with_accumulation(2);
        let mut b = Trainer::builder(deterministic_rollout_task(), cfg)
            .train_data(vec![open(&dir, Split::Train)]);
        if comm {
            b = b.communicator(Box::new(SingleProcess::new()));
        }
        let mut t = b.build().unwrap();
        let h = t.fit_steps(3).unwrap();
        (h.losses(), snapshot(t.task().varmap()))
    };
    let (plain_loss, plain) = run(false);
    let (comm_loss, comm) = run(true);
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&plain_loss), bits(&comm_loss));
    assert_eq!(plain.len(), comm.len());
    for ((name, a), (_, b)) in plain.iter().zip(&comm) {
        let a: Vec<u32> = a.iter().map(|x| x.to_bits()).collect();
        let b: Vec<u32> = b.iter().map(|x| x.to_bits()).collect();
        assert!(a == b, "{name} differs");
    }
    // and the weights did move, so the comparison is not of two untouched models
    let fresh = snapshot(deterministic_rollout_task().varmap());
    assert!(fresh.iter().zip(&plain).any(|((_, f), (_, p))| f != p));
}

/// A communicator whose world is not the loader's shard is refused at build time.
#[test]
fn a_communicator_must_match_the_loader_shard() {
    use phystok::data::LoaderConfig;
    use phystok::train::dist::SingleProcess;
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let cfg = quiet(TrainerConfig::quick_rollout(1))
        .with_loader(LoaderConfig::new(2).with_shard(1, 2).with_prefetch(0));
    let err = Trainer::builder(deterministic_rollout_task(), cfg)
        .train_data(vec![open(&dir, Split::Train)])
        .communicator(Box::new(SingleProcess::new()))
        .build()
        .expect_err("mismatched world refused");
    assert!(
        matches!(err, Error::Config(phystok::ConfigError::Mismatch { .. })),
        "{err}"
    );
}
