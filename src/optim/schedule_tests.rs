//! Schedule values at every phase boundary, computed by hand from equations (7)–(10).

use super::*;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// peak 1, W = 2, C = 3, E = 10, α = 0.1, κ = 128.
fn inv() -> LrSchedule {
    ScheduleConfig::inverse_sqrt(1.0, 2, 3, 10).build().unwrap()
}

#[test]
fn inverse_sqrt_warmup_is_linear_from_alpha() {
    let s = inv();
    close(s.lr(0), 0.1);
    close(s.lr(1), 0.55);
    close(s.lr(2), 1.0); // e = W is still warmup: the peak.
}

#[test]
fn inverse_sqrt_decay_follows_equation_8() {
    let s = inv();
    // s = 1: 1 / (1 + √129 − √128)
    close(s.lr(3), 0.957_755_151_307_373_1);
    // e = E − C = 7, s = 5: 1 / (1 + √133 − √128), the last decay value.
    close(s.lr(7), 0.820_442_744_984_293_8);
}

#[test]
fn inverse_sqrt_cooldown_follows_equations_9_and_10() {
    let s = inv();
    // lr_end = 1 / (1 + √135 − √128): lower than lr(7), the documented discontinuity.
    let lr_end = 0.766_141_721_384_177_5;
    close(s.lr(8), lr_end);
    assert!(s.lr(8) < s.lr(7));
    close(s.lr(9), 0.323_809_592_305_619_34); // lr_end (1 − √(1/3))
    close(s.lr(10), 0.140_589_625_367_914_08); // lr_end (1 − √(2/3))
    close(s.lr(12), 0.0); // t − 1 = 4 > C: clamped
}

#[test]
fn per_epoch_stepping_holds_the_rate_through_each_epoch() {
    let s = ScheduleConfig::inverse_sqrt(2.0, 2, 3, 10)
        .with_stepping(Stepping::PerEpoch { steps_per_epoch: 5 })
        .build()
        .unwrap();
    for step in 0..5 {
        close(s.lr(step), 0.2);
    }
    close(s.lr(5), 1.1);
    close(s.lr(14), 2.0);
    close(s.lr(15), 2.0 * 0.957_755_151_307_373_1);
}

#[test]
fn zero_warmup_starts_at_the_peak() {
    let s = ScheduleConfig::inverse_sqrt(1.0, 0, 0, 4).build().unwrap();
    close(s.lr(0), 1.0);
    close(s.lr(1), 1.0 / (1.0 + 129f64.sqrt() - 128f64.sqrt()));
}

#[test]
fn paper_rollout_preset_warms_up_decays_and_cools_down_within_its_run() {
    let s = ScheduleConfig::paper_rollout(1, 1).build().unwrap();
    close(s.lr(0), 5e-6);
    close(s.lr(2100), 5e-5);
    assert!(
        s.lr(1050) > 5e-6 && s.lr(1050) < 5e-5,
        "warmup is linear over one epoch"
    );
    // the cooldown starts at step 27,300 and brings the rate close to zero by the last step
    let before = s.lr(27_300);
    assert!(s.lr(29_399) < 0.01 * before, "{} vs {before}", s.lr(29_399));
    assert!(s.lr(28_000) < before && s.lr(28_000) > s.lr(29_399));
    // stretched to the pretraining study's 10,500 steps, it still cools down
    let short = ScheduleConfig::paper_rollout(1, 1)
        .rescaled(29_400, 10_500)
        .build()
        .unwrap();
    assert!(short.lr(10_499) < 0.01 * short.lr(9_750 - 750));
}

#[test]
fn cosine_boundaries() {
    let s = ScheduleConfig::cosine(1.0, 2, 10)
        .with_warmup_factor(0.1)
        .with_final_factor(0.1)
        .build()
        .unwrap();
    close(s.lr(0), 0.1);
    close(s.lr(1), 0.55);
    close(s.lr(2), 1.0);
    close(s.lr(3), 0.965_745_789_630_079_1); // 0.1 + 0.9 · ½(1 + cos(π/8))
    close(s.lr(6), 0.55); // half way
    close(s.lr(10), 0.1);
    close(s.lr(100), 0.1);
}

#[test]
fn constant_is_constant() {
    let s = ScheduleConfig::paper_tokeniser().build().unwrap();
    close(s.lr(0), 5e-4);
    close(s.lr(168_000), 5e-4);
}

#[test]
fn bad_settings_are_typed_errors() {
    let e = ScheduleConfig::inverse_sqrt(1.0, 6, 6, 10)
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        crate::Error::Config(ConfigError::Mismatch { .. })
    ));
    let e = ScheduleConfig::cosine(1.0, 10, 10).build().unwrap_err();
    assert!(matches!(
        e,
        crate::Error::Config(ConfigError::Mismatch { .. })
    ));
    let e = ScheduleConfig::constant(f64::NAN).build().unwrap_err();
    assert!(matches!(
        e,
        crate::Error::Config(ConfigError::OutOfRange { .. })
    ));
    let e = ScheduleConfig::constant(1.0)
        .with_stepping(Stepping::PerEpoch { steps_per_epoch: 0 })
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        crate::Error::Config(ConfigError::NotPositive { .. })
    ));
    let e = ScheduleConfig::inverse_sqrt(1.0, 1, 1, 4)
        .with_warmup_factor(1.5)
        .build()
        .unwrap_err();
    assert!(matches!(
        e,
        crate::Error::Config(ConfigError::OutOfRange { .. })
    ));
}

#[test]
fn table_lists_every_boundary_with_its_rate() {
    let s = inv();
    let t = s.to_table();
    let b = s.boundaries();
    assert_eq!(t.n_rows(), b.len());
    assert_eq!(t.header(), ["step", "lr"]);
    for (row, (e, lr)) in t.rows().iter().zip(&b) {
        assert_eq!(row, &[e.to_string(), format!("{lr:.4e}")]);
    }
    assert!(t.caption().starts_with("InverseSqrt"));
}
