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

/// `dot + (codes - z) · x` for 8 codes held in the low 8 bytes of `c8`
/// (one fused multiply-add).
#[inline(always)]
fn fma8(dot: __m256, c8: __m128i, z: __m256, xv: __m256) -> __m256 {
    // SAFETY: only inlined into `gemv` (AVX2, FMA).
    unsafe {
        let c = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c8)), z);
        _mm256_fmadd_ps(c, xv, dot)
    }
}

/// `y = W x` for Q8 and Q4 formats: four rows at a time sharing each load
/// of `x` (and, asymmetric, each group's `Σx`), `Σ_g d_g·Σ(c − z)x (+ m_g·Σx)`
/// with fused multiply-adds, one vector of sums per row and group.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `x.len() == q.cols`,
/// `y.len() == q.rows`, and the format is Q8 or Q4 (checked by the caller).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn gemv(q: &QuantMatrix, x: &[f32], y: &mut [f32]) {
    debug_assert!(crate::arch::f16c_available());
    debug_assert!(q.format.bits != Bits::Q2 && x.len() == q.cols && y.len() == q.rows);
    let gpr = q.groups_per_row();
    // The rows' scales and minimums, decoded four rows at a time.
    let (mut ds, mut ms) = (alloc::vec![0.0f32; 4 * gpr], alloc::vec![0.0f32; 4 * gpr]);
    let mut r0 = 0;
    while r0 < q.rows {
        let n = (q.rows - r0).min(4);
        let span = r0 * gpr..(r0 + n) * gpr;
        // SAFETY: F16C and AVX2 are enabled for this function; shapes as
        // required (caller).
        unsafe {
            decode_scales(q.format.scale, &q.scales[span.clone()], &mut ds);
            if q.format.scheme == Scheme::Asymmetric {
                decode_scales(q.format.scale, &q.mins[span], &mut ms);
            }
            if n == 4 {
                let v = gemv_rows::<4>(q, x, r0, &ds, &ms);
                y[r0..r0 + 4].copy_from_slice(&v);
            } else {
                for r in 0..n {
                    let dr = &ds[r * gpr..(r + 1) * gpr];
                    let mr = &ms[r * gpr..(r + 1) * gpr];
                    y[r0 + r] = gemv_rows::<1>(q, x, r0 + r, dr, mr)[0];
                }
            }
        }
        r0 += n;
    }
}

/// Rows `r0..r0 + R` of [`gemv`]; `ds`/`ms` hold their decoded scales and
/// minimums (`R` rows of `gpr`).
///
/// # Safety
/// As [`gemv`]; rows `r0..r0 + R` exist.
#[inline(always)]
unsafe fn gemv_rows<const R: usize>(
    q: &QuantMatrix,
    x: &[f32],
    r0: usize,
    ds: &[f32],
    ms: &[f32],
) -> [f32; R] {
    let f = q.format;
    let gb = f.group_bytes();
    let gpr = q.groups_per_row();
    let zs = f32::from(f.zero_point());
    let asym = f.scheme == Scheme::Asymmetric;
    // SAFETY: AVX2 and FMA (caller); every code read is inside its row's
    // group (`i + 32 <= full <= G`), every x read inside the group's slice.
    unsafe {
        let z = _mm256_set1_ps(zs);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut tail = [0.0f32; R];
        for (g, xg) in x.chunks(f.group).enumerate() {
            let full = xg.len() / 32 * 32;
            let mut dot = [_mm256_setzero_ps(); R];
            let mut sxv = _mm256_setzero_ps();
            let mut i = 0;
            while i < full {
                let xp = xg.as_ptr().add(i);
                let xv = [
                    _mm256_loadu_ps(xp),
                    _mm256_loadu_ps(xp.add(8)),
                    _mm256_loadu_ps(xp.add(16)),
                    _mm256_loadu_ps(xp.add(24)),
                ];
                for (r, d) in dot.iter_mut().enumerate() {
                    let gi = (r0 + r) * gpr + g;
                    let p = q.codes.as_ptr().add(gi * gb);
                    if f.bits == Bits::Q4 {
                        // Eight codes per 32-bit word, column k in bits
                        // 4k..4k + 4: broadcast, shift per lane, mask (no
                        // shuffles).
                        let shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
                        let mask = _mm256_set1_epi32(0x0f);
                        let w = p.add(i / 2).cast::<i32>();
                        let mut s = *d;
                        for (k, xk) in xv.iter().enumerate() {
                            let c = _mm256_and_si256(
                                _mm256_srlv_epi32(
                                    _mm256_set1_epi32(w.add(k).read_unaligned()),
                                    shifts,
                                ),
                                mask,
                            );
                            let cf = _mm256_sub_ps(_mm256_cvtepi32_ps(c), z);
                            s = _mm256_fmadd_ps(cf, *xk, s);
                        }
                        *d = s;
                    } else {
                        let pa = p.add(i).cast::<__m128i>();
                        let (a, b) = (_mm_loadu_si128(pa), _mm_loadu_si128(pa.add(1)));
                        let s = fma8(*d, a, z, xv[0]);
                        let s = fma8(s, _mm_srli_si128::<8>(a), z, xv[1]);
                        let s = fma8(s, b, z, xv[2]);
                        *d = fma8(s, _mm_srli_si128::<8>(b), z, xv[3]);
                    }
                }
                if asym {
                    let s01 = _mm256_add_ps(xv[0], xv[1]);
                    let s23 = _mm256_add_ps(xv[2], xv[3]);
                    sxv = _mm256_add_ps(sxv, _mm256_add_ps(s01, s23));
                }
                i += 32;
            }
            let mut sx_t = 0.0f32;
            for &xj in &xg[full..] {
                sx_t += xj;
            }
            for r in 0..R {
                let gi = (r0 + r) * gpr + g;
                let (d, m) = (ds[r * gpr + g], ms[r * gpr + g]);
                acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(d), dot[r], acc[r]);
                if asym {
                    acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(m), sxv, acc[r]);
                }
                if full < xg.len() {
                    let packed = &q.codes[gi * gb..(gi + 1) * gb];
                    let mut dot_t = 0.0f32;
                    for (j, &xj) in xg.iter().enumerate().skip(full) {
                        let c = super::scalar::code(packed, f.bits, j);
                        dot_t += (f32::from(c) - zs) * xj;
                    }
                    tail[r] += d * dot_t;
                    if asym {
                        tail[r] += m * sx_t;
                    }
                }
            }
        }
        core::array::from_fn(|r| hsum(acc[r]) + tail[r])
    }
}

