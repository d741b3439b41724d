//! Checkpoint round trips, interrupted saves and selective loading.

use super::super::Unused;
use super::*;
use candle_core::{DType, Device};
use candle_nn::Init;
use rand::RngCore;

fn varmap(names: &[(&str, usize)], value: f32) -> VarMap {
    let vm = VarMap::new();
    for (name, n) in names {
        vm.get(
            *n,
            name,
            Init::Const(value as f64),
            DType::F32,
            &Device::Cpu,
        )
        .unwrap();
    }
    vm
}

fn values(vm: &VarMap, name: &str) -> Vec<f32> {
    vm.data().lock().unwrap()[name]
        .as_tensor()
        .to_vec1::<f32>()
        .unwrap()
}

fn ckpt(step: usize, value: f32) -> Checkpoint {
    let vm = varmap(&[("a.w", 3), ("b.w", 2)], value);
    Checkpoint::new(step)
        .with_weights(&vm)
        .unwrap()
        .with_config(&("cfg", step))
        .unwrap()
}

#[test]
fn round_trip_keeps_everything() -> Result<()> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    rng.next_u64();
    let mut state = OptimiserState {
        kind: OptimiserKind::AdamW,
        meta: serde_json::json!({"x": 1}),
        tensors: HashMap::new(),
    };
    state
        .tensors
        .insert("m/a.w".into(), Tensor::new(&[1.5f32, 2.5], &Device::Cpu)?);
    let c = ckpt(5, 0.25)
        .with_rng(&rng)
        .with_optimiser(state)
        .with_history(&vec![1.0, 2.0])?;
    c.save(&dir)?;
    let back = Checkpoint::load(&dir, &Device::Cpu)?;
    assert_eq!(back.step, 5);
    assert_eq!(back.config::<(String, usize)>()?, ("cfg".to_string(), 5));
    assert_eq!(back.history::<Vec<f64>>()?, Some(vec![1.0, 2.0]));
    assert_eq!(back.rng.unwrap().restore().next_u64(), rng.next_u64());
    let opt = back.optimiser.clone().unwrap();
    assert_eq!(opt.kind, OptimiserKind::AdamW);
    assert_eq!(opt.tensors["m/a.w"].to_vec1::<f32>()?, vec![1.5, 2.5]);
    let vm = varmap(&[("a.w", 3), ("b.w", 2)], 0.0);
    let loaded = back.load_weights_into(&vm, &WeightSelection::all())?;
    assert_eq!(loaded, vec!["a.w", "b.w"]);
    assert_eq!(values(&vm, "a.w"), vec![0.25; 3]);
    Ok(())
}

#[test]
fn interrupted_saves_leave_the_previous_checkpoint_whole() -> Result<()> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    ckpt(1, 1.0).save(&dir)?;
    for crash in [
        Crash::BeforeManifest,
        Crash::BeforeSwap,
        Crash::BetweenRenames,
    ] {
        ckpt(2, 2.0).save_until(&dir, crash)?;
        let back = Checkpoint::load(&dir, &Device::Cpu)?;
        assert_eq!(back.step, 1, "after a crash at {crash:?}");
        assert_eq!(back.weights["a.w"].to_vec1::<f32>()?, vec![1.0; 3]);
    }
    // The next save after a crash between the renames completes and cleans up.
    ckpt(3, 3.0).save(&dir)?;
    assert_eq!(Checkpoint::load(&dir, &Device::Cpu)?.step, 3);
    assert!(!sibling(&dir, "old").exists() && !sibling(&dir, "partial").exists());
    Ok(())
}

#[test]
fn a_truncated_file_is_refused() -> Result<()> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ck");
    ckpt(1, 1.0).save(&dir)?;
    let w = dir.join(WEIGHTS);
    let bytes = fs::read(&w).unwrap();
    fs::write(&w, &bytes[..bytes.len() - 4]).unwrap();
    assert!(matches!(
        Checkpoint::load(&dir, &Device::Cpu),
        Err(Error::Format { .. })
    ));
    Ok(())
}

#[test]
fn missing_and_misshaped_variables_are_named() -> Result<()> {
    let c = ckpt(1, 1.0);
    let bigger = varmap(&[("a.w", 3), ("b.w", 2), ("c.w", 4)], 0.0);
    match c.load_weights_into(&bigger, &WeightSelection::all()) {
        Err(Error::MissingVariable { name, .. }) => assert_eq!(name, "c.w"),
        other => panic!("expected a missing variable, got {other:?}"),
    }
    assert_eq!(
        values(&bigger, "a.w"),
        vec![0.0; 3],
        "nothing changed before the error"
    );
    let wrong = varmap(&[("a.w", 4), ("b.w", 2)], 0.0);
    match c.load_weights_into(&wrong, &WeightSelection::all()) {
        Err(Error::Shape { what, left, right }) => {
            assert!(what.contains("a.w"));
            assert_eq!((left, right), (vec![3], vec![4]));
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    let smaller = varmap(&[("a.w", 3)], 0.0);
    assert!(matches!(
        c.load_weights_into(&smaller, &WeightSelection::all()),
        Err(Error::MissingVariable { .. })
    ));
    let loaded = c.load_weights_into(
        &smaller,
        &WeightSelection::all().with_unused(Unused::Ignore),
    )?;
    assert_eq!(loaded, vec!["a.w"]);
    Ok(())
}

#[test]
fn a_prefix_loads_into_a_larger_model_under_a_new_name() -> Result<()> {
    let c = ckpt(1, 4.0);
    let model = varmap(&[("tokeniser.a.w", 3), ("processor.p", 5)], 0.0);
    let sel = WeightSelection::prefix("a.").renamed_to("tokeniser.a.");
    assert_eq!(c.load_weights_into(&model, &sel)?, vec!["tokeniser.a.w"]);
    assert_eq!(values(&model, "tokeniser.a.w"), vec![4.0; 3]);
    assert_eq!(values(&model, "processor.p"), vec![0.0; 5]);
    Ok(())
}
