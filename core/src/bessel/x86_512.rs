//! AVX-512 instantiations of the lane-generic kernels: 8 × f64 or 16 × f32
//! in one `zmm` register, masks in `k` registers, and groups of two or four
//! registers per value ([`Pair`]). Chosen at run time with `std` (cached)
//! where the CPU has AVX-512F. Every method performs the IEEE operation of
//! its scalar twin, so results are bit-identical to the scalar and AVX2
//! instantiations (tests below and in `tests/tests/bessel.rs`).
//!
//! Why wider groups: the kernels are chains of dependent steps (Horner's
//! rule, term recurrences, the exponent and logarithm), so more independent
//! lanes per step keep more of the core busy. With sixteen `ymm` registers
//! AVX2 stops at two registers per value (wider groups spilled: 0.68x); with
//! 32 `zmm` registers, on a Zen 4 core (which splits each 512-bit operation
//! in two), measured against the AVX2 kernels on the reference grid:
//!
//! | kernel | lanes | registers per value | speed-up |
//! |---|---|---|---|
//! | f64 Debye, Hankel | 32 | 4 | 1.2–1.4x |
//! | f64 power series (`I`, small `x`) | 16 | 2 | 1.2x (32 lanes: 2–3% slower) |
//! | f64 Temme, trapezoid, Steed (`K`, small `x`) | 16 | 2 | 1.16x (32 lanes: 0.45x, spilled) |
//! | f32, every kernel | 32 | 2 | 1.2–1.4x |
//!
//! Each queue's last group is padded to the group's width, so short slices
//! of mixed inputs stay on the AVX2 kernels (`AVX512_MIN_F64`,
//! `AVX512_MIN_F32` in the parent module: below a few hundred f64 or about
//! a hundred f32 inputs the padding cost more than the width gained).

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::lanes::{self, Lanes, Pair};
use super::lanes_f32::{self, Kernel, LanesF32};
use super::x86::{avx_arith, avx_f32_bits, avx_f64_bits, bools, lane_fill, load, store, Block};

/// The mask methods of an AVX-512 lane type whose masks are `k` registers
/// (`$m`: one bit per lane): `and`, `and_not` (`a && !b`), `mask` (every
/// lane) and `any`.
macro_rules! k_mask_methods {
    ($m:ty) => {
        #[inline(always)]
        fn and(a: $m, b: $m) -> $m {
            a & b
        }
        #[inline(always)]
        fn and_not(a: $m, b: $m) -> $m {
            a & !b
        }
        #[inline(always)]
        fn mask(b: bool) -> $m {
            if b {
                <$m>::MAX
            } else {
                0
            }
        }
        #[inline(always)]
        fn any(m: $m) -> bool {
            m != 0
        }
    };
}

#[derive(Clone, Copy)]
pub(crate) struct F64x8(__m512d);

// SAFETY (for every method): these are only reached from the kernels
// below, which are `#[target_feature(enable = "avx512f")]` and only called
// after AVX-512F was detected; `#[inline(always)]` places the intrinsics
// inside them.
impl Lanes for F64x8 {
    type Mask = __mmask8;
    avx_arith!(
        f64,
        __mmask8,
        _mm512_set1_pd,
        _mm512_add_pd,
        _mm512_sub_pd,
        _mm512_mul_pd,
        _mm512_div_pd,
        _mm512_sqrt_pd,
        _mm512_cmp_pd_mask
    );
    k_mask_methods!(__mmask8);
    #[inline(always)]
    fn select(m: __mmask8, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x8(unsafe { _mm512_mask_blend_pd(m, b.0, a.0) })
    }
    avx_f64_bits!(
        _mm512_castpd_si512,
        _mm512_castsi512_pd,
        _mm512_add_pd,
        _mm512_sub_pd,
        _mm512_set1_pd,
        _mm512_set1_epi64,
        _mm512_add_epi64,
        _mm512_sub_epi64,
        _mm512_slli_epi64,
        _mm512_srli_epi64,
        _mm512_and_si512,
        _mm512_or_si512
    );
}

