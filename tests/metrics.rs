//! Metrics: parity with The Well's own metric code, Parseval, bad input, rollouts, files.
//!
//! Expected numbers come from `tests/reference/metrics_the_well.py` (The Well's
//! `the_well.benchmark.metrics`, run in float64 on the same f32 fixture data), stored in
//! `tests/reference/metrics_expected.json`.

use candle_core::{Device, Tensor};
use phystok::data::{TensorOrder, WellFile};
use phystok::metrics::the_well_time_intervals;
use phystok::metrics::{
    ConservationDrift, DriftOptions, EvaluateOptions, HorizonScores, MetricGrid, MetricWarning,
    NepsSpectrum, RolloutHorizon, SpectrumAnalyser, SpectrumOptions, SubsetProtocol,
    TemporalOptions, TemporalSpectrum, compare_well, evaluate,
};
use phystok::{Error, metrics::FrameScores};
use serde::Deserialize;

const M32: u64 = 1 << 32;

fn lcg(s: u64) -> u64 {
    (1664525 * s + 1013904223) % M32
}

/// Same generator as the reference script.
fn noise(seed: u64, idx: u64) -> f64 {
    lcg(lcg((seed * 2654435761 + idx) % M32)) as f64 / M32 as f64 - 0.5
}

/// The reference fixture, in phystok's layout `(batch, channels, time, *spatial)`.
fn fixture(batch: usize, time: usize, channels: usize, spatial: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let n: usize = spatial.iter().product();
    let len = batch * time * channels * n;
    let (mut pred, mut target) = (vec![0f32; len], vec![0f32; len]);
    for b in 0..batch {
        for t in 0..time {
            for c in 0..channels {
                for p in 0..n {
                    let idx = (((b * time + t) * channels + c) * n + p) as u64;
                    let mut coords = vec![0usize; spatial.len()];
                    let mut rest = p;
                    for d in (0..spatial.len()).rev() {
                        coords[d] = rest % spatial[d];
                        rest /= spatial[d];
                    }
                    let phase: f64 = (0..spatial.len())
                        .map(|d| {
                            2.0 * std::f64::consts::PI * (1 + c + d) as f64 * coords[d] as f64
                                / spatial[d] as f64
                        })
                        .sum();
                    let smooth = (phase + 0.3 * t as f64 + b as f64).sin() + 0.5 * c as f64;
                    let smooth2 = (2.0 * std::f64::consts::PI * coords[0] as f64
                        / spatial[0] as f64
                        + 0.1 * t as f64)
                        .cos();
                    let y = (smooth + 0.3 * noise(1, idx)) as f32;
                    let x = (y as f64 + 0.2 * noise(2, idx) + 0.1 * smooth2) as f32;
                    let ours = ((b * channels + c) * time + t) * n + p;
                    target[ours] = y;
                    pred[ours] = x;
                }
            }
        }
    }
    (pred, target)
}

#[derive(Deserialize)]
struct Case {
    name: String,
    batch: usize,
    time: usize,
    channels: usize,
    spatial: Vec<usize>,
    vrmse: Vec<f64>,
    mse: Vec<f64>,
    mae: Vec<f64>,
    nrmse: Vec<f64>,
    linf: Vec<f64>,
    mse_per_bin: Vec<Vec<f64>>,
    nmse_per_bin: Vec<Vec<f64>>,
}

#[derive(Deserialize)]
struct Expected {
    cases: Vec<Case>,
}

/// `values` as a CPU tensor of shape `dims`.
fn tensor(values: &[f32], dims: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), dims, &Device::Cpu).unwrap()
}

/// The Well's metrics of `pred` against `target`, both of shape `dims`.
fn scores(pred: &[f32], target: &[f32], dims: &[usize]) -> MetricGrid {
    let options = EvaluateOptions::default();
    evaluate(&tensor(pred, dims), &tensor(target, dims), &options).unwrap()
}