/// Decodes 16-bit scales to f32 (F16C for binary16, a shift for bfloat16).
#[target_feature(enable = "avx2,f16c")]
unsafe fn decode_scales(st: super::ScaleType, bits: &[u16], out: &mut [f32]) {
    let n = bits.len().min(out.len());
    let mut i = 0;
    if st == super::ScaleType::F16 {
        while i + 8 <= n {
            // SAFETY: `i + 8 <= n` elements are readable and writable.
            unsafe {
                let h = _mm_loadu_si128(bits[i..].as_ptr().cast());
                _mm256_storeu_ps(out[i..].as_mut_ptr(), _mm256_cvtph_ps(h));
            }
            i += 8;
        }
    }
    for (o, &b) in out[i..n].iter_mut().zip(&bits[i..n]) {
        *o = st.decode(b);
    }
}

/// `Σ a_i b_i` with eight lanes (AVX2 + FMA).
#[inline(always)]
unsafe fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    // SAFETY: inlined into `gemv_int8` (AVX2, FMA); loads stay below `n`.
    unsafe {
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            acc = _mm256_fmadd_ps(
                _mm256_loadu_ps(a.as_ptr().add(i)),
                _mm256_loadu_ps(b.as_ptr().add(i)),
                acc,
            );
            i += 8;
        }
        let mut s = hsum(acc);
        while i < n {
            s += a[i] * b[i];
            i += 1;
        }
        s
    }
}

/// How the integer kernels form a block's dot products: eight i32 lanes,
/// lane `i` holding the products of bytes `4i..4i + 4`. Every
/// implementation gives the same lanes (exact integers), so the float work
/// after them — and the results — are the same bits whichever runs.
trait BlockDot {
    /// A Q8 block's constant from the vector's codes alone (shared by the
    /// rows that use the block).
    ///
    /// # Safety
    /// The implementation's instruction sets.
    unsafe fn q8_bias(x: __m256i) -> __m256i;
    /// Lanes of `Σ (c − 128)·q` for 32 stored Q8 codes `c` (unsigned bytes,
    /// centred at 128) and the vector's codes `q`; `bias` from
    /// [`BlockDot::q8_bias`] of the same `q`.
    ///
    /// # Safety
    /// The implementation's instruction sets.
    unsafe fn q8(bias: __m256i, c: __m256i, x: __m256i) -> __m256i;
    /// Lanes of `Σ lo·xlo + hi·xhi` for nibbles `lo`, `hi` (0..=15 per
    /// byte) and the vector's codes laid out to match.
    ///
    /// # Safety
    /// The implementation's instruction sets.
    unsafe fn q4(lo: __m256i, hi: __m256i, xlo: __m256i, xhi: __m256i) -> __m256i;
}

/// AVX2: byte products summed in pairs (`maddubs`, i16), then in pairs of
/// pairs (`madd`, i32).
struct Avx2Dot;

