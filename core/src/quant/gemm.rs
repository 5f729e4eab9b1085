//! Batched products `Y = X Wᵀ` on the compressed form, for many input rows
//! (the pixels of a 1 x 1 convolution): a panel of [`PANEL`] weight rows is
//! decoded to f32 once per block of [`BLOCK`] input rows (`PANEL · cols`
//! floats, never the whole matrix) and applied to each input row of the
//! block with eight 8-lane accumulators.
//!
//! Summation order, fixed by this code: lane `l` of row `k` sums columns
//! `c ≡ l (mod 8)` of the full 8-column steps in order, the lanes are added
//! pairwise (`((0+4)+(2+6))+((1+5)+(3+7))`), then the tail columns in order.
//! No fused multiply-add is formed (Rust does not contract), so the
//! vectorised builds (AVX2 by run-time detection, simd128 at compile time)
//! give the same bits as the plain build: [`gemm_reference`] states it
//! with plain loops.

#![allow(clippy::indexing_slicing)] // shapes are checked by the callers

use alloc::vec;

use super::{QuantError, QuantMatrix};

/// Weight rows decoded together.
pub const PANEL: usize = 8;
/// Input rows that share one decoded panel.
pub const BLOCK: usize = 64;

/// `y[k] = Σ_c panel[k][c]·x[c]` for `NR` rows in the documented order.
#[inline(always)]
fn panel_dot<const NR: usize>(panel: &[f32], cols: usize, x: &[f32], y: &mut [f32]) {
    let mut acc = [[0.0f32; 8]; NR];
    let full = cols - cols % 8;
    let mut c = 0;
    while c < full {
        let mut xv = [0.0f32; 8];
        xv.copy_from_slice(&x[c..c + 8]);
        for (k, a) in acc.iter_mut().enumerate() {
            let w = &panel[k * cols + c..k * cols + c + 8];
            for l in 0..8 {
                a[l] += w[l] * xv[l];
            }
        }
        c += 8;
    }
    for (k, (a, yk)) in acc.iter().zip(y.iter_mut()).enumerate() {
        let mut s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
        for c in full..cols {
            s += panel[k * cols + c] * x[c];
        }
        *yk = s;
    }
}

#[inline(always)]
fn gemm_blocks(q: &QuantMatrix, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    let (rows, cols) = (q.rows(), q.cols());
    let mut panel = vec![0.0f32; PANEL * cols];
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + BLOCK).min(n);
        let mut r0 = 0;
        while r0 < rows {
            let nr = (rows - r0).min(PANEL);
            for k in 0..nr {
                q.dequantize_row(r0 + k, &mut panel[k * cols..(k + 1) * cols])?;
            }
            for i in b0..b1 {
                let xr = &x[i * cols..(i + 1) * cols];
                let yr = &mut y[i * rows + r0..i * rows + r0 + nr];
                if nr == PANEL {
                    panel_dot::<PANEL>(&panel, cols, xr, yr);
                } else {
                    for (k, yk) in yr.iter_mut().enumerate() {
                        panel_dot::<1>(
                            &panel[k * cols..(k + 1) * cols],
                            cols,
                            xr,
                            core::slice::from_mut(yk),
                        );
                    }
                }
            }
            r0 += nr;
        }
        b0 = b1;
    }
    Ok(())
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
unsafe fn gemm_avx2(q: &QuantMatrix, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    gemm_blocks(q, x, n, y)
}

/// The panel product, vectorised where the target allows (shapes checked
/// by the caller).
pub(super) fn gemm(q: &QuantMatrix, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if crate::arch::avx2_available() {
        // SAFETY: AVX2 support was just checked.
        return unsafe { gemm_avx2(q, x, n, y) };
    }
    gemm_blocks(q, x, n, y)
}

/// The specification of [`QuantMatrix::gemm`] for batches of
/// [`QuantMatrix::GEMM_MIN_BATCH`] or more: each output is the decoded row's
/// dot product with the input row in the order the module docs state, with
/// plain scalar loops.
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
    let mut w = vec![0.0f32; cols];
    for r in 0..rows {
        q.dequantize_row(r, &mut w)?;
        for i in 0..n {
            let xr = &x[i * cols..(i + 1) * cols];
            let mut lanes = [0.0f32; 8];
            let full = cols - cols % 8;
            for c in 0..full {
                lanes[c % 8] += w[c] * xr[c];
            }
            let a = lanes;
            let mut s = ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
            for c in full..cols {
                s += w[c] * xr[c];
            }
            y[i * rows + r] = s;
        }
    }
    Ok(())
}
