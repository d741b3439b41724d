//! A fuzz and fault harness: seeded, bounded loops of mutated inputs fed to every reader
//! entry point. HDF5 files (truncations, byte flips in the superblock and object headers,
//! in the data, zeroed runs, and hand-made wrong types and shapes) go to `WellReader`
//! (`open`, `read_all`, `read_window_into`), `WellFile::read`, `WellDataset` (`from_files`,
//! `window`) and `compare_well_files`; checkpoints (manifest and safetensors bytes) to
//! `Checkpoint::load` (a changed weights file must be an error: checksums); JSON configurations to their `Deserialize` and `check`. Every case
//! must end in a typed error or a correct read: a panic is counted (through
//! `catch_unwind`) and fails the test, and the whole loop runs under a deadline so a hang
//! fails it too. An abort would end the test binary, which fails it as well.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use candle_core::Device;
use common::formula_file;
use phystok::checkpoint::Checkpoint;
use phystok::data::{Split, WellDataset, WellFile, WellReader, WindowSpec};
use phystok::experiment::ExperimentConfig;
use phystok::model::RolloutConfig;
use phystok::tokeniser::TokeniserConfig;
use phystok::train::TrainerConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Cases per kind of mutation.
const HDF5_CASES: usize = 2000;
const CHECKPOINT_CASES: usize = 600;
const CONFIG_CASES: usize = 1500;

/// What a run of cases found.
#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    errors: usize,
    reads: usize,
    panics: Vec<String>,
}

impl Tally {
    /// Runs one case: `Ok` is a read, `Err` a typed error, a panic is recorded.
    fn case<T>(&mut self, name: &str, f: impl FnOnce() -> phystok::Result<T>) {
        self.cases += 1;
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(_)) => self.reads += 1,
            Ok(Err(e)) => {
                // a typed error has a message that names something
                assert!(!e.to_string().is_empty(), "{name}: empty error message");
                self.errors += 1;
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                self.panics.push(format!("{name}: {msg}"));
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.cases += other.cases;
        self.errors += other.errors;
        self.reads += other.reads;
        self.panics.extend(other.panics);
    }
}

/// Runs `f` on a thread and fails when it takes longer than `limit` (a hang).
fn with_deadline(limit: Duration, f: impl FnOnce() -> Tally + Send + 'static) -> Tally {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("the fuzz loop did not finish within {limit:?}: a hang"))
}

/// One mutation of `bytes`.
fn mutate(rng: &mut ChaCha8Rng, bytes: &[u8], header_len: usize) -> (String, Vec<u8>) {
    let mut b = bytes.to_vec();
    let n = b.len();
    match rng.random_range(0..6) {
        0 => {
            let cut = rng.random_range(0..n);
            b.truncate(cut);
            (format!("truncated at {cut}"), b)
        }
        1 => {
            // flips in the superblock and object headers
            let k = rng.random_range(1..8);
            for _ in 0..k {
                let i = rng.random_range(0..header_len.min(n));
                b[i] ^= 1 << rng.random_range(0..8);
            }
            (format!("{k} header bit flips"), b)
        }
        2 => {
            let k = rng.random_range(1..32);
            for _ in 0..k {
                let i = rng.random_range(0..n);
                b[i] = rng.random();
            }
            (format!("{k} random bytes"), b)
        }
        3 => {
            let at = rng.random_range(0..n);
            let len = rng.random_range(1..256).min(n - at);
            b[at..at + len].fill(0);
            (format!("{len} zeros at {at}"), b)
        }
        4 => {
            let at = rng.random_range(0..n);
            let len = rng.random_range(1..64).min(n - at);
            b[at..at + len].fill(0xff);
            (format!("{len} 0xff at {at}"), b)
        }
        _ => {
            // a copied block: plausible structures at wrong places
            let from = rng.random_range(0..n);
            let to = rng.random_range(0..n);
            let len = rng.random_range(1..128).min(n - from).min(n - to);
            let block = b[from..from + len].to_vec();
            b[to..to + len].copy_from_slice(&block);
            (format!("{len} bytes copied {from} -> {to}"), b)
        }
    }
}

/// Every reader entry point on the file at `path` (a dataset of one file in `split_dir`).
fn read_everything(t: &mut Tally, name: &str, path: &Path, good: &Path) {
    t.case(&format!("{name}: WellReader::read_all"), || {
        WellReader::open(path)?.read_all()
    });
    t.case(&format!("{name}: read_window_into"), || {
        let r = WellReader::open(path)?;
        let mut out = vec![0f32; 7 * 2 * 16];
        r.read_window_into(0, 1, 2, 1, &mut out)
    });
    t.case(&format!("{name}: WellFile::read"), || WellFile::read(path));
    t.case(&format!("{name}: WellDataset window"), || {
        let ds =
            WellDataset::from_files(&[path.to_path_buf()], Split::Train, WindowSpec::new(2, 1))?;
        let last = ds.len().saturating_sub(1);
        ds.window(0)?;
        ds.window(last)
    });
    t.case(&format!("{name}: compare_well_files"), || {
        phystok::metrics::compare_well_files(path, good)
    });
}