/// `(batch, channels, time, *spatial)`.
fn dims(batch: usize, channels: usize, time: usize, spatial: &[usize]) -> Vec<usize> {
    [batch, channels, time]
        .iter()
        .chain(spatial)
        .copied()
        .collect()
}

fn assert_rel(got: f64, want: f64, what: &str) {
    let err = (got - want).abs() / want.abs().max(1e-12);
    assert!(
        err < 1e-5,
        "{what}: got {got}, the_well {want} (rel err {err:.2e})"
    );
}

#[test]
fn parity_with_the_well_metrics_on_square_non_square_and_3d_grids() {
    let expected: Expected =
        serde_json::from_str(include_str!("reference/metrics_expected.json")).unwrap();
    assert_eq!(expected.cases.len(), 4);
    for case in &expected.cases {
        let (pred, target) = fixture(case.batch, case.time, case.channels, &case.spatial);
        let layout = dims(case.batch, case.channels, case.time, &case.spatial);
        let grid = scores(&pred, &target, &layout);
        let frames: Vec<&FrameScores> = grid.iter().map(|(_, s)| s).collect();
        assert_eq!(frames.len(), case.vrmse.len(), "{}", case.name);
        for (i, f) in frames.iter().enumerate() {
            let w = |m: &str| format!("{} frame {i} {m}", case.name);
            assert_rel(f.vrmse, case.vrmse[i], &w("vrmse"));
            assert_rel(f.mse, case.mse[i], &w("mse"));
            assert_rel(f.mae, case.mae[i], &w("mae"));
            assert_rel(f.nrmse, case.nrmse[i], &w("nrmse"));
            assert_rel(f.linf, case.linf[i], &w("linf"));
            for (j, (m, n)) in f
                .band_mse
                .to_array()
                .iter()
                .zip(f.neps.to_array())
                .enumerate()
            {
                assert_rel(*m, case.mse_per_bin[j][i], &w(&format!("mse bin {j}")));
                assert_rel(n, case.nmse_per_bin[j][i], &w(&format!("nmse bin {j}")));
            }
        }
    }
}

#[test]
fn parseval_band_errors_sum_to_the_pixel_mse() {
    for spatial in [vec![12usize, 20], vec![9, 7], vec![6, 4, 5]] {
        let (pred, target) = fixture(2, 2, 2, &spatial);
        let layout = dims(2, 2, 2, &spatial);
        let grid = scores(&pred, &target, &layout);
        for (id, f) in grid.iter() {
            let bands: f64 = f.band_mse.to_array().iter().sum();
            assert!(
                (bands - f.mse).abs() < 1e-12 * f.mse.max(1.0),
                "{spatial:?} {id:?}"
            );
            let target_energy: f64 = f.band_target.to_array().iter().sum();
            let n = target.len() / 8;
            let s = ((id.sample * 2 + id.channel) * 2 + id.time) * n;
            let ms: f64 = target[s..s + n]
                .iter()
                .map(|&v| (v as f64).powi(2))
                .sum::<f64>()
                / n as f64;
            assert!((target_energy - ms).abs() < 1e-12 * ms.max(1.0));
        }
        // fine bins: Σ_k |B_k| P_res(k) / N² is the MSE too
        let neps = NepsSpectrum::from_tensors(
            &tensor(&pred, &layout),
            &tensor(&target, &layout),
            &SpectrumOptions::default(),
        )
        .unwrap();
        let n: usize = spatial.iter().product();
        for (c, curve) in neps.per_channel.iter().enumerate() {
            let total: f64 = curve
                .residual_power
                .iter()
                .zip(&neps.counts)
                .filter(|(_, k)| **k > 0)
                .map(|(p, &k)| p * k as f64)
                .sum::<f64>()
                / (n * n) as f64;
            assert!(
                (total - grid.channel_mean(c).mse).abs() < 1e-12,
                "{spatial:?}"
            );
        }
    }
}

