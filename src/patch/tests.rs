use candle_core::{Device, Tensor};

use super::*;
use crate::data::ActiveFields;
use crate::emulator::Emulator;
use crate::nn::{KernelResize, Mode};
use crate::{ConfigError, Error, Result};

fn context(cfg: &PatchConfig, b: usize, c: usize) -> Result<Tensor> {
    let [h, w] = cfg.grid;
    Ok(Tensor::randn(
        0f32,
        1.0,
        (b, c, cfg.n_steps_input, h, w),
        &Device::Cpu,
    )?)
}

fn configs() -> Vec<PatchConfig> {
    vec![
        PatchConfig::tiny().with_total_fields(3),
        PatchConfig::tiny()
            .with_total_fields(3)
            .with_strategy(PatchStrategy::Csm),
        PatchConfig::tiny().with_total_fields(3).fixed(4),
        PatchConfig::tiny()
            .with_total_fields(3)
            .with_resize(KernelResize::Adjoint),
    ]
}

#[test]
fn token_counts_and_decoder_shapes_per_patch_size() -> Result<()> {
    for cfg in configs() {
        let model = cfg.init(&Device::Cpu)?;
        let xs = context(&cfg, 2, 2)?;
        for &p in &cfg.sizes {
            let zs = model.codec().encode(&xs, &[2, 0], p)?;
            assert_eq!(zs.dims(), &[2, cfg.embed_dim(), 3, 16 / p, 16 / p]);
            assert_eq!(zs.dim(3)? * zs.dim(4)?, model.tokens(p));
            let ys = model.codec().decode(&zs, &[2, 0], p)?;
            assert_eq!(ys.dims(), xs.dims(), "{:?} p {p}", cfg.strategy);
            let next = model.predict_next_at(&xs, &ActiveFields::new(vec![2, 0], vec![0, 1]), p)?;
            assert_eq!(next.dims(), &[2, 2, 1, 16, 16]);
        }
    }
    Ok(())
}

#[test]
fn kernel_equals_stride_matches_candle_convolutions() -> Result<()> {
    let cfg = PatchConfig::tiny().with_total_fields(3);
    let model = cfg.init(&Device::Cpu)?;
    let ckm = model.codec();
    let frames = Tensor::randn(0f32, 1.0, (1, 3, 1, 16, 16), &Device::Cpu)?;
    let vars = model.varmap().data().lock().unwrap().clone();
    let enc = vars["encoder.weight"].as_tensor().clone();
    let dec = vars["decoder.weight"].as_tensor().clone();
    let (eb, db) = (
        vars["encoder.bias"].as_tensor().clone(),
        vars["decoder.bias"].as_tensor().clone(),
    );
    for p in [2, 4, 8] {
        let kernel = ckm.resizer().resize(&enc, p)?;
        let want = frames
            .squeeze(2)?
            .conv2d(&kernel, 0, p, 1, 1)?
            .broadcast_add(&eb.reshape((1, 16, 1, 1))?)?;
        let got = ckm.encode(&frames, &[0, 1, 2], p)?.squeeze(2)?;
        let d = (got - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-4, "encoder p {p}: {d}");
        let kernel = ckm.resizer().resize(&dec, p)?;
        let want_dec = want
            .conv_transpose2d(&kernel, 0, 0, p, 1)?
            .broadcast_add(&db.reshape((1, 3, 1, 1))?)?;
        let got_dec = ckm.decode(&want.unsqueeze(2)?, &[0, 1, 2], p)?.squeeze(2)?;
        let d = (got_dec - want_dec)?.abs()?.max_all()?.to_scalar::<f32>()?;
        assert!(d < 1e-4, "decoder p {p}: {d}");
    }
    Ok(())
}

#[test]
fn gradients_reach_every_parameter_from_every_patch_size() -> Result<()> {
    for cfg in configs() {
        let model = cfg.init(&Device::Cpu)?;
        let fields = ActiveFields::first(3);
        let cfg1 = cfg.clone().with_n_steps_input(cfg.n_steps_input + 1);
        let window = candle_core::Var::from_tensor(&context(&cfg1, 1, 3)?)?;
        for &p in &cfg.sizes {
            let loss = model.next_frame_loss(window.as_tensor(), &fields, p, Mode::Train)?;
            let grads = loss.backward()?;
            let g = grads.get(window.as_tensor()).ok_or_else(|| {
                Error::Msg(format!(
                    "{:?} p {p}: no gradient to the input",
                    cfg.strategy
                ))
            })?;
            let n = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
            assert!(
                n > 0.0 && n.is_finite(),
                "{:?} p {p}: input gradient {n}",
                cfg.strategy
            );
            let vars = model.varmap().data().lock().unwrap().clone();
            for (name, var) in &vars {
                // the learned padding only enters where the stride leaves a margin
                if name == "encoder.pad" && p == cfg.base {
                    continue;
                }
                let g = grads.get(var.as_tensor()).ok_or_else(|| {
                    Error::Msg(format!("{:?} p {p}: no gradient for {name}", cfg.strategy))
                })?;
                let n = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
                assert!(
                    n > 0.0 && n.is_finite(),
                    "{:?} p {p}: {name} gradient {n}",
                    cfg.strategy
                );
            }
        }
    }
    Ok(())
}

#[test]
fn csm_padding_gets_a_gradient_below_the_base() -> Result<()> {
    let cfg = PatchConfig::tiny()
        .with_total_fields(2)
        .with_strategy(PatchStrategy::Csm);
    let model = cfg.init(&Device::Cpu)?;
    let xs = context(&cfg, 1, 2)?;
    let zs = model.codec().encode(&xs, &[0, 1], 2)?;
    let grads = zs.sqr()?.sum_all()?.backward()?;
    let vars = model.varmap().data().lock().unwrap().clone();
    let g = grads.get(vars["encoder.pad"].as_tensor());
    assert!(g.is_some());
    Ok(())
}

