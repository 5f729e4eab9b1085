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
    let nsub = codes.len();
    // Equal sub-spaces of 4 or 8 columns: one vector operation each, the
    // bounds checked once for the whole row.
    if (dsub == 4 || dsub == 8) && out.len() == dsub * nsub && centroids.len() >= nsub * 256 * dsub
    {
        for (m, &code) in codes.iter().enumerate() {
            let at = (m * 256 + usize::from(code)) * dsub;
            // SAFETY: m < nsub and code < 256 give at + dsub <= nsub·256·dsub
            // <= centroids.len(); m·dsub + dsub <= out.len().
            unsafe {
                let c = centroids.as_ptr().add(at);
                let p = out.as_mut_ptr().add(m * dsub);
                if dsub == 8 {
                    let t = _mm256_mul_ps(va, _mm256_loadu_ps(c));
                    _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), t));
                } else {
                    let t = _mm_mul_ps(_mm256_castps256_ps128(va), _mm_loadu_ps(c));
                    _mm_storeu_ps(p, _mm_add_ps(_mm_loadu_ps(p), t));
                }
            }
        }
        return;
    }
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
        if i + 4 <= w {
            // SAFETY: i + 4 <= w = o.len() = c.len().
            unsafe {
                let p = o.as_mut_ptr().add(i);
                let t = _mm_mul_ps(_mm256_castps256_ps128(va), _mm_loadu_ps(c.as_ptr().add(i)));
                _mm_storeu_ps(p, _mm_add_ps(_mm_loadu_ps(p), t));
            }
            i += 4;
        }
        for (o, c) in o[i..].iter_mut().zip(&c[i..]) {
            *o += alpha * c;
        }
    }
}

/// `out[i] += q_i · s + b` for 4-bit codes (two per byte, low nibble first;
/// `codes.len() >= ceil(out.len() / 2)`).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn accumulate_int4(codes: &[u8], s: f32, b: f32, out: &mut [f32]) {
    debug_assert!(std::is_x86_feature_detected!("avx2"));
    let n = out.len().min(2 * codes.len());
    let (vs, vb) = (_mm256_set1_ps(s), _mm256_set1_ps(b));
    let shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    let mask = _mm256_set1_epi32(15);
    let mut i = 0;
    while i + 8 <= n {
        let c = &codes[i / 2..i / 2 + 4];
        let word = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i32;
        let q = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(word), shifts), mask);
        let t = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), vs), vb);
        // SAFETY: i + 8 <= n <= out.len().
        unsafe {
            let o = out.as_mut_ptr().add(i);
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), t));
        }
        i += 8;
    }
    for (k, o) in out.iter_mut().enumerate().take(n).skip(i) {
        let q = (codes[k / 2] >> (4 * (k % 2))) & 15;
        *o += f32::from(q) * s + b;
    }
}

/// `out[i] += w · v_i` for f32 rows (`bytes.len() >= 4 · out.len()`).
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn accumulate_f32(bytes: &[u8], w: f32, out: &mut [f32]) {
    debug_assert!(std::is_x86_feature_detected!("avx2"));
    let n = out.len().min(bytes.len() / 4);
    let vw = _mm256_set1_ps(w);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n bounds the 32 bytes read and the 8 floats written.
        unsafe {
            let v = _mm256_loadu_ps(bytes.as_ptr().add(4 * i) as *const f32);
            let o = out.as_mut_ptr().add(i);
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_mul_ps(vw, v)));
        }
        i += 8;
    }
    for (k, o) in out.iter_mut().enumerate().take(n).skip(i) {
        *o += w * super::scalar::f32_le(&bytes[4 * k..4 * k + 4]);
    }
}

/// `out[i] += w · v_i` for binary16 rows (`bytes.len() >= 2 · out.len()`).
///
/// # Safety
/// The CPU must support AVX2 and F16C.
#[target_feature(enable = "avx2,f16c")]
pub(crate) unsafe fn accumulate_f16(bytes: &[u8], w: f32, out: &mut [f32]) {
    debug_assert!(std::is_x86_feature_detected!("f16c"));
    let n = out.len().min(bytes.len() / 2);
    let vw = _mm256_set1_ps(w);
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: i + 8 <= n bounds the 16 bytes read and the 8 floats written.
        unsafe {
            let h = _mm_loadu_si128(bytes.as_ptr().add(2 * i) as *const __m128i);
            let v = _mm256_cvtph_ps(h);
            let o = out.as_mut_ptr().add(i);
            _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), _mm256_mul_ps(vw, v)));
        }
        i += 8;
    }
    for (k, o) in out.iter_mut().enumerate().take(n).skip(i) {
        *o += w * super::scalar::f16([bytes[2 * k], bytes[2 * k + 1]]);
    }
}

/// Asks for the cache line at `p` ahead of its use (no fault on any address).
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) };
}
