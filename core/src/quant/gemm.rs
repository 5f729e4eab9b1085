//! Batched products `Y = X Wᵀ` on the compressed form, for many input rows
//! (the pixels of a 1 x 1 convolution): panels of [`PANEL`] weight rows are
//! decoded to f32 (`PANEL · cols` floats, column-major; all panels of the
//! layer once when there is more than one block of [`BLOCK`] input rows,
//! else one at a time) and applied to [`TILE`] input rows at a time as outer
//! products: for each column, the panel's sixteen weights times each input
//! row's value, added into sixteen accumulators per row.
//!
//! Summation order, fixed by this code: every output is a sequential sum
//! over the columns in order, `acc = w·x + acc`, starting from zero. Where
//! the CPU has fused multiply-add (x86 with AVX2 and FMA, detected at run
//! time) each step is one fused operation, elsewhere a product then a sum;
//! [`gemm_reference`] states both with plain loops (`fmaf` for the fused
//! one), and each build equals its own statement bit for bit.

#![allow(clippy::indexing_slicing)] // shapes are checked by the callers

use alloc::vec;

use super::{QuantError, QuantMatrix};

/// Weight rows decoded together (two 8-lane vectors per column).
pub const PANEL: usize = 16;
/// Input rows that share one decoded panel.
pub const BLOCK: usize = 64;
/// Input rows computed together (2 · TILE accumulators in registers).
pub const TILE: usize = 6;

/// Whether this machine takes the fused path.
pub fn fused() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::arch::f16c_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Decodes rows `r0..r0 + nr` of `q` into `panel` column-major
/// (`panel[c·PANEL + k]`), zero past `nr`.
fn decode_panel(
    q: &QuantMatrix,
    r0: usize,
    nr: usize,
    row: &mut [f32],
    panel: &mut [f32],
) -> Result<(), QuantError> {
    let cols = q.cols();
    panel.fill(0.0);
    for k in 0..nr {
        q.dequantize_row(r0 + k, row)?;
        for (c, &w) in row.iter().enumerate().take(cols) {
            panel[c * PANEL + k] = w;
        }
    }
    Ok(())
}

/// [`decode_panel`] with AVX2 (the same bits): per group of columns, the
/// rows' codes unpacked once, then eight columns of eight rows at a time,
/// each value `m + d·(c − z)` by the same three f32 operations, the 8 x 8
/// block transposed in registers into eight panel columns.
///
/// # Safety
/// AVX2; `nr <= PANEL`, `panel.len() >= cols · PANEL`, rows `r0..r0 + nr`
/// exist (the caller's checks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn decode_panel_avx2(q: &QuantMatrix, r0: usize, nr: usize, panel: &mut [f32]) {
    use core::arch::x86_64::*;
    let (cols, f) = (q.cols(), q.format());
    let (g_len, gb, gpr) = (f.group, f.group_bytes(), q.groups_per_row());
    let z = _mm256_set1_ps(f32::from(f.zero_point()));
    panel.fill(0.0);
    let mut codes = [[0u8; 128]; PANEL];
    let mut dm = [(0.0f32, 0.0f32); PANEL];
    let nr = nr.min(PANEL);
    for g in 0..gpr {
        for k in 0..nr {
            let gi = (r0 + k) * gpr + g;
            let (Some(src), Some(dst)) = (
                q.codes.get(gi * gb..(gi + 1) * gb),
                codes[k].get_mut(..g_len),
            ) else {
                return;
            };
            super::scalar::unpack(src, f.bits, dst);
            dm[k] = q.params(gi);
        }
        let width = g_len.min(cols - g * g_len);
        for j0 in (0..width).step_by(8) {
            for h in 0..PANEL / 8 {
                let mut v = [_mm256_setzero_ps(); 8];
                for (i, vi) in v.iter_mut().enumerate() {
                    let k = h * 8 + i;
                    if k < nr {
                        let (d, m) = dm[k];
                        // SAFETY: j0 + 8 <= group length <= 128.
                        let b = unsafe { _mm_loadl_epi64(codes[k].as_ptr().add(j0).cast()) };
                        let c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
                        let w = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_sub_ps(c, z));
                        *vi = _mm256_add_ps(_mm256_set1_ps(m), w);
                    }
                }
                let t = transpose8(v);
                for (j, col) in t.iter().enumerate().take(width - j0) {
                    let at = (g * g_len + j0 + j) * PANEL + h * 8;
                    if let Some(dst) = panel.get_mut(at..at + 8) {
                        // SAFETY: eight floats in `dst`.
                        unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), *col) };
                    }
                }
            }
        }
    }
}

