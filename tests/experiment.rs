//! The pretraining grid end to end at toy size: every configuration and seed runs, the
//! results hold what `results.json` promises, the figures are written, and a second run
//! reuses the pretrained tokenisers.

use std::path::Path;

use phystok::experiment::{Arm, ExperimentConfig, ExperimentResults, Pretraining};
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

fn toy_config() -> ExperimentConfig {
    let mut cfg = ExperimentConfig::quick()
        .with_steps(4, 4)
        .with_seeds([0, 1])
        .with_coarsen(1)
        .with_progress(Progress::Quiet);
    cfg.eval_points = 2;
    cfg.curve_windows = 2;
    cfg.horizon_windows = 1;
    cfg.protocol = cfg.protocol.clone().with_subset_size(4).with_n_subsets(3);
    cfg
}

#[test]
fn the_grid_runs_and_reports_every_configuration() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    toy_data(&data);
    let out = root.path().join("out");
    let cfg = toy_config();
    let results = cfg.run(&data, &out).unwrap();
    assert_eq!(results.runs.len(), 5 * 2);
    // one pretraining per domain and seed: the spread over seeds covers pretraining
    assert_eq!(results.pretraining.len(), 2 * 2);
    let in_domain: Vec<_> = results
        .pretraining
        .iter()
        .filter(|p| p.pretraining == Pretraining::InDomain)
        .collect();
    assert_eq!(in_domain.iter().map(|p| p.seed).collect::<Vec<_>>(), [0, 1]);
    assert_ne!(
        in_domain[0].history.losses(),
        in_domain[1].history.losses(),
        "each seed pretrains its own tokeniser"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let run = &json["run"];
    assert_eq!(run["provenance"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(run["provenance"]["threads"].as_u64().unwrap() >= 1);
    assert!(!run["provenance"]["cpu"].as_str().unwrap().is_empty());
    assert!(!run["provenance"]["commit"].as_str().unwrap().is_empty());
    assert_eq!(run["config"]["preset"], "quick");
    assert!(run["total_seconds"].as_f64().unwrap() > 0.0);
    let keys: Vec<&String> = json
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "run")
        .collect();
    let mut want = vec![
        "scratch",
        "in_domain_trainable",
        "in_domain_frozen",
        "out_of_domain_trainable",
        "out_of_domain_frozen",
    ];
    want.sort();
    let mut got: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
    got.sort();
    assert_eq!(got, want);
    for key in want {
        for metric in [
            "vrmse",
            "neps_low",
            "neps_mid",
            "neps_high",
            "h1",
            "h2",
            "h3_6",
            "h7_18",
        ] {
            let m = &json[key][metric];
            let mean = m["mean"].as_f64().unwrap();
            assert!(mean.is_finite() && mean >= 0.0, "{key}.{metric} = {m}");
            assert!(m["std"].as_f64().unwrap() >= 0.0);
            let values = m["values"].as_array().unwrap();
            assert_eq!(values.len(), 2, "one value per seed");
            let avg = values.iter().map(|v| v.as_f64().unwrap()).sum::<f64>() / 2.0;
            assert!(
                (avg - mean).abs() < 1e-9 * mean.max(1.0),
                "mean of the seeds"
            );
        }
    }
    // every arm's rollouts carry a harmonic-spike score per seed (a log ratio: any sign)
    for key in ["scratch", "in_domain_trainable", "out_of_domain_frozen"] {
        let spike = &json[key]["spike_score"];
        assert!(
            spike["mean"].as_f64().unwrap().is_finite(),
            "{key}: {spike}"
        );
        assert_eq!(spike["values"].as_array().unwrap().len(), 2);
    }
    // seeds differ, so the spread is not zero
    assert!(json["scratch"]["vrmse"]["std"].as_f64().unwrap() > 0.0);
    // scratch and the pretrained arms start from different tokenisers
    let start = |arm: Arm| results.runs_of(&arm)[0].curve[0].vrmse;
    use phystok::freeze::FreezeStrategy::{FullyTrainable as Trainable, MostlyFrozen};
    assert_ne!(
        start(Arm::new(Pretraining::Scratch, Trainable)),
        start(Arm::new(Pretraining::InDomain, Trainable))
    );
    for run in &results.runs {
        assert_eq!(run.steps, 4);
        assert_eq!(
            run.curve.iter().map(|p| p.step).collect::<Vec<_>>(),
            [0, 2, 4]
        );
        assert!(run.train_seconds > 0.0);
        if run.arm.strategy == MostlyFrozen {
            assert!(run.trainable_params < run.total_params);
        }
    }
    for file in ["runs.json", "tables.md", "figure2.svg", "figure3.svg"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let back = ExperimentResults::load(&out).unwrap();
    assert_eq!(back.results_json().unwrap(), json);
    let text = results.to_string();
    assert!(text.contains("Table 5") && text.contains("in_domain_frozen"));

    // a second run reuses both pretrained tokenisers: same pretraining histories
    let again = cfg
        .with_arms(vec![Arm::new(Pretraining::InDomain, Trainable)])
        .with_seeds([0]);
    let second = again.run(&data, root.path().join("out")).unwrap();
    assert_eq!(second.pretraining.len(), 1);
    assert_eq!(
        second.pretraining[0].history.steps, results.pretraining[0].history.steps,
        "reused, not retrained"
    );
    let first_run = &results.runs_of(&Arm::new(Pretraining::InDomain, Trainable))[0];
    assert_eq!(
        second.runs[0].history.losses(),
        first_run.history.losses(),
        "same seed, same pretrained tokeniser: same run"
    );
}

#[test]
fn bad_experiment_settings_are_typed_errors() {
    let root = tempfile::tempdir().unwrap();
    assert!(ExperimentConfig::preset("huge").is_err());
    let err = toy_config()
        .with_seeds([])
        .run(root.path(), root.path())
        .unwrap_err();
    assert!(err.to_string().contains("seeds"), "{err}");
    let mut cfg = toy_config();
    cfg.target_datasets = vec!["no_such_dataset".into()];
    let err = cfg.run(root.path(), root.path()).unwrap_err();
    assert!(err.to_string().contains("no_such_dataset"), "{err}");
}

#[test]
fn both_presets_know_exactly_the_fields_of_their_datasets() {
    // The tokeniser's vocabulary is the preset's, not the data's: the parameter counts the
    // docs print (TokeniserConfig::paper(): 4,852,196) are what trains, because the union
    // of the fields of Euler, shear flow, Rayleigh–Bénard and active matter is exactly the
    // 18 the presets declare.
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    toy_data(&data);
    for cfg in [ExperimentConfig::quick(), ExperimentConfig::paper()] {
        let names: Vec<Vec<String>> = cfg
            .target_datasets
            .iter()
            .chain(&cfg.other_datasets)
            .map(|n| {
                phystok::data::WellDataset::open(
                    data.join(n),
                    phystok::data::Split::Train,
                    phystok::data::WindowSpec::new(4, 1),
                )
                .unwrap()
                .channel_names()
                .to_vec()
            })
            .collect();
        let union = phystok::data::FieldVocabulary::union(names.iter().map(|v| v.as_slice()));
        assert_eq!(union.len(), 18, "{:?}", union.names());
        assert_eq!(cfg.model.tokeniser.total_fields, 18, "{}", cfg.preset);
        assert!(cfg.other_datasets.contains(&"active_matter".to_string()));
    }
    // A tokeniser that knows fewer fields than the data holds is refused before training.
    let mut cfg = toy_config();
    cfg.model.tokeniser.total_fields = 11;
    let e = cfg.run(&data, root.path().join("out")).unwrap_err();
    assert!(
        e.to_string().contains("total_fields") && e.to_string().contains("D_xx"),
        "{e}"
    );
}

#[test]
fn the_paper_presets_run_as_the_paper_ran() {
    let paper = ExperimentConfig::paper();
    assert_eq!(paper.rollout.steps, 10_500, "Table 5");
    assert_eq!(
        paper.horizon_windows * paper.target_datasets.len(),
        1024,
        "Figure 3 averages 1,024 validation windows"
    );
    for (name, steps) in [
        ("paper", 10_500),
        ("paper-figure2", 29_400),
        ("paper-figure3", 210_000),
    ] {
        let cfg = ExperimentConfig::preset(name).unwrap();
        assert_eq!(cfg.rollout.steps, steps, "{name}");
        assert_eq!(cfg.pretrain.steps, 168_000, "{name}");
        cfg.check().unwrap();
        // the schedule's cooldown happens inside the run: the last step's rate is a small
        // fraction of the rate before the cooldown
        let s = cfg.rollout.schedule.build().unwrap();
        let peak = s.lr(steps / 7);
        assert!(
            s.lr(steps - 1) < 0.01 * peak,
            "{name}: {} vs {peak}",
            s.lr(steps - 1)
        );
    }
    assert!(ExperimentConfig::preset("paper-figure4").is_err());
}

#[test]
fn the_paper_presets_refuse_simulated_data_unless_allowed() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let out = root.path().join("out");
    let paper = ExperimentConfig::paper();
    assert_eq!(paper.data, phystok::experiment::DataPolicy::RequireWell);
    // nothing there: refused before anything is simulated
    let e = paper.run(&data, &out).unwrap_err().to_string();
    assert!(
        e.contains("is not there") && e.contains("--allow-simulated"),
        "{e}"
    );
    assert!(!data.exists(), "nothing simulated");
    // simulated data there: refused by name
    toy_data(&data);
    let e = paper.run(&data, &out).unwrap_err().to_string();
    assert!(
        e.contains("simulated data") && e.contains("euler_multi_quadrants"),
        "{e}"
    );
    assert!(!out.exists(), "nothing written");
    assert!(phystok::sim::GenerateConfig::was_simulated(
        data.join("active_matter")
    ));
}
