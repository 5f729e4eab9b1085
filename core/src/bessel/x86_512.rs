//! AVX-512 instantiation of the lane-generic f64 kernels of `K` for small
//! arguments (Temme's series, the trapezoid rule, Steed's fraction): 8 × f64
//! in one `zmm` register, masks in `k` registers. Chosen at run time with
//! `std` (cached) where the CPU has AVX-512F; every method performs the IEEE
//! operation of its scalar twin, so results are bit-identical to the scalar
//! and AVX2 instantiations (test `avx512_lanes_equal_the_scalar_kernels`).
//!
//! Only these kernels: on a Zen 4 core (which splits each 512-bit operation
//! in two) they ran 5–8% faster than the AVX2 pair of `ymm` registers,
//! whose values spill from the sixteen `ymm` registers (AVX-512 has 32),
//! while the Debye, Hankel and power-series kernels ran 2–10% slower.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::lanes::{self, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct F64x8(__m512d);

// SAFETY (for every method): these are only reached from the functions
// below, which are `#[target_feature(enable = "avx512f")]` and only called
// after AVX-512F was detected; `#[inline(always)]` places the intrinsics
// inside them.
impl Lanes for F64x8 {
    type Mask = __mmask8;
    #[inline(always)]
    fn splat(x: f64) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_set1_pd(x) })
    }
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_add_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_sub_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_mul_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_div_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_sqrt_pd(self.0) })
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // Same as the scalar `if self < o { o } else { self }` for non-NaN lanes.
        Self::select(self.lt(o), o, self)
    }
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Self::select(o.lt(self), o, self)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> __mmask8 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_pd_mask::<_CMP_LT_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn le(self, o: Self) -> __mmask8 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_pd_mask::<_CMP_LE_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn and(a: __mmask8, b: __mmask8) -> __mmask8 {
        a & b
    }
    #[inline(always)]
    fn and_not(a: __mmask8, b: __mmask8) -> __mmask8 {
        a & !b
    }
    #[inline(always)]
    fn mask(b: bool) -> __mmask8 {
        if b {
            0xff
        } else {
            0
        }
    }
    #[inline(always)]
    fn any(m: __mmask8) -> bool {
        m != 0
    }
    #[inline(always)]
    fn select(m: __mmask8, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_mask_blend_pd(m, b.0, a.0) })
    }
    #[inline(always)]
    fn round(self) -> Self {
        let m = Self::splat(lanes::ROUND_MAGIC);
        self.add(m).sub(m)
    }
    #[inline(always)]
    fn pow2(self) -> Self {
        // SAFETY: see the impl comment.
        unsafe {
            let b = _mm512_castpd_si512(_mm512_add_pd(self.0, _mm512_set1_pd(lanes::ROUND_MAGIC)));
            let k = _mm512_sub_epi64(b, _mm512_castpd_si512(_mm512_set1_pd(lanes::ROUND_MAGIC)));
            F64x8(_mm512_castsi512_pd(_mm512_slli_epi64::<52>(
                _mm512_add_epi64(k, _mm512_set1_epi64(1023)),
            )))
        }
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        // SAFETY: see the impl comment.
        unsafe {
            let bits = _mm512_castpd_si512(self.0);
            let field = _mm512_and_si512(_mm512_srli_epi64::<52>(bits), _mm512_set1_epi64(0x7ff));
            let magic = _mm512_set1_epi64(0x4330_0000_0000_0000);
            let e = _mm512_sub_pd(
                _mm512_castsi512_pd(_mm512_or_si512(field, magic)),
                _mm512_set1_pd(4_503_599_627_370_496.0),
            );
            let mant = _mm512_or_si512(
                _mm512_and_si512(bits, _mm512_set1_epi64(0x000f_ffff_ffff_ffff)),
                _mm512_set1_epi64(0x3ff0_0000_0000_0000),
            );
            (
                F64x8(_mm512_sub_pd(e, _mm512_set1_pd(1023.0))),
                F64x8(_mm512_castsi512_pd(mant)),
            )
        }
    }
}