// SAFETY (every method): inlined only into functions with AVX2 enabled.
impl BlockDot for Avx2Dot {
    #[inline(always)]
    unsafe fn q8_bias(_x: __m256i) -> __m256i {
        // SAFETY: AVX2 (caller).
        unsafe { _mm256_setzero_si256() }
    }
    #[inline(always)]
    unsafe fn q8(_bias: __m256i, c: __m256i, x: __m256i) -> __m256i {
        // SAFETY: AVX2 (caller).
        unsafe {
            // c' = c - 128 as i8; |c'| · sign(q, c') keeps the pair sums of
            // maddubs within i16 (128·127·2 < 2^15).
            let c = _mm256_xor_si256(c, _mm256_set1_epi8(-128));
            let prod = _mm256_maddubs_epi16(_mm256_abs_epi8(c), _mm256_sign_epi8(x, c));
            _mm256_madd_epi16(prod, _mm256_set1_epi16(1))
        }
    }
    #[inline(always)]
    unsafe fn q4(lo: __m256i, hi: __m256i, xlo: __m256i, xhi: __m256i) -> __m256i {
        // SAFETY: AVX2 (caller).
        unsafe {
            // Pair sums of each maddubs are at most 15·127·2, so the sum of
            // two stays far inside i16.
            let s16 =
                _mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi));
            _mm256_madd_epi16(s16, _mm256_set1_epi16(1))
        }
    }
}

/// AVX-512 VNNI on 256-bit registers: `vpdpbusd` multiplies unsigned by
/// signed bytes and adds each four products to an i32 lane in one
/// instruction. The Q8 codes are used as stored (0..=255) and the lanes
/// start from `−128·Σq` of their four bytes, so they equal [`Avx2Dot`]'s.
struct VnniDot;

// SAFETY (every method): inlined only into functions with AVX2,
// AVX512-VL and AVX512-VNNI enabled.
impl BlockDot for VnniDot {
    #[inline(always)]
    unsafe fn q8_bias(x: __m256i) -> __m256i {
        // SAFETY: AVX2, AVX512-VL, AVX512-VNNI (caller).
        unsafe {
            let zero = _mm256_setzero_si256();
            // 0x80 as the unsigned operand: 128 times each four bytes' sum.
            _mm256_sub_epi32(zero, _mm256_dpbusd_epi32(zero, _mm256_set1_epi8(-128), x))
        }
    }
    #[inline(always)]
    unsafe fn q8(bias: __m256i, c: __m256i, x: __m256i) -> __m256i {
        // SAFETY: as above. No lane can wrap: |lane| <= 4·255·127.
        unsafe { _mm256_dpbusd_epi32(bias, c, x) }
    }
    #[inline(always)]
    unsafe fn q4(lo: __m256i, hi: __m256i, xlo: __m256i, xhi: __m256i) -> __m256i {
        // SAFETY: as above.
        unsafe {
            _mm256_dpbusd_epi32(
                _mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, xlo),
                hi,
                xhi,
            )
        }
    }
}

/// `Σ_b (d_g s_b) · I_b` for `R` consecutive rows of Q8 codes: integer dot
/// products per block and row, then one float multiply-add per block and
/// row by the block's combined scale (Q4 rows take [`rows_q4`]).
///
/// # Safety
/// AVX2 and FMA; `codes` addresses `R` rows of `row_bytes` bytes, each with
/// at least `nb` blocks of 32 bytes; `xq` holds `nb` blocks of 32 codes,
/// `ds` `R` rows of combined scales `stride` apart (see [`combine_scales`]).
#[inline(always)]
unsafe fn rows_q8<const R: usize, const PF: usize, D: BlockDot>(
    codes: *const u8,
    row_bytes: usize,
    xq: *const i8,
    ds: *const f32,
    stride: usize,
    nb: usize,
) -> [f32; R] {
    let bb = 32;
    // SAFETY: the caller's contract above; AVX2 and FMA are enabled in
    // `gemv_int8`, into which this is inlined.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); R];
        for b in 0..nb {
            let xv = _mm256_loadu_si256(xq.add(b * 32).cast());
            let bias = D::q8_bias(xv);
            prefetch_ahead::<R, PF>(codes, row_bytes, b * bb, bb);
            for (r, a) in acc.iter_mut().enumerate() {
                let p = codes.add(r * row_bytes + b * bb);
                let lanes = D::q8(bias, _mm256_loadu_si256(p.cast()), xv);
                let s = _mm256_broadcast_ss(&*ds.add(r * stride + b));
                *a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), s, *a);
            }
        }
        core::array::from_fn(|r| hsum(acc[r]))
    }
}