impl Block for F64x8 {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: the caller's contract.
        F64x8(unsafe { _mm512_loadu_pd(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's contract.
        unsafe { _mm512_storeu_pd(p, self.0) }
    }
    #[inline(always)]
    fn bits(m: __mmask8) -> u64 {
        u64::from(m)
    }
}

// 32 lanes (four `zmm` per value) for Debye's and Hankel's expansions, 16
// (two) for the small-argument kernels (see the module docs).
lane_fill!("avx512f", Pair<Pair<F64x8>>, 32, Pair<F64x8>, 16);

/// Sixteen f32 lanes in one `zmm` register, for the pure-f32 kernels
/// ([`super::lanes_f32`]).
#[derive(Clone, Copy)]
pub(crate) struct F32x16(__m512);

// SAFETY (for every method): only reached from `pure_f32_32`, which is
// `#[target_feature(enable = "avx512f")]` and only called after AVX-512F was
// detected; `#[inline(always)]` places the intrinsics inside it.
impl LanesF32 for F32x16 {
    type Mask = __mmask16;
    avx_arith!(
        f32,
        __mmask16,
        _mm512_set1_ps,
        _mm512_add_ps,
        _mm512_sub_ps,
        _mm512_mul_ps,
        _mm512_div_ps,
        _mm512_sqrt_ps,
        _mm512_cmp_ps_mask
    );
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: see the impl comment.
        F32x16(unsafe {
            _mm512_castsi512_ps(_mm512_and_si512(
                _mm512_castps_si512(self.0),
                _mm512_set1_epi32(0x7fff_ffff),
            ))
        })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: see the impl comment.
        F32x16(unsafe {
            _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(self.0)
        })
    }
    #[inline(always)]
    fn eq(self, o: Self) -> __mmask16 {
        // SAFETY: see the impl comment.
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn select(m: __mmask16, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F32x16(unsafe { _mm512_mask_blend_ps(m, b.0, a.0) })
    }
    k_mask_methods!(__mmask16);
    avx_f32_bits!(
        _mm512_castps_si512,
        _mm512_castsi512_ps,
        _mm512_cvtepi32_ps,
        _mm512_cvttps_epi32,
        _mm512_set1_epi32,
        _mm512_add_epi32,
        _mm512_sub_epi32,
        _mm512_slli_epi32,
        _mm512_srli_epi32,
        _mm512_and_si512,
        _mm512_or_si512
    );
}

/// One branch of the pure-f32 kernels on 32 lanes of finite positive normal
/// inputs (see [`super::lanes_f32`]), two `zmm` registers per value.
///
/// # Safety
/// The CPU must support AVX-512F (checked by the caller).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn pure_f32_32(kernel: Kernel, v: &[f32; 32], x: &[f32; 32]) -> [f32; 32] {
    // SAFETY: the arrays hold 32 f32 each; unaligned loads and stores.
    unsafe {
        let ld = |a: &[f32; 32], o: usize| F32x16(_mm512_loadu_ps(a.as_ptr().add(o)));
        let y = lanes_f32::run(kernel, Pair(ld(v, 0), ld(v, 16)), Pair(ld(x, 0), ld(x, 16)));
        let mut out = [0.0; 32];
        _mm512_storeu_ps(out.as_mut_ptr(), (y.0).0);
        _mm512_storeu_ps(out.as_mut_ptr().add(16), (y.1).0);
        out
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::super::{lanes_f32, scalar, scalar_f32, x86, Which};
    use alloc::vec::Vec;

    /// Inputs for every branch and queue: orders across the Debye,
    /// Hankel and small-argument regions (negative ones for `K`), arguments
    /// from subnormal to huge, special values, in an order that mixes the
    /// queues.
    fn inputs() -> (Vec<f64>, Vec<f64>) {
        let mut rng = crate::rng::Rng::new(31);
        let (mut v, mut x) = (Vec::new(), Vec::new());
        for i in 0..30_000 {
            let a = match i % 8 {
                0 => 20.0 + 40.0 * rng.next_f64(),
                1 => libm::pow(10.0, 1.3 + 4.0 * rng.next_f64()),
                2 | 3 => 20.0 * rng.next_f64(),
                4 => libm::floor(20.0 * rng.next_f64()) + if i % 16 < 8 { 0.5 } else { 0.0 },
                5 => [0.0, -3.5, f64::NAN, f64::INFINITY, 1e301, -12.0][i % 6],
                _ => 8.0 * rng.next_f64(),
            };
            let b = match i % 6 {
                0 => libm::pow(10.0, -300.0 + 600.0 * rng.next_f64()),
                1 => a.abs() * (0.5 + rng.next_f64()),
                2 => 1.0 + 11.0 * rng.next_f64(),
                3 => [0.0, -1.0, f64::INFINITY, 1e-295, 5e-324, 1e-5][i % 6],
                _ => libm::pow(10.0, -8.0 + 11.0 * rng.next_f64()),
            };
            v.push(a);
            x.push(b);
        }
        (v, x)
    }

    fn same32(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn same64(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    /// The AVX-512 and AVX2 slice kernels both give the scalar kernels'
    /// bits, f64 and pure f32, for slices of every length class (empty
    /// groups, one partial group, several full ones).
    #[test]
    fn avx512_and_avx2_slices_equal_the_scalar_kernels() {
        let wide = crate::arch::avx512_available();
        if !x86::avx2_available() {
            std::println!("no AVX2 here: nothing to compare");
            return;
        }
        std::println!("AVX-512 here: {wide}");
        let (v, x) = inputs();
        let (v32, x32): (Vec<f32>, Vec<f32>) = v
            .iter()
            .zip(&x)
            .map(|(&a, &b)| (a as f32, b as f32))
            .unzip();
        let id = |a: f64| a;
        for len in [v.len(), 1, 5, 17, 33, 100] {
            for which in [Which::I, Which::K] {
                let expect: Vec<f64> = (0..len)
                    .map(|i| match which {
                        Which::I => scalar::log_i(v[i], x[i]),
                        Which::K => scalar::log_k(v[i], x[i]),
                    })
                    .collect();
                let mut got = alloc::vec![0.0; len];
                x86::fill(&v[..len], &x[..len], &mut got, which, id, id);
                for i in 0..len {
                    assert!(
                        same64(got[i], expect[i]),
                        "AVX2 {which:?} v {} x {}",
                        v[i],
                        x[i]
                    );
                }
                if wide {
                    let mut got = alloc::vec![0.0; len];
                    super::fill(&v[..len], &x[..len], &mut got, which, id, id);
                    for i in 0..len {
                        assert!(
                            same64(got[i], expect[i]),
                            "AVX-512 {which:?} v {} x {}",
                            v[i],
                            x[i]
                        );
                    }
                }
                let is_k = which == Which::K;
                let twin = |i: usize| match is_k {
                    true => scalar_f32::log_k(v32[i], x32[i]),
                    false => scalar_f32::log_i(v32[i], x32[i]),
                };
                let mut got = alloc::vec![0.0f32; len];
                lanes_f32::fill::<16>(&v32[..len], &x32[..len], &mut got, is_k, |k, a, b| {
                    // SAFETY: AVX2 was detected above.
                    unsafe { x86::pure_f32_16(k, a, b) }
                });
                for i in 0..len {
                    assert!(
                        same32(got[i], twin(i)),
                        "AVX2 f32 {which:?} v {} x {}",
                        v32[i],
                        x32[i]
                    );
                }
                if wide {
                    lanes_f32::fill::<32>(&v32[..len], &x32[..len], &mut got, is_k, |k, a, b| {
                        // SAFETY: AVX-512F was detected above.
                        unsafe { super::pure_f32_32(k, a, b) }
                    });
                    for i in 0..len {
                        assert!(
                            same32(got[i], twin(i)),
                            "AVX-512 f32 {which:?} v {} x {}",
                            v32[i],
                            x32[i]
                        );
                    }
                }
            }
        }
    }
}
