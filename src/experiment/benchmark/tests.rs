//! The leaderboard joins whatever sibling studies wrote and refuses malformed files.

use std::path::Path;

use super::*;
use crate::Error;

fn row(model: &str, vrmse: f64) -> LeaderboardRow {
    LeaderboardRow {
        study: "benchmark".into(),
        model: model.into(),
        dataset: "shear_flow".into(),
        params: Some(1000),
        train_seconds: Some(2.0),
        steps: Some(60),
        seeds: 3,
        vrmse_next: vrmse,
        vrmse_next_std: Some(0.01),
        vrmse_rollout: [Some(vrmse), Some(2.0 * vrmse), None],
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_leaderboard_merges_existing_studies_and_skips_absent_ones() -> crate::Result<()> {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("benchmark");
    std::fs::create_dir_all(&out).unwrap();
    // the pretraining study's form, with runs.json beside it
    write(
        &root.path().join("reproduce/results.json"),
        r#"{"scratch": {"vrmse": {"mean": 0.5, "std": 0.1, "min": 0.4, "max": 0.6, "values": [0.4, 0.6]}, "h1": {"mean": 0.5}},
            "in_domain_frozen": {"vrmse": {"mean": 0.3, "std": 0.05, "values": [0.3]}}}"#,
    );
    write(
        &root.path().join("reproduce/runs.json"),
        r#"{"config": {"target_datasets": ["euler_multi_quadrants_periodicBC"]}, "runs": [{"total_params": 1234}]}"#,
    );
    // another study in the leaderboard form
    let physix_row = LeaderboardRow {
        study: "physix".into(),
        ..row("PhysiX", 0.2)
    };
    let physix = serde_json::json!({ "leaderboard": [physix_row] });
    write(
        &root.path().join("physix/results.json"),
        &physix.to_string(),
    );
    let board = Leaderboard::collect(&out, vec![row("FNO", 0.4), row("U-Net", 0.1)])?;
    assert_eq!(board.rows.len(), 5);
    assert_eq!(board.joined.len(), 2);
    assert_eq!(board.absent, vec!["compute-adaptive".to_string()]);
    let scratch = board.rows.iter().find(|r| r.model == "scratch").unwrap();
    assert_eq!(scratch.dataset, "euler_multi_quadrants_periodicBC");
    assert_eq!((scratch.params, scratch.seeds), (Some(1234), 2));
    // sorted by dataset, then VRMSE
    let shear: Vec<&str> = board
        .rows
        .iter()
        .filter(|r| r.dataset == "shear_flow")
        .map(|r| r.model.as_str())
        .collect();
    assert_eq!(shear, ["U-Net", "PhysiX", "FNO"]);
    board.save(&out)?;
    let md = std::fs::read_to_string(out.join("leaderboard.md")).unwrap();
    assert!(md.contains("PhysiX (physix)") && md.contains("not run yet: compute-adaptive"));
    let back: Leaderboard =
        serde_json::from_str(&std::fs::read_to_string(out.join("leaderboard.json")).unwrap())?;
    assert_eq!(back, board);
    Ok(())
}

#[test]
fn the_compute_adaptive_form_gives_one_row_per_model_and_patch() -> crate::Result<()> {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("benchmark");
    std::fs::create_dir_all(&out).unwrap();
    write(
        &root.path().join("compute-adaptive/results.json"),
        r#"{"config": {"dataset": "shear_flow"}, "models": [{"key": "ckm", "params": 48468, "steps": 450,
            "train_seconds": {"mean": 48.8}, "next_step": [{"patch": 2, "vrmse": {"mean": 0.2, "std": 0.02, "values": [0.2, 0.2]}},
            {"patch": 4, "vrmse": {"mean": 0.23}}], "rollouts": [{"schedule": "p2", "vrmse_per_step": [{"mean": 0.3}, {"mean": 0.4}, {"mean": 0.6}]}]}]}"#,
    );
    let board = Leaderboard::collect(&out, vec![])?;
    assert_eq!(board.rows.len(), 2);
    let p2 = &board.rows[0];
    assert_eq!(
        (p2.model.as_str(), p2.dataset.as_str(), p2.params, p2.seeds),
        ("ckm p2", "shear_flow", Some(48468), 2)
    );
    assert_eq!(p2.vrmse_rollout, [Some(0.3), Some(0.5), None]);
    assert_eq!(board.rows[1].vrmse_rollout, [None, None, None]);
    Ok(())
}

#[test]
fn a_malformed_study_result_is_an_error_naming_the_file() {
    for bad in [
        "{ not json",
        "[1, 2]",
        r#"{"leaderboard": [{"model": "x"}]}"#,
        r#"{"scratch": {"loss": 1.0}}"#,
        r#"{"models": [{"key": "ckm"}]}"#,
    ] {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("benchmark");
        std::fs::create_dir_all(&out).unwrap();
        let path = root.path().join("compute-adaptive/results.json");
        write(&path, bad);
        let err = Leaderboard::collect(&out, vec![row("FNO", 0.4)]).unwrap_err();
        match &err {
            Error::Format { path: p, .. } => assert!(p.ends_with("compute-adaptive/results.json")),
            other => panic!("{bad}: {other}"),
        }
        assert!(
            err.to_string().contains("compute-adaptive/results.json"),
            "{err}"
        );
    }
}

#[test]
fn presets_check() {
    assert!(BenchmarkConfig::quick().check().is_ok());
    assert!(BenchmarkConfig::paper().check().is_ok());
    assert!(BenchmarkConfig::quick().with_seeds(vec![]).check().is_err());
    assert!(BenchmarkConfig::quick().with_steps(0).check().is_err());
}
