//! The saved notebooks: each is a Rust (evcxr) notebook whose first code cell loads this
//! crate by path, and each carries the outputs of a clean run (every code cell executed, no
//! error output, nothing on standard error, no panic). `scripts/notebooks.sh` produces those
//! outputs with the real Jupyter and evcxr; this test checks what was saved, without them.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn notebooks() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("notebooks/ exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    paths.sort();
    paths
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .collect()
}

#[test]
fn the_five_notebooks_exist_and_load_phystok_by_path() {
    let names: Vec<String> = notebooks()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "01-quickstart",
        "02-tokeniser-tutorial",
        "03-reproduce-table5-figure2",
        "04-freezing-and-long-rollouts",
        "05-spectral-analysis",
    ] {
        assert!(names.iter().any(|n| n == want), "missing notebook {want}");
    }
    for path in notebooks() {
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        assert_eq!(
            nb["metadata"]["kernelspec"]["name"],
            "rust",
            "{}",
            path.display()
        );
        let first = text(&code_cells(&nb)[0]["source"]);
        assert!(
            first
                .lines()
                .any(|l| l.trim() == r#":dep phystok = { path = ".." }"#),
            "{}: the first code cell must load phystok by path, got {first:?}",
            path.display()
        );
    }
}

#[test]
fn saved_outputs_come_from_a_clean_run() {
    for path in notebooks() {
        let nb: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for (i, cell) in code_cells(&nb).into_iter().enumerate() {
            let where_ = format!("{} code cell {i}", path.display());
            assert!(
                cell["execution_count"].is_number(),
                "{where_}: not executed (run scripts/notebooks.sh)"
            );
            for out in cell["outputs"].as_array().into_iter().flatten() {
                assert_ne!(out["output_type"], "error", "{where_}: error output {out}");
                if out["output_type"] == "stream" {
                    assert_ne!(
                        out["name"],
                        "stderr",
                        "{where_}: stderr {}",
                        text(&out["text"])
                    );
                }
                let all = out.to_string();
                assert!(!all.contains("panicked at"), "{where_}: a panic");
            }
        }
    }
}
