//! Runs are reproducible: two quick-size runs of the out-of-domain configurations (the
//! pretraining that mixes four datasets, then rollout training) give the same
//! `results.json` (timings aside) and the same histories bit for bit; a corrupt pretraining
//! checkpoint is an error naming it, never silently retrained; a complete one is reused.

use std::path::Path;

use phystok::experiment::{Arm, ExperimentConfig, Pretraining};
use phystok::freeze::FreezeStrategy;
use phystok::sim::{GenerateConfig, System};
use phystok::train::Progress;

fn toy_data(root: &Path) {
    for system in System::ALL {
        GenerateConfig::new(system, root)
            .with_resolution(16)
            .with_trajectories(3)
            .with_steps(28)
            .generate()
            .unwrap();
    }
}

fn out_of_domain_config() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::quick()
        .with_steps(4, 4)
        .with_seeds([0])
        .with_coarsen(1)
        .with_progress(Progress::Quiet)
        .with_arms(vec![
            Arm::new(Pretraining::OutOfDomain, FreezeStrategy::FullyTrainable),
            Arm::new(Pretraining::OutOfDomain, FreezeStrategy::MostlyFrozen),
        ]);
    cfg.eval_points = 2;
    cfg.curve_windows = 2;
    cfg.horizon_windows = 1;
    cfg.protocol = cfg.protocol.clone().with_subset_size(4).with_n_subsets(3);
    cfg
}

/// `results.json` without wall-clock entries (timings, and the provenance's start time).
fn without_timings(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .filter(|(k, _)| !k.contains("seconds") && k != "started_unix")
                .map(|(k, v)| (k, without_timings(v)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn two_out_of_domain_runs_are_identical_and_a_corrupt_checkpoint_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    toy_data(&data);
    let cfg = out_of_domain_config();
    let (a_dir, b_dir) = (root.path().join("a"), root.path().join("b"));
    let a = cfg.run(&data, &a_dir).unwrap();
    let b = cfg.run(&data, &b_dir).unwrap();
    let json =
        |r: &phystok::experiment::ExperimentResults| without_timings(r.results_json().unwrap());
    assert_eq!(json(&a), json(&b), "results.json");
    let losses =
        |h: &phystok::train::History| h.losses().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (p, q) in a.pretraining.iter().zip(&b.pretraining) {
        assert_eq!(losses(&p.history), losses(&q.history), "pretraining losses");
        assert_eq!(
            p.history.validation, q.history.validation,
            "pretraining VRMSE"
        );
    }
    for (p, q) in a.runs.iter().zip(&b.runs) {
        assert_eq!(losses(&p.history), losses(&q.history), "{}", p.arm.key());
    }

    // a truncated weights file: an error naming the folder, the file left as it was
    let ckpt = b_dir.join("checkpoints/tokeniser_out_of_domain_seed0");
    let weights = ckpt.join("weights.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let err = cfg.run(&data, &b_dir).unwrap_err().to_string();
    assert!(
        err.contains("tokeniser_out_of_domain_seed0") && err.contains("cannot be read"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&weights).unwrap().len(),
        bytes.len() / 2,
        "not retrained"
    );
    // garbage in the manifest: the same
    std::fs::write(&weights, &bytes).unwrap();
    std::fs::write(ckpt.join("checkpoint.json"), "{ not json").unwrap();
    let err = cfg.run(&data, &b_dir).unwrap_err().to_string();
    assert!(err.contains("cannot be read"), "{err}");

    // the complete checkpoint of run a is reused: the same pretraining history
    let again = cfg.run(&data, &a_dir).unwrap();
    assert_eq!(
        again.pretraining[0].history, a.pretraining[0].history,
        "reused, not retrained"
    );
    // a longer run with the same (constant) schedule continues the checkpoint
    let longer = cfg.clone().with_steps(6, 4).run(&data, &a_dir).unwrap();
    let h = &longer.pretraining[0].history;
    assert_eq!(h.steps.len(), 6);
    assert_eq!(
        losses(h)[..4],
        losses(&a.pretraining[0].history)[..],
        "continued"
    );
    // another optimiser setting does not match it: refused, naming the setting
    let mut other = cfg.clone().with_steps(8, 4);
    other.pretrain = other
        .pretrain
        .with_schedule(phystok::optim::ScheduleConfig::constant(1e-3));
    let err = other.run(&data, &a_dir).unwrap_err().to_string();
    assert!(
        err.contains("cannot resume") && err.contains("trainer.schedule.peak_lr"),
        "{err}"
    );
}