#[test]
fn cyclic_schedule_order() -> Result<()> {
    let sizes = [4, 8, 16];
    let s = PatchSchedule::Cyclic { offset: 0 };
    let got: Vec<usize> = (0..7).map(|i| s.size_at(&sizes, i)).collect();
    assert_eq!(got, vec![4, 8, 16, 4, 8, 16, 4]);
    let s = PatchSchedule::Cyclic { offset: 2 };
    let got: Vec<usize> = (0..4).map(|i| s.size_at(&sizes, i)).collect();
    assert_eq!(got, vec![16, 4, 8, 16]);
    assert_eq!(PatchSchedule::Fixed(8).size_at(&sizes, 5), 8);

    // a cyclic rollout equals stepping by hand through the sizes
    let cfg = PatchConfig::tiny().with_total_fields(2);
    let model = cfg.init(&Device::Cpu)?;
    let fields = ActiveFields::first(2);
    let ctx = context(&cfg, 1, 2)?;
    let cyclic = model
        .clone()
        .with_schedule(PatchSchedule::Cyclic { offset: 1 });
    let frames = cyclic.rollout(&ctx, &fields, 4)?;
    let mut window = ctx.clone();
    for (i, p) in [4, 8, 2, 4].into_iter().enumerate() {
        let next = model.predict_next_at(&window, &fields, p)?;
        let d = (frames.narrow(2, i, 1)? - &next)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?;
        assert_eq!(d, 0.0, "step {i}");
        window = Tensor::cat(&[&window.narrow(2, 1, 2)?, &next], 2)?;
    }
    Ok(())
}

#[test]
fn bad_sizes_at_run_time_are_errors() -> Result<()> {
    let cfg = PatchConfig::tiny().with_total_fields(2);
    let model = cfg.init(&Device::Cpu)?;
    let ctx = context(&cfg, 1, 2)?;
    let e = model.predict_next_at(&ctx, &ActiveFields::first(2), 16);
    assert!(matches!(
        e,
        Err(Error::Config(ConfigError::Mismatch { .. }))
    ));
    let odd = Tensor::zeros((1, 2, 3, 16, 12), candle_core::DType::F32, &Device::Cpu)?;
    let e = model.codec().encode(&odd, &[0, 1], 8);
    assert!(matches!(
        e,
        Err(Error::Config(ConfigError::PatchDoesNotDivide {
            name: "width",
            value: 8,
            grid: 12
        }))
    ));
    assert!(matches!(
        PatchConfig::tiny().with_sizes(vec![]).init(&Device::Cpu),
        Err(Error::Config(ConfigError::Empty { .. }))
    ));
    Ok(())
}

#[test]
fn same_seed_same_prediction() -> Result<()> {
    let cfg = PatchConfig::tiny().with_total_fields(2).with_seed(3);
    let ctx = context(&cfg, 1, 2)?;
    let a = cfg
        .init(&Device::Cpu)?
        .predict_next_at(&ctx, &ActiveFields::first(2), 4)?;
    let b = cfg
        .init(&Device::Cpu)?
        .predict_next_at(&ctx, &ActiveFields::first(2), 4)?;
    assert_eq!((a - b)?.abs()?.max_all()?.to_scalar::<f32>()?, 0.0);
    Ok(())
}

#[test]
fn csm_gradients_match_finite_differences() -> Result<()> {
    // candle's strided conv2d / conv_transpose2d backward, checked where CSM uses them
    let cfg = PatchConfig::tiny()
        .with_total_fields(2)
        .with_strategy(PatchStrategy::Csm);
    let model = cfg.init(&Device::Cpu)?;
    let xs = context(&cfg, 1, 2)?;
    let loss = |p: usize| -> Result<f64> {
        let ys = model
            .codec()
            .decode(&model.codec().encode(&xs, &[0, 1], p)?, &[0, 1], p)?;
        Ok(ys.sqr()?.mean_all()?.to_scalar::<f32>()? as f64)
    };
    let vars = model.varmap().data().lock().unwrap().clone();
    for p in [2, 4] {
        let ys = model
            .codec()
            .decode(&model.codec().encode(&xs, &[0, 1], p)?, &[0, 1], p)?;
        let grads = ys.sqr()?.mean_all()?.backward()?;
        for name in ["encoder.weight", "decoder.weight", "encoder.pad"] {
            let var = &vars[name];
            let g: Vec<f32> = grads
                .get(var.as_tensor())
                .ok_or_else(|| Error::Msg(format!("no gradient for {name}")))?
                .flatten_all()?
                .to_vec1()?;
            let original = var.as_tensor().copy()?;
            let flat: Vec<f32> = original.flatten_all()?.to_vec1()?;
            for i in [0, flat.len() / 2, flat.len() - 1] {
                let h = 1e-2f32;
                let at = |d: f32| -> Result<f64> {
                    let mut v = flat.clone();
                    v[i] += d;
                    var.set(&Tensor::from_vec(v, original.dims(), &Device::Cpu)?)?;
                    loss(p)
                };
                let fd = (at(h)? - at(-h)?) / (2.0 * h as f64);
                var.set(&original)?;
                let tol = 2e-2 * fd.abs().max(g[i].abs() as f64) + 1e-5;
                assert!(
                    (fd - g[i] as f64).abs() < tol,
                    "{name}[{i}] p {p}: autograd {} vs finite difference {fd}",
                    g[i]
                );
            }
        }
    }
    Ok(())
}