/// The 8 x 8 transpose of eight rows: column `j` of the result holds
/// element `j` of every row, in row order.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8(v: [core::arch::x86_64::__m256; 8]) -> [core::arch::x86_64::__m256; 8] {
    use core::arch::x86_64::*;
    let t = [
        _mm256_unpacklo_ps(v[0], v[1]),
        _mm256_unpackhi_ps(v[0], v[1]),
        _mm256_unpacklo_ps(v[2], v[3]),
        _mm256_unpackhi_ps(v[2], v[3]),
        _mm256_unpacklo_ps(v[4], v[5]),
        _mm256_unpackhi_ps(v[4], v[5]),
        _mm256_unpacklo_ps(v[6], v[7]),
        _mm256_unpackhi_ps(v[6], v[7]),
    ];
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    [
        _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
        _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
    ]
}

/// [`decode_panel`], by [`decode_panel_avx2`] where the CPU has AVX2.
fn decode_panel_fast(
    q: &QuantMatrix,
    r0: usize,
    nr: usize,
    row: &mut [f32],
    panel: &mut [f32],
) -> Result<(), QuantError> {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2_available()
        && nr <= PANEL
        && r0 + nr <= q.rows()
        && panel.len() >= q.cols() * PANEL
        && q.format().group <= 128
    {
        // SAFETY: AVX2 was checked, and the sizes.
        unsafe { decode_panel_avx2(q, r0, nr, panel) };
        return Ok(());
    }
    decode_panel(q, r0, nr, row, panel)
}

/// The portable tile: `acc[p][k] += panel[c][k]·x[p][c]` over the columns,
/// product then sum.
#[inline(always)]
fn tile_plain(panel: &[f32], x: &[f32], cols: usize, np: usize, acc: &mut [[f32; PANEL]; TILE]) {
    for a in acc.iter_mut() {
        *a = [0.0; PANEL];
    }
    for c in 0..cols {
        let mut w = [0.0f32; PANEL];
        w.copy_from_slice(&panel[c * PANEL..(c + 1) * PANEL]);
        for (p, a) in acc.iter_mut().enumerate().take(np) {
            let xv = x[p * cols + c];
            for k in 0..PANEL {
                a[k] += w[k] * xv;
            }
        }
    }
}

/// The fused tile with AVX2/FMA: two `vfmadd` per column and input row
/// (twelve accumulators, two weight vectors and a broadcast in registers).
///
/// # Safety
/// AVX2 and FMA; `panel` holds `cols · PANEL` values, `x` `np · cols`,
/// `np <= TILE`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_fma(
    panel: &[f32],
    x: &[f32],
    cols: usize,
    np: usize,
    acc: &mut [[f32; PANEL]; TILE],
) {
    use core::arch::x86_64::*;
    debug_assert!(np <= TILE && panel.len() >= cols * PANEL && x.len() >= np * cols);
    let mut a = [[_mm256_setzero_ps(); 2]; TILE];
    // SAFETY (all loads): inside `panel` and `x` (caller).
    unsafe {
        if np == TILE {
            for c in 0..cols {
                let w0 = _mm256_loadu_ps(panel.as_ptr().add(c * PANEL));
                let w1 = _mm256_loadu_ps(panel.as_ptr().add(c * PANEL + 8));
                for (p, ap) in a.iter_mut().enumerate() {
                    let xv = _mm256_broadcast_ss(&*x.as_ptr().add(p * cols + c));
                    ap[0] = _mm256_fmadd_ps(w0, xv, ap[0]);
                    ap[1] = _mm256_fmadd_ps(w1, xv, ap[1]);
                }
            }
        } else {
            for c in 0..cols {
                let w0 = _mm256_loadu_ps(panel.as_ptr().add(c * PANEL));
                let w1 = _mm256_loadu_ps(panel.as_ptr().add(c * PANEL + 8));
                for (p, ap) in a.iter_mut().enumerate().take(np) {
                    let xv = _mm256_broadcast_ss(&*x.as_ptr().add(p * cols + c));
                    ap[0] = _mm256_fmadd_ps(w0, xv, ap[0]);
                    ap[1] = _mm256_fmadd_ps(w1, xv, ap[1]);
                }
            }
        }
        for (p, ap) in a.iter().enumerate().take(np) {
            _mm256_storeu_ps(acc[p].as_mut_ptr(), ap[0]);
            _mm256_storeu_ps(acc[p].as_mut_ptr().add(8), ap[1]);
        }
    }
}

