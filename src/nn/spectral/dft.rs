//! The truncated 2D Fourier transform of a spectral convolution as matrix products.
//!
//! A spectral convolution (Li et al. 2021, the Fourier neural operator) keeps few Fourier
//! modes, so instead of an FFT (which candle does not have, on any device) phystok
//! multiplies by the truncated DFT matrices: `O(N·M)` per axis for `M` kept modes, exact,
//! on every device candle has a matmul for, and with autograd's exact backward (the
//! adjoint products) for free.
//!
//! Modes follow neuraloperator's `SpectralConv` (the FNO/TFNO of The Well's benchmark):
//! along the height `modes_h` frequencies `k ∈ [−⌊m/2⌋, m − ⌊m/2⌋)`; along the width
//! (a real FFT) `modes_w / 2 + 1` frequencies `k ∈ [0, modes_w/2]`. The inverse is
//! `irfft2` of the zero-filled spectrum: an inverse complex DFT over the height, then the
//! real inverse over the width, where every width frequency other than 0 and `W/2` counts
//! twice (its Hermitian partner) and the imaginary parts of those two are dropped.

use std::f64::consts::PI;

use candle_core::{DType, Device, Tensor};

use crate::Result;

/// Height frequencies kept for `modes_h` (`[0, m − ⌊m/2⌋) ∪ [−⌊m/2⌋, 0)`).
pub(crate) fn height_frequencies(modes_h: usize) -> Vec<i64> {
    let neg = (modes_h / 2) as i64;
    let pos = modes_h as i64 - neg;
    (0..pos).chain(-neg..0).collect()
}

/// Number of width frequencies kept for `modes_w` (`modes_w / 2 + 1`, as neuraloperator).
pub(crate) fn width_modes(modes_w: usize) -> usize {
    modes_w / 2 + 1
}

/// The DFT matrices for one grid and mode set, in the dtype and on the device of the data.
#[derive(Debug, Clone)]
pub(crate) struct DftMatrices {
    pub(crate) height: usize,
    pub(crate) width: usize,
    /// `(W, 2·Mw)`: `x ↦ [Re | Im]` of the real DFT over the width.
    fwd_w: Tensor,
    /// `(2H, 2·Mh)`: `[A | B] ↦ [Re | Im]` of the complex DFT of `A + iB` over the height.
    fwd_h: Tensor,
    /// `(2·Mh, 2H)`: the inverse complex DFT over the height (unnormalised).
    inv_h: Tensor,
    /// `(2·Mw, W)`: the real inverse over the width, with the `1/(H·W)` normalisation.
    inv_w: Tensor,
    modes_h: usize,
    modes_w: usize,
}

fn matrix(
    rows: usize,
    cols: usize,
    f: impl Fn(usize, usize) -> f64,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    let v: Vec<f64> = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
    Ok(Tensor::from_vec(v, (rows, cols), device)?.to_dtype(dtype)?)
}

