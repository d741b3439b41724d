//! Integration tests of the Walrus-style processor: shapes, causality in time, gradients
//! to every parameter, parameter counts, seeding, and parity with a PyTorch block.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;
use phystok::nn::{Mode, seeded_var_builder};
use phystok::processor::{Processor, ProcessorConfig};

fn latents(b: usize, t: usize, h: usize, w: usize, phase: f32) -> candle_core::Result<Tensor> {
    let n = b * 18 * t * h * w;
    let data: Vec<f32> = (0..n)
        .map(|i| (i as f32 * 0.37 + phase).sin() + 0.3 * (i as f32 * 0.11).cos())
        .collect();
    Tensor::from_vec(data, (b, 18, t, h, w), &Device::Cpu)
}

/// A tiny processor whose output projections start at normal scale, so that every branch
/// visibly changes the output (the 1e-6 default would hide a broken branch below f32 noise
/// in the causality test).
fn tiny(seed: u64) -> phystok::Result<Processor> {
    ProcessorConfig::tiny()
        .with_layer_scale_init(1.0)
        .with_seed(seed)
        .init(&Device::Cpu)
}

#[test]
fn output_shapes_round_trip_for_several_grids() -> phystok::Result<()> {
    let p = tiny(0)?;
    for (b, t, h, w) in [(1, 1, 1, 1), (2, 3, 2, 5), (1, 5, 4, 4)] {
        let xs = latents(b, t, h, w, 0.0)?;
        assert_eq!(p.forward(&xs, Mode::Eval)?.dims(), &[b, 18, t, h, w]);
        let tokens = p.project_in(&xs)?;
        assert_eq!(tokens.dims(), &[b, t, h * w, 32]);
        assert_eq!(
            p.forward_tokens(&tokens, h, w, Mode::Train)?.dims(),
            &[b, t, h * w, 32]
        );
    }
    let wrong = Tensor::zeros((1, 17, 2, 2, 2), DType::F32, &Device::Cpu)?;
    assert!(matches!(
        p.forward(&wrong, Mode::Eval),
        Err(phystok::Error::Shape { .. })
    ));
    Ok(())
}

