//! The README's Table 5 is the published run's: every number in its block equals
//! `docs/results/results.json` (written together by `scripts/results.sh`; never by hand).

use serde_json::Value;

#[test]
fn readme_table5_equals_the_published_results() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("docs/results/results.json")).unwrap(),
    )
    .unwrap();
    let start = readme
        .find("<!-- table5:begin")
        .expect("table5 markers in README.md");
    let end = readme
        .find("<!-- table5:end -->")
        .expect("table5 end marker");
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
        for (cell, metric) in [
            (cells[1], "vrmse"),
            (cells[3], "neps_low"),
            (cells[4], "neps_mid"),
            (cells[5], "neps_high"),
        ] {
            let want = format!(
                "{:.4} ± {:.4}",
                arm[metric]["mean"].as_f64().unwrap(),
                arm[metric]["std"].as_f64().unwrap()
            );
            assert_eq!(cell, want, "{key} {metric}");
        }
    }
}
