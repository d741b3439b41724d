//! The spectral convolution against a direct DFT (forward) and finite differences
//! (backward), on grids with odd and even sides.

use std::f64::consts::PI;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::VarMap;

use super::dft::height_frequencies;
use super::*;
use crate::nn::seeded_var_builder;
use crate::{ConfigError, Error, Result};

fn values(shape: &[usize], seed: u64) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| {
            let x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
                ^ seed.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ((x >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0
        })
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

/// `irfft2` of the zero-filled, weighted spectrum, by direct sums (what torch's
/// `irfft2(W · rfft2(x)[kept])` computes).
fn direct(x: &Tensor, wr: &Tensor, wi: &Tensor, modes: [usize; 2]) -> Result<Vec<f64>> {
    let (b, c, h, w) = x.dims4()?;
    let o = wr.dim(1)?;
    let xv = x.flatten_all()?.to_vec1::<f64>()?;
    let (wrv, wiv) = (
        wr.flatten_all()?.to_vec1::<f64>()?,
        wi.flatten_all()?.to_vec1::<f64>()?,
    );
    let kh = height_frequencies(modes[0]);
    let mw = modes[1] / 2 + 1;
    let mh = kh.len();
    let mut out = vec![0.0; b * o * h * w];
    for bi in 0..b {
        // spectrum of every input channel at the kept modes
        let mut f = vec![(0.0, 0.0); c * mh * mw];
        for ci in 0..c {
            for (a, &k1) in kh.iter().enumerate() {
                for k2 in 0..mw {
                    let (mut re, mut im) = (0.0, 0.0);
                    for y in 0..h {
                        for z in 0..w {
                            let v = xv[((bi * c + ci) * h + y) * w + z];
                            let ang = -2.0
                                * PI
                                * (k1 as f64 * y as f64 / h as f64 + (k2 * z) as f64 / w as f64);
                            re += v * ang.cos();
                            im += v * ang.sin();
                        }
                    }
                    f[(ci * mh + a) * mw + k2] = (re, im);
                }
            }
        }
        for oi in 0..o {
            for y in 0..h {
                for z in 0..w {
                    let mut acc = 0.0;
                    for (a, &k1) in kh.iter().enumerate() {
                        for k2 in 0..mw {
                            let (mut yr, mut yi) = (0.0, 0.0);
                            for ci in 0..c {
                                let (fr, fi) = f[(ci * mh + a) * mw + k2];
                                let idx = ((ci * o + oi) * mh + a) * mw + k2;
                                yr += fr * wrv[idx] - fi * wiv[idx];
                                yi += fr * wiv[idx] + fi * wrv[idx];
                            }
                            let weight = if k2 == 0 || 2 * k2 == w { 1.0 } else { 2.0 };
                            let ang = 2.0
                                * PI
                                * (k1 as f64 * y as f64 / h as f64 + (k2 * z) as f64 / w as f64);
                            acc += weight * (yr * ang.cos() - yi * ang.sin());
                        }
                    }
                    out[((bi * o + oi) * h + y) * w + z] = acc / (h * w) as f64;
                }
            }
        }
    }
    Ok(out)
}

fn weights(c: usize, o: usize, modes: [usize; 2], seed: u64) -> Result<(Tensor, Tensor)> {
    let shape = [c, o, height_frequencies(modes[0]).len(), modes[1] / 2 + 1];
    Ok((values(&shape, seed)?, values(&shape, seed + 1)?))
}

#[test]
fn forward_equals_a_direct_dft_on_odd_and_even_grids() -> Result<()> {
    // odd width (no Nyquist), odd height modes; even sides with every mode incl. Nyquist
    for (h, w, modes) in [
        (6, 7, [3, 6]),
        (8, 8, [8, 8]),
        (5, 4, [4, 2]),
        (7, 9, [5, 4]),
    ] {
        let x = values(&[2, 3, h, w], 1)?;
        let (wr, wi) = weights(3, 2, modes, 2)?;
        let got = spectral_conv2d(&x, &wr, &wi, modes)?
            .flatten_all()?
            .to_vec1::<f64>()?;
        let want = direct(&x, &wr, &wi, modes)?;
        for (g, e) in got.iter().zip(&want) {
            assert!((g - e).abs() < 1e-10, "{h}x{w} {modes:?}: {g} vs {e}");
        }
    }
    Ok(())
}

/// With every mode kept and identity weights, the layer is the identity (irfft2 ∘ rfft2).
#[test]
fn all_modes_and_identity_weights_give_the_input_back() -> Result<()> {
    for (h, w) in [(6, 8), (5, 7), (4, 5)] {
        let x = values(&[1, 2, h, w], 3)?;
        let mw = w / 2 + 1;
        let eye = Tensor::eye(2, DType::F64, &Device::Cpu)?
            .reshape((2, 2, 1, 1))?
            .broadcast_as((2, 2, h, mw))?
            .contiguous()?;
        // modes[1] / 2 + 1 = W / 2 + 1 for modes[1] = W (W even) or W − 1 (W odd)
        let modes = [h, 2 * (mw - 1)];
        let y = spectral_conv2d(&x, &eye, &eye.zeros_like()?, modes)?;
        let d = (y - &x)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?;
        assert!(d < 1e-12, "{h}x{w}: {d}");
    }
    Ok(())
}

/// Directional derivatives of `Σ y·r` by autograd and by central differences, for the
/// input and both weights (f64).
#[test]
fn backward_matches_finite_differences() -> Result<()> {
    let (h, w, modes) = (6, 7, [3, 6]);
    let x = Var::from_tensor(&values(&[2, 3, h, w], 4)?)?;
    let (wr, wi) = weights(3, 2, modes, 5)?;
    let (wr, wi) = (Var::from_tensor(&wr)?, Var::from_tensor(&wi)?);
    let r = values(&[2, 2, h, w], 7)?;
    let f = |x: &Tensor, wr: &Tensor, wi: &Tensor| -> Result<f64> {
        Ok((spectral_conv2d(x, wr, wi, modes)? * &r)?
            .sum_all()?
            .to_scalar::<f64>()?)
    };
    let grads = (spectral_conv2d(x.as_tensor(), wr.as_tensor(), wi.as_tensor(), modes)? * &r)?
        .sum_all()?
        .backward()?;
    let eps = 1e-5;
    for (i, var) in [&x, &wr, &wi].into_iter().enumerate() {
        let dir = values(var.dims(), 10 + i as u64)?;
        let g = grads.get(var.as_tensor()).expect("gradient");
        let analytic = (g * &dir)?.sum_all()?.to_scalar::<f64>()?;
        let mut plus = [
            x.as_tensor().clone(),
            wr.as_tensor().clone(),
            wi.as_tensor().clone(),
        ];
        let mut minus = plus.clone();
        plus[i] = (&plus[i] + (&dir * eps)?)?;
        minus[i] = (&minus[i] - (&dir * eps)?)?;
        let numeric =
            (f(&plus[0], &plus[1], &plus[2])? - f(&minus[0], &minus[1], &minus[2])?) / (2.0 * eps);
        assert!(
            (analytic - numeric).abs() < 1e-7 * analytic.abs().max(1.0),
            "argument {i}: {analytic} vs {numeric}"
        );
    }
    Ok(())
}

#[test]
fn the_layer_counts_checks_and_trains_every_weight() -> Result<()> {
    for factorisation in [Factorisation::Dense, Factorisation::Tucker { rank: 0.3 }] {
        let cfg = SpectralConvConfig::new(3, 4, [4, 4]).with_factorisation(factorisation);
        let vm = VarMap::new();
        let layer = cfg.build(seeded_var_builder(&vm, 0, &Device::Cpu).pp("spectral"))?;
        let n: usize = vm.all_vars().iter().map(|v| v.elem_count()).sum();
        assert_eq!(n, cfg.n_parameters());
        let x = Var::from_tensor(&values(&[2, 3, 6, 5], 1)?.to_dtype(DType::F32)?)?;
        let y = layer.forward(x.as_tensor())?;
        assert_eq!(y.dims(), &[2, 4, 6, 5]);
        let r = values(y.dims(), 2)?.to_dtype(DType::F32)?;
        let grads = (y * r)?.sum_all()?.backward()?;
        for var in vm.all_vars().iter().chain([&x]) {
            let g = grads.get(var.as_tensor()).expect("gradient");
            assert!(g.abs()?.sum_all()?.to_scalar::<f32>()? > 0.0);
        }
        let too_small = values(&[1, 3, 3, 5], 1)?.to_dtype(DType::F32)?;
        assert!(matches!(
            layer.forward(&too_small),
            Err(Error::Config(ConfigError::ModesExceedGrid {
                axis: "height",
                modes: 4,
                size: 3
            }))
        ));
    }
    let tucker = SpectralConvConfig::new(16, 16, [8, 8])
        .with_factorisation(Factorisation::Tucker { rank: 0.1 });
    let dense = SpectralConvConfig::new(16, 16, [8, 8]);
    assert!(tucker.n_parameters() as f64 <= 0.11 * dense.n_parameters() as f64);
    assert!(matches!(
        SpectralConvConfig::new(2, 2, [4, 8]).check_grid([4, 5]),
        Err(ConfigError::ModesExceedGrid {
            axis: "width",
            modes: 8,
            size: 5
        })
    ));
    assert!(
        SpectralConvConfig::new(2, 2, [4, 4])
            .with_factorisation(Factorisation::Tucker { rank: 0.0 })
            .check()
            .is_err()
    );
    Ok(())
}
