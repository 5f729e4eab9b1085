//! wasm `simd128` instantiation of the lane-generic Debye kernel (2 × f64),
//! compiled in only when the build enables `simd128` (wasm has no run-time
//! feature detection). Bit-identical to the scalar instantiation.

use core::arch::wasm32::*;

use super::lanes::{self, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct F64x2(v128);

impl Lanes for F64x2 {
    type Mask = v128;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        F64x2(f64x2_splat(x))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F64x2(f64x2_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        F64x2(f64x2_sub(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        F64x2(f64x2_mul(self.0, o.0))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        F64x2(f64x2_div(self.0, o.0))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        F64x2(f64x2_sqrt(self.0))
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Self::select(self.lt(o), o, self)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Self::select(o.lt(self), o, self)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> v128 {
        f64x2_lt(self.0, o.0)
    }
    #[inline(always)]
    fn select(m: v128, a: Self, b: Self) -> Self {
        F64x2(v128_bitselect(a.0, b.0, m))
    }
    #[inline(always)]
    fn round(self) -> Self {
        let m = Self::splat(lanes::ROUND_MAGIC);
        self.add(m).sub(m)
    }
    #[inline(always)]
    fn pow2(self) -> Self {
        let b = f64x2_add(self.0, f64x2_splat(lanes::ROUND_MAGIC));
        let k = i64x2_sub(b, f64x2_splat(lanes::ROUND_MAGIC));
        F64x2(i64x2_shl(i64x2_add(k, i64x2_splat(1023)), 52))
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let field = v128_and(u64x2_shr(self.0, 52), u64x2_splat(0x7ff));
        let e = f64x2_sub(
            v128_or(field, u64x2_splat(0x4330_0000_0000_0000)),
            f64x2_splat(4_503_599_627_370_496.0),
        );
        let mant = v128_or(
            v128_and(self.0, u64x2_splat(0x000f_ffff_ffff_ffff)),
            u64x2_splat(0x3ff0_0000_0000_0000),
        );
        (F64x2(f64x2_sub(e, f64x2_splat(1023.0))), F64x2(mant))
    }
}

/// Debye `log I` or (`IS_K`) `log K` for two lanes; lane `j` uses `n[j]` terms.
#[inline]
pub(crate) fn debye2<const IS_K: bool>(
    v: &[f64; 2],
    x: &[f64; 2],
    n: &[f64; 2],
    nmax: usize,
) -> [f64; 2] {
    let vv = F64x2(f64x2(v[0], v[1]));
    let xx = F64x2(f64x2(x[0], x[1]));
    let nn = F64x2(f64x2(n[0], n[1]));
    let y = lanes::debye::<F64x2, IS_K>(vv, xx, nmax, nn);
    [f64x2_extract_lane::<0>(y.0), f64x2_extract_lane::<1>(y.0)]
}

/// Four trapezoid nodes of the K integral as two `f64x2` groups.
#[inline]
pub(crate) fn k_nodes4(t: &[f64; 4], x: f64, v: f64, g_ref: f64) -> [f64; 4] {
    let a = lanes::k_integrand(F64x2(f64x2(t[0], t[1])), x, v, g_ref).0;
    let b = lanes::k_integrand(F64x2(f64x2(t[2], t[3])), x, v, g_ref).0;
    [
        f64x2_extract_lane::<0>(a),
        f64x2_extract_lane::<1>(a),
        f64x2_extract_lane::<0>(b),
        f64x2_extract_lane::<1>(b),
    ]
}
