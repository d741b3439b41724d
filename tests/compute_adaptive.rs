//! The compute-adaptive study end to end at toy size: every model and seed runs, each model
//! is scored at every size it runs at and under every schedule, the files are written, and a
//! grid the model was not configured for is a typed error before any training.

use std::path::Path;

use phystok::experiment::{ComputeAdaptiveConfig, ComputeAdaptiveResults, StudyModel};
use phystok::nn::KernelResize;
use phystok::patch::PatchConfig;
use phystok::processor::ProcessorConfig;
use phystok::sim::{GenerateConfig, System};
use phystok::{ConfigError, Error};

fn toy_data(root: &Path) {
    GenerateConfig::new(System::ShearFlow, root)
        .with_resolution(16)
        .with_trajectories(3)
        .with_steps(20)
        .generate()
        .unwrap();
}

fn toy_config() -> ComputeAdaptiveConfig {
    let mut cfg = ComputeAdaptiveConfig::quick()
        .with_steps(2)
        .with_seeds(vec![0, 1]);
    cfg.model = PatchConfig::tiny()
        .with_grid(16, 16)
        .with_n_steps_input(4)
        .with_processor(
            ProcessorConfig::tiny()
                .with_latent_channels(16)
                .with_drop_path(0.0),
        );
    cfg.trainer = cfg.trainer.with_coarsen(1);
    cfg.models = ComputeAdaptiveConfig::models_of(&cfg.model, true);
    cfg.eval_windows = 2;
    cfg.rollout_windows = 2;
    cfg.rollout_steps = 4;
    cfg
}

#[test]
fn the_study_runs_and_reports_every_model_size_and_schedule() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    toy_data(&data);
    let out = root.path().join("out");
    let results = toy_config().run(&data, &out).unwrap();
    let keys: Vec<&str> = results.models.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "ckm",
            "csm",
            "fixed_p2",
            "fixed_p4",
            "fixed_p8",
            "ckm_adjoint"
        ]
    );
    for m in &results.models {
        let (sizes, schedules): (Vec<usize>, Vec<&str>) = match m.model {
            StudyModel::Fixed(p) => (vec![p], vec![]),
            _ => (vec![2, 4, 8], vec!["p2", "p4", "p8", "cyclic"]),
        };
        assert_eq!(
            m.next_step.iter().map(|s| s.patch).collect::<Vec<_>>(),
            sizes
        );
        for s in &m.next_step {
            assert_eq!(s.tokens, (16 / s.patch) * (16 / s.patch));
            assert_eq!(s.vrmse.values.len(), 2, "one value per seed");
            assert!(s.vrmse.mean.is_finite() && s.vrmse.mean > 0.0);
        }
        if m.model.is_adaptive() {
            let got: Vec<&str> = m.rollouts.iter().map(|r| r.schedule.as_str()).collect();
            assert_eq!(got, schedules);
            assert_eq!(m.steps, 6, "the three fixed models' combined budget");
        } else {
            assert_eq!(m.rollouts.len(), 1);
            assert_eq!(m.steps, 2);
        }
        for r in &m.rollouts {
            assert_eq!(r.vrmse_per_step.len(), 4);
            assert!(r.spike_score.mean.is_finite());
            assert_eq!(r.last_spectrum.len(), results.k.len());
        }
    }
    // seeds differ
    assert!(results.models[0].next_step[0].vrmse.std > 0.0);
    assert_eq!(
        results.models[5].model,
        StudyModel::Ckm(KernelResize::Adjoint)
    );
    for file in [
        "results.json",
        "tables.md",
        "figure3.svg",
        "figure2_spectra.svg",
        "figure2_snapshot_ckm_cyclic.svg",
        "figure2_snapshot_fixed_p8_p8.svg",
    ] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let back = ComputeAdaptiveResults::load(&out).unwrap();
    assert_eq!(back, results);
    let text = results.to_string();
    assert!(text.contains("tokens") && text.contains("cyclic"));
}

#[test]
fn a_grid_that_does_not_fit_the_data_is_named_before_training() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    toy_data(&data);
    let mut cfg = toy_config();
    cfg.model = cfg.model.with_grid(32, 32);
    let e = cfg.run(&data, root.path().join("out")).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Config(ConfigError::Mismatch {
                name: "model grid",
                ..
            })
        ),
        "{e}"
    );
}