#[test]
fn processor_is_causal_in_time() -> phystok::Result<()> {
    let p = tiny(1)?;
    let (t, changed) = (5, 2);
    let xs = latents(2, t, 3, 2, 0.0)?;
    // change every value of frame `changed` only
    let other = latents(2, t, 3, 2, 1.7)?;
    let mask: Vec<f32> = (0..t)
        .map(|i| if i == changed { 1.0 } else { 0.0 })
        .collect();
    let mask = Tensor::from_vec(mask, (1, 1, t, 1, 1), &Device::Cpu)?;
    let ys = ((xs.broadcast_mul(&(1.0 - &mask)?)?) + other.broadcast_mul(&mask)?)?;
    let a = p.forward(&xs, Mode::Eval)?;
    let b = p.forward(&ys, Mode::Eval)?;
    for frame in 0..t {
        let diff = (a.narrow(2, frame, 1)? - b.narrow(2, frame, 1)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        if frame < changed {
            assert!(
                diff < 1e-6,
                "frame {frame} before the change moved by {diff}"
            );
        } else {
            assert!(
                diff > 1e-3,
                "frame {frame} at/after the change did not move ({diff})"
            );
        }
    }
    Ok(())
}

#[test]
fn gradients_reach_input_and_every_parameter() -> phystok::Result<()> {
    // the default 1e-6 output scale: gradients must still reach every parameter
    let p = ProcessorConfig::tiny().with_seed(2).init(&Device::Cpu)?;
    let vm = p.varmap().clone();
    let x = Var::from_tensor(&latents(2, 3, 2, 3, 0.0)?)?;
    let target = latents(2, 3, 2, 3, 0.9)?;
    let loss = (p.forward(x.as_tensor(), Mode::Eval)? - target)?
        .sqr()?
        .mean_all()?;
    let grads = loss.backward()?;
    let g = grads.get(x.as_tensor()).expect("input gradient");
    assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
    let data = vm.data().lock().unwrap();
    let mut names: Vec<_> = data.keys().cloned().collect();
    names.sort();
    assert_eq!(names.len(), 2 * 2 + 2 * (10 + 9));
    for name in names {
        let g = grads
            .get(data[&name].as_tensor())
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let s = g.abs()?.sum_all()?.to_scalar::<f32>()?;
        assert!(s.is_finite() && s > 0.0, "gradient of {name} is {s}");
    }
    Ok(())
}

#[test]
fn parameter_counts_match_the_formula_and_the_paper() -> phystok::Result<()> {
    // Table 2: processor & projection "100 M"; our exact count
    assert_eq!(ProcessorConfig::paper().param_count(), 99_572_090);
    // the formula equals what is built, including one block at the paper's width
    for c in [
        ProcessorConfig::tiny(),
        ProcessorConfig::small(),
        ProcessorConfig::paper().with_n_blocks(1),
    ] {
        let p = c.init(&Device::Cpu)?;
        let summary = p.param_table();
        assert_eq!(summary.total(), c.param_count());
        let rows = summary.rows();
        assert_eq!(rows[1].total, c.spatial_param_count());
        assert_eq!(rows[2].total, c.temporal_param_count());
        assert!(rows.iter().all(|r| r.component != "other"));
        assert!(p.to_string().contains("blocks.0.temporal"));
    }
    Ok(())
}

#[test]
fn same_seed_same_outputs_and_drop_path_only_in_train() -> phystok::Result<()> {
    let cfg = ProcessorConfig::tiny()
        .with_layer_scale_init(1.0)
        .with_drop_path(0.5)
        .with_seed(3);
    let (a, b) = (cfg.init(&Device::Cpu)?, cfg.init(&Device::Cpu)?);
    let xs = latents(8, 2, 2, 2, 0.0)?;
    let flat = |t: Tensor| -> candle_core::Result<Vec<f32>> { t.flatten_all()?.to_vec1() };
    assert_eq!(
        flat(a.forward(&xs, Mode::Eval)?)?,
        flat(b.forward(&xs, Mode::Eval)?)?
    );
    assert_eq!(
        flat(a.forward(&xs, Mode::Train)?)?,
        flat(b.forward(&xs, Mode::Train)?)?
    );
    // in Eval the output does not depend on the generator; in Train it does
    assert_eq!(
        flat(a.forward(&xs, Mode::Eval)?)?,
        flat(a.forward(&xs, Mode::Eval)?)?
    );
    assert_ne!(
        flat(a.forward(&xs, Mode::Train)?)?,
        flat(a.forward(&xs, Mode::Train)?)?
    );
    a.reseed(11);
    b.reseed(11);
    assert_eq!(
        flat(a.forward(&xs, Mode::Train)?)?,
        flat(b.forward(&xs, Mode::Train)?)?
    );
    Ok(())
}

/// The weights of `tests/reference/processor_block.py::weight_values`: a deterministic
/// function of each parameter's name.
fn reference_weights(name: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let phase = 0.01 * name.bytes().map(f64::from).sum::<f64>();
    let (base, amp) = if name.ends_with("norm.weight") {
        (1.0, 0.2)
    } else if name.ends_with("bias") && !name.contains("rel_pos") {
        (0.0, 0.1)
    } else if name.contains("rel_pos") {
        (0.0, 1.0)
    } else {
        (0.0, 1.0 / (shape[1] as f64).sqrt())
    };
    (0..n)
        .map(|i| (base + amp * (0.731 * i as f64 + phase).sin()) as f32)
        .collect()
}

#[test]
fn block_matches_pytorch_reference() -> phystok::Result<()> {
    use phystok::processor::ProcessorBlock;
    use rand::SeedableRng;

    let (b, t, gh, gw, dim) = (2, 5, 3, 2, 64);
    let cfg = ProcessorConfig::tiny().with_dim(dim).with_n_heads(4);
    let vm = VarMap::new();
    let block = ProcessorBlock::new(&cfg, 0.0, seeded_var_builder(&vm, 0, &Device::Cpu))?;
    for (name, var) in vm.data().lock().unwrap().iter() {
        let values = reference_weights(name, var.dims());
        var.set(&Tensor::from_vec(values, var.dims(), &Device::Cpu)?)?;
    }
    let n = b * t * gh * gw * dim;
    let x: Vec<f32> = (0..n)
        .map(|i| ((0.13 * i as f64).sin() + 0.5 * (0.07 * i as f64).cos()) as f32)
        .collect();
    let x = Tensor::from_vec(x, (b, t, gh * gw, dim), &Device::Cpu)?;
    let tables = block.spatial().rope().tables(&[gh, gw], &Device::Cpu)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let y: Vec<f64> = block
        .forward(&x, &tables, Mode::Eval, &mut rng)?
        .flatten_all()?
        .to_vec1::<f32>()?
        .into_iter()
        .map(f64::from)
        .collect();

    // printed by tests/reference/processor_block.py (PyTorch 2.x, float32)
    let (sum, sum_sq, weighted) = (6.867551, 2704.829599, 15.761620);
    let values = [
        (0, 0.344809),
        (77, 0.207304),
        (1234, -0.329271),
        (2999, 0.074146),
        (3839, 0.406486),
    ];
    let got_weighted: f64 = y
        .iter()
        .enumerate()
        .map(|(i, v)| v * (0.05 * i as f64).cos())
        .sum();
    assert!(
        (y.iter().sum::<f64>() - sum).abs() < 2e-3,
        "sum {}",
        y.iter().sum::<f64>()
    );
    assert!((y.iter().map(|v| v * v).sum::<f64>() - sum_sq).abs() < 2e-3 * sum_sq);
    assert!(
        (got_weighted - weighted).abs() < 2e-3,
        "weighted {got_weighted}"
    );
    for (i, want) in values {
        assert!((y[i] - want).abs() < 1e-4, "y[{i}] = {} vs {want}", y[i]);
    }
    Ok(())
}
