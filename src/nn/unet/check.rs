//! The size rules every U-Net shares: a grid that halves `depth` times, inputs that match.

use candle_core::Tensor;

use crate::{ConfigError, Error, Result};

/// `Ok` when both sides of `resolution` are positive multiples of `2^depth`; otherwise
/// [`ConfigError::TooDeep`] naming the setting (`stages`, `depth`) and the side.
pub(crate) fn check_depth(
    name: &'static str,
    depth: usize,
    resolution: [usize; 2],
) -> Result<(), ConfigError> {
    let factor = 1usize.checked_shl(depth as u32).unwrap_or(0);
    for size in resolution {
        if factor == 0 || size == 0 || !size.is_multiple_of(factor) {
            return Err(ConfigError::TooDeep { name, depth, size });
        }
    }
    Ok(())
}

/// Checks an input `(batch, channels, H, W)` against the network's input channels and depth.
pub(crate) fn check_input(
    xs: &Tensor,
    in_channels: usize,
    name: &'static str,
    depth: usize,
) -> Result<()> {
    let (_, c, h, w) = xs.dims4().map_err(|_| Error::Shape {
        what: "U-Net input (batch, channels, height, width)".into(),
        left: xs.dims().to_vec(),
        right: vec![0; 4],
    })?;
    if c != in_channels {
        return Err(Error::Shape {
            what: "U-Net input channels".into(),
            left: vec![c],
            right: vec![in_channels],
        });
    }
    check_depth(name, depth, [h, w])?;
    Ok(())
}
