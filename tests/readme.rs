//! The README's Table 5 is the published run's: every number in its block equals
//! `docs/results/results.json`, and the compute-adaptive and ablation tables equal their
//! studies' `results.json` (written together by `scripts/results.sh`; never by hand).

use serde_json::Value;

/// Checks the main study's README block between `<!-- {marker}:begin` and
/// `<!-- {marker}:end -->`: at least five rows, each a configuration of `results.json`, the
/// cell of each `(column, metric)` its `mean ± std` to four places.
fn check_main_study_block(marker: &str, columns: &[(usize, &str)]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/results/results.json")).unwrap(),
    )
    .unwrap();
    let start = readme
        .find(&format!("<!-- {marker}:begin"))
        .unwrap_or_else(|| panic!("{marker} markers in README.md"));
    let end = readme
        .find(&format!("<!-- {marker}:end -->"))
        .unwrap_or_else(|| panic!("{marker} end marker"));
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| configuration"))
        .collect();
    assert!(rows.len() >= 5, "{rows:?}");
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let key = cells[0];
        let arm = &results[key];
        assert!(arm.is_object(), "{key} not in results.json");
        for &(column, metric) in columns {
            let want = format!(
                "{:.4} ± {:.4}",
                arm[metric]["mean"].as_f64().unwrap(),
                arm[metric]["std"].as_f64().unwrap()
            );
            assert_eq!(cells[column], want, "{key} {metric}");
        }
    }
}

#[test]
fn readme_table5_equals_the_published_results() {
    check_main_study_block(
        "table5",
        &[
            (1, "vrmse"),
            (3, "neps_low"),
            (4, "neps_mid"),
            (5, "neps_high"),
        ],
    );
}

#[test]
fn readme_horizon_table_equals_the_published_results() {
    check_main_study_block(
        "horizons",
        &[
            (1, "h1"),
            (2, "h2"),
            (3, "h3_6"),
            (4, "h7_18"),
            (5, "spike_score"),
        ],
    );
}

#[test]
fn readme_compute_adaptive_table_equals_the_published_results() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/results/compute-adaptive/results.json")).unwrap(),
    )
    .unwrap();
    let start = readme
        .find("<!-- compute-adaptive:begin")
        .expect("compute-adaptive markers in README.md");
    let end = readme
        .find("<!-- compute-adaptive:end -->")
        .expect("compute-adaptive end marker");
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| tokens"))
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let models = results["models"].as_array().unwrap();
    let cell = |key: &str, tokens: u64| -> Option<(String, u64)> {
        let m = models.iter().find(|m| m["key"] == key)?;
        let s = m["next_step"]
            .as_array()?
            .iter()
            .find(|s| s["tokens"].as_u64() == Some(tokens))?;
        let v = &s["vrmse"];
        Some((
            format!("{:.4} ± {:.4}", v["mean"].as_f64()?, v["std"].as_f64()?),
            s["patch"].as_u64()?,
        ))
    };
    for row in rows {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let tokens: u64 = cells[0].parse().unwrap();
        for (i, key) in ["ckm", "csm", "ckm_adjoint"].into_iter().enumerate() {
            assert_eq!(
                cells[i + 1],
                cell(key, tokens).unwrap().0,
                "{key} at {tokens}"
            );
        }
        let fixed = ["fixed_p2", "fixed_p4", "fixed_p8"]
            .into_iter()
            .find_map(|k| cell(k, tokens))
            .unwrap();
        assert_eq!(cells[4], format!("{} (p{})", fixed.0, fixed.1));
    }
}

#[test]
fn readme_ablation_table_equals_the_published_results() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/results/ablations/results.json")).unwrap(),
    )
    .unwrap();
    let start = readme
        .find("<!-- ablations:begin")
        .expect("ablations markers in README.md");
    let end = readme
        .find("<!-- ablations:end -->")
        .expect("ablations end marker");
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| row"))
        .collect();
    let published = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), published.len(), "{rows:?}");
    for (row, want) in rows.iter().zip(published) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        assert_eq!(cells[0], want["key"].as_str().unwrap());
        let v = &want["vrmse"];
        assert_eq!(
            cells[2],
            format!(
                "{:.4} ± {:.4}",
                v["mean"].as_f64().unwrap(),
                v["std"].as_f64().unwrap()
            ),
            "{}",
            cells[0]
        );
        assert_eq!(
            cells[5].replace(',', ""),
            want["parameters"].as_u64().unwrap().to_string()
        );
    }
}

#[test]
fn readme_physix_table_equals_the_published_results() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let tables = std::fs::read_to_string(root.join("docs/results/physix/tables.md")).unwrap();
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/results/physix/results.json")).unwrap(),
    )
    .unwrap();
    let start = readme
        .find("<!-- physix:begin")
        .expect("physix markers in README.md");
    let end = readme
        .find("<!-- physix:end -->")
        .expect("physix end marker");
    let rows: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| dataset"))
        .collect();
    // the README's rows are those of the study's own tables.md
    for row in &rows {
        assert!(tables.lines().any(|l| l == *row), "{row} not in tables.md");
    }
    // and every dataset's rows carry results.json's numbers
    let datasets = results["datasets"].as_array().unwrap();
    assert!(!datasets.is_empty());
    let pm = |s: &Value| {
        format!(
            "{:.4} ± {:.4}",
            s["mean"].as_f64().unwrap(),
            s["std"].as_f64().unwrap()
        )
    };
    for d in datasets {
        let name = d["dataset"].as_str().unwrap();
        let of = |model: &str| -> Vec<&str> {
            let row = rows
                .iter()
                .find(|r| r.starts_with(&format!("| {name} | {model} |")))
                .unwrap_or_else(|| panic!("no {model} row for {name}"));
            row.trim_matches('|').split('|').map(str::trim).collect()
        };
        for (k, model) in ["AR only", "AR + refinement"].into_iter().enumerate() {
            let cells = of(model);
            assert_eq!(
                cells[2],
                format!("{:.4}", d["reconstruction_vrmse"].as_f64().unwrap())
            );
            assert_eq!(cells[4], pm(&d["next_frame"][k]), "{name} {model}");
            for w in 0..3 {
                assert_eq!(cells[5 + w], pm(&d["windows"][k][w]), "{name} {model}");
            }
        }
        let c = &d["continuous"];
        if c.is_object() {
            let cells = of("continuous (main study)");
            assert_eq!(
                cells[2],
                format!("{:.4}", c["reconstruction_vrmse"].as_f64().unwrap())
            );
            assert_eq!(cells[4], pm(&c["next_frame"]), "{name} continuous");
            for w in 0..3 {
                assert_eq!(cells[5 + w], pm(&c["windows"][w]), "{name} continuous");
            }
        }
    }
}