#[test]
fn plane_wave_puts_all_power_in_one_fine_bin() {
    let (h, w) = (16usize, 32usize);
    let (ky, kx) = (3.0, 5.0);
    let field: Vec<f64> = (0..h * w)
        .map(|p| {
            let (i, j) = ((p / w) as f64, (p % w) as f64);
            (2.0 * std::f64::consts::PI * (ky * i / h as f64 + kx * j / w as f64)).cos()
        })
        .collect();
    let spec = SpectrumAnalyser::new(&[h, w])
        .unwrap()
        .power_spectrum(&field)
        .unwrap();
    let k = 2.0 * std::f64::consts::PI * ((ky / h as f64).powi(2) + (kx / w as f64).powi(2)).sqrt();
    let peak = spec
        .power
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.is_nan())
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert!(spec.edges[peak] <= k && k < spec.edges[peak + 1]);
    let others: f64 = spec
        .power
        .iter()
        .enumerate()
        .filter(|(j, p)| *j != peak && !p.is_nan())
        .map(|(_, p)| p)
        .sum();
    assert!(others < 1e-18, "leak {others}");
    assert!((spec.total_energy(h * w) - 0.5).abs() < 1e-12);
}

#[test]
fn dtype_and_memory_layout_of_the_tensors_do_not_change_the_scores() {
    let spatial = [8usize, 12];
    let (pred, target) = fixture(2, 3, 2, &spatial);
    let layout = dims(2, 2, 3, &spatial);
    let f32_grid = scores(&pred, &target, &layout);
    let (p, t) = (tensor(&pred, &layout), tensor(&target, &layout));
    let options = EvaluateOptions::default();
    let f64 = |x: &Tensor| x.to_dtype(candle_core::DType::F64).unwrap();
    assert_eq!(evaluate(&f64(&p), &f64(&t), &options).unwrap(), f32_grid);
    // the same values seen through a transposed (non-contiguous) view
    let view = |x: &Tensor| {
        x.transpose(3, 4)
            .unwrap()
            .contiguous()
            .unwrap()
            .transpose(3, 4)
            .unwrap()
    };
    assert_eq!(evaluate(&view(&p), &view(&t), &options).unwrap(), f32_grid);
}

#[test]
fn mismatched_shapes_are_typed_errors_naming_both_sides() {
    let p = Tensor::zeros((1, 2, 3, 8, 8), candle_core::DType::F32, &Device::Cpu).unwrap();
    let t = Tensor::zeros((1, 2, 3, 8, 6), candle_core::DType::F32, &Device::Cpu).unwrap();
    match evaluate(&p, &t, &EvaluateOptions::default()) {
        Err(Error::Shape { left, right, .. }) => {
            assert_eq!(left, vec![1, 2, 3, 8, 8]);
            assert_eq!(right, vec![1, 2, 3, 8, 6]);
        }
        other => panic!("expected a shape error, got {other:?}"),
    }
    let mut a = WellFile::new("a", &["x", "y"], &[4, 4], 1, vec![0.0, 1.0]).unwrap();
    let mut b = a.clone();
    a.push_field("density", TensorOrder::Scalar, vec![0.0; 32])
        .unwrap();
    b.push_field("pressure", TensorOrder::Scalar, vec![0.0; 32])
        .unwrap();
    match compare_well(&a, &b) {
        Err(Error::Mismatch { left, right, .. }) => {
            assert_eq!((left.as_str(), right.as_str()), ("density", "pressure"));
        }
        other => panic!("expected a mismatch error, got {other:?}"),
    }
}

