//! The saved notebooks: each is a Rust (evcxr) notebook whose first code cell loads this
//! crate through `notebooks/phystok-nb` (one shared copy of phystok and candle for every
//! cell, so models live across cells), and each carries the outputs of a clean run (every
//! code cell executed, no error output, nothing on standard error, no panic).
//! `scripts/notebooks.sh` produces those outputs with the real Jupyter and evcxr, and runs
//! the test notebooks of `tests/notebooks/` (which assert that a model built in one cell
//! trains in the next); this test checks what was saved, without them.

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
fn the_notebooks_exist_and_load_phystok_through_the_shared_library() {
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
        for want in [
            r#":dep phystok-nb = { path = "phystok-nb" }"#,
            "use phystok_nb::{phystok, candle_core, candle_nn};",
        ] {
            assert!(
                first.lines().any(|l| l.trim() == want),
                "{}: the first code cell must have `{want}`, got {first:?}",
                path.display()
            );
        }
        // a cell that brings its own candle would link a second copy of it
        for cell in code_cells(&nb) {
            let source = text(&cell["source"]);
            assert!(
                !source.contains(":dep candle") && !source.contains(":dep phystok ="),
                "{}: a cell loads candle or phystok on its own: {source:?}",
                path.display()
            );
        }
    }
    let wrapper = Path::new(env!("CARGO_MANIFEST_DIR")).join("notebooks/phystok-nb/Cargo.toml");
    let manifest = std::fs::read_to_string(&wrapper).expect("notebooks/phystok-nb exists");
    assert!(
        manifest.contains(r#"crate-type = ["dylib"]"#),
        "phystok-nb must be a dylib"
    );
}

#[test]
fn the_cross_cell_check_notebook_exists() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/notebooks/cross-cell.ipynb");
    let nb: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let all: String = code_cells(&nb).iter().map(|c| text(&c["source"])).collect();
    assert!(all.contains("assert_eq!(across_cells, within_one_cell"));
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
