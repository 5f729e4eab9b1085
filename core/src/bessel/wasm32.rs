//! wasm `simd128` instantiation of the lane-generic Debye kernel (2 × f64),
//! compiled in only when the build enables `simd128` (wasm has no run-time
//! feature detection). Bit-identical to the scalar instantiation.

use core::arch::wasm32::*;

use super::lanes::{self, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct F64x2(v128);

/// The mask methods of a `v128` lane type (masks are all-ones or all-zero
/// lanes whatever the lane width): `and`, `and_not`, `mask`, `any`.
macro_rules! v128_mask_methods {
    () => {
        #[inline(always)]
        fn and(a: v128, b: v128) -> v128 {
            v128_and(a, b)
        }
        #[inline(always)]
        fn and_not(a: v128, b: v128) -> v128 {
            v128_andnot(a, b)
        }
        #[inline(always)]
        fn mask(b: bool) -> v128 {
            i32x4_splat(if b { -1 } else { 0 })
        }
        #[inline(always)]
        fn any(m: v128) -> bool {
            v128_any_true(m)
        }
    };
}

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
    fn lt(self, o: Self) -> v128 {
        f64x2_lt(self.0, o.0)
    }
    #[inline(always)]
    fn le(self, o: Self) -> v128 {
        f64x2_le(self.0, o.0)
    }
    v128_mask_methods!();
    #[inline(always)]
    fn select(m: v128, a: Self, b: Self) -> Self {
        F64x2(v128_bitselect(a.0, b.0, m))
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

/// Debye `log I` or (`IS_K`) `log K` for two lanes of `n` terms each.
#[inline]
pub(crate) fn debye2<const IS_K: bool>(v: &[f64; 2], x: &[f64; 2], n: usize) -> [f64; 2] {
    let vv = F64x2(f64x2(v[0], v[1]));
    let xx = F64x2(f64x2(x[0], x[1]));
    let y = lanes::debye::<F64x2, IS_K>(vv, xx, n);
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

/// Four f32 lanes for the pure-f32 kernels ([`super::lanes_f32`]).
#[derive(Clone, Copy)]
pub(crate) struct F32x4(v128);

impl super::lanes_f32::LanesF32 for F32x4 {
    type Mask = v128;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        F32x4(f32x4_splat(x))
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        F32x4(f32x4_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        F32x4(f32x4_sub(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        F32x4(f32x4_mul(self.0, o.0))
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        F32x4(f32x4_div(self.0, o.0))
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        F32x4(f32x4_sqrt(self.0))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        F32x4(f32x4_abs(self.0))
    }
    #[inline(always)]
    fn floor(self) -> Self {
        F32x4(f32x4_floor(self.0))
    }
    #[inline(always)]
    fn lt(self, o: Self) -> v128 {
        f32x4_lt(self.0, o.0)
    }
    #[inline(always)]
    fn le(self, o: Self) -> v128 {
        f32x4_le(self.0, o.0)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> v128 {
        f32x4_eq(self.0, o.0)
    }
    #[inline(always)]
    fn select(m: v128, a: Self, b: Self) -> Self {
        F32x4(v128_bitselect(a.0, b.0, m))
    }
    v128_mask_methods!();
    #[inline(always)]
    fn split(self) -> (Self, Self) {
        let field = v128_and(u32x4_shr(self.0, 23), u32x4_splat(0xff));
        let e = f32x4_convert_i32x4(i32x4_sub(field, i32x4_splat(127)));
        let m = v128_or(
            v128_and(self.0, u32x4_splat(0x007f_ffff)),
            u32x4_splat(0x3f80_0000),
        );
        (F32x4(e), F32x4(m))
    }
    #[inline(always)]
    fn pow2i(self) -> Self {
        let k = i32x4_add(i32x4_trunc_sat_f32x4(self.0), i32x4_splat(127));
        F32x4(i32x4_shl(k, 23))
    }
}

/// Eight f32 lanes: two [`F32x4`] side by side.
type F32x8 = super::lanes::Pair<F32x4>;

/// One branch of the pure-f32 kernels on eight lanes of finite positive
/// normal inputs (see [`super::lanes_f32`]).
#[inline]
pub(crate) fn pure_f32_8(kernel: super::lanes_f32::Kernel, v: &[f32; 8], x: &[f32; 8]) -> [f32; 8] {
    let ld = |a: &[f32; 8]| -> F32x8 {
        super::lanes::Pair(
            F32x4(f32x4(a[0], a[1], a[2], a[3])),
            F32x4(f32x4(a[4], a[5], a[6], a[7])),
        )
    };
    let y = super::lanes_f32::run(kernel, ld(v), ld(x));
    let (a, b) = ((y.0).0, (y.1).0);
    [
        f32x4_extract_lane::<0>(a),
        f32x4_extract_lane::<1>(a),
        f32x4_extract_lane::<2>(a),
        f32x4_extract_lane::<3>(a),
        f32x4_extract_lane::<0>(b),
        f32x4_extract_lane::<1>(b),
        f32x4_extract_lane::<2>(b),
        f32x4_extract_lane::<3>(b),
    ]
}