#[test]
fn nan_in_prediction_is_reported_not_averaged_away() {
    let spatial = [8usize, 8];
    let (mut pred, target) = fixture(2, 2, 1, &spatial);
    pred[64 * 3 + 5] = f32::NAN; // sample 1, channel 0, time 1
    let layout = dims(2, 1, 2, &spatial);
    let grid = scores(&pred, &target, &layout);
    let summary = grid.summary();
    assert!(summary.mean.vrmse.is_nan() && summary.mean.neps.low.is_nan());
    let frames = summary
        .warnings
        .iter()
        .find_map(|w| match w {
            MetricWarning::NonFinitePrediction { frames } => Some(frames.clone()),
            _ => None,
        })
        .expect("a non-finite warning");
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].sample, frames[0].time, frames[0].channel),
        (1, 1, 0)
    );
    assert!(matches!(
        summary.ensure_finite(),
        Err(Error::NonFinite { .. })
    ));
    assert!(grid.at(0, 0, 0).unwrap().vrmse.is_finite());
}

#[test]
fn zero_variance_target_gives_a_defined_vrmse_and_a_warning() {
    let spatial = [6usize, 6];
    let target = vec![2.5f32; 36];
    let pred: Vec<f32> = (0..36).map(|i| 2.5 + 0.01 * (i % 3) as f32).collect();
    let layout = dims(1, 1, 1, &spatial);
    let grid = scores(&pred, &target, &layout);
    let f = grid.at(0, 0, 0).unwrap();
    let mse: f64 = pred.iter().map(|&p| (p as f64 - 2.5).powi(2)).sum::<f64>() / 36.0;
    assert!((f.vrmse - (mse / 1e-7).sqrt()).abs() < 1e-9 * f.vrmse);
    assert!(f.neps.to_array().iter().all(|v| v.is_finite()));
    let s = grid.summary();
    assert!(
        matches!(s.warnings.as_slice(), [MetricWarning::ZeroVarianceTarget { frames }] if frames.len() == 1)
    );
    assert!(s.ensure_finite().is_ok());
}

#[test]
fn rollout_horizons_average_the_right_steps() {
    let spatial = [4usize, 4];
    let (t_n, n) = (18usize, 16usize);
    // error grows with the step: prediction = target + step · wave, so VRMSE(step) ∝ step
    let (_, target) = fixture(1, t_n, 1, &spatial);
    let pred: Vec<f32> = target
        .iter()
        .enumerate()
        .map(|(i, &y)| y + ((i / n) as f32 + 1.0) * 0.01 * ((i % 5) as f32 - 2.0))
        .collect();
    let layout = dims(1, 1, t_n, &spatial);
    let grid = scores(&pred, &target, &layout);
    let h = HorizonScores::from_grid(&grid).unwrap();
    let v = |t: usize| grid.at(0, t, 0).unwrap().vrmse;
    let mean = |r: std::ops::Range<usize>| r.clone().map(v).sum::<f64>() / r.len() as f64;
    assert!((h.get(RolloutHorizon::Step1).unwrap().vrmse - v(0)).abs() < 1e-12);
    assert!((h.get(RolloutHorizon::Step2).unwrap().vrmse - v(1)).abs() < 1e-12);
    assert!((h.get(RolloutHorizon::Steps3To6).unwrap().vrmse - mean(2..6)).abs() < 1e-12);
    assert!((h.get(RolloutHorizon::Steps7To18).unwrap().vrmse - mean(6..18)).abs() < 1e-12);
    // a 5-step rollout covers step 1 and step 2 only (steps 3-6 needs 6 steps)
    let short = HorizonScores::from_grid(&grid.time_slice(0..5).unwrap()).unwrap();
    assert_eq!(short.horizons.len(), 2);
}

#[test]
fn well_time_intervals_match_its_trainer() {
    // from the_well trainer: [0] + [int(np.exp(x)) for x in np.linspace(0, np.log(T), min(T, 5))]
    // T=18 -> [0, 1, 2, 4, 8, 17]; T=10 -> [0, 1, 1, 3, 5, 10]; T=100 -> [0, 1, 3, 10, 31, 100]
    assert_eq!(
        the_well_time_intervals(18, 5),
        vec![0..1, 1..2, 2..4, 4..8, 8..17]
    );
    assert_eq!(
        the_well_time_intervals(10, 5),
        vec![0..1, 1..3, 3..5, 5..10]
    );
    assert_eq!(
        the_well_time_intervals(100, 5),
        vec![0..1, 1..3, 3..10, 10..31, 31..100]
    );
}

