//! The tokeniser's architectural options (paper Appendix B): transposed-convolution
//! upsampling, the per-frame group norm in the residual blocks and the pseudo-inverse kernel
//! resize of the flexible downsampling — shapes, causality, gradients to the input and every
//! parameter, config round trips and typed errors for bad settings.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use phystok::nn::{
    FlexDownsample, FlexTransposedUpsample, FrameGroupNorm, KernelResize, ResidualBlock,
    ResidualNorm, ScaleFactor, seeded_var_builder,
};
use phystok::tokeniser::{Compression, PAPER_NORM_GROUPS, TokeniserConfig, Upsampling};

fn vb(seed: u64) -> (VarMap, VarBuilder<'static>) {
    let varmap = VarMap::new();
    let vb = seeded_var_builder(&varmap, seed, &Device::Cpu);
    (varmap, vb)
}

fn wavy(shape: (usize, usize, usize, usize, usize), k: f64) -> Tensor {
    let n = shape.0 * shape.1 * shape.2 * shape.3 * shape.4;
    let v: Vec<f32> = (0..n).map(|i| (k * i as f64).sin() as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

/// Largest absolute change per frame (axis 2) of a 5-D tensor.
fn per_frame_change(a: &Tensor, b: &Tensor) -> Vec<f32> {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .max_keepdim(4)
        .unwrap()
        .max_keepdim(3)
        .unwrap()
        .max_keepdim(1)
        .unwrap()
        .max_keepdim(0)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// Adds one to every value of frame `t`.
fn bump(xs: &Tensor, t: usize) -> Tensor {
    let (b, c, _, h, w) = xs.dims5().unwrap();
    let one = Tensor::ones((b, c, 1, h, w), DType::F32, &Device::Cpu).unwrap();
    let zeros = xs.zeros_like().unwrap();
    let z = zeros
        .slice_assign(&[0..b, 0..c, t..t + 1, 0..h, 0..w], &one)
        .unwrap();
    (xs + z).unwrap()
}

/// Every listed variable gets a finite gradient that is nonzero somewhere.
fn assert_grads_reach(loss: &Tensor, vars: &[(String, Tensor)]) {
    let grads = loss.backward().unwrap();
    for (name, v) in vars {
        let g = grads
            .get(v)
            .unwrap_or_else(|| panic!("no gradient for {name}"));
        let norm: f32 = g.sqr().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            norm > 0.0 && norm.is_finite(),
            "zero or non-finite gradient for {name}: {norm}"
        );
    }
}

fn all_vars(varmap: &VarMap, input: &Var) -> Vec<(String, Tensor)> {
    let mut list = vec![("input".to_string(), input.as_tensor().clone())];
    let data = varmap.data().lock().unwrap();
    list.extend(data.iter().map(|(n, v)| (n.clone(), v.as_tensor().clone())));
    list
}

const FACTORS: [(usize, usize); 4] = [(1, 2), (2, 2), (1, 4), (2, 4)];

#[test]
fn transposed_upsampling_has_the_depth_to_space_shapes_and_is_causal() {
    for resize in [KernelResize::Adjoint, KernelResize::PseudoInverse] {
        let (_vm, vb) = vb(11);
        let up = FlexTransposedUpsample::new(3, 2, ScaleFactor::new(2, 4), vb)
            .unwrap()
            .with_resize(resize);
        let xs = wavy((2, 3, 4, 2, 2), 0.23);
        for (st, ss) in FACTORS {
            let f = ScaleFactor::new(st, ss);
            let ys = up.forward(&xs, f).unwrap();
            assert_eq!(ys.dims(), &[2, 2, st * 3 + 1, 2 * ss, 2 * ss], "{f}");
            for j in 0..4 {
                let y1 = up.forward(&bump(&xs, j), f).unwrap();
                let d = per_frame_change(&y1, &ys);
                // latent frame j paints output frames s_t·j − s_t + 1 ..= s_t·j + 1 (then the
                // final causal conv only looks back): nothing before s_t·j − s_t + 1
                for (n, dn) in d.iter().enumerate() {
                    if n + st < st * j + 1 {
                        assert_eq!(*dn, 0.0, "{resize:?} {f}: latent {j} changed frame {n}");
                    }
                }
                assert!(
                    d[st * j] > 1e-6,
                    "{resize:?} {f}: latent {j} missed its frame"
                );
            }
        }
        assert_eq!(
            up.kernel(ScaleFactor::new(1, 2)).unwrap().dims(),
            &[2, 3, 1, 2, 2]
        );
        assert!(matches!(
            up.forward(&xs, ScaleFactor::new(4, 2)),
            Err(phystok::Error::Config(_))
        ));
    }
}

#[test]
fn transposed_upsampling_gradients_reach_input_and_every_parameter_at_every_factor() {
    for resize in [KernelResize::Adjoint, KernelResize::PseudoInverse] {
        for (st, ss) in FACTORS {
            let (varmap, vb) = vb(12);
            let up = FlexTransposedUpsample::new(3, 2, ScaleFactor::new(2, 4), vb)
                .unwrap()
                .with_resize(resize);
            let xs = Var::from_tensor(&wavy((1, 3, 3, 2, 2), 0.31)).unwrap();
            let ys = up
                .forward(xs.as_tensor(), ScaleFactor::new(st, ss))
                .unwrap();
            let loss = ys.sqr().unwrap().sum_all().unwrap();
            let vars = all_vars(&varmap, &xs);
            assert_eq!(
                vars.len(),
                5,
                "input, transposed.{{weight,bias}}, conv.{{weight,bias}}"
            );
            assert_grads_reach(&loss, &vars);
            assert_eq!(
                up.n_parameters(),
                2 * 3 * 3 * 4 * 4 + 2 + 2 * 2 * 27 + 2,
                "base kernel (out, in, 3, 4, 4), bias, conv 3x3x3"
            );
        }
    }
}

#[test]
fn transposed_upsampling_paints_a_constant_latent_with_the_same_mean_at_every_factor() {
    let (_vm, vb) = vb(13);
    let up = FlexTransposedUpsample::new(1, 1, ScaleFactor::new(2, 4), vb).unwrap();
    // the painted mean of a constant latent is the kernel's sum over the stride volume; the
    // adjoint rule keeps the sum at every factor, PI-resize in space (4 → 2 sum-pools) but
    // not in time (3 → 1 keeps the middle tap)
    for (resize, factors) in [
        (KernelResize::Adjoint, vec![(2, 2), (1, 4), (1, 2)]),
        (KernelResize::PseudoInverse, vec![(2, 2)]),
    ] {
        let up = up.clone().with_resize(resize);
        let base = up.kernel(ScaleFactor::new(2, 4)).unwrap();
        let base_mean = base.sum_all().unwrap().to_scalar::<f32>().unwrap() / (2.0 * 16.0);
        for (st, ss) in factors {
            let k = up.kernel(ScaleFactor::new(st, ss)).unwrap();
            let mean = k.sum_all().unwrap().to_scalar::<f32>().unwrap() / (st * ss * ss) as f32;
            assert!(
                (mean - base_mean).abs() < 1e-5 * (1.0 + base_mean.abs()),
                "{resize:?} ({st},{ss}): {mean} vs {base_mean}"
            );
        }
    }
}

#[test]
fn frame_group_norm_normalises_each_group_of_each_frame_alone() {
    let (varmap, vb) = vb(14);
    let norm = FrameGroupNorm::new(2, 4, vb).unwrap();
    let xs = Var::from_tensor(&wavy((2, 4, 3, 4, 4), 0.37).affine(3.0, 1.5).unwrap()).unwrap();
    let ys = norm.forward(xs.as_tensor()).unwrap();
    assert_eq!(ys.dims(), xs.dims());
    // unit gain and zero shift at initialisation: each (sample, group, frame) has mean 0
    // and variance 1 over its 2 channels × 16 pixels
    let g = ys.reshape((2, 2, 2, 3, 16)).unwrap();
    let mean = g.mean_keepdim(4).unwrap().mean_keepdim(2).unwrap();
    let var = g
        .broadcast_sub(&mean)
        .unwrap()
        .sqr()
        .unwrap()
        .mean_keepdim(4)
        .unwrap()
        .mean_keepdim(2)
        .unwrap();
    let mean: Vec<f32> = mean.flatten_all().unwrap().to_vec1().unwrap();
    let var: Vec<f32> = var.flatten_all().unwrap().to_vec1().unwrap();
    assert_eq!(mean.len(), 2 * 2 * 3);
    assert!(mean.iter().all(|m| m.abs() < 1e-5), "{mean:?}");
    assert!(var.iter().all(|v| (v - 1.0).abs() < 1e-3), "{var:?}");
    // per frame: changing frame t changes frame t only (squared, so that the change is not
    // a shift the normalisation removes)
    for t in 0..3 {
        let y1 = norm
            .forward(&bump(xs.as_tensor(), t).sqr().unwrap())
            .unwrap();
        let y0 = norm.forward(&xs.as_tensor().sqr().unwrap()).unwrap();
        let d = per_frame_change(&y1, &y0);
        for (n, dn) in d.iter().enumerate() {
            assert_eq!(*dn > 0.0, n == t, "bump at {t}: frame {n} changed by {dn}");
        }
    }
    // gradients: a loss that does not cancel under normalisation
    let w = wavy((2, 4, 3, 4, 4), 0.53);
    let loss = (ys * w).unwrap().sqr().unwrap().sum_all().unwrap();
    let vars = all_vars(&varmap, &xs);
    assert_eq!(vars.len(), 3);
    assert_grads_reach(&loss, &vars);
    assert_eq!(norm.n_parameters(), 8);
}

#[test]
fn a_residual_block_with_the_norm_is_causal_and_trains_every_parameter() {
    let (varmap, vb) = vb(15);
    let block = ResidualBlock::with_norm(4, ResidualNorm::GroupPerFrame { groups: 2 }, vb).unwrap();
    assert_eq!(block.n_parameters(), 2 * (4 * 4 * 27 + 4) + 2 * 2 * 4);
    let xs = Var::from_tensor(&wavy((1, 4, 5, 4, 4), 0.41)).unwrap();
    let ys = block.forward(xs.as_tensor()).unwrap();
    assert_eq!(ys.dims(), xs.dims());
    for t in 0..5 {
        let y1 = block.forward(&bump(xs.as_tensor(), t)).unwrap();
        let d = per_frame_change(&y1, &ys);
        for (n, dn) in d.iter().enumerate() {
            if n < t {
                assert_eq!(*dn, 0.0, "bump at {t} changed frame {n}");
            }
        }
        assert!(d[t] > 1e-6);
    }
    let loss = ys.sqr().unwrap().sum_all().unwrap();
    let vars = all_vars(&varmap, &xs);
    assert_eq!(
        vars.len(),
        9,
        "input, conv1/2 weight+bias, norm1/2 weight+bias"
    );
    assert_grads_reach(&loss, &vars);
}

#[test]
fn pi_resize_downsampling_returns_the_base_kernel_at_the_base_factor_and_trains() {
    let base = ScaleFactor::new(2, 4);
    let (_vm, vb_a) = vb(16);
    let adjoint = FlexDownsample::new(2, 3, base, vb_a).unwrap();
    assert_eq!(adjoint.resize(), KernelResize::Adjoint);
    let pi = adjoint.clone().with_resize(KernelResize::PseudoInverse);
    let exact = max_abs_diff(&pi.kernel(base).unwrap(), &adjoint.kernel(base).unwrap());
    assert_eq!(exact, 0.0);
    // smaller factors differ between the rules; the pseudo-inverses are cached
    let small = ScaleFactor::new(1, 2);
    assert!(max_abs_diff(&pi.kernel(small).unwrap(), &adjoint.kernel(small).unwrap()) > 1e-4);
    let n = pi.resizer().cached();
    assert_eq!(n, 2, "one matrix for 4 → 2 in space, one for 3 → 1 in time");
    for _ in 0..3 {
        pi.kernel(small).unwrap();
        pi.kernel(ScaleFactor::new(2, 2)).unwrap();
    }
    assert_eq!(
        pi.resizer().cached(),
        3,
        "3 → 3 in time added once, never recomputed"
    );
    for (st, ss) in FACTORS {
        let (varmap, vb) = vb(17);
        let down = FlexDownsample::new(2, 3, base, vb)
            .unwrap()
            .with_resize(KernelResize::PseudoInverse);
        let xs = Var::from_tensor(&wavy((1, 2, 5, 8, 8), 0.3)).unwrap();
        let ys = down
            .forward(xs.as_tensor(), ScaleFactor::new(st, ss))
            .unwrap();
        assert_eq!(ys.dims(), &[1, 3, 4 / st + 1, 8 / ss, 8 / ss]);
        let loss = ys.sqr().unwrap().sum_all().unwrap();
        assert_grads_reach(&loss, &all_vars(&varmap, &xs));
    }
}

/// The tiny tokeniser with every option switched away from its default.
fn options_config() -> TokeniserConfig {
    TokeniserConfig::tiny()
        .with_res_blocks(1)
        .with_upsampling(Upsampling::Transposed)
        .with_residual_norm(ResidualNorm::GroupPerFrame { groups: 2 })
        .with_kernel_resize(KernelResize::PseudoInverse)
}

#[test]
fn a_tokeniser_with_every_option_round_trips_shapes_and_trains_every_parameter() {
    let tok = options_config().init(&Device::Cpu).unwrap();
    let names: Vec<String> = tok
        .varmap()
        .data()
        .lock()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    for name in [
        "decoder.levels.2.up.transposed.weight",
        "decoder.levels.2.up.conv.weight",
        "encoder.levels.0.blocks.0.norm1.weight",
        "decoder.mid.0.norm2.bias",
    ] {
        assert!(names.iter().any(|n| n == name), "missing {name}");
    }
    let xs = wavy((1, 3, 5, 32, 32), 0.05);
    for c in tok.config().all_compressions() {
        let zs = tok.encode(&xs, &[0, 1, 2], &c).unwrap();
        let ys = tok.decode(&zs, &[0, 1, 2], &c).unwrap();
        assert_eq!(ys.dims(), xs.dims(), "{c}");
    }
    // every base kernel is used at the largest factors; a smaller one runs the resize paths
    for c in [
        Compression::new([(1, 2), (2, 4), (2, 4)]),
        Compression::new([(1, 2), (1, 2), (2, 2)]),
    ] {
        let x = Var::from_tensor(&wavy((1, 3, 5, 32, 32), 0.11)).unwrap();
        let ys = tok.autoencode(x.as_tensor(), &[0, 1, 2], &c).unwrap();
        let loss = (ys - x.as_tensor())
            .unwrap()
            .sqr()
            .unwrap()
            .mean_all()
            .unwrap();
        let vars = all_vars(tok.varmap(), &x);
        assert!(vars.len() > 40);
        assert_grads_reach(&loss, &vars);
    }
}

#[test]
fn a_tokeniser_with_every_option_is_causal_in_time() {
    let tok = options_config().init(&Device::Cpu).unwrap();
    let base = wavy((1, 2, 9, 16, 16), 0.09);
    for c in [
        Compression::paper_validation(),
        Compression::new([(1, 2), (1, 2), (2, 2)]),
    ] {
        let s = c.time();
        let z0 = tok.encode(&base, &[0, 1], &c).unwrap();
        let y0 = tok.decode(&z0, &[0, 1], &c).unwrap();
        for t in [0, 1, 4, 5, 8] {
            let xs = bump(&base, t);
            let z1 = tok.encode(&xs, &[0, 1], &c).unwrap();
            let y1 = tok.decode(&z1, &[0, 1], &c).unwrap();
            let dz = per_frame_change(&z1, &z0);
            for (j, d) in dz.iter().enumerate() {
                if s * j < t {
                    assert_eq!(*d, 0.0, "{c}: frame {t} changed latent {j}");
                }
            }
            let dy = per_frame_change(&y1, &y0);
            for (f, d) in dy.iter().enumerate() {
                // a reconstructed frame sees the latents up to the one aligned at or after it
                if s * f.div_ceil(s) < t {
                    assert_eq!(*d, 0.0, "{c}: frame {t} changed reconstructed frame {f}");
                }
            }
            assert!(
                dy[t] > 1e-6,
                "{c}: frame {t} did not reach its reconstruction"
            );
        }
    }
}

#[test]
fn configs_without_the_new_settings_load_with_the_old_behaviour() {
    for cfg in [
        TokeniserConfig::paper(),
        TokeniserConfig::small(),
        options_config(),
    ] {
        let json = serde_json::to_string(&cfg).unwrap();
        let back: TokeniserConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
    }
    let mut old = serde_json::to_value(TokeniserConfig::paper()).unwrap();
    for key in ["upsampling", "residual_norm", "kernel_resize"] {
        assert!(old.as_object_mut().unwrap().remove(key).is_some(), "{key}");
    }
    let back: TokeniserConfig = serde_json::from_value(old).unwrap();
    assert_eq!(back.upsampling, Upsampling::DepthToSpace);
    assert_eq!(back.residual_norm, ResidualNorm::None);
    assert_eq!(back.kernel_resize, KernelResize::Adjoint);
    // the presets: the paper keeps depth-to-space, the adjoint resize and a plain norm; the
    // CPU sizes keep what they had
    let paper = TokeniserConfig::paper();
    assert_eq!(paper.upsampling, Upsampling::DepthToSpace);
    assert_eq!(
        paper.residual_norm,
        ResidualNorm::GroupPerFrame {
            groups: PAPER_NORM_GROUPS
        }
    );
    assert_eq!(paper.kernel_resize, KernelResize::Adjoint);
    for cfg in [TokeniserConfig::small(), TokeniserConfig::tiny()] {
        assert_eq!(cfg.residual_norm, ResidualNorm::None);
        assert_eq!(cfg.upsampling, Upsampling::DepthToSpace);
        assert_eq!(cfg.kernel_resize, KernelResize::Adjoint);
    }
}

#[test]
fn norm_groups_that_do_not_divide_the_widths_are_config_errors() {
    for groups in [0, 3, 16] {
        let cfg = TokeniserConfig::tiny()
            .with_res_blocks(1)
            .with_residual_norm(ResidualNorm::GroupPerFrame { groups });
        let err = cfg.check().unwrap_err();
        assert!(err.to_string().contains("residual_norm.groups"), "{err}");
        let err = cfg.init(&Device::Cpu).unwrap_err();
        assert!(matches!(err, phystok::Error::Config(_)), "{err}");
        assert!(err.to_string().contains("residual_norm.groups"), "{err}");
    }
    // without residual blocks there is nothing to normalise, so nothing to refuse
    TokeniserConfig::tiny()
        .with_residual_norm(ResidualNorm::GroupPerFrame { groups: 3 })
        .check()
        .unwrap();
    let (_vm, vb) = vb(18);
    assert!(matches!(
        FrameGroupNorm::new(3, 4, vb),
        Err(phystok::Error::Config(_))
    ));
}