/// The panel product (shapes checked by the caller).
pub(super) fn gemm(q: &QuantMatrix, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    let (rows, cols) = (q.rows(), q.cols());
    let fma = fused();
    let mut row = vec![0.0f32; cols];
    let mut acc = [[0.0f32; PANEL]; TILE];
    // More than one block of input rows: every panel is decoded once up
    // front (the layer's weights in f32, a transient buffer) instead of once
    // per block; one block: one panel at a time. The same panels either way.
    let npanels = rows.div_ceil(PANEL);
    let once = n > BLOCK;
    let mut panels = vec![0.0f32; PANEL * cols * if once { npanels } else { 1 }];
    if once {
        for (k, panel) in panels.chunks_exact_mut(PANEL * cols).enumerate() {
            let r0 = k * PANEL;
            decode_panel_fast(q, r0, (rows - r0).min(PANEL), &mut row, panel)?;
        }
    }
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + BLOCK).min(n);
        let mut r0 = 0;
        while r0 < rows {
            let nr = (rows - r0).min(PANEL);
            let panel = if once {
                &panels[r0 * cols..(r0 + PANEL) * cols]
            } else {
                decode_panel_fast(q, r0, nr, &mut row, &mut panels)?;
                &panels[..]
            };
            let mut i = b0;
            while i < b1 {
                let np = (b1 - i).min(TILE);
                let xs = &x[i * cols..(i + np) * cols];
                #[cfg(target_arch = "x86_64")]
                if fma {
                    // SAFETY: AVX2 and FMA were detected; sizes as required.
                    unsafe { tile_fma(panel, xs, cols, np, &mut acc) };
                } else {
                    tile_plain(panel, xs, cols, np, &mut acc);
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    let _ = fma;
                    tile_plain(panel, xs, cols, np, &mut acc);
                }
                for (p, a) in acc.iter().enumerate().take(np) {
                    let at = (i + p) * rows + r0;
                    if nr == PANEL {
                        // A fixed-size copy: moves, not a memcpy call.
                        y[at..at + PANEL].copy_from_slice(a);
                    } else {
                        y[at..at + nr].copy_from_slice(&a[..nr]);
                    }
                }
                i += np;
            }
            r0 += nr;
        }
        b0 = b1;
    }
    Ok(())
}

/// The specification of [`QuantMatrix::gemm`] for batches of
/// [`QuantMatrix::GEMM_MIN_BATCH`] or more: each output is the decoded
/// row's dot product with the input row, summed over the columns in order
/// from zero, each step fused (`fmaf`) when [`fused`] is true on this
/// machine, else a product then a sum.
///
/// # Errors
/// [`QuantError::LengthMismatch`].
pub fn gemm_reference(
    q: &QuantMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Result<(), QuantError> {
    let (rows, cols) = (q.rows(), q.cols());
    super::check_batch(x, y, n, rows, cols)?;
    let fma = fused();
    let mut w = vec![0.0f32; cols];
    for r in 0..rows {
        q.dequantize_row(r, &mut w)?;
        for i in 0..n {
            let xr = &x[i * cols..(i + 1) * cols];
            let mut s = 0.0f32;
            for (a, b) in w.iter().zip(xr) {
                s = if fma {
                    libm::fmaf(*a, *b, s)
                } else {
                    s + a * b
                };
            }
            y[i * rows + r] = s;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Bits, Format, ScaleType, Scheme};
    use super::*;
    use alloc::vec::Vec;

    /// The AVX2 panel decoder equals its scalar specification bit for bit:
    /// 8, 4 and 2 bits, both schemes, groups of 32, 64 and 128, column
    /// counts inside and across groups, 1 to 16 rows.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn decode_panel_avx2_equals_scalar() {
        if !crate::arch::avx2_available() {
            return;
        }
        let mut rng = crate::rng::Rng::new(9);
        let mut checked = 0;
        for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
            for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
                for (group, cols) in [(32, 40), (64, 64), (128, 300), (32, 7)] {
                    let f = Format::new(bits, scheme, group, ScaleType::F16).unwrap();
                    let rows = 19;
                    let w: Vec<f32> = (0..rows * cols)
                        .map(|_| rng.next_f64() as f32 - 0.4)
                        .collect();
                    let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
                    let mut row = vec![0.0f32; cols];
                    for (r0, nr) in [(0, 16), (16, 3), (2, 1), (3, 9)] {
                        let mut a = vec![7.0f32; cols * PANEL];
                        let mut b = vec![-7.0f32; cols * PANEL];
                        decode_panel(&q, r0, nr, &mut row, &mut a).unwrap();
                        // SAFETY: AVX2 was checked; sizes as required.
                        unsafe { decode_panel_avx2(&q, r0, nr, &mut b) };
                        assert!(
                            a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                            "{bits:?} {scheme:?} g{group} cols {cols} rows {r0}+{nr}"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 96);
    }
}
