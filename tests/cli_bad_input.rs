//! Bad input to the `phystok` command line, run as a user would: every case exits with
//! status 1 (2 for clap's own argument errors) and a one-line message naming what is
//! wrong, quickly (sizes and folders are checked before any simulation), never a panic,
//! an abort or a signal.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::formula_file;
use phystok::sim::{GenerateConfig, System};

/// Runs `phystok args…` in `cwd`; returns (exit code, stderr, elapsed).
fn phystok(cwd: &Path, args: &[&str]) -> (Option<i32>, String, Duration) {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_phystok"))
        .args(args)
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run phystok");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t.elapsed(),
    )
}

#[test]
fn bad_input_is_refused_cleanly_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let ds = GenerateConfig::new(System::EulerPeriodic, r.join("coll"))
        .with_resolution(16)
        .with_trajectories(3)
        .with_steps(12)
        .generate()
        .unwrap();
    let ds_s = ds.to_str().unwrap().to_string();
    let file = r.join("plain.txt");
    std::fs::write(&file, "not a dataset").unwrap();
    let file_s = file.to_str().unwrap().to_string();
    std::fs::create_dir(r.join("empty")).unwrap();
    let well = r.join("target.hdf5");
    formula_file(1, 6, 4, 4).write(&well).unwrap();
    let well_s = well.to_str().unwrap().to_string();
    let mut nan = formula_file(1, 6, 4, 4);
    nan.fields[0].data[2 * 16 + 7] = f32::NAN;
    let nan_path = r.join("nan.hdf5");
    nan.write(&nan_path).unwrap();
    let trunc = r.join("truncated.hdf5");
    let bytes = std::fs::read(&well).unwrap();
    std::fs::write(&trunc, &bytes[..bytes.len() / 3]).unwrap();
    let out_under_file = format!("{file_s}/out");
    let data = r.join("data").to_str().unwrap().to_string();
    let empty = r.join("empty").to_str().unwrap().to_string();
    let nothing = r.join("nothing").to_str().unwrap().to_string();
    let root_s = r.to_str().unwrap().to_string();
    let trunc_s = trunc.to_str().unwrap().to_string();
    let nan_s = nan_path.to_str().unwrap().to_string();

    // (arguments, exit code, a fragment the message must hold)
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["generate", "euler", "--out", "g", "--steps", "4000000000"],
            1,
            "limit",
        ),
        (
            vec![
                "generate",
                "euler",
                "--out",
                "g",
                "--trajectories",
                "100000000",
            ],
            1,
            "limit",
        ),
        (
            vec!["generate", "euler", "--out", "g", "--resolution", "100"],
            1,
            "power of two",
        ),
        (
            vec!["generate", "euler", "--out", "g", "--resolution", "4096"],
            1,
            "resolution",
        ),
        (
            vec!["generate", "euler", "--out", "g", "--trajectories", "2"],
            1,
            "trajectories",
        ),
        (vec!["generate", "nosuch", "--out", "g"], 1, "nosuch"),
        (
            vec!["generate", "euler", "--out", "g", "--steps=-3"],
            2,
            "steps",
        ),
        (
            vec!["inspect", &ds_s, "--n-steps-input", "0"],
            1,
            "n_steps_input",
        ),
        (
            vec!["inspect", &ds_s, "--n-steps-output", "0"],
            1,
            "n_steps_output",
        ),
        (
            vec!["inspect", &ds_s, "--n-steps-input", "40"],
            1,
            "longer than the trajectories",
        ),
        (vec!["inspect", &ds_s, "--split", "training"], 1, "training"),
        (vec!["inspect", &file_s], 1, "not a Well dataset directory"),
        (vec!["inspect", &empty], 1, "not a Well dataset directory"),
        (vec!["inspect", &nothing], 1, "not a Well dataset directory"),
        (
            vec!["metrics", "--pred", &ds_s, "--target", &well_s],
            1,
            "is a directory",
        ),
        (
            vec!["metrics", "--pred", &well_s, "--target", &root_s],
            1,
            "is a directory",
        ),
        (
            vec!["metrics", "--pred", "missing.hdf5", "--target", &well_s],
            1,
            "missing.hdf5",
        ),
        (
            vec!["metrics", "--pred", &file_s, "--target", &well_s],
            1,
            "plain.txt",
        ),
        (
            vec!["metrics", "--pred", &trunc_s, "--target", &well_s],
            1,
            "truncated.hdf5",
        ),
        (
            vec!["metrics", "--pred", &nan_s, "--target", &well_s],
            1,
            "time step 2",
        ),
        (
            vec!["reproduce", "--out", &out_under_file, "--data", &data],
            1,
            "output folder",
        ),
        (
            vec!["reproduce", "--data", &ds_s, "--out", "o"],
            1,
            "is one dataset",
        ),
        (
            vec!["reproduce", "--data", &file_s, "--out", "o"],
            1,
            "is a file",
        ),
        (
            vec![
                "reproduce",
                "--preset",
                "huge",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "huge",
        ),
        (
            vec![
                "reproduce",
                "--device",
                "tpu",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "tpu",
        ),
        (
            vec![
                "reproduce",
                "--pretrain-steps",
                "0",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "steps",
        ),
        (
            vec!["reproduce", "--seeds", "", "--data", &data, "--out", "o"],
            2,
            "seeds",
        ),
        // the ablation study refuses what the others refuse, before simulating anything
        (
            vec![
                "reproduce",
                "ablations",
                "--preset",
                "huge",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "huge",
        ),
        (
            vec![
                "reproduce",
                "ablations",
                "--pretrain-steps",
                "0",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "steps",
        ),
        (
            vec![
                "reproduce",
                "ablations",
                "--rollout-steps",
                "0",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "steps",
        ),
        (
            vec![
                "reproduce",
                "ablations",
                "--device",
                "tpu",
                "--data",
                &data,
                "--out",
                "o",
            ],
            1,
            "tpu",
        ),
        (
            vec![
                "reproduce",
                "ablations",
                "--out",
                &out_under_file,
                "--data",
                &data,
            ],
            1,
            "output folder",
        ),
        (
            vec![
                "reproduce",
                "ablations",
                "--seeds",
                "",
                "--data",
                &data,
                "--out",
                "o",
            ],
            2,
            "seeds",
        ),
    ];
    let mut refused = 0;
    for (args, code, want) in &cases {
        let (got, stderr, took) = phystok(r, args);
        assert_eq!(got, Some(*code), "{args:?}: exit {got:?}, stderr: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: message lacks `{want}`: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            took < Duration::from_secs(20),
            "{args:?} took {took:?} before refusing"
        );
        if *code == 1 {
            let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
            assert_eq!(lines.len(), 1, "{args:?}: one line: {stderr}");
            assert!(lines[0].starts_with("phystok: "), "{stderr}");
            assert!(!lines[0].contains("0x"), "{args:?}: no addresses: {stderr}");
        }
        refused += 1;
    }
    assert!(!r.join("g").exists(), "nothing generated for refused sizes");
    assert!(
        !r.join("data").exists(),
        "no simulation for refused reproduce runs"
    );
    println!("{refused} bad inputs refused cleanly");
    assert_eq!(refused, cases.len());
}

/// `phystok args…` in `cwd` with extra environment variables.
fn phystok_env(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_phystok"));
    cmd.args(args).current_dir(cwd).env("RUST_BACKTRACE", "0");
    for var in [
        "RANK",
        "WORLD_SIZE",
        "LOCAL_RANK",
        "MASTER_ADDR",
        "MASTER_PORT",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run phystok");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Data-parallel launch settings (`--gpus`, torchrun's variables) are refused with one line
/// before any work: a build without `cuda`, a world size that does not divide the
/// preset's effective batch (the paper's 16 = 2 × 8 accumulated does not split over 3),
/// malformed lists and variables, a study without data-parallel training.
#[test]
fn gpu_launch_input_is_refused_before_any_work() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let data = r.join("data").to_str().unwrap().to_string();
    let base = ["reproduce", "--data", &data, "--out", "o"];
    let no_cuda = if cfg!(feature = "cuda") {
        // a cuda build on this machine: no driver, or the GPU count decides
        "GPU"
    } else {
        "needs phystok built with the `cuda` feature"
    };
    let torchrun = |rank: &'static str, size: &'static str| {
        vec![
            ("RANK", rank),
            ("WORLD_SIZE", size),
            ("MASTER_ADDR", "127.0.0.1"),
            ("MASTER_PORT", "29500"),
        ]
    };
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--gpus", "0"], vec![], no_cuda),
        (vec!["--gpus", "0,1"], vec![], no_cuda),
        (
            vec!["--gpus", "0,1,2", "--preset", "paper"],
            vec![],
            "world size (3) does not fit the effective batch 16",
        ),
        (vec!["--gpus", "0,0"], vec![], "`0` twice"),
        (vec!["--gpus", "zero"], vec![], "zero"),
        (
            vec!["--preset", "paper"],
            torchrun("0", "3"),
            "world size (3) does not fit the effective batch 16",
        ),
        (
            vec![],
            vec![("RANK", "0"), ("WORLD_SIZE", "2")],
            "MASTER_ADDR",
        ),
        (vec![], vec![("RANK", "0")], "WORLD_SIZE"),
        (vec![], torchrun("4", "2"), "RANK=4"),
        (vec!["--gpus", "0"], torchrun("0", "2"), "torchrun"),
        (vec![], torchrun("0", "1"), no_cuda),
    ];
    for (extra, env, want) in &cases {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra);
        let (code, stderr) = phystok_env(r, &args, env);
        assert_eq!(code, Some(1), "{args:?} {env:?}: exit {code:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?} {env:?}: lacks `{want}`: {stderr}"
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let mut args = vec!["reproduce", "benchmark", "--gpus", "0"];
    args.extend(&base[1..]);
    let (code, stderr) = phystok_env(r, &args, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("not supported yet"), "{stderr}");
    assert!(
        !r.join("data").exists(),
        "no simulation for refused launches"
    );
}
