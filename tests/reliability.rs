//! The Trainer's guards: a variable without a gradient is an error at the first step (or a
//! warning in the history), a non-finite gradient stops training naming the step and the
//! variable, resuming refuses a checkpoint made with other settings or without optimiser
//! or generator state, and tokeniser pretraining with SOAP resumed halfway ends bit for bit
//! where an uninterrupted run ends.

use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use candle_nn::VarMap;
use phystok::Error;
use phystok::checkpoint::Checkpoint;
use phystok::data::{ActiveFields, Split, WellDataset, WindowSpec};
use phystok::optim::SoapConfig;
use phystok::sim::{GenerateConfig, System};
use phystok::tokeniser::TokeniserConfig;
use phystok::train::{
    MissingGradients, OptimiserConfig, Progress, TokeniserTask, TrainTask, Trainer, TrainerConfig,
};

fn euler(root: &Path) -> PathBuf {
    GenerateConfig::new(System::EulerPeriodic, root)
        .with_resolution(32)
        .with_trajectories(5)
        .with_steps(12)
        .generate()
        .unwrap()
}

fn open(dir: &Path) -> WellDataset {
    WellDataset::open(dir, Split::Train, WindowSpec::new(9, 1)).unwrap()
}

fn tokeniser_task(seed: u64) -> TokeniserTask {
    TokeniserTask::new(
        TokeniserConfig::tiny()
            .with_total_fields(5)
            .with_seed(seed)
            .init(&Device::Cpu)
            .unwrap(),
    )
}

fn quiet(steps: usize) -> TrainerConfig {
    TrainerConfig::quick_tokeniser(steps)
        .with_progress(Progress::Quiet)
        .with_validate_every(0)
}

fn snapshot(vm: &VarMap) -> Vec<(String, Vec<u32>)> {
    let data = vm.data().lock().unwrap();
    let mut v: Vec<(String, Vec<u32>)> = data
        .iter()
        .map(|(n, t)| {
            let xs: Vec<f32> = t.flatten_all().unwrap().to_vec1().unwrap();
            (n.clone(), xs.iter().map(|x| x.to_bits()).collect())
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The tokeniser task with one extra trainable variable: unused by the loss (`Unused`), or
/// used through `sqrt(Σw − Σw)`, whose value is 0 and whose gradient is infinite (`NanGradient`).
#[derive(Clone, Copy, PartialEq)]
enum Extra {
    Unused,
    NanGradient,
}

struct WithExtra {
    inner: TokeniserTask,
    extra: Extra,
}

const EXTRA: &str = "zz_extra.weight";

impl WithExtra {
    fn new(extra: Extra) -> Self {
        let inner = tokeniser_task(1);
        let t = Tensor::ones(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        inner
            .varmap()
            .data()
            .lock()
            .unwrap()
            .insert(EXTRA.into(), candle_core::Var::from_tensor(&t).unwrap());
        WithExtra { inner, extra }
    }
    fn var(&self) -> Tensor {
        self.inner.varmap().data().lock().unwrap()[EXTRA]
            .as_tensor()
            .clone()
    }
}

impl TrainTask for WithExtra {
    fn name(&self) -> &'static str {
        "with-extra"
    }
    fn varmap(&self) -> &VarMap {
        self.inner.varmap()
    }
    fn trainable_names(&self) -> phystok::Result<Vec<String>> {
        // every VarMap name, the extra one included
        let names = self.inner.trainable_names()?;
        assert!(names.iter().any(|n| n == EXTRA));
        Ok(names)
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
        Ok(match self.extra {
            Extra::Unused => loss,
            Extra::NanGradient => {
                let w = self.var().sum_all()?;
                (loss + (&w - w.detach())?.sqrt()?)?
            }
        })
    }
    fn predict(&self, window: &Tensor, fields: &ActiveFields) -> phystok::Result<(Tensor, Tensor)> {
        self.inner.predict(window, fields)
    }
    fn config_json(&self) -> phystok::Result<serde_json::Value> {
        self.inner.config_json()
    }
}

#[test]
fn a_variable_without_gradient_is_an_error_at_the_first_step() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let mut trainer = Trainer::builder(WithExtra::new(Extra::Unused), quiet(3))
        .train_data(vec![open(&dir)])
        .build()
        .unwrap();
    let err = trainer.fit_steps(3).unwrap_err();
    let Error::MissingGradient { step, ref names } = err else {
        panic!("expected MissingGradient, got {err}");
    };
    assert_eq!(
        (step, names.as_slice()),
        (1, [EXTRA.to_string()].as_slice())
    );
    assert!(err.to_string().contains(EXTRA), "{err}");
    assert_eq!(trainer.step(), 0, "nothing was updated");
}

#[test]
fn a_variable_without_gradient_is_a_recorded_warning_when_asked() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let cfg = quiet(3).with_missing_gradients(MissingGradients::Warn);
    let mut trainer = Trainer::builder(WithExtra::new(Extra::Unused), cfg)
        .train_data(vec![open(&dir)])
        .build()
        .unwrap();
    let h = trainer.fit_steps(3).unwrap();
    assert_eq!(h.steps.len(), 3);
    assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
    assert!(h.warnings[0].contains(EXTRA) && h.warnings[0].starts_with("step 1"));
    // and it survives a checkpoint
    let ckpt = root.path().join("ckpt");
    trainer.save_checkpoint(&ckpt).unwrap();
    let saved: phystok::train::History = Checkpoint::load(&ckpt, &Device::Cpu)
        .unwrap()
        .history()
        .unwrap()
        .unwrap();
    assert_eq!(saved.warnings, h.warnings);
}

#[test]
fn a_non_finite_gradient_names_the_step_and_the_variable() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let ckpt = root.path().join("ckpt");
    let mut trainer = Trainer::builder(WithExtra::new(Extra::NanGradient), quiet(3))
        .train_data(vec![open(&dir)])
        .checkpoint_dir(&ckpt)
        .build()
        .unwrap();
    let before = snapshot(trainer.task().varmap());
    let err = trainer.fit_steps(3).unwrap_err();
    let Error::Divergence {
        step,
        value,
        ref tensor,
    } = err
    else {
        panic!("expected Divergence, got {err}");
    };
    assert_eq!(step, 1);
    assert!(!value.is_finite());
    assert_eq!(tensor, &format!("gradient of {EXTRA}"));
    assert!(err.to_string().contains(EXTRA), "{err}");
    assert_eq!(
        snapshot(trainer.task().varmap()),
        before,
        "no weight touched"
    );
}

