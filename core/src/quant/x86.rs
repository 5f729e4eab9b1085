//! AVX2 GEMV for Q8 and Q4 groups: codes widened to f32 eight at a time,
//! `(c - z)·x` accumulated per group in a vector register. Tested against
//! [`super::scalar::gemv`] with a summation-order bound.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::{Bits, QuantMatrix, Scheme};

#[inline(always)]
fn hsum(v: __m256) -> f32 {
    // SAFETY: only inlined into `gemv`, which has AVX2 enabled.
    unsafe {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_movehdup_ps(s));
        _mm_cvtss_f32(s)
    }
}

/// `dot += (codes - z) · x` for 8 codes held in the low 8 bytes of `c8`.
#[inline(always)]
fn fma8(dot: __m256, c8: __m128i, z: __m256, x: *const f32) -> __m256 {
    // SAFETY: only inlined into `gemv` (AVX2); `x` points at 8 readable f32.
    unsafe {
        let c = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8)), z);
        _mm256_add_ps(dot, _mm256_mul_ps(c, _mm256_loadu_ps(x)))
    }
}

/// `y = W x` for Q8 and Q4 formats.
///
/// # Safety
/// AVX2 must be available; `x.len() == q.cols`, `y.len() == q.rows`, and the
/// format is Q8 or Q4 (checked by the caller).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn gemv(q: &QuantMatrix, x: &[f32], y: &mut [f32]) {
    debug_assert!(crate::arch::avx2_available());
    debug_assert!(q.format.bits != Bits::Q2 && x.len() == q.cols && y.len() == q.rows);
    let f = q.format;
    let gb = f.group_bytes();
    let gpr = q.groups_per_row();
    let zs = f32::from(f.zero_point());
    let z = _mm256_set1_ps(zs);
    let asym = f.scheme == Scheme::Asymmetric;
    for (r, yr) in y.iter_mut().enumerate() {
        // Row accumulator: Σ_g d_g·dot_g (+ m_g·Σx_g) kept in a vector; one
        // horizontal sum per row. Four dot accumulators per group break the
        // add latency chain.
        let mut accv = _mm256_setzero_ps();
        let mut tail = 0.0f32;
        for (g, xg) in x.chunks(f.group).enumerate() {
            let gi = r * gpr + g;
            let packed = &q.codes[gi * gb..(gi + 1) * gb];
            let (d, m) = q.params(gi);
            let full = xg.len() / 32 * 32;
            let mut dv = [_mm256_setzero_ps(); 4];
            let mut sxv = _mm256_setzero_ps();
            let mut i = 0;
            while i < full {
                let xp = xg[i..i + 32].as_ptr();
                // SAFETY: `packed` holds a whole group (G >= i + 32 codes);
                // `xp` points at 32 readable f32.
                unsafe {
                    let (a, b) = match f.bits {
                        Bits::Q8 => {
                            let p = packed[i..i + 32].as_ptr().cast::<__m128i>();
                            (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)))
                        }
                        _ => {
                            let v = _mm_loadu_si128(
                                packed[i / 2..i / 2 + 16].as_ptr().cast::<__m128i>(),
                            );
                            let mask = _mm_set1_epi8(0x0f);
                            let lo = _mm_and_si128(v, mask);
                            let hi = _mm_and_si128(_mm_srli_epi16::<4>(v), mask);
                            (_mm_unpacklo_epi8(lo, hi), _mm_unpackhi_epi8(lo, hi))
                        }
                    };
                    dv[0] = fma8(dv[0], a, z, xp);
                    dv[1] = fma8(dv[1], _mm_srli_si128::<8>(a), z, xp.add(8));
                    dv[2] = fma8(dv[2], b, z, xp.add(16));
                    dv[3] = fma8(dv[3], _mm_srli_si128::<8>(b), z, xp.add(24));
                    if asym {
                        sxv = _mm256_add_ps(
                            sxv,
                            _mm256_add_ps(_mm256_loadu_ps(xp), _mm256_loadu_ps(xp.add(8))),
                        );
                        sxv = _mm256_add_ps(
                            sxv,
                            _mm256_add_ps(_mm256_loadu_ps(xp.add(16)), _mm256_loadu_ps(xp.add(24))),
                        );
                    }
                }
                i += 32;
            }
            let dot = _mm256_add_ps(_mm256_add_ps(dv[0], dv[1]), _mm256_add_ps(dv[2], dv[3]));
            accv = _mm256_add_ps(accv, _mm256_mul_ps(_mm256_set1_ps(d), dot));
            if asym {
                accv = _mm256_add_ps(accv, _mm256_mul_ps(_mm256_set1_ps(m), sxv));
            }
            let (mut dot_t, mut sx_t) = (0.0f32, 0.0f32);
            for (j, &xj) in xg.iter().enumerate().skip(full) {
                let c = super::scalar::code(packed, f.bits, j);
                dot_t += (f32::from(c) - zs) * xj;
                sx_t += xj;
            }
            tail += d * dot_t;
            if asym {
                tail += m * sx_t;
            }
        }
        *yr = hsum(accv) + tail;
    }
}