/// `ds[b] = d[b >> shift] · s[b]` for `b < s.len()`: each block's weight
/// scale (its group's) times the vector's block scale.
///
/// # Safety
/// AVX2; `d` holds at least `(s.len() >> shift) + 8` values (the vector
/// loads read whole eight-value spans), `ds` at least `s.len()`.
#[inline(always)]
unsafe fn combine_scales(d: &[f32], s: &[f32], shift: u32, ds: &mut [f32]) {
    let n = s.len().min(ds.len());
    debug_assert!(d.len() >= (n >> shift) + 8);
    // SAFETY: AVX2 (caller); reads `d[(b >> shift)..][..8]`, in bounds by the
    // contract, and `s[b..b + 8]`, writes `ds[b..b + 8]` with `b + 8 <= n`.
    unsafe {
        let idx = _mm256_srlv_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(shift as i32),
        );
        let mut b = 0;
        while b + 8 <= n {
            let dv = _mm256_loadu_ps(d.as_ptr().add(b >> shift));
            let dv = _mm256_permutevar8x32_ps(dv, idx);
            let v = _mm256_mul_ps(dv, _mm256_loadu_ps(s.as_ptr().add(b)));
            _mm256_storeu_ps(ds.as_mut_ptr().add(b), v);
            b += 8;
        }
        while b < n {
            *ds.get_unchecked_mut(b) = *d.get_unchecked(b >> shift) * *s.get_unchecked(b);
            b += 1;
        }
    }
}

/// Q4 rows, two blocks per step: one 32-byte load holds both blocks'
/// codes; the low nibbles (even columns) and high nibbles (odd columns) of
/// both multiply the vector's codes laid out per pair of blocks as
/// `[even b | even b+1 | odd b | odd b+1]` (16 bytes each), so the eight
/// i32 lanes are four of block `b` and four of block `b+1`, scaled by the
/// two blocks' combined scales (`[ds_b ×4 | ds_b+1 ×4]`, as [`rows_q8`]).
///
/// # Safety
/// As [`rows_q8`], with `xp` holding `ceil(nb / 2)` pairs of 64 codes and
/// each row's scales zero-padded to an even count (`stride >= nb + nb % 2`).
#[inline(always)]
unsafe fn rows_q4<const R: usize, const PF: usize, D: BlockDot>(
    codes: *const u8,
    row_bytes: usize,
    xp: *const i8,
    ds: *const f32,
    stride: usize,
    nb: usize,
) -> [f32; R] {
    // SAFETY: the caller's contract above; AVX2 and FMA are enabled in
    // `gemv_int8`, into which this is inlined.
    unsafe {
        let mask = _mm256_set1_epi8(0x0f);
        let mut acc = [_mm256_setzero_ps(); R];
        let mut b = 0;
        while b < nb {
            let pair = b + 2 <= nb;
            let xlo = _mm256_loadu_si256(xp.add(b * 32).cast());
            let xhi = _mm256_loadu_si256(xp.add(b * 32 + 32).cast());
            prefetch_ahead::<R, PF>(codes, row_bytes, b * 16, 32);
            for (r, a) in acc.iter_mut().enumerate() {
                let p = codes.add(r * row_bytes + b * 16);
                let v = if pair {
                    _mm256_loadu_si256(p.cast())
                } else {
                    _mm256_zextsi128_si256(_mm_loadu_si128(p.cast()))
                };
                let lo = _mm256_and_si256(v, mask);
                let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), mask);
                let lanes = _mm256_cvtepi32_ps(D::q4(lo, hi, xlo, xhi));
                let s2 = ds.add(r * stride + b);
                let sv = _mm256_set_m128(_mm_broadcast_ss(&*s2.add(1)), _mm_broadcast_ss(&*s2));
                *a = _mm256_fmadd_ps(lanes, sv, *a);
            }
            b += 2;
        }
        core::array::from_fn(|r| hsum(acc[r]))
    }
}

/// Software prefetch distance of the integer GEMV, in groups of rows (see
/// [`prefetch_ahead`]).
const PREFETCH_ROWS: usize = 1;

/// Prefetches, into L2, the part of the rows `PF` groups of `R` ahead that
/// matches a step reading bytes `off..off + step` of each of the current
/// `R` rows: those rows are `R · row_bytes` contiguous bytes, requested
/// front to back as the current group advances, so memory sees one
/// sequential stream. (Left to the hardware, the `R` rows read side by side
/// look like `R` streams a row apart, which held one core to 16 GB/s from
/// DRAM here against 31 GB/s for one sequential stream.)
///
/// # Safety
/// SSE (any x86-64); prefetches do not fault, so addresses past the matrix
/// are harmless (formed with wrapping arithmetic).
#[inline(always)]
unsafe fn prefetch_ahead<const R: usize, const PF: usize>(
    rows: *const u8,
    row_bytes: usize,
    off: usize,
    step: usize,
) {
    if PF == 0 {
        return;
    }
    let next = rows.wrapping_add(PF * R * row_bytes);
    let (lo, hi) = (R * off, R * (off + step));
    let mut a = lo.next_multiple_of(64);
    while a < hi {
        // SAFETY: prefetching has no architectural effect (caller).
        unsafe { _mm_prefetch::<_MM_HINT_T1>(next.wrapping_add(a).cast()) };
        a += 64;
    }
}

