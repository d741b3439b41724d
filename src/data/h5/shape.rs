//! Strides, tiling of omitted axes, and the scan for non-finite values.

/// Row-major strides of `shape`.
pub(crate) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Index of the first NaN or infinity, scanning in blocks the compiler vectorises: a value
/// is not finite when its exponent bits are all set, so the block's largest magnitude bit
/// pattern tells whether it holds one.
pub(super) fn first_non_finite(xs: &[f32]) -> Option<usize> {
    const BLOCK: usize = 1024;
    const EXPONENT: u32 = 0x7f80_0000;
    let magnitude = |b: &[f32]| b.iter().fold(0u32, |m, x| m.max(x.to_bits() & 0x7fff_ffff));
    let (k, block) = xs
        .chunks(BLOCK)
        .enumerate()
        .find(|(_, b)| magnitude(b) >= EXPONENT)?;
    block
        .iter()
        .position(|x| !x.is_finite())
        .map(|i| k * BLOCK + i)
}

/// Broadcasts `data` of `src` shape (each axis equal to `dst`'s or 1) to `dst`.
pub(super) fn tile(data: &[f32], src: &[usize], dst: &[usize]) -> Vec<f32> {
    if src == dst {
        return data.to_vec();
    }
    let ss = strides(src);
    let ds = strides(dst);
    let n: usize = dst.iter().product();
    (0..n)
        .map(|i| {
            let j: usize = (0..dst.len())
                .map(|a| {
                    if src[a] == 1 {
                        0
                    } else {
                        (i / ds[a]) % dst[a] * ss[a]
                    }
                })
                .sum();
            data[j]
        })
        .collect()
}