fn hdf5_cases(dir: PathBuf) -> Tally {
    let good = dir.join("good.hdf5");
    formula_file(2, 6, 4, 4).write(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let mut t = Tally::default();
    // the unmutated file reads
    let before = t.errors;
    read_everything(&mut t, "unmutated", &good, &good);
    assert_eq!(t.errors, before, "the unmutated file must read");
    let mut rng = ChaCha8Rng::seed_from_u64(0x0f22);
    let path = dir.join("mutated.hdf5");
    for i in 0..HDF5_CASES {
        let (what, b) = mutate(&mut rng, &bytes, 2048);
        std::fs::write(&path, &b).unwrap();
        read_everything(&mut t, &format!("hdf5 case {i} ({what})"), &path, &good);
    }
    t
}

/// Files whose structure is valid HDF5 but not what a Well file holds.
fn structural_cases(dir: PathBuf) -> Tally {
    let good = dir.join("good.hdf5");
    formula_file(2, 6, 4, 4).write(&good).unwrap();
    let mut t = Tally::default();
    type Edit = Box<dyn Fn(&hdf5::File) -> hdf5::Result<()>>;
    let edits: Vec<(&str, Edit)> = vec![
        ("no t0_fields", Box::new(|f| f.unlink("t0_fields"))),
        ("no dimensions", Box::new(|f| f.unlink("dimensions"))),
        ("no scalars", Box::new(|f| f.unlink("scalars"))),
        (
            "no boundary_conditions",
            Box::new(|f| f.unlink("boundary_conditions")),
        ),
        (
            "n_trajectories a string",
            Box::new(|f| {
                f.delete_attr("n_trajectories")?;
                let v: hdf5::types::VarLenUnicode = "two".parse().unwrap();
                f.new_attr::<hdf5::types::VarLenUnicode>()
                    .create("n_trajectories")?
                    .write_scalar(&v)
            }),
        ),
        (
            "n_trajectories huge",
            Box::new(|f| {
                f.delete_attr("n_trajectories")?;
                f.new_attr::<i64>()
                    .create("n_trajectories")?
                    .write_scalar(&(1i64 << 40))
            }),
        ),
        (
            "n_trajectories negative",
            Box::new(|f| {
                f.delete_attr("n_trajectories")?;
                f.new_attr::<i64>()
                    .create("n_trajectories")?
                    .write_scalar(&-3)
            }),
        ),
        (
            "density as integers",
            Box::new(|f| {
                let g = f.group("t0_fields")?;
                g.unlink("density")?;
                g.new_dataset::<i32>()
                    .shape((2, 6, 4, 4))
                    .create("density")?;
                Ok(())
            }),
        ),
        (
            "density of rank 2",
            Box::new(|f| {
                let g = f.group("t0_fields")?;
                g.unlink("density")?;
                g.new_dataset::<f32>().shape((2, 6)).create("density")?;
                Ok(())
            }),
        ),
        (
            "density longer in time",
            Box::new(|f| {
                let g = f.group("t0_fields")?;
                g.unlink("density")?;
                g.new_dataset::<f32>()
                    .shape((2, 60, 4, 4))
                    .create("density")?;
                Ok(())
            }),
        ),
        (
            "time a string",
            Box::new(|f| {
                let g = f.group("dimensions")?;
                g.unlink("time")?;
                g.new_dataset::<u8>().shape(3).create("time")?;
                Ok(())
            }),
        ),
        (
            "x empty",
            Box::new(|f| {
                let g = f.group("dimensions")?;
                g.unlink("x")?;
                g.new_dataset::<f32>().shape(0).create("x")?;
                Ok(())
            }),
        ),
        (
            "dataset_name missing",
            Box::new(|f| f.delete_attr("dataset_name")),
        ),
        (
            "field_names missing",
            Box::new(|f| f.group("t1_fields")?.delete_attr("field_names")),
        ),
    ];
    for (i, (name, edit)) in edits.iter().enumerate() {
        let p = dir.join(format!("edit{i}.hdf5"));
        std::fs::copy(&good, &p).unwrap();
        let applied = {
            let file = hdf5::File::open_rw(&p).unwrap();
            edit(&file).is_ok()
        };
        if applied {
            read_everything(&mut t, &format!("structural: {name}"), &p, &good);
        }
    }
    t
}

fn checkpoint_cases(dir: PathBuf) -> Tally {
    use candle_nn::VarMap;
    let vm = VarMap::new();
    let vb = phystok::nn::seeded_var_builder(&vm, 1, &Device::Cpu);
    vb.get((3, 5), "a.weight").unwrap();
    vb.get(7, "b.bias").unwrap();
    let good = dir.join("ckpt");
    let mut rng0 = ChaCha8Rng::seed_from_u64(1);
    let _ = rng0.random::<u64>();
    Checkpoint::new(3)
        .with_weights(&vm)
        .unwrap()
        .with_config(&serde_json::json!({"task": "t"}))
        .unwrap()
        .with_rng(&rng0)
        .with_history(&phystok::train::History::<phystok::train::ValidationRecord>::new())
        .unwrap()
        .save(&good)
        .unwrap();
    let mut t = Tally::default();
    t.case("unmutated checkpoint", || {
        Checkpoint::load(&good, &Device::Cpu)
    });
    assert_eq!(t.reads, 1, "the unmutated checkpoint must load");
    let files = ["checkpoint.json", "weights.safetensors"];
    let originals: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(good.join(f)).unwrap())
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(0xc4e);
    let case_dir = dir.join("case");
    for i in 0..CHECKPOINT_CASES {
        let k = i % files.len();
        let (what, b) = mutate(&mut rng, &originals[k], 256);
        let _ = std::fs::remove_dir_all(&case_dir);
        std::fs::create_dir_all(&case_dir).unwrap();
        for (j, f) in files.iter().enumerate() {
            let content = if j == k { &b } else { &originals[j] };
            std::fs::write(case_dir.join(f), content).unwrap();
        }
        // a changed weights file must never load (the manifest holds its checksum)
        let corrupt_weights = k == 1 && b != originals[k];
        t.case(
            &format!("checkpoint case {i} ({} {what})", files[k]),
            || {
                let c = Checkpoint::load(&case_dir, &Device::Cpu)?;
                c.history::<phystok::train::History>()?;
                assert!(!corrupt_weights, "corrupt weights loaded silently");
                Ok(c)
            },
        );
    }
    t
}

