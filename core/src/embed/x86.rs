//! AVX2 row kernels, lane-for-lane the operations of [`super::scalar`]
//! (multiply, then add, then add into the output; no fused multiply-add), so
//! the results are bit-identical to it.

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

/// `out[i] += q_i · s + b` for the 8-bit codes `codes` (`codes.len() >= out.len()`).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn accumulate_int8(codes: &[u8], s: f32, b: f32, out: &mut [f32]) {
    debug_assert!(std::is_x86_feature_detected!("avx2"));
    let n = out.len().min(codes.len());
    let (vs, vb) = (_mm256_set1_ps(s), _mm256_set1_ps(b));
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n bounds both 8-element accesses.
        unsafe {
            let q = _mm_loadl_epi64(codes.as_ptr().add(i) as *const __m128i);
            let q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(q));
            let t = _mm256_add_ps(_mm256_mul_ps(q, vs), vb);
            let o = out.as_mut_ptr().add(i);
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), t));
        }
        i += 8;
    }
    for (o, &q) in out[i..n].iter_mut().zip(&codes[i..n]) {
        *o += f32::from(q) * s + b;
    }
}

/// `out[m·dsub + n] += alpha · c[n]` over the sub-spaces of an 8-bit PQ row
/// (codebooks of 256 centroids).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn accumulate_pq8(
    centroids: &[f32],
    dsub: usize,
    codes: &[u8],
    alpha: f32,
    out: &mut [f32],
) {
    debug_assert!(std::is_x86_feature_detected!("avx2"));
    let va = _mm256_set1_ps(alpha);
    for (m, (&code, o)) in codes.iter().zip(out.chunks_mut(dsub)).enumerate() {
        let w = o.len();
        let at = m * 256 * dsub + usize::from(code) * w;
        let Some(c) = centroids.get(at..at + w) else {
            return;
        };
        let mut i = 0;
        while i + 8 <= w {
            // SAFETY: i + 8 <= w = o.len() = c.len().
            unsafe {
                let p = o.as_mut_ptr().add(i);
                let t = _mm256_mul_ps(va, _mm256_loadu_ps(c.as_ptr().add(i)));
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), t));
            }
            i += 8;
        }
        for (o, c) in o[i..].iter_mut().zip(&c[i..]) {
            *o += alpha * c;
        }
    }
}

/// Asks for the cache line at `p` ahead of its use (no fault on any address).
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
}