#[test]
fn subset_protocol_is_seeded_and_exact_for_full_subsets() {
    let spatial = [4usize, 4];
    let (pred, target) = fixture(12, 1, 2, &spatial);
    let layout = dims(12, 2, 1, &spatial);
    let grid = scores(&pred, &target, &layout);
    let p = SubsetProtocol::paper().with_subset_size(5).with_seed(7);
    let (a, b) = (p.run(&grid).unwrap(), p.run(&grid).unwrap());
    assert_eq!(a, b);
    assert!(a.vrmse.std > 0.0 && a.vrmse.min <= a.vrmse.mean && a.vrmse.mean <= a.vrmse.max);
    assert_ne!(
        p.subsets(12).unwrap(),
        p.clone().with_seed(8).subsets(12).unwrap()
    );
    for s in p.subsets(12).unwrap() {
        let mut s = s.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 5, "drawn without replacement");
    }
    let full = SubsetProtocol::paper()
        .with_subset_size(12)
        .run(&grid)
        .unwrap();
    assert!((full.vrmse.mean - grid.summary().mean.vrmse).abs() < 1e-12);
    assert!(full.vrmse.std < 1e-12);
    assert!(
        SubsetProtocol::paper().run(&grid).is_err(),
        "4096 > 12 examples"
    );
}

#[test]
fn temporal_spectrum_obeys_parseval_along_time() {
    let spatial = [4usize, 6];
    let (pred, target) = fixture(2, 7, 2, &spatial);
    let layout = dims(2, 2, 7, &spatial);
    let spec = TemporalSpectrum::from_tensors(
        &tensor(&pred, &layout),
        &tensor(&target, &layout),
        &TemporalOptions::default().with_channel(1),
    )
    .unwrap();
    let n = 24 * 7;
    let mut mse = 0.0;
    let mut ms = 0.0;
    for b in 0..2 {
        let s = (b * 2 + 1) * n;
        mse += pred[s..s + n]
            .iter()
            .zip(&target[s..s + n])
            .map(|(p, y)| (*p as f64 - *y as f64).powi(2))
            .sum::<f64>();
        ms += target[s..s + n]
            .iter()
            .map(|y| (*y as f64).powi(2))
            .sum::<f64>();
    }
    assert_eq!(spec.omega.len(), 4);
    assert!((spec.error_power.iter().sum::<f64>() - mse / (2 * n) as f64).abs() < 1e-12);
    assert!((spec.target_power.iter().sum::<f64>() - ms / (2 * n) as f64).abs() < 1e-12);
}

#[test]
fn conservation_drift_sees_a_leaking_rollout_and_not_a_shifted_one() {
    let spatial = [4usize, 4];
    let (_, target) = fixture(1, 5, 2, &spatial);
    let layout = dims(1, 2, 5, &spatial);
    let drift = |pred: &[f32], options: DriftOptions| {
        let (p, t) = (tensor(pred, &layout), tensor(&target, &layout));
        ConservationDrift::from_tensors(&p, &t, &options.with_cell_volume(0.25)).unwrap()
    };
    // a cyclic shift of every frame conserves the totals exactly
    let mut shifted = target.clone();
    for frame in shifted.chunks_mut(16) {
        frame.rotate_left(3);
    }
    let d = drift(&shifted, DriftOptions::default().with_name("mass"));
    assert!(d.max_drift_from_truth < 1e-6);
    // losing 1% of the mass per step shows as a 4% drift after 4 steps
    let mut leaking = target.clone();
    for (f, frame) in leaking.chunks_mut(16).enumerate() {
        let t = f % 5;
        frame.iter_mut().for_each(|v| *v *= 1.0 - 0.01 * t as f32);
    }
    let d = drift(
        &leaking,
        DriftOptions::default().with_name("energy").with_channel(1),
    );
    assert!((d.max_drift_from_truth - 0.04).abs() < 1e-6, "{d}");
}