impl DftMatrices {
    /// Matrices for a `height x width` grid keeping `modes_h` x `modes_w` modes (the caller
    /// has checked that they fit).
    pub(crate) fn new(
        height: usize,
        width: usize,
        modes_h: usize,
        modes_w: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let kh = height_frequencies(modes_h);
        let mh = kh.len();
        let mw = width_modes(modes_w);
        let (hf, wf) = (height as f64, width as f64);
        // angle 2π·k·n/N, reduced modulo N first so large products stay exact
        let ang_h =
            |k: i64, n: usize| 2.0 * PI * ((k * n as i64).rem_euclid(height as i64) as f64) / hf;
        let ang_w = |k: usize, n: usize| 2.0 * PI * (((k * n) % width) as f64) / wf;
        let fwd_w = matrix(
            width,
            2 * mw,
            |n, j| {
                let k = j % mw;
                if j < mw {
                    ang_w(k, n).cos()
                } else {
                    -ang_w(k, n).sin()
                }
            },
            dtype,
            device,
        )?;
        // Re = A cos + B sin, Im = B cos − A sin (rows: A over n, then B over n)
        let fwd_h = matrix(
            2 * height,
            2 * mh,
            |r, j| {
                let (n, from_b) = (r % height, r >= height);
                let a = ang_h(kh[j % mh], n);
                match (from_b, j < mh) {
                    (false, true) => a.cos(),
                    (false, false) => -a.sin(),
                    (true, true) => a.sin(),
                    (true, false) => a.cos(),
                }
            },
            dtype,
            device,
        )?;
        // Gr = Yr cos − Yi sin, Gi = Yr sin + Yi cos
        let inv_h = matrix(
            2 * mh,
            2 * height,
            |r, j| {
                let (k, from_im) = (kh[r % mh], r >= mh);
                let a = ang_h(k, j % height);
                match (from_im, j < height) {
                    (false, true) => a.cos(),
                    (false, false) => a.sin(),
                    (true, true) => -a.sin(),
                    (true, false) => a.cos(),
                }
            },
            dtype,
            device,
        )?;
        // y = Σ_k c_k (Gr cos − Gi sin) / (H·W), c_k = 1 at k = 0 and k = W/2, else 2
        let inv_w = matrix(
            2 * mw,
            width,
            |r, n| {
                let (k, from_im) = (r % mw, r >= mw);
                let c = if k == 0 || 2 * k == width { 1.0 } else { 2.0 };
                let a = ang_w(k, n);
                c / (hf * wf) * if from_im { -a.sin() } else { a.cos() }
            },
            dtype,
            device,
        )?;
        Ok(DftMatrices {
            height,
            width,
            fwd_w,
            fwd_h,
            inv_h,
            inv_w,
            modes_h: mh,
            modes_w: mw,
        })
    }

    /// Whether these matrices serve data of this grid, dtype and device.
    pub(crate) fn fits(&self, height: usize, width: usize, dtype: DType, device: &Device) -> bool {
        self.height == height
            && self.width == width
            && self.fwd_w.dtype() == dtype
            && self.fwd_w.device().same_device(device)
    }

    /// The kept spectrum of `xs (batch, C, H, W)` as `(Mw·Mh, batch, 2C)`: per mode
    /// (width-major), the real parts of the channels, then the imaginary parts.
    pub(crate) fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = xs.dims4()?;
        let (mh, mw) = (self.modes_h, self.modes_w);
        let xw = xs.reshape((b * c * h, w))?.matmul(&self.fwd_w)?; // (bch, 2mw)
        let xw = xw
            .reshape((b, c, h, 2, mw))?
            .permute((0, 1, 4, 3, 2))?
            .reshape((b * c * mw, 2 * h))?;
        let f = xw.matmul(&self.fwd_h)?; // (b c mw, 2 mh)
        Ok(f.reshape((b, c, mw, 2, mh))?
            .permute((2, 4, 0, 3, 1))?
            .reshape((mw * mh, b, 2 * c))?)
    }

    /// The real field `(batch, O, H, W)` of a kept spectrum `(Mw·Mh, batch, 2O)` laid out
    /// as [`forward`](Self::forward) returns it, all other modes zero.
    pub(crate) fn inverse(&self, ys: &Tensor) -> Result<Tensor> {
        let (_, b, o2) = ys.dims3()?;
        let o = o2 / 2;
        let (mh, mw) = (self.modes_h, self.modes_w);
        let (h, w) = (self.height, self.width);
        let g = ys
            .reshape((mw, mh, b, 2, o))?
            .permute((2, 4, 0, 3, 1))?
            .reshape((b * o * mw, 2 * mh))?
            .matmul(&self.inv_h)?; // (b o mw, 2h)
        let g = g
            .reshape((b, o, mw, 2, h))?
            .permute((0, 1, 4, 3, 2))?
            .reshape((b * o * h, 2 * mw))?;
        Ok(g.matmul(&self.inv_w)?.reshape((b, o, h, w))?)
    }
}