/// `y = W x̂` for Q8 and Q4 (specification: [`super::int8::gemv`]). With
/// AVX-512 VNNI ([`crate::arch::vnni_available`]) the blocks' integer dot
/// products take `vpdpbusd`; the results are the same bits either way.
///
/// # Safety
/// AVX2, FMA and F16C must be available; `xq.cols() == q.cols`,
/// `y.len() == q.rows`, and the format is Q8 or Q4 (checked by the caller).
pub(crate) unsafe fn gemv_int8(q: &QuantMatrix, xq: &super::Int8Vector, y: &mut [f32]) {
    // SAFETY: the caller's guarantees, and VNNI where it was just detected.
    unsafe {
        if crate::arch::vnni_available() {
            int8_vnni(q, xq, y)
        } else {
            int8_avx2(q, xq, y)
        }
    }
}

/// An entry point of [`int8_rows`] compiled for one instruction set, with
/// that set's block products.
macro_rules! int8_entry {
    ($(#[$doc:meta])* $name:ident, $dot:ty, $features:literal) => {
        $(#[$doc])*
        #[target_feature(enable = $features)]
        unsafe fn $name(q: &QuantMatrix, xq: &super::Int8Vector, y: &mut [f32]) {
            // SAFETY: the caller's guarantees, passed on.
            unsafe { int8_rows::<$dot>(q, xq, y) }
        }
    };
}

int8_entry!(
    /// [`gemv_int8`] with [`Avx2Dot`].
    ///
    /// # Safety
    /// As [`gemv_int8`].
    int8_avx2, Avx2Dot, "avx2,fma,f16c"
);

int8_entry!(
    /// [`gemv_int8`] with [`VnniDot`].
    ///
    /// # Safety
    /// As [`gemv_int8`], and the CPU has AVX512-F/BW/VL and AVX512-VNNI.
    int8_vnni, VnniDot, "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"
);

/// The body of [`gemv_int8`], inlined into each instruction set's
/// entry point with its block products `D`.
///
/// # Safety
/// As [`gemv_int8`], and the instruction sets `D` needs.
#[inline(always)]
unsafe fn int8_rows<D: BlockDot>(q: &QuantMatrix, xq: &super::Int8Vector, y: &mut [f32]) {
    debug_assert!(crate::arch::f16c_available());
    debug_assert!(q.format.bits != Bits::Q2 && xq.cols() == q.cols && y.len() == q.rows);
    let f = q.format;
    let gpr = q.groups_per_row();
    let row_bytes = gpr * f.group_bytes();
    let bpg = f.group / super::int8::BLOCK;
    let t = xq.group_sums(f.group);
    let sx = xq.scales();
    let nb = sx.len();
    let q4 = f.bits == Bits::Q4;
    // Q4 takes blocks in pairs (see `rows_q4`): lay the vector's codes out
    // the same way once.
    let xq: alloc::borrow::Cow<'_, [i8]> = if q4 {
        let mut p = alloc::vec![0i8; nb.div_ceil(2) * 64];
        for (b, c) in xq.codes().chunks_exact(32).enumerate() {
            let (o, half) = (&mut p[(b / 2) * 64..], (b % 2) * 16);
            for j in 0..16 {
                o[half + j] = c[2 * j];
                o[32 + half + j] = c[2 * j + 1];
            }
        }
        p.into()
    } else {
        xq.codes().into()
    };
    let asym = f.scheme == Scheme::Asymmetric;
    let k = super::int8::centre(f.bits) as f32;
    let z = f32::from(f.zero_point());
    // Eight values of padding: `combine_scales` reads whole spans of eight.
    let mut d = alloc::vec![0.0f32; 4 * gpr + 8];
    let mut m = alloc::vec![0.0f32; if asym { 4 * gpr } else { 0 }];
    // Each block's combined scale `d_g · s_b`, per row of the four; rows an
    // even count apart, the padding zero (Q4 reads blocks in pairs).
    let stride = nb + nb % 2;
    let mut ds = alloc::vec![0.0f32; 4 * stride];
    let mut r0 = 0;
    while r0 < q.rows {
        let n = (q.rows - r0).min(4);
        let (s0, s1) = (r0 * gpr, (r0 + n) * gpr);
        // SAFETY: F16C is enabled for this function.
        unsafe {
            decode_scales(f.scale, &q.scales[s0..s1], &mut d);
            if asym {
                decode_scales(f.scale, &q.mins[s0..s1], &mut m);
            }
            // `d[r·gpr..]` holds at least `gpr + 8 >= (nb >> shift) + 8`
            // values (`nb / bpg <= gpr`).
            let shift = bpg.trailing_zeros();
            for (r, dsr) in ds.chunks_exact_mut(stride.max(1)).enumerate().take(n) {
                combine_scales(&d[r * gpr..], sx, shift, &mut dsr[..nb]);
            }
        }
        let codes = q.codes[r0 * row_bytes..].as_ptr();
        // SAFETY: rows `r0..r0 + n` exist and hold `gpr · bpg >= nb` blocks;
        // `xq` holds `nb` blocks, `d` `n` rows of `gpr` scales.
        let main: [f32; 4] = unsafe {
            let (x, dsp, st) = (xq.as_ptr(), ds.as_ptr(), stride);
            match (n, q4) {
                (4, true) => rows_q4::<4, PREFETCH_ROWS, D>(codes, row_bytes, x, dsp, st, nb),
                (4, false) => rows_q8::<4, PREFETCH_ROWS, D>(codes, row_bytes, x, dsp, st, nb),
                // A plain loop: a closure here would not inherit this
                // function's instruction sets.
                _ => {
                    let mut v = [0.0f32; 4];
                    for (r, o) in v.iter_mut().enumerate().take(n) {
                        let (c, dr) = (codes.add(r * row_bytes), dsp.add(r * st));
                        *o = if q4 {
                            rows_q4::<1, PREFETCH_ROWS, D>(c, row_bytes, x, dr, st, nb)[0]
                        } else {
                            rows_q8::<1, PREFETCH_ROWS, D>(c, row_bytes, x, dr, st, nb)[0]
                        };
                    }
                    v
                }
            }
        };
        for r in 0..n {
            let dr = &d[r * gpr..(r + 1) * gpr];
            // Σ_g e_g T_g with e_g = (k - z)·d_g, or m_g + k·d_g (asymmetric).
            // SAFETY: AVX2 and FMA are enabled for this function.
            let corr = unsafe {
                if asym {
                    dot(&m[r * gpr..(r + 1) * gpr], &t) + k * dot(dr, &t)
                } else {
                    (k - z) * dot(dr, &t)
                }
            };
            y[r0 + r] = main[r] + corr;
        }
        r0 += n;
    }
}

/// `y += U·(Vt·x) + S·x` of a GEAR matrix (specification: the scalar
/// `GearMatrix::add_corrections`): f16 factors and outlier values converted
/// eight at a time by F16C; the outliers' inputs read by scalar loads
/// through the column indices ([`narrow_outliers`]; gathers were slower).
///
/// # Safety
/// AVX2, FMA and F16C must be available; `x.len()` is the matrix's columns
/// and `y.len()` its rows; column indices are below `x.len()` and row
/// pointers are non-decreasing within the outlier arrays (checked when the
/// matrix was built or read).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn gear_corrections(g: &super::gear::GearMatrix, x: &[f32], y: &mut [f32]) {
    use super::gear::Cols;
    let cols = x.len();
    let rank = g.rank;
    // t = Vt·x, the f16 factors converted as they are read (a plain loop:
    // a closure would not inherit this function's instruction sets).
    let mut t = alloc::vec![0.0f32; rank];
    for (k, tk) in t.iter_mut().enumerate() {
        // SAFETY: AVX2, FMA and F16C are enabled for this function.
        *tk = unsafe { dot_f16(&g.vt[k * cols..(k + 1) * cols], x) };
    }
    for (r, yr) in y.iter_mut().enumerate() {
        // SAFETY: as above.
        let mut s = unsafe { dot_f16(&g.u[r * rank..(r + 1) * rank], &t) };
        let (a, b) = (g.row_ptr[r] as usize, g.row_ptr[r + 1] as usize);
        let vals = &g.val[a..b];
        s += match &g.col {
            // SAFETY: AVX2, FMA and F16C (this function); the indices of
            // `a..b` exist and are below `x.len()` (caller).
            Cols::Narrow(c) => unsafe { narrow_outliers(vals, &c[a..b], x) },
            Cols::Wide(c) => unsafe { wide_outliers(vals, &c[a..b], x) },
        };
        *yr += s;
    }
}

