//! Any `Emulator` gets the crate's window scoring: a model family written outside phystok
//! (here, persistence) is scored by `score_next_frame` and `score_rollouts`, the default
//! rollout slides its window, and a rollout's first step is its next-frame prediction.

use candle_core::{Device, Tensor};
use phystok::data::{ActiveFields, Split, WellDataset, WindowSpec};
use phystok::emulator::Emulator;
use phystok::metrics::{
    EvaluateOptions, HorizonScores, RolloutHorizon, WindowScoring, evaluate, score_next_frame,
    score_rollouts,
};
use phystok::model::RolloutConfig;
use phystok::sim::{GenerateConfig, System};
use phystok::{ConfigError, Error, Result};

/// Frame `t` predicted by frame `t − 1`.
struct Persistence {
    n_steps_input: usize,
}

impl Emulator for Persistence {
    fn n_steps_input(&self) -> usize {
        self.n_steps_input
    }
    fn device(&self) -> Result<Device> {
        Ok(Device::Cpu)
    }
    fn total_fields(&self) -> usize {
        5
    }
    fn predict_next(&self, context: &Tensor, _fields: &ActiveFields) -> Result<Tensor> {
        let t = context.dim(2)?;
        Ok(context.narrow(2, t - 1, 1)?)
    }
}

#[test]
fn any_emulator_is_scored_on_windows_and_rollouts() -> Result<()> {
    let root = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
    let dir = GenerateConfig::new(System::EulerPeriodic, root.path())
        .with_resolution(16)
        .with_trajectories(3)
        .with_steps(12)
        .generate()?;
    let ds = WellDataset::open(&dir, Split::Valid, WindowSpec::new(4, 6))?;
    let fields = ActiveFields::first(ds.channel_names().len());
    let model = Persistence { n_steps_input: 4 };
    let scoring = WindowScoring::default().with_windows(2).with_batch_size(1);

    let rollout = score_rollouts(&model, &ds, &fields, &scoring)?;
    assert_eq!(rollout.dims(), (2, 6, 5));
    // the default rollout of persistence repeats the last context frame: score it directly
    let window = ds
        .window(scoring.indices(ds.len())[1])?
        .to_tensor(&Device::Cpu)?;
    let xs = window.unsqueeze(0)?;
    let last = xs.narrow(2, 3, 1)?;
    let repeated = Tensor::cat(&[&last; 6], 2)?;
    let direct = evaluate(
        &repeated,
        &xs.narrow(2, 4, 6)?,
        &EvaluateOptions::default().with_channel_names(ds.channel_names().to_vec()),
    )?;
    for k in 0..6 {
        for c in 0..5 {
            let a = rollout.at(1, k, c).unwrap().vrmse;
            let b = direct.at(0, k, c).unwrap().vrmse;
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "step {k} ch {c}: {a} vs {b}"
            );
        }
    }
    // the rollout's first step is the next-frame prediction
    let next = score_next_frame(&model, &ds, &fields, &scoring)?;
    assert_eq!(next.dims(), (2, 1, 5));
    for s in 0..2 {
        for c in 0..5 {
            assert_eq!(next.at(s, 0, c), rollout.at(s, 0, c));
        }
    }
    let h = HorizonScores::from_grid(&rollout)?;
    assert!(h.get(RolloutHorizon::PAPER[0]).is_some());

    // the model's context length must be the dataset's
    let wrong = Persistence { n_steps_input: 5 };
    assert!(matches!(
        score_rollouts(&wrong, &ds, &fields, &scoring),
        Err(Error::Config(ConfigError::Mismatch { .. }))
    ));
    // and the library's own emulator goes through the same path
    let rollout_model = RolloutConfig::tiny()
        .with_n_steps_input(5)
        .init(&Device::Cpu)?;
    let ds5 = WellDataset::open(&dir, Split::Valid, WindowSpec::new(5, 2))?;
    let fields3 = ActiveFields::first(3);
    let narrow = Narrowed {
        inner: &rollout_model,
    };
    let grid = score_rollouts(&narrow, &ds5, &fields3, &scoring)?;
    assert_eq!(grid.dims(), (2, 2, 5));
    Ok(())
}

/// The tiny rollout model knows three fields: score it on Euler's first three channels by
/// predicting those and copying the rest (an emulator wrapping another).
struct Narrowed<'a> {
    inner: &'a phystok::model::RolloutModel,
}

impl Emulator for Narrowed<'_> {
    fn n_steps_input(&self) -> usize {
        self.inner.n_steps_input()
    }
    fn device(&self) -> Result<Device> {
        self.inner.device()
    }
    fn total_fields(&self) -> usize {
        5
    }
    fn predict_next(&self, context: &Tensor, _fields: &ActiveFields) -> Result<Tensor> {
        let t = context.dim(2)?;
        let head = self
            .inner
            .predict_next(&context.narrow(1, 0, 3)?, &ActiveFields::first(3))?;
        let tail = context.narrow(1, 3, 2)?.narrow(2, t - 1, 1)?;
        Ok(Tensor::cat(&[&head, &tail], 1)?)
    }
}
