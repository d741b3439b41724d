//! The tokeniser-option ablation study (`phystok reproduce ablations`) on toy data: every
//! row trains and is scored over every seed, the files are written, a rerun reuses the
//! pretrained tokenisers and reproduces every number, bad settings are refused.

use std::path::Path;

use phystok::experiment::{
    AblationChange, AblationConfig, AblationMetric, AblationResults, ExperimentConfig,
    QUICK_ABLATION_NORM_GROUPS,
};
use phystok::model::TrainingCompression;
use phystok::sim::{GenerateConfig, System};
use phystok::train::Progress;

fn euler_data(root: &Path) {
    for system in [System::EulerPeriodic, System::EulerOpen] {
        GenerateConfig::new(system, root)
            .with_resolution(16)
            .with_trajectories(3)
            .with_steps(28)
            .generate()
            .unwrap();
    }
}

fn toy() -> AblationConfig {
    let quick = AblationConfig::quick();
    let mut exp: ExperimentConfig = quick
        .experiment
        .with_steps(4, 4)
        .with_seeds([0, 1])
        .with_coarsen(1)
        .with_progress(Progress::Quiet);
    exp.curve_windows = 2;
    exp.horizon_windows = 1;
    exp.protocol = exp.protocol.clone().with_subset_size(4).with_n_subsets(3);
    AblationConfig {
        rows: AblationConfig::rows_for(&exp.model.tokeniser, QUICK_ABLATION_NORM_GROUPS),
        experiment: exp,
    }
}

#[test]
fn the_quick_ablation_starts_from_the_quick_preset_and_switches_one_thing_per_row() {
    let cfg = AblationConfig::quick();
    let quick = ExperimentConfig::quick();
    let keys: Vec<&str> = cfg.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "baseline",
            "transposed_upsampling",
            "both_heads_scaled",
            "pi_resize",
            "residual_blocks",
            "group_norm_per_frame",
            "rollout_fixed_compression",
            "rollout_sampled_compression"
        ]
    );
    let AblationChange::Tokeniser(base) = &cfg.rows[0].change else {
        panic!("baseline is a tokeniser row")
    };
    assert_eq!(base, &quick.model.tokeniser, "the quick preset's tokeniser");
    assert_eq!(cfg.experiment.model, quick.model);
    assert_eq!(cfg.experiment.target_datasets, quick.target_datasets);
    assert_eq!(cfg.experiment.seeds, quick.seeds);
    assert!(cfg.experiment.pretrain.steps < quick.pretrain.steps);
    cfg.check().unwrap();
    AblationConfig::paper().check().unwrap();
}

#[test]
fn the_ablation_study_runs_every_row_and_reruns_to_the_same_numbers() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    euler_data(&data);
    let out = root.path().join("out");
    let cfg = toy();
    let results = cfg.run(&data, &out).unwrap();
    assert_eq!(results.rows.len(), cfg.rows.len());
    for r in &results.rows {
        assert_eq!(r.vrmse.values.len(), 2, "{}", r.key);
        assert!(
            r.vrmse.values.iter().all(|v| v.is_finite() && *v > 0.0),
            "{}: {:?}",
            r.key,
            r.vrmse.values
        );
        assert!(r.parameters > 0);
    }
    let by_key = |k: &str| results.rows.iter().find(|r| r.key == k).unwrap();
    // each seed pretrains its own tokeniser
    assert_ne!(
        by_key("baseline").vrmse.values[0],
        by_key("baseline").vrmse.values[1]
    );
    // the norm adds a gain and a shift per channel, two norms per block: widths 8, 8, 16 in
    // the encoder, 16, 8, 8 in the decoder
    assert_eq!(
        by_key("group_norm_per_frame").parameters - by_key("residual_blocks").parameters,
        2 * 2 * (8 + 8 + 16 + 16 + 8 + 8)
    );
    assert_ne!(
        by_key("transposed_upsampling").parameters,
        by_key("baseline").parameters
    );
    assert_eq!(
        by_key("rollout_sampled_compression").metric,
        AblationMetric::NextFrame
    );
    assert_eq!(by_key("pi_resize").metric, AblationMetric::Reconstruction);
    for f in ["results.json", "tables.md", "figure.svg"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let tables = std::fs::read_to_string(out.join("tables.md")).unwrap();
    assert!(tables.contains("transposed_upsampling") && tables.contains("±"));
    let loaded = AblationResults::load(&out).unwrap();
    assert_eq!(loaded.rows, results.rows);
    assert!(!loaded.provenance.commit.is_empty());

    // a rerun reuses every pretrained tokeniser and retrains the rollout rows: same numbers
    let again = cfg.run(&data, &out).unwrap();
    for (a, b) in results.rows.iter().zip(&again.rows) {
        assert_eq!(a.vrmse.values, b.vrmse.values, "{}", a.key);
    }
}

#[test]
fn bad_ablation_settings_are_config_errors_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("never");
    let out = root.path().join("out");
    let mut cfg = toy();
    cfg.rows.clear();
    let err = cfg.run(&data, &out).unwrap_err();
    assert!(err.to_string().contains("rows"), "{err}");
    let mut cfg = toy();
    let n = cfg.rows.len();
    cfg.rows.rotate_left(n - 1);
    assert!(matches!(
        cfg.rows[0].change,
        AblationChange::Rollout(TrainingCompression::Sampled)
    ));
    let err = cfg.run(&data, &out).unwrap_err();
    assert!(err.to_string().contains("rows"), "{err}");
    let mut cfg = toy();
    cfg.rows[1].key = "baseline".into();
    assert!(cfg.check().is_err());
    let cfg = toy().with_steps(0, 4);
    let err = cfg.run(&data, &out).unwrap_err();
    assert!(err.to_string().contains("steps"), "{err}");
    assert!(
        AblationConfig::preset("huge")
            .unwrap_err()
            .to_string()
            .contains("huge")
    );
    assert!(!data.exists(), "nothing simulated for refused settings");
}
