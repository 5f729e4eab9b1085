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
            decode_panel(q, r0, (rows - r0).min(PANEL), &mut row, panel)?;
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
                decode_panel(q, r0, nr, &mut row, &mut panels)?;
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