/// `Σ h_i · x_i` for f16 bits `h` over `min(h.len(), x.len())` terms (see
/// [`f16_sum`]).
///
/// # Safety
/// AVX2, FMA and F16C.
#[inline(always)]
unsafe fn dot_f16(h: &[u16], x: &[f32]) -> f32 {
    // SAFETY: AVX2, FMA and F16C (caller); `Dense` reads `x` below `n`.
    unsafe { f16_sum(h, h.len().min(x.len()), Dense(x.as_ptr())) }
}

/// `Σ_k v_k · x[c_k]` over one row's outliers with 16-bit column indices
/// (see [`f16_sum`]; the indices read two per 32-bit load). 0.22 ns per
/// outlier on a Zen 4 core (four indices per 64-bit load 0.225, one per
/// load 0.26, AVX2 gathers 0.37, AVX-512 gathers 0.39: 330,000 outliers,
/// `x` in L1).
///
/// # Safety
/// AVX2, FMA and F16C; every index below `x.len()`.
#[inline(always)]
unsafe fn narrow_outliers(vals: &[u16], cols: &[u16], x: &[f32]) -> f32 {
    let p = Narrow(cols.as_ptr(), x.as_ptr());
    // SAFETY: AVX2, FMA and F16C (caller); indices read below `n`, each
    // below `x.len()` (caller).
    unsafe { f16_sum(vals, vals.len().min(cols.len()), p) }
}

