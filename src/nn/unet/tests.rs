//! U-Net tests: layers against naive loops, shapes, size checks, gradients to the input and
//! every parameter, determinism, batch-norm running statistics.

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use super::layers::{BatchNorm2d, ChannelL2Norm, ConvTranspose2x2, DepthwiseConv, max_pool2};
use super::*;
use crate::nn::{Mode, seeded_var_builder};
use crate::{ConfigError, Error, Result};

fn randn(shape: &[usize], seed: u64) -> Result<Tensor> {
    // deterministic values from a hash, not candle's unseedable generator
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| {
            let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn v4(t: &Tensor) -> Vec<Vec<Vec<Vec<f32>>>> {
    let b = t.dim(0).unwrap();
    (0..b)
        .map(|i| t.get(i).unwrap().to_vec3::<f32>().unwrap())
        .collect()
}

fn close(a: &Tensor, b: &Tensor, tol: f32) -> Result<()> {
    let d = (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
    assert!(d <= tol, "max abs difference {d} > {tol}");
    Ok(())
}

#[test]
fn transposed_conv_matches_a_loop() -> Result<()> {
    let vm = VarMap::new();
    let layer = ConvTranspose2x2::new(3, 2, seeded_var_builder(&vm, 1, &Device::Cpu).pp("up"))?;
    let xs = randn(&[2, 3, 3, 5], 2)?;
    let ys = layer.forward(&xs)?;
    assert_eq!(ys.dims(), &[2, 2, 6, 10]);
    let data = vm.data().lock().unwrap();
    let w = data["up.weight"]
        .as_tensor()
        .flatten_all()?
        .to_vec1::<f32>()?;
    let bias = data["up.bias"].as_tensor().to_vec1::<f32>()?;
    let x = v4(&xs);
    let y = v4(&ys);
    for b in 0..2 {
        for o in 0..2 {
            for h in 0..6 {
                for wi in 0..10 {
                    let mut acc = bias[o];
                    for c in 0..3 {
                        acc += x[b][c][h / 2][wi / 2] * w[((c * 2 + o) * 2 + h % 2) * 2 + wi % 2];
                    }
                    assert!((acc - y[b][o][h][wi]).abs() < 1e-5);
                }
            }
        }
    }
    Ok(())
}

#[test]
fn depthwise_conv_matches_a_loop() -> Result<()> {
    let vm = VarMap::new();
    let layer = DepthwiseConv::new(3, 5, seeded_var_builder(&vm, 3, &Device::Cpu).pp("dw"))?;
    let xs = randn(&[1, 3, 6, 7], 4)?;
    let y = v4(&layer.forward(&xs)?);
    let x = v4(&xs);
    let data = vm.data().lock().unwrap();
    let w = data["dw.weight"]
        .as_tensor()
        .flatten_all()?
        .to_vec1::<f32>()?;
    let bias = data["dw.bias"].as_tensor().to_vec1::<f32>()?;
    for c in 0..3 {
        for h in 0..6i64 {
            for wi in 0..7i64 {
                let mut acc = bias[c];
                for i in 0..5i64 {
                    for j in 0..5i64 {
                        let (hh, ww) = (h + i - 2, wi + j - 2);
                        if (0..6).contains(&hh) && (0..7).contains(&ww) {
                            acc += x[0][c][hh as usize][ww as usize]
                                * w[c * 25 + (i * 5 + j) as usize];
                        }
                    }
                }
                assert!((acc - y[0][c][h as usize][wi as usize]).abs() < 1e-5);
            }
        }
    }
    Ok(())
}

#[test]
fn max_pool_and_channel_norm_match_their_definitions() -> Result<()> {
    let xs = randn(&[1, 2, 4, 6], 5)?;
    let x = v4(&xs);
    let y = v4(&max_pool2(&xs)?);
    for c in 0..2 {
        for h in 0..2 {
            for w in 0..3 {
                let m = [(0, 0), (0, 1), (1, 0), (1, 1)]
                    .iter()
                    .map(|(i, j)| x[0][c][2 * h + i][2 * w + j])
                    .fold(f32::MIN, f32::max);
                assert_eq!(m, y[0][c][h][w]);
            }
        }
    }
    let vm = VarMap::new();
    let norm = ChannelL2Norm::new(2, seeded_var_builder(&vm, 0, &Device::Cpu).pp("n"))?;
    let z = v4(&norm.forward(&xs)?);
    let r = (x[0][0][1][2].powi(2) + x[0][1][1][2].powi(2)).sqrt();
    assert!((z[0][1][1][2] - x[0][1][1][2] / r).abs() < 1e-6);
    Ok(())
}

#[test]
fn batch_norm_trains_on_batch_statistics_and_evaluates_on_running_ones() -> Result<()> {
    let vm = VarMap::new();
    let bn = BatchNorm2d::new(2, seeded_var_builder(&vm, 0, &Device::Cpu).pp("bn"))?;
    let xs = randn(&[3, 2, 4, 4], 6)?.affine(3.0, 1.5)?;
    let ys = bn.forward(&xs, Mode::Train)?;
    // batch statistics: each channel has mean 0, biased variance 1
    let mean = ys
        .mean_keepdim((0, 2, 3))?
        .flatten_all()?
        .to_vec1::<f32>()?;
    assert!(mean.iter().all(|m| m.abs() < 1e-5));
    let var = ys
        .sqr()?
        .mean_keepdim((0, 2, 3))?
        .flatten_all()?
        .to_vec1::<f32>()?;
    assert!(var.iter().all(|v| (v - 1.0).abs() < 1e-3));
    let batch_mean = xs
        .mean_keepdim((0, 2, 3))?
        .flatten_all()?
        .to_vec1::<f32>()?;
    let running = vm.data().lock().unwrap()["bn.running_mean"]
        .as_tensor()
        .to_vec1::<f32>()?;
    for (r, m) in running.iter().zip(&batch_mean) {
        assert!((r - 0.1 * m).abs() < 1e-5);
    }
    // evaluation uses the running statistics, which the clone shares
    let eval = bn.clone().forward(&xs, Mode::Eval)?;
    let rv = vm.data().lock().unwrap()["bn.running_var"]
        .as_tensor()
        .to_vec1::<f32>()?;
    let expect = xs
        .broadcast_sub(&Tensor::new(running.as_slice(), &Device::Cpu)?.reshape((1, 2, 1, 1))?)?
        .broadcast_div(
            &(Tensor::new(rv.as_slice(), &Device::Cpu)?.reshape((1, 2, 1, 1))? + 1e-5)?.sqrt()?,
        )?;
    close(&eval, &expect, 1e-5)?;
    assert!(is_buffer("a.bn.running_var") && !is_buffer("a.bn.weight"));
    Ok(())
}

fn tiny_convnext() -> UNetConvNextConfig {
    UNetConvNextConfig::new(3, 2, [8, 12])
        .with_init_features(4)
        .with_stages(2)
        .with_blocks_per_stage(1)
        .with_kernel_size(3)
}

fn tiny_classic() -> UNetClassicConfig {
    UNetClassicConfig::new(3, 2, [8, 12])
        .with_init_features(4)
        .with_depth(2)
}

#[test]
fn shapes_and_parameter_counts() -> Result<()> {
    let xs = randn(&[2, 3, 8, 12], 7)?;
    let vm = VarMap::new();
    let cfg = tiny_convnext();
    let net = cfg.build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    assert_eq!(net.forward(&xs)?.dims(), &[2, 2, 8, 12]);
    let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
    assert_eq!(n, cfg.n_parameters());
    let table = crate::nn::ParamTable::new("u", &vm, net.components());
    assert!(table.rows().iter().all(|r| r.component != "other"));

    let vm = VarMap::new();
    let cfg = tiny_classic();
    let net = cfg.build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    assert_eq!(net.forward(&xs, Mode::Train)?.dims(), &[2, 2, 8, 12]);
    assert_eq!(net.forward(&xs, Mode::Eval)?.dims(), &[2, 2, 8, 12]);
    let data = vm.data().lock().unwrap();
    let n: usize = data
        .iter()
        .filter(|(k, _)| !is_buffer(k))
        .map(|(_, v)| v.elem_count())
        .sum();
    assert_eq!(n, cfg.n_parameters());
    // The Well's benchmark sizes count as its PyTorch modules do (the_well 1.2.0:
    // `sum(p.numel() for p in UNetConvNext(44, 11, 2, (256, 256), init_features=42,
    // blocks_per_stage=2).parameters())` = 18,588,581, of which 1,890 are the resampling
    // norms' never-used biases; `UNetClassic(44, 11, 2, (256, 256), init_features=48)`:
    // 17,479,595)
    assert_eq!(
        UNetConvNextConfig::the_well(44, 11, [256, 256]).n_parameters(),
        18_586_691
    );
    assert_eq!(
        UNetClassicConfig::the_well(44, 11, [256, 256]).n_parameters(),
        17_479_595
    );
    Ok(())
}

#[test]
fn a_grid_that_does_not_halve_often_enough_is_refused() -> Result<()> {
    let e = tiny_convnext()
        .with_resolution([8, 10])
        .check()
        .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::TooDeep {
            name: "stages",
            depth: 2,
            size: 10
        }
    ));
    let e = tiny_classic().with_depth(4).check().unwrap_err();
    assert!(matches!(
        e,
        ConfigError::TooDeep {
            name: "depth",
            depth: 4,
            size: 8
        }
    ));
    assert!(tiny_classic().with_depth(0).check().is_err());
    assert!(tiny_convnext().with_kernel_size(4).check().is_err());
    let vm = VarMap::new();
    let net = tiny_convnext().build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    let odd = randn(&[1, 3, 8, 6], 1)?;
    assert!(matches!(
        net.forward(&odd),
        Err(Error::Config(ConfigError::TooDeep { size: 6, .. }))
    ));
    assert!(matches!(
        net.forward(&randn(&[1, 2, 8, 12], 1)?),
        Err(Error::Shape { .. })
    ));
    Ok(())
}

/// Every parameter (and the input) receives a non-zero gradient; buffers receive none.
fn check_gradients(vm: &VarMap, xs: &Var, ys: &Tensor) -> Result<()> {
    let weights = randn(ys.dims(), 11)?;
    let loss = (ys * weights)?.sum_all()?;
    let grads = loss.backward()?;
    let g = grads.get(xs.as_tensor()).expect("input gradient");
    assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
    let data = vm.data().lock().unwrap();
    let mut names: Vec<_> = data.keys().cloned().collect();
    names.sort();
    for name in names {
        let var = &data[&name];
        let got = grads.get(var.as_tensor());
        if is_buffer(&name) {
            assert!(got.is_none(), "{name} is a buffer");
            continue;
        }
        let g = got.unwrap_or_else(|| panic!("no gradient for {name}"));
        let s = g.abs()?.sum_all()?.to_scalar::<f32>()?;
        assert!(s > 0.0, "zero gradient for {name}");
    }
    Ok(())
}

#[test]
fn gradients_reach_the_input_and_every_parameter() -> Result<()> {
    let xs = Var::from_tensor(&randn(&[2, 3, 8, 12], 8)?)?;
    let vm = VarMap::new();
    let net = tiny_convnext()
        .with_layer_scale_init(0.5)
        .build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    check_gradients(&vm, &xs, &net.forward(xs.as_tensor())?)?;

    let vm = VarMap::new();
    let net = tiny_classic().build(seeded_var_builder(&vm, 0, &Device::Cpu))?;
    check_gradients(&vm, &xs, &net.forward(xs.as_tensor(), Mode::Train)?)?;
    Ok(())
}

/// The gradient of `Σ y·r` along a random input direction equals central finite differences.
#[test]
fn input_gradient_matches_finite_differences() -> Result<()> {
    let vm = VarMap::new();
    let net = tiny_convnext()
        .with_layer_scale_init(0.5)
        .build(seeded_var_builder(&vm, 2, &Device::Cpu))?;
    let x0 = randn(&[1, 3, 8, 12], 9)?;
    let dir = randn(&[1, 3, 8, 12], 10)?;
    let r = randn(&[1, 2, 8, 12], 12)?;
    let f = |x: &Tensor| -> Result<f64> {
        Ok((net.forward(x)? * &r)?.sum_all()?.to_scalar::<f32>()? as f64)
    };
    let xs = Var::from_tensor(&x0)?;
    let grads = (net.forward(xs.as_tensor())? * &r)?.sum_all()?.backward()?;
    let analytic = (grads.get(xs.as_tensor()).expect("grad") * &dir)?
        .sum_all()?
        .to_scalar::<f32>()? as f64;
    let h = 1e-2;
    let numeric = (f(&(&x0 + (&dir * h)?)?)? - f(&(&x0 - (&dir * h)?)?)?) / (2.0 * h);
    assert!(
        (analytic - numeric).abs() <= 2e-2 * analytic.abs().max(1.0),
        "{analytic} vs {numeric}"
    );
    Ok(())
}

#[test]
fn the_same_seed_gives_the_same_network() -> Result<()> {
    let xs = randn(&[1, 3, 8, 12], 13)?;
    let run = |seed| -> Result<Vec<f32>> {
        let vm = VarMap::new();
        let net = tiny_convnext().build(seeded_var_builder(&vm, seed, &Device::Cpu))?;
        Ok(net.forward(&xs)?.flatten_all()?.to_vec1()?)
    };
    assert_eq!(run(4)?, run(4)?);
    assert_ne!(run(4)?, run(5)?);
    Ok(())
}