/// Trains `steps` steps of tokeniser pretraining with SOAP (compression draws from the
/// trainer's generator), from scratch or resuming `resume`.
fn soap_trainer(dir: &Path, steps: usize, resume: Option<&Path>) -> Trainer<TokeniserTask> {
    let soap = SoapConfig::paper_tokeniser().with_precondition_frequency(2);
    let cfg = quiet(steps)
        .with_optimiser(OptimiserConfig::Soap(soap))
        .with_seed(9);
    let mut b = Trainer::builder(tokeniser_task(4), cfg).train_data(vec![open(dir)]);
    if let Some(r) = resume {
        b = b.resume_from(r);
    }
    b.build().unwrap()
}

#[test]
fn tokeniser_pretraining_with_soap_resumes_bit_for_bit() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let mut straight = soap_trainer(&dir, 6, None);
    let all = straight.fit().unwrap();

    let ckpt = root.path().join("ckpt");
    let mut first = soap_trainer(&dir, 6, None);
    first.fit_steps(3).unwrap();
    first.save_checkpoint(&ckpt).unwrap();
    drop(first);
    let mut resumed = soap_trainer(&dir, 6, Some(&ckpt));
    assert_eq!(resumed.step(), 3);
    assert!(resumed.resumed().unwrap().contains("at step 3"));
    let h = resumed.fit().unwrap();
    assert_eq!(h.losses(), all.losses(), "bit-identical losses");
    assert_eq!(
        snapshot(resumed.task().varmap()),
        snapshot(straight.task().varmap()),
        "bit-identical weights"
    );
}

#[test]
fn resuming_refuses_other_settings_and_missing_state() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let ckpt = root.path().join("ckpt");
    let mut t = Trainer::builder(tokeniser_task(1), quiet(4).with_seed(3))
        .train_data(vec![open(&dir)])
        .build()
        .unwrap();
    t.fit_steps(2).unwrap();
    t.save_checkpoint(&ckpt).unwrap();

    let resume = |cfg: TrainerConfig, task: TokeniserTask, from: &Path| {
        Trainer::builder(task, cfg)
            .train_data(vec![open(&dir)])
            .resume_from(from)
            .build()
            .map(|_| ())
    };
    // the same settings (progress and intervals may differ) resume
    resume(
        quiet(4).with_seed(3).with_checkpoint_every(7),
        tokeniser_task(1),
        &ckpt,
    )
    .unwrap();
    let err = resume(quiet(4).with_seed(4), tokeniser_task(1), &ckpt).unwrap_err();
    assert!(
        err.to_string().contains("trainer.loader.seed")
            && err.to_string().contains("cannot resume"),
        "{err}"
    );
    let err = resume(quiet(4).with_seed(3), tokeniser_task(2), &ckpt).unwrap_err();
    assert!(err.to_string().contains("model.seed"), "{err}");

    let full = Checkpoint::load(&ckpt, &Device::Cpu).unwrap();
    let no_opt = root.path().join("no_opt");
    Checkpoint {
        optimiser: None,
        ..full.clone()
    }
    .save(&no_opt)
    .unwrap();
    let err = resume(quiet(4).with_seed(3), tokeniser_task(1), &no_opt).unwrap_err();
    assert!(err.to_string().contains("no optimiser state"), "{err}");
    let no_rng = root.path().join("no_rng");
    Checkpoint { rng: None, ..full }.save(&no_rng).unwrap();
    let err = resume(quiet(4).with_seed(3), tokeniser_task(1), &no_rng).unwrap_err();
    assert!(err.to_string().contains("no generator state"), "{err}");
}

#[test]
fn quick_presets_checkpoint_periodically() {
    for cfg in [
        TrainerConfig::quick_tokeniser(3000),
        TrainerConfig::quick_rollout(400),
        TrainerConfig::paper_tokeniser(),
        TrainerConfig::paper_rollout(),
        TrainerConfig::quick_tokeniser(3000).with_steps(50),
    ] {
        assert!(cfg.checkpoint_every > 0 && cfg.checkpoint_every <= cfg.steps);
        assert!(cfg.checkpoint_every_s > 0.0);
    }
    assert_eq!(TrainerConfig::quick_tokeniser(3000).checkpoint_every, 300);
}

#[test]
fn checkpoints_come_by_wall_time_too() {
    let root = tempfile::tempdir().unwrap();
    let dir = euler(root.path());
    let ckpt = root.path().join("ckpt");
    // steps alone would never save (every 1000 steps); a 1e-9 s interval saves every step
    let cfg = quiet(3)
        .with_checkpoint_every(1000)
        .with_checkpoint_every_s(1e-9);
    let mut t = Trainer::builder(tokeniser_task(1), cfg)
        .train_data(vec![open(&dir)])
        .checkpoint_dir(&ckpt)
        .build()
        .unwrap();
    t.fit_steps(2).unwrap();
    assert_eq!(Checkpoint::load(&ckpt, &Device::Cpu).unwrap().step, 2);
}