/// [`narrow_outliers`] for 32-bit column indices (matrices of more than
/// 65,536 columns).
///
/// # Safety
/// As [`narrow_outliers`].
#[inline(always)]
unsafe fn wide_outliers(vals: &[u16], cols: &[u32], x: &[f32]) -> f32 {
    let p = Wide(cols.as_ptr(), x.as_ptr());
    // SAFETY: as in `narrow_outliers`.
    unsafe { f16_sum(vals, vals.len().min(cols.len()), p) }
}

/// The inputs an f16-weighted sum multiplies, by position `k`: contiguous,
/// or picked from `x` through 16- or 32-bit column indices. Eight and four
/// at a time default to single reads into a vector.
trait Picks: Copy {
    /// Input `k`.
    unsafe fn one(self, k: usize) -> f32;
    /// Inputs `k..k + 8`.
    #[inline(always)]
    unsafe fn eight(self, k: usize) -> __m256 {
        // SAFETY: as `one` for each position.
        unsafe {
            let p = |j: usize| self.one(k + j);
            _mm256_setr_ps(p(0), p(1), p(2), p(3), p(4), p(5), p(6), p(7))
        }
    }
    /// Inputs `k..k + 4`.
    #[inline(always)]
    unsafe fn four(self, k: usize) -> __m128 {
        // SAFETY: as `one` for each position.
        unsafe {
            _mm_setr_ps(
                self.one(k),
                self.one(k + 1),
                self.one(k + 2),
                self.one(k + 3),
            )
        }
    }
}

/// Contiguous inputs.
#[derive(Clone, Copy)]
struct Dense(*const f32);

/// Inputs `x[c_k]` for 16-bit indices `c`, two read per 32-bit load.
#[derive(Clone, Copy)]
struct Narrow(*const u16, *const f32);

/// Inputs `x[c_k]` for 32-bit indices `c`.
#[derive(Clone, Copy)]
struct Wide(*const u32, *const f32);

// SAFETY (for every method): the caller of `f16_sum` guarantees AVX2 and
// that positions below its `n` can be read (for indices: each below
// `x.len()`); the methods are only called for such positions.
impl Picks for Dense {
    #[inline(always)]
    unsafe fn one(self, k: usize) -> f32 {
        unsafe { *self.0.add(k) }
    }
    #[inline(always)]
    unsafe fn eight(self, k: usize) -> __m256 {
        unsafe { _mm256_loadu_ps(self.0.add(k)) }
    }
    #[inline(always)]
    unsafe fn four(self, k: usize) -> __m128 {
        unsafe { _mm_loadu_ps(self.0.add(k)) }
    }
}

impl Narrow {
    /// `(x[c_k], x[c_{k+1}])` from one 32-bit load of the indices.
    #[inline(always)]
    unsafe fn pair(self, k: usize) -> (f32, f32) {
        unsafe {
            let w = self.0.add(k).cast::<u32>().read_unaligned();
            (
                *self.1.add((w & 0xffff) as usize),
                *self.1.add((w >> 16) as usize),
            )
        }
    }
}

impl Picks for Narrow {
    #[inline(always)]
    unsafe fn one(self, k: usize) -> f32 {
        unsafe { *self.1.add(usize::from(*self.0.add(k))) }
    }
    #[inline(always)]
    unsafe fn eight(self, k: usize) -> __m256 {
        unsafe {
            let ((a, b), (c, d)) = (self.pair(k), self.pair(k + 2));
            let ((e, f), (g, h)) = (self.pair(k + 4), self.pair(k + 6));
            _mm256_setr_ps(a, b, c, d, e, f, g, h)
        }
    }
    #[inline(always)]
    unsafe fn four(self, k: usize) -> __m128 {
        unsafe {
            let ((a, b), (c, d)) = (self.pair(k), self.pair(k + 2));
            _mm_setr_ps(a, b, c, d)
        }
    }
}

impl Picks for Wide {
    #[inline(always)]
    unsafe fn one(self, k: usize) -> f32 {
        unsafe { *self.1.add(*self.0.add(k) as usize) }
    }
}

