//! Interrupted training: a training process killed with SIGKILL at random points, again
//! and again, always leaves a checkpoint that loads, and resuming from it ends exactly
//! where an uninterrupted run ends (losses and weights bit for bit); SIGINT makes the
//! trainer finish its step, save a checkpoint and exit with a message saying so.
//!
//! The training runs in a child process: this test binary itself, running the ignored
//! test [`child_trainer`] with `PHYSTOK_CHILD_DIR` set.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use candle_core::Device;
use phystok::checkpoint::Checkpoint;
use phystok::data::{Split, WellDataset, WindowSpec};
use phystok::sim::{GenerateConfig, System};
use phystok::tokeniser::TokeniserConfig;
use phystok::train::{Progress, TokeniserTask, TrainTask, Trainer, TrainerConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const STEPS: usize = 60;

/// What the child trains: `steps` steps of tokeniser pretraining, a checkpoint every
/// `every` steps (and none by wall time) in `{dir}/ckpt`, resuming one that is there.
fn child_run(dir: &Path, steps: usize, every: usize) {
    let data = std::fs::read_to_string(dir.join("data_dir")).unwrap();
    let ds = WellDataset::open(data.trim(), Split::Train, WindowSpec::new(9, 1)).unwrap();
    let task = TokeniserTask::new(
        TokeniserConfig::tiny()
            .with_total_fields(5)
            .with_seed(1)
            .init(&Device::Cpu)
            .unwrap(),
    );
    let cfg = TrainerConfig::quick_tokeniser(steps)
        .with_progress(Progress::Quiet)
        .with_validate_every(0)
        .with_checkpoint_every(every)
        .with_checkpoint_every_s(0.0)
        .with_seed(2);
    let ckpt = dir.join("ckpt");
    let mut b = Trainer::builder(task, cfg)
        .train_data(vec![ds])
        .checkpoint_dir(&ckpt);
    if ckpt.join("checkpoint.json").exists() || dir.join("ckpt.old/checkpoint.json").exists() {
        b = b.resume_from(&ckpt);
    }
    let mut trainer = b.build().unwrap();
    if trainer.step() < steps {
        trainer.fit_steps(1).unwrap();
    }
    std::fs::write(dir.join("ready"), "").unwrap();
    match trainer.fit() {
        Ok(h) => {
            let losses: Vec<u64> = h.losses().iter().map(|x| x.to_bits()).collect();
            let data = trainer.task().varmap().data().lock().unwrap();
            let mut names: Vec<&String> = data.keys().collect();
            names.sort();
            let weights: Vec<(String, Vec<u32>)> = names
                .into_iter()
                .map(|n| {
                    let v: Vec<f32> = data[n]
                        .as_tensor()
                        .flatten_all()
                        .unwrap()
                        .to_vec1()
                        .unwrap();
                    (n.clone(), v.iter().map(|x| x.to_bits()).collect())
                })
                .collect();
            let json = serde_json::json!({"losses": losses, "weights": weights});
            std::fs::write(dir.join("done.json"), json.to_string()).unwrap();
        }
        Err(e) => {
            eprintln!("child: {e}");
            std::process::exit(130);
        }
    }
}

/// Runs only as the child of the tests below.
#[test]
#[ignore = "the child process of the interrupt tests"]
fn child_trainer() {
    if let Ok(dir) = std::env::var("PHYSTOK_CHILD_DIR") {
        let steps: usize = std::env::var("PHYSTOK_CHILD_STEPS")
            .unwrap()
            .parse()
            .unwrap();
        let every: usize = std::env::var("PHYSTOK_CHILD_EVERY")
            .unwrap()
            .parse()
            .unwrap();
        child_run(Path::new(&dir), steps, every);
    }
}

fn spawn(dir: &Path, steps: usize, every: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_trainer", "--ignored", "--nocapture"])
        .env("PHYSTOK_CHILD_DIR", dir)
        .env("PHYSTOK_CHILD_STEPS", steps.to_string())
        .env("PHYSTOK_CHILD_EVERY", every.to_string())
        .env("RUST_BACKTRACE", "0")
        // the parent wrote the files in this process's HDF5 library; do not let a lock it
        // may still hold make the child's open fail
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn work_dir(root: &Path, name: &str, data: &Path) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("data_dir"), data.to_str().unwrap()).unwrap();
    dir
}

fn euler(root: &Path) -> PathBuf {
    GenerateConfig::new(System::EulerPeriodic, root.join("data"))
        .with_resolution(32)
        .with_trajectories(5)
        .with_steps(12)
        .generate()
        .unwrap()
}

#[test]
fn sigkill_at_random_points_then_resume_ends_where_an_uninterrupted_run_ends() {
    let root = tempfile::tempdir().unwrap();
    let data = euler(root.path());

    let straight = work_dir(root.path(), "straight", &data);
    let out = spawn(&straight, STEPS, 1).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = std::fs::read_to_string(straight.join("done.json")).unwrap();

    let killed = work_dir(root.path(), "killed", &data);
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    let mut last_step = 0;
    let mut kills = 0;
    for round in 0..12 {
        let _ = std::fs::remove_file(killed.join("ready"));
        let mut child = spawn(&killed, STEPS, 1);
        // wait until it trains (it has loaded and taken a step), then kill it a random
        // time later: mid-step, mid-save or between
        let t0 = Instant::now();
        while !killed.join("ready").exists() && t0.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(0..120)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
        let ckpt = Checkpoint::load(killed.join("ckpt"), &Device::Cpu)
            .unwrap_or_else(|e| panic!("round {round}: no valid checkpoint after the kill: {e}"));
        assert!(ckpt.step >= last_step, "round {round}: went back");
        last_step = ckpt.step;
        if killed.join("done.json").exists() {
            break;
        }
    }
    assert!(kills >= 3, "only {kills} kills landed");
    if !killed.join("done.json").exists() {
        let out = spawn(&killed, STEPS, 1).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let got = std::fs::read_to_string(killed.join("done.json")).unwrap();
    assert!(
        got == want,
        "resumed after {kills} kills: losses or weights differ from the uninterrupted run"
    );
}

#[test]
fn sigint_saves_a_checkpoint_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let data = euler(root.path());
    let dir = work_dir(root.path(), "sigint", &data);
    // checkpoints only every 100,000 steps: only the interrupt saves one
    let mut child = spawn(&dir, 100_000, 100_000);
    let t0 = Instant::now();
    while !dir.join("ready").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "child never trained"
        );
        assert!(child.try_wait().unwrap().is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("SIGINT at step") && stderr.contains("checkpoint saved"),
        "{stderr}"
    );
    let ckpt = Checkpoint::load(dir.join("ckpt"), &Device::Cpu).unwrap();
    assert!(ckpt.step >= 1 && ckpt.optimiser.is_some() && ckpt.rng.is_some());
}