#[test]
fn well_file_comparison_matches_the_tensor_path_and_writes_the_cli_json() {
    let (t_n, b_n, spatial) = (3usize, 2usize, [6usize, 5]);
    let n = 30;
    let (pred5, target5) = fixture(b_n, t_n, 3, &spatial); // (b, c, t, h, w), c = density, v_x, v_y
    let to_file = |data: &[f32]| {
        let mut w =
            WellFile::new("euler", &["x", "y"], &spatial, b_n, vec![0.0, 1.0, 2.0]).unwrap();
        let mut density = vec![0f32; b_n * t_n * n];
        let mut velocity = vec![0f32; b_n * t_n * n * 2];
        for b in 0..b_n {
            for t in 0..t_n {
                for p in 0..n {
                    let at = |c: usize| data[((b * 3 + c) * t_n + t) * n + p];
                    density[(b * t_n + t) * n + p] = at(0);
                    velocity[((b * t_n + t) * n + p) * 2] = at(1);
                    velocity[((b * t_n + t) * n + p) * 2 + 1] = at(2);
                }
            }
        }
        w.push_field("velocity", TensorOrder::Vector, velocity)
            .unwrap();
        w.push_field("density", TensorOrder::Scalar, density)
            .unwrap();
        w
    };
    let cmp = compare_well(&to_file(&pred5), &to_file(&target5)).unwrap();
    let layout = dims(b_n, 3, t_n, &spatial);
    let names = ["density", "velocity_x", "velocity_y"];
    let direct = evaluate(
        &tensor(&pred5, &layout),
        &tensor(&target5, &layout),
        &EvaluateOptions::default().with_channel_names(names),
    )
    .unwrap();
    assert_eq!(cmp.grid, direct);
    let json: serde_json::Value = serde_json::from_str(&cmp.to_json().unwrap()).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    for k in ["density", "velocity_x", "velocity_y", "mean"] {
        assert!(keys.contains(&k), "{k} missing from {keys:?}");
        for m in ["vrmse", "neps_low", "neps_mid", "neps_high"] {
            assert!(json[k][m].is_f64(), "{k}.{m}");
        }
    }
    let mean_vrmse = direct.summary().mean.vrmse;
    assert!((json["mean"]["vrmse"].as_f64().unwrap() - mean_vrmse).abs() < 1e-12);
}

#[cfg(feature = "hdf5")]
#[test]
fn compare_well_files_reads_both_files_and_names_them() {
    let spatial = [6usize, 8];
    let (pred5, target5) = fixture(2, 2, 1, &spatial); // (b, c=1, t, h, w) = (b, t, h, w)
    let file = |data: Vec<f32>| {
        let mut w = WellFile::new("fixture", &["x", "y"], &spatial, 2, vec![0.0, 1.0]).unwrap();
        w.push_field("density", TensorOrder::Scalar, data).unwrap();
        w
    };
    let dir = tempfile::tempdir().unwrap();
    let (p, t) = (dir.path().join("pred.hdf5"), dir.path().join("target.hdf5"));
    file(pred5.clone()).write(&p).unwrap();
    file(target5.clone()).write(&t).unwrap();
    let cmp = phystok::metrics::compare_well_files(&p, &t).unwrap();
    let direct = compare_well(&file(pred5), &file(target5)).unwrap();
    assert_eq!(cmp.grid, direct.grid);
    assert_eq!(cmp.pred_path.as_deref(), Some(p.as_path()));
    let json: serde_json::Value = serde_json::from_str(&cmp.to_json().unwrap()).unwrap();
    assert!(json["density"]["neps_high"].is_f64() && json["mean"]["vrmse"].is_f64());
}