/// `Σ_{k<n} h_k · p_k` for f16 bits `h` and inputs `p`: the values converted
/// eight (then four) at a time by F16C, two vector accumulators in turn
/// (independent chains), the last few terms one by one.
///
/// # Safety
/// AVX2, FMA and F16C; `n <= h.len()` and `p` readable at positions below
/// `n`.
#[inline(always)]
unsafe fn f16_sum<P: Picks>(h: &[u16], n: usize, p: P) -> f32 {
    let hp = h.as_ptr();
    // SAFETY: the contract above; every read is below `n`.
    unsafe {
        let eight = |k: usize| _mm256_cvtph_ps(_mm_loadu_si128(hp.add(k).cast()));
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut k = 0;
        while k + 16 <= n {
            a0 = _mm256_fmadd_ps(eight(k), p.eight(k), a0);
            a1 = _mm256_fmadd_ps(eight(k + 8), p.eight(k + 8), a1);
            k += 16;
        }
        if k + 8 <= n {
            a0 = _mm256_fmadd_ps(eight(k), p.eight(k), a0);
            k += 8;
        }
        if k + 4 <= n {
            let hv = _mm_cvtph_ps(_mm_loadl_epi64(hp.add(k).cast()));
            let p4 = _mm_mul_ps(hv, p.four(k));
            a1 = _mm256_add_ps(a1, _mm256_zextps128_ps256(p4));
            k += 4;
        }
        let mut s = hsum(_mm256_add_ps(a0, a1));
        while k < n {
            s += half::f16::from_bits(*hp.add(k)).to_f32() * p.one(k);
            k += 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Bits, Format, Int8Vector, QuantMatrix, ScaleType, Scheme};
    use crate::rng::Rng;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Both outlier sums, and the f16 dot product on the gathered inputs,
    /// against the same sum in f64, for every length from 0 to 60 (the
    /// sixteen-wide loop, the eight- and four-wide steps and the tail),
    /// indices anywhere in `x`.
    #[test]
    fn outlier_sums_match_f64() {
        if !crate::arch::f16c_available() {
            return;
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn all(v: &[u16], c16: &[u16], c32: &[u32], x: &[f32]) -> [f32; 3] {
            let dense: Vec<f32> = c16.iter().map(|&c| x[usize::from(c)]).collect();
            // SAFETY: features enabled here; indices below `x.len()`.
            unsafe {
                [
                    super::narrow_outliers(v, c16, x),
                    super::wide_outliers(v, c32, x),
                    super::dot_f16(v, &dense),
                ]
            }
        }
        let mut rng = Rng::new(5);
        let x: Vec<f32> = (0..3000).map(|_| rng.normal() as f32).collect();
        for n in 0..=60 {
            let c16: Vec<u16> = (0..n).map(|_| (rng.next_u64() % 3000) as u16).collect();
            let c32: Vec<u32> = c16.iter().map(|&c| u32::from(c)).collect();
            let v: Vec<u16> = (0..n)
                .map(|_| half::f16::from_f32(rng.normal() as f32).to_bits())
                .collect();
            let terms = v.iter().zip(&c16).map(|(&a, &c)| {
                f64::from(half::f16::from_bits(a).to_f32()) * f64::from(x[usize::from(c)])
            });
            let exact: f64 = terms.clone().sum();
            let mag: f64 = terms.map(f64::abs).sum();
            // SAFETY: AVX2, FMA and F16C were detected.
            let [a, b, d] = unsafe { all(&v, &c16, &c32, &x) };
            for (what, got) in [("narrow", a), ("wide", b), ("dot_f16", d)] {
                let err = (f64::from(got) - exact).abs();
                assert!(
                    err <= 2f64.powi(-17) * mag + 1e-30,
                    "{what} n={n}: {got} vs {exact}"
                );
            }
        }
    }

    /// The VNNI entry point returns the AVX2 one's bits (the integer lanes
    /// are the same), for every Q8/Q4 format, group sizes and shapes that
    /// are not multiples of four rows or of the group; skipped where the
    /// CPU lacks either.
    #[test]
    fn vnni_equals_avx2_bit_for_bit() {
        if !crate::arch::f16c_available() || !crate::arch::vnni_available() {
            return;
        }
        let mut rng = Rng::new(31);
        let mut checked = 0;
        for bits in [Bits::Q8, Bits::Q4] {
            for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
                for group in [32, 64, 128] {
                    let f = Format::new(bits, scheme, group, ScaleType::F16).unwrap();
                    for &(rows, cols) in &[(1, 32), (7, 100), (9, 256), (13, 300), (66, 520)] {
                        let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
                        let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
                        let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
                        let xq = Int8Vector::quantize(&x).unwrap();
                        let (mut a, mut b) = (vec![0.0f32; rows], vec![0.0f32; rows]);
                        // SAFETY: both feature sets were detected; shapes match.
                        unsafe {
                            super::int8_avx2(&q, &xq, &mut a);
                            super::int8_vnni(&q, &xq, &mut b);
                        }
                        for r in 0..rows {
                            assert_eq!(
                                a[r].to_bits(),
                                b[r].to_bits(),
                                "{f:?} {rows}x{cols} row {r}"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }
}