#[inline(always)]
unsafe fn load8(a: &[f64; 8]) -> F64x8 {
    // SAFETY: eight f64, unaligned load; AVX-512F (caller).
    F64x8(unsafe { _mm512_loadu_pd(a.as_ptr()) })
}

#[inline(always)]
unsafe fn store8(y: F64x8) -> [f64; 8] {
    let mut out = [0.0; 8];
    // SAFETY: eight f64, unaligned store; AVX-512F (caller).
    unsafe { _mm512_storeu_pd(out.as_mut_ptr(), y.0) };
    out
}

#[inline(always)]
fn bools8(m: __mmask8) -> [bool; 8] {
    core::array::from_fn(|i| m >> i & 1 == 1)
}

/// See [`super::x86::above_one8`].
///
/// # Safety
/// The CPU must support AVX-512F (checked by the caller).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn above_one8(v: &[f64; 8], x: &[f64; 8], bin: usize) -> ([f64; 8], [bool; 8]) {
    // SAFETY: AVX-512F (caller).
    unsafe {
        let (y, ok) = lanes::k_above_one::<F64x8>(load8(v), load8(x), bin);
        (store8(y), bools8(ok))
    }
}

/// See [`super::x86::temme8`].
///
/// # Safety
/// The CPU must support AVX-512F (checked by the caller).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn temme8(v: &[f64; 8], x: &[f64; 8]) -> ([f64; 8], [bool; 8]) {
    // SAFETY: AVX-512F (caller).
    unsafe {
        let (y, ok) = lanes::temme_k::<F64x8>(load8(v), load8(x));
        (store8(y), bools8(ok))
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::super::{lanes, scalar, x86};

    /// The AVX-512 kernels give the AVX2 kernels' bits (results and
    /// validity) and, where valid, the scalar kernel's, over orders below
    /// 20 and arguments from `1e-310` to the Hankel region, eight lanes of
    /// unrelated inputs at a time (so lanes stop at different terms).
    #[test]
    fn avx512_lanes_equal_the_scalar_kernels() {
        if !(crate::arch::avx512_available() && x86::avx2_available()) {
            std::println!("no AVX-512 here: nothing to compare");
            return;
        }
        let mut rng = crate::rng::Rng::new(23);
        let mut compared = 0;
        for group in 0..6000 {
            let temme = group % 2 == 0;
            let bin = group / 2 % (lanes::TRAPEZOID_BINS + 1);
            let mut v = [0.0; 8];
            let mut x = [0.0; 8];
            for l in 0..8 {
                v[l] = match l % 4 {
                    0 => libm::floor(rng.next_f64() * 20.0),
                    1 => libm::floor(rng.next_f64() * 20.0) + 0.5,
                    _ => rng.next_f64() * 20.0,
                };
                // Temme: x in (1e-310, 1]; else x > 1 in this bin (retried
                // until it is) and below the Hankel region.
                x[l] = loop {
                    let b = if temme {
                        libm::exp(-rng.next_f64() * 713.0)
                    } else {
                        libm::exp(rng.next_f64() * 5.3) + 1e-9
                    };
                    let hankel = b >= (0.5 * v[l] * v[l]).max(25.0);
                    if temme || (lanes::k_bin(b) == bin && !hankel) {
                        break b;
                    }
                    v[l] = rng.next_f64() * 20.0;
                };
            }
            // SAFETY: both instruction sets were detected above.
            let (wide, narrow) = unsafe {
                if temme {
                    (super::temme8(&v, &x), x86::temme8(&v, &x))
                } else {
                    (super::above_one8(&v, &x, bin), x86::above_one8(&v, &x, bin))
                }
            };
            for l in 0..8 {
                let (a, b) = (wide.0[l], narrow.0[l]);
                assert_eq!(wide.1[l], narrow.1[l], "validity v {} x {}", v[l], x[l]);
                if wide.1[l] {
                    assert_eq!(a.to_bits(), b.to_bits(), "v {} x {}", v[l], x[l]);
                    let s = scalar::log_k(v[l], x[l]);
                    assert_eq!(a.to_bits(), s.to_bits(), "scalar v {} x {}", v[l], x[l]);
                    compared += 1;
                }
            }
        }
        assert!(compared > 40_000, "{compared}");
    }
}