#[cfg(feature = "plot")]
mod plots {
    use super::{dims, fixture, tensor};
    use phystok::metrics::SpectrumOptions;
    use phystok::plot::{Figure, SnapshotFigure, SnapshotOptions, SpectrumFigure, svg_to_png};
    use phystok::{ConfigError, Error};

    fn png_size(png: &[u8]) -> (u32, u32) {
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        (be(&png[16..20]), be(&png[20..24]))
    }

    #[test]
    fn spectrum_figure_renders_svg_and_png_with_band_edges() {
        let spatial = [16usize, 32];
        let (pred, target) = fixture(1, 2, 2, &spatial);
        let layout = dims(1, 2, 2, &spatial);
        let options = SpectrumOptions::default().with_channel_names(["density", "pressure"]);
        let (p, t) = (tensor(&pred, &layout), tensor(&target, &layout));
        let fig = SpectrumFigure::from_tensors(&p, &t, &options)
            .unwrap()
            .with_title("fixture");
        let svg = fig.to_svg().unwrap();
        for needle in [
            "<svg", "density", "pressure", "mean", "low", "mid", "high", "NEPS",
        ] {
            assert!(svg.contains(needle), "{needle} missing from the SVG");
        }
        let png = fig.to_png(1.0).unwrap();
        assert_eq!(png_size(&png), fig.size());
        if let Ok(d) = std::env::var("PHYSTOK_PLOT_DIR") {
            fig.save_png(std::path::Path::new(&d).join("spectrum.png"))
                .unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        fig.save_svg(dir.path().join("s.svg")).unwrap();
        fig.save_png(dir.path().join("s.png")).unwrap();
        let (w, h) = fig.size();
        assert_eq!(
            png_size(&std::fs::read(dir.path().join("s.png")).unwrap()),
            (2 * w, 2 * h)
        );
    }

    #[test]
    fn png_text_is_drawn_with_the_embedded_font() {
        let page = |body: &str| {
            format!(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"40\">{body}</svg>"
            )
        };
        let empty = svg_to_png(&page(""), 1.0).unwrap();
        let text = svg_to_png(
            &page(
                "<text x=\"5\" y=\"25\" font-family=\"sans-serif\" font-size=\"20\">NEPS k</text>",
            ),
            1.0,
        )
        .unwrap();
        assert_ne!(empty, text, "text rendered as nothing: font not found");
    }

    #[test]
    fn snapshot_figure_has_truth_prediction_and_residual_per_field() {
        let spatial = [24usize, 12];
        let (pred, target) = fixture(1, 1, 2, &spatial);
        let layout = dims(1, 2, 1, &spatial);
        let (p, t) = (tensor(&pred, &layout), tensor(&target, &layout));
        let fig = SnapshotFigure::from_tensors(&p, &t, &SnapshotOptions::default()).unwrap();
        let svg = fig.to_svg().unwrap();
        for needle in ["c0 truth", "c1 prediction", "residual"] {
            assert!(svg.contains(needle), "{needle} missing");
        }
        // 2 fields x 3 panels x 24x12 cells
        assert!(svg.matches("<rect").count() >= 2 * 3 * 24 * 12);
        assert_eq!(png_size(&fig.to_png(1.0).unwrap()), fig.size());
        if let Ok(d) = std::env::var("PHYSTOK_PLOT_DIR") {
            fig.save_png(std::path::Path::new(&d).join("snapshot.png"))
                .unwrap();
        }
        let second = SnapshotOptions::default().with_sample(1);
        assert!(matches!(
            SnapshotFigure::from_tensors(&p, &t, &second),
            Err(Error::Config(ConfigError::IndexOutOfRange {
                name: "sample",
                index: 1,
                len: 1
            }))
        ));
    }
}
