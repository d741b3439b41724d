//! The geometry of one causal convolution, shared by the im2col + GEMM kernel
//! ([`super::conv`]) and the direct kernel ([`super::direct`]).

/// Which CPU kernel computes a `CausalConvOp` (the same result to float32 rounding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConvKernel {
    /// The direct kernel (`super::direct`) for unit strides, with AVX-512F where the CPU has
    /// it and AVX2 + FMA otherwise (forward, input and weight gradients);
    /// [`ConvKernel::Im2colGemm`] for everything else. `PHYSTOK_SIMD=avx2` picks the AVX2
    /// path and `PHYSTOK_SIMD=none` im2col + GEMM (read once per process).
    #[default]
    Direct,
    /// The direct kernel's AVX2 + FMA code path even on CPUs with AVX-512F (to test and
    /// measure it where both exist); [`ConvKernel::Im2colGemm`] where it does not apply.
    DirectAvx2,
    /// im2col + GEMM for every geometry.
    Im2colGemm,
}

/// Sizes of one causal convolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geom {
    pub b: usize,
    pub c_in: usize,
    pub c_out: usize,
    pub t: usize,
    pub h: usize,
    pub w: usize,
    pub kt: usize,
    pub kh: usize,
    pub kw: usize,
    pub st: usize,
    pub ss: usize,
    pub pad: usize,
    /// Zero frames in front of the input: `k_t − 1` (causal); 0 for the input gradient,
    /// which looks at later frames.
    pub shift: usize,
    pub t_out: usize,
    pub h_out: usize,
    pub w_out: usize,
    /// Which kernel runs the products.
    pub kernel: ConvKernel,
}

impl Geom {
    pub(super) fn new(
        x: &[usize],
        w: &[usize],
        (st, ss): (usize, usize),
        pad: usize,
        kernel: ConvKernel,
    ) -> candle_core::Result<Self> {
        let bad = || candle_core::Error::Msg(format!("causal conv shapes {x:?} and {w:?}"));
        let (&[b, c_in, t, h, wd], &[c_out, wc, kt, kh, kw]) = (x, w) else {
            return Err(bad());
        };
        if wc != c_in || kt == 0 || st == 0 || ss == 0 || t == 0 {
            return Err(bad());
        }
        if h + 2 * pad < kh || wd + 2 * pad < kw {
            return Err(bad());
        }
        Ok(Self {
            b,
            c_in,
            c_out,
            t,
            h,
            w: wd,
            kt,
            kh,
            kw,
            st,
            ss,
            pad,
            shift: kt - 1,
            t_out: (t - 1) / st + 1,
            h_out: (h + 2 * pad - kh) / ss + 1,
            w_out: (wd + 2 * pad - kw) / ss + 1,
            kernel,
        })
    }

    pub(super) fn kk(&self) -> usize {
        self.kh * self.kw
    }

    /// Column-matrix rows: `k_t · C_in · k_h · k_w`, ordered `(dt, c, dy, dx)`.
    pub(super) fn k(&self) -> usize {
        self.kt * self.c_in * self.kk()
    }

    pub(crate) fn n_out(&self) -> usize {
        self.h_out * self.w_out
    }

    /// A `1x1` spatial kernel at stride 1 without padding: the frames are the columns.
    pub(super) fn pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.ss == 1 && self.pad == 0
    }

    /// The temporal taps `dt0..dt1` of output frame `to` that read a real frame (not padding).
    pub(crate) fn taps(&self, to: usize) -> (usize, usize) {
        let at = to * self.st;
        let dt0 = self.shift.saturating_sub(at);
        let dt1 = (self.t + self.shift).saturating_sub(at).min(self.kt);
        (dt0, dt1.max(dt0))
    }

    /// Input frame read by tap `dt` of output frame `to` (valid within [`Geom::taps`]).
    pub(crate) fn frame_in(&self, to: usize, dt: usize) -> usize {
        to * self.st + dt - self.shift
    }

    /// The geometry of the input gradient at unit strides: `dX` is the convolution of `dY`
    /// with the flipped kernel `(C_in, C_out, k_t, k_h, k_w)`, reading frames `t..t + k_t`
    /// and padded by `k − 1 − p` pixels.
    pub(super) fn transposed(&self) -> Self {
        debug_assert!(self.st == 1 && self.ss == 1);
        Self {
            c_in: self.c_out,
            c_out: self.c_in,
            t: self.t_out,
            h: self.h_out,
            w: self.w_out,
            pad: self.kh - 1 - self.pad,
            shift: 0,
            t_out: self.t,
            h_out: self.h,
            w_out: self.w,
            ..*self
        }
    }

    /// Offset of `x[b, c, ti, 0, 0]`.
    pub(super) fn x_frame(&self, b: usize, c: usize, ti: usize) -> usize {
        ((b * self.c_in + c) * self.t + ti) * self.h * self.w
    }

    /// Offset of `y[b, 0, to, 0, 0]` (rows `o` follow at stride `t_out·H'W'`).
    pub(crate) fn y_frame(&self, b: usize, to: usize) -> usize {
        (b * self.c_out * self.t_out + to) * self.n_out()
    }
}