/// JSON configurations with mutated text: parsed, then checked.
fn config_cases() -> Tally {
    let texts = [
        serde_json::to_string_pretty(&TrainerConfig::quick_tokeniser(40)).unwrap(),
        serde_json::to_string_pretty(&TokeniserConfig::tiny()).unwrap(),
        serde_json::to_string_pretty(&RolloutConfig::tiny()).unwrap(),
        serde_json::to_string_pretty(&ExperimentConfig::quick()).unwrap(),
    ];
    let mut t = Tally::default();
    let mut rng = ChaCha8Rng::seed_from_u64(0xc0f);
    for i in 0..CONFIG_CASES {
        let k = i % texts.len();
        let (what, b) = if rng.random_bool(0.5) {
            mutate(&mut rng, texts[k].as_bytes(), 64)
        } else {
            // a number replaced by an extreme one: parses, then `check` must refuse or pass
            let text = &texts[k];
            let digits: Vec<usize> = text
                .char_indices()
                .filter(|(_, c)| c.is_ascii_digit())
                .map(|(i, _)| i)
                .collect();
            let at = digits[rng.random_range(0..digits.len())];
            let end = text[at..]
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
                .map_or(text.len(), |e| at + e);
            let extreme = ["0", "1e308", "18446744073709551615", "-1", "0.0", "1e-300"]
                [rng.random_range(0..6)];
            (
                format!("number at {at} -> {extreme}"),
                format!("{}{extreme}{}", &text[..at], &text[end..]).into_bytes(),
            )
        };
        let name = format!("config case {i} ({what})");
        t.case(&name, || -> phystok::Result<()> {
            match k {
                0 => serde_json::from_slice::<TrainerConfig>(&b)?.check()?,
                1 => serde_json::from_slice::<TokeniserConfig>(&b)?.check()?,
                2 => serde_json::from_slice::<RolloutConfig>(&b)?.check()?,
                _ => serde_json::from_slice::<ExperimentConfig>(&b)?.check()?,
            }
            Ok(())
        });
    }
    t
}

#[test]
fn mutated_inputs_give_typed_errors_or_reads_never_panics() {
    let root = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (a, b, c) = (
        root.path().join("h5"),
        root.path().join("h5s"),
        root.path().join("ckpt"),
    );
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
    }
    // panics are caught and counted; keep their messages off the test output
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut total = Tally::default();
    total.merge(with_deadline(Duration::from_secs(300), move || {
        hdf5_cases(a)
    }));
    total.merge(with_deadline(Duration::from_secs(60), move || {
        structural_cases(b)
    }));
    total.merge(with_deadline(Duration::from_secs(120), move || {
        checkpoint_cases(c)
    }));
    total.merge(with_deadline(Duration::from_secs(60), config_cases));
    std::panic::set_hook(hook);
    println!(
        "fuzz: {} cases ({} typed errors, {} reads, {} panics) in {:.1} s",
        total.cases,
        total.errors,
        total.reads,
        total.panics.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(total.cases > 10_000, "{} cases", total.cases);
    assert!(
        total.panics.is_empty(),
        "{} panics, the first: {:#?}",
        total.panics.len(),
        &total.panics[..total.panics.len().min(10)]
    );
}
