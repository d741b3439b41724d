//! A vectorised `exp` for softmax rows: Cephes' `expf` (range reduction by `ln 2` in two
//! parts, a degree-5 minimax polynomial on `[−ln2/2, ln2/2]`, the exponent put in by bits),
//! relative error about one float32 ulp, written so that LLVM vectorises it; compiled three
//! times (AVX-512F, AVX2 + FMA, the baseline) and chosen at run time.
//!
//! libm's scalar `expf` took a fifth of the fused attention's time (`perf`): every score is
//! exponentiated twice, forward and in the backward's recomputation.

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split so that `n · LN2_HI` is exact for the `n` that occur.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Below this, `exp` is under the smallest normal float and is returned as 0.
const MIN_ARG: f32 = -87.336_55;
/// `1.5 · 2²³`: adding and subtracting it rounds to the nearest integer.
const ROUND: f32 = 12_582_912.0;

/// `e^x` for `x ≤ 0` (softmax arguments after subtracting the row maximum); 0 below
/// `MIN_ARG` and for `−∞`; NaN stays NaN (a comparison, not `f32::max`, which would drop it).
#[inline(always)]
pub(crate) fn exp_nonpositive(x: f32) -> f32 {
    #[allow(clippy::manual_clamp)] // f32::max returns the other operand for NaN
    let xc = if x < MIN_ARG { MIN_ARG } else { x };
    // `t`'s low mantissa bits hold the rounded integer `n` itself, read without a float to
    // int cast (Rust's saturating `as` does not vectorise)
    let t = xc * LOG2E + ROUND;
    let ni = t.to_bits() as i32 - ROUND.to_bits() as i32;
    let n = t - ROUND;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_2e-4_f32;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in float32
    let y = p * r * r + r + 1.0;
    let scale = f32::from_bits(((ni + 127) as u32) << 23);
    let v = y * scale;
    if x < MIN_ARG { 0.0 } else { v }
}

#[inline(always)]
fn exp_sub_sum_body(row: &mut [f32], max: f32) -> f32 {
    let mut lanes = [0f32; 16];
    let mut chunks = row.chunks_exact_mut(16);
    for c in &mut chunks {
        for (v, l) in c.iter_mut().zip(lanes.iter_mut()) {
            *v = exp_nonpositive(*v - max);
            *l += *v;
        }
    }
    let mut sum: f32 = 0.0;
    for v in chunks.into_remainder() {
        *v = exp_nonpositive(*v - max);
        sum += *v;
    }
    sum + lanes.iter().sum::<f32>()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn exp_sub_sum_avx512(row: &mut [f32], max: f32) -> f32 {
    exp_sub_sum_body(row, max)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn exp_sub_sum_avx2(row: &mut [f32], max: f32) -> f32 {
    exp_sub_sum_body(row, max)
}

/// Replaces every `v` of `row` by `e^(v − max)` and returns their sum (`max` ≥ every `v`).
pub(crate) fn exp_sub_sum(row: &mut [f32], max: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F.
            return unsafe { exp_sub_sum_avx512(row, max) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA.
            return unsafe { exp_sub_sum_avx2(row, max) };
        }
    }
    exp_sub_sum_body(row, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within 2 ulp (relative 2.4e-7) of `f64::exp` over the whole softmax range, 0 below
    /// it, and the sum is the sum of the values.
    #[test]
    fn matches_exp_to_float32_rounding() {
        let mut row: Vec<f32> = (0..20_000).map(|i| -(i as f32) * 0.0044).collect();
        row.extend([f32::NEG_INFINITY, -100.0, -87.4, 0.0, -1e-30]);
        let args = row.clone();
        let sum = exp_sub_sum(&mut row, 0.0);
        let mut total = 0f64;
        for (&x, &y) in args.iter().zip(&row) {
            let want = (x as f64).exp();
            total += y as f64;
            if x < MIN_ARG {
                assert_eq!(y, 0.0, "exp({x})");
            } else {
                let rel = ((y as f64) - want).abs() / want;
                assert!(
                    rel < 2.4e-7,
                    "exp({x}) = {y}, want {want}: relative error {rel}"
                );
            }
        }
        assert!((sum as f64 - total).abs() < 1e-5 * total);
        let mut shifted = vec![3.0f32, 1.0, 2.0];
        let s = exp_sub_sum(&mut shifted, 3.0);
        assert!((shifted[0] - 1.0).abs() < 1e-7 && (shifted[1] - (-2f32).exp()).abs() < 1e-7);
        assert!((s - (1.0 + (-2f32).exp() + (-1f32).exp())).abs() < 1e-6);
    }

    /// NaN in, NaN out (at every position of a vectorised row and its remainder), and the
    /// sum is NaN as with candle's `exp` then `sum`.
    #[test]
    fn nan_propagates() {
        assert!(exp_nonpositive(f32::NAN).is_nan());
        assert_eq!(exp_nonpositive(f32::NEG_INFINITY), 0.0);
        for at in [0, 5, 16, 20] {
            let mut row = vec![-0.5f32; 21];
            row[at] = f32::NAN;
            let sum = exp_sub_sum(&mut row, 0.0);
            assert!(sum.is_nan(), "sum with NaN at {at}");
            for (i, v) in row.iter().enumerate() {
                assert_eq!(v.is_nan(), i == at, "element {i} with NaN at {at}");
            }
        }
    }
}
