//! Low-rank factorization without BLAS: truncated SVD by randomized range
//! finding with power iterations (Halko, Martinsson and Tropp, 2011), with a
//! one-sided Jacobi SVD of the small projected matrix; rank-k LDU with
//! complete pivoting ([`ldu`]); and the output-feature factorization
//! ([`output_features`]: PCA of a layer's outputs folded into two maps).
//!
//! ```
//! use shoal_core::quant::lowrank::{randomized_svd, LowRank};
//! // A rank-2 matrix is recovered exactly (to rounding) at rank 2.
//! let (m, n) = (30, 20);
//! let a: Vec<f64> = (0..m * n).map(|i| ((i / n) as f64).sin() * ((i % n) as f64) + (i % n) as f64 * 0.5).collect();
//! let lr = randomized_svd(&a, m, n, 2, 2, 1).unwrap();
//! let mut err: f64 = 0.0;
//! for i in 0..m { for j in 0..n { err = err.max((lr.at(i, j) - a[i * n + j]).abs()); } }
//! assert!(err < 1e-9);
//! ```

use alloc::vec;
use alloc::vec::Vec;

use crate::rng::Rng;

use super::QuantError;

/// `A ≈ U · Vt` with `U` of `m × k` (singular values folded in) and `Vt` of
/// `k × n`, both row-major; `sigma` holds the `k` singular values, largest
/// first.
#[derive(Clone, Debug, PartialEq)]
pub struct LowRank {
    /// Rows of `A`.
    pub m: usize,
    /// Columns of `A`.
    pub n: usize,
    /// Rank kept.
    pub k: usize,
    /// `m × k`, left singular vectors times singular values.
    pub u: Vec<f64>,
    /// `k × n`, right singular vectors (transposed).
    pub vt: Vec<f64>,
    /// Singular values, decreasing.
    pub sigma: Vec<f64>,
}

impl LowRank {
    /// Element `(i, j)` of `U · Vt`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        (0..self.k)
            .map(|r| self.u[i * self.k + r] * self.vt[r * self.n + j])
            .sum()
    }
}

/// Checks a row-major `m × n` matrix for a rank-`k` factorization: shape,
/// length, `0 < k <= min(m, n)`, finite entries.
fn check_matrix(a: &[f64], m: usize, n: usize, k: usize) -> Result<(), QuantError> {
    let size = m
        .checked_mul(n)
        .filter(|&s| s > 0)
        .ok_or(QuantError::BadShape { rows: m, cols: n })?;
    if a.len() != size {
        return Err(QuantError::LengthMismatch {
            expected: size,
            found: a.len(),
        });
    }
    if k == 0 || k > m.min(n) {
        return Err(QuantError::BadShape { rows: m, cols: n });
    }
    match a.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(QuantError::NonFinite(i)),
        None => Ok(()),
    }
}

/// Orthonormalises the columns of the row-major `rows × cols` matrix `y` in
/// place (modified Gram-Schmidt, run twice for stability). Columns that
/// vanish are replaced by zeros.
fn orthonormalize(y: &mut [f64], rows: usize, cols: usize) {
    for j in 0..cols {
        for _ in 0..2 {
            for p in 0..j {
                let dot: f64 = (0..rows).map(|i| y[i * cols + p] * y[i * cols + j]).sum();
                for i in 0..rows {
                    y[i * cols + j] -= dot * y[i * cols + p];
                }
            }
        }
        let norm = libm::sqrt(
            (0..rows)
                .map(|i| y[i * cols + j] * y[i * cols + j])
                .sum::<f64>(),
        );
        let inv = if norm > 0.0 { 1.0 / norm } else { 0.0 };
        for i in 0..rows {
            y[i * cols + j] *= inv;
        }
    }
}

/// `out (m × l) = A (m × n) · B (n × l)`.
fn matmul(a: &[f64], m: usize, n: usize, b: &[f64], l: usize, out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for i in 0..m {
        for p in 0..n {
            let aip = a[i * n + p];
            if aip == 0.0 {
                continue;
            }
            for j in 0..l {
                out[i * l + j] += aip * b[p * l + j];
            }
        }
    }
}

/// `out (n × l) = Aᵀ (n × m) · Y (m × l)`.
fn matmul_t(a: &[f64], m: usize, n: usize, y: &[f64], l: usize, out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for i in 0..m {
        for p in 0..n {
            let aip = a[i * n + p];
            if aip == 0.0 {
                continue;
            }
            for j in 0..l {
                out[p * l + j] += aip * y[i * l + j];
            }
        }
    }
}

/// One-sided Jacobi SVD of the row-major `rows × cols` matrix `w`
/// (`rows >= cols`): on return the columns of `w` are mutually orthogonal
/// (`w = W_in · V`) and `v` (`cols × cols`) holds the rotations.
fn jacobi(w: &mut [f64], rows: usize, cols: usize, v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = 0.0);
    for i in 0..cols {
        v[i * cols + i] = 1.0;
    }
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..cols {
            for q in p + 1..cols {
                let (mut alpha, mut beta, mut gamma) = (0.0, 0.0, 0.0);
                for i in 0..rows {
                    let (a, b) = (w[i * cols + p], w[i * cols + q]);
                    alpha += a * a;
                    beta += b * b;
                    gamma += a * b;
                }
                if libm::fabs(gamma) <= 1e-15 * libm::sqrt(alpha * beta) || gamma == 0.0 {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t =
                    libm::copysign(1.0, zeta) / (libm::fabs(zeta) + libm::sqrt(1.0 + zeta * zeta));
                let c = 1.0 / libm::sqrt(1.0 + t * t);
                let s = c * t;
                for i in 0..rows {
                    let (a, b) = (w[i * cols + p], w[i * cols + q]);
                    w[i * cols + p] = c * a - s * b;
                    w[i * cols + q] = s * a + c * b;
                }
                for i in 0..cols {
                    let (a, b) = (v[i * cols + p], v[i * cols + q]);
                    v[i * cols + p] = c * a - s * b;
                    v[i * cols + q] = s * a + c * b;
                }
            }
        }
        if !rotated {
            break;
        }
    }
}

/// Rank-`k` truncated SVD of the row-major `m × n` matrix `a`, with
/// `oversample` extra directions and `power` power iterations (2 suits
/// slowly decaying spectra). Deterministic for a given `seed`.
///
/// # Errors
/// [`QuantError::BadShape`] for empty shapes or `k` of 0 or above
/// `min(m, n)`; [`QuantError::LengthMismatch`]; [`QuantError::NonFinite`].
pub fn randomized_svd(
    a: &[f64],
    m: usize,
    n: usize,
    k: usize,
    power: usize,
    seed: u64,
) -> Result<LowRank, QuantError> {
    check_matrix(a, m, n, k)?;
    let l = (k + 8).min(m.min(n));
    let mut rng = Rng::new(seed);
    let omega: Vec<f64> = (0..n * l).map(|_| rng.normal()).collect();
    let mut y = vec![0.0; m * l];
    let mut z = vec![0.0; n * l];
    matmul(a, m, n, &omega, l, &mut y);
    orthonormalize(&mut y, m, l);
    for _ in 0..power {
        matmul_t(a, m, n, &y, l, &mut z);
        orthonormalize(&mut z, n, l);
        matmul(a, m, n, &z, l, &mut y);
        orthonormalize(&mut y, m, l);
    }
    // Bᵀ = Aᵀ Q (n × l); Jacobi on Bᵀ: Bᵀ V = W, so B = V Σ (W Σ⁻¹)ᵀ and
    // A ≈ Q B = (Q V) Σ (W Σ⁻¹)ᵀ.
    let mut w = vec![0.0; n * l];
    matmul_t(a, m, n, &y, l, &mut w);
    let mut v = vec![0.0; l * l];
    jacobi(&mut w, n, l, &mut v);
    let mut sig: Vec<(f64, usize)> = (0..l)
        .map(|j| {
            (
                libm::sqrt((0..n).map(|i| w[i * l + j] * w[i * l + j]).sum::<f64>()),
                j,
            )
        })
        .collect();
    sig.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut u = vec![0.0; m * k];
    let mut vt = vec![0.0; k * n];
    let mut qv = vec![0.0; m * l];
    matmul(&y, m, l, &v, l, &mut qv);
    for (r, &(s, j)) in sig.iter().take(k).enumerate() {
        for i in 0..m {
            u[i * k + r] = qv[i * l + j] * s;
        }
        let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
        for i in 0..n {
            vt[r * n + i] = w[i * l + j] * inv;
        }
    }
    Ok(LowRank {
        m,
        n,
        k,
        u,
        vt,
        sigma: sig.iter().take(k).map(|s| s.0).collect(),
    })
}

/// `A ≈ L · D · U` of rank `k` by Gaussian elimination with complete
/// pivoting stopped after `k` steps: `L` (`m × k`) is unit lower triangular
/// on the pivot rows, `U` (`k × n`) unit upper triangular on the pivot
/// columns, `D` diagonal (the pivots, largest first in magnitude). Exact
/// for a matrix of rank `k`; otherwise the error is that of the Schur
/// complement left after `k` pivots (compare with the SVD tail).
#[derive(Clone, Debug, PartialEq)]
pub struct Ldu {
    /// Rows of `A`.
    pub m: usize,
    /// Columns of `A`.
    pub n: usize,
    /// Rank kept (fewer than asked when the remainder is exactly zero).
    pub k: usize,
    /// `m × k`, row-major.
    pub l: Vec<f64>,
    /// The `k` pivots.
    pub d: Vec<f64>,
    /// `k × n`, row-major.
    pub u: Vec<f64>,
    /// Row index of pivot `t`.
    pub pivot_rows: Vec<usize>,
    /// Column index of pivot `t`.
    pub pivot_cols: Vec<usize>,
}

impl Ldu {
    /// Element `(i, j)` of `L · D · U`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        (0..self.k)
            .map(|t| self.l[i * self.k + t] * self.d[t] * self.u[t * self.n + j])
            .sum()
    }
}

/// Rank-`k` LDU factorization with complete pivoting (see [`Ldu`]).
///
/// # Errors
/// [`QuantError::BadShape`] for empty shapes or `k` of 0 or above
/// `min(m, n)`; [`QuantError::LengthMismatch`]; [`QuantError::NonFinite`].
pub fn ldu(a: &[f64], m: usize, n: usize, k: usize) -> Result<Ldu, QuantError> {
    check_matrix(a, m, n, k)?;
    // The Schur complement, updated in place.
    let mut s = a.to_vec();
    let (mut l, mut d, mut u) = (Vec::new(), Vec::new(), Vec::new());
    let (mut pr, mut pc) = (Vec::new(), Vec::new());
    for _ in 0..k {
        let (mut bi, mut bj, mut best) = (0, 0, 0.0f64);
        for (idx, &v) in s.iter().enumerate() {
            if libm::fabs(v) > best {
                (bi, bj, best) = (idx / n, idx % n, libm::fabs(v));
            }
        }
        if best == 0.0 {
            break;
        }
        let p = s[bi * n + bj];
        let col: Vec<f64> = (0..m).map(|i| s[i * n + bj] / p).collect();
        let row: Vec<f64> = (0..n).map(|j| s[bi * n + j] / p).collect();
        for i in 0..m {
            let c = col[i] * p;
            if c != 0.0 {
                for j in 0..n {
                    s[i * n + j] -= c * row[j];
                }
            }
        }
        l.push(col);
        u.push(row);
        d.push(p);
        pr.push(bi);
        pc.push(bj);
    }
    let k = d.len();
    let mut lm = vec![0.0; m * k];
    for (t, col) in l.iter().enumerate() {
        for i in 0..m {
            lm[i * k + t] = col[i];
        }
    }
    Ok(Ldu {
        m,
        n,
        k,
        l: lm,
        d,
        u: u.concat(),
        pivot_rows: pr,
        pivot_cols: pc,
    })
}

/// The output-feature factorization ("Unified Low-rank Compression
/// Framework for CTR Prediction"): for a layer `y = W x` (`W` of `rows ×
/// cols`) and `samples` inputs `x` (row-major, `samples × cols`), the
/// principal subspace `V` (`rows × k`) of the layer's centred outputs gives
/// `y ≈ B (A x) + c` with `A = Vᵀ W` (`k × cols`), `B = V` (`rows × k`) and
/// `c = (I − V Vᵀ) μ` for the output mean `μ`: two linear maps whose error
/// on those outputs is the PCA tail, not the weights' SVD tail.
#[derive(Clone, Debug, PartialEq)]
pub struct OutputFeatures {
    /// Rank kept.
    pub k: usize,
    /// `k × cols`.
    pub a: Vec<f64>,
    /// `rows × k`.
    pub b: Vec<f64>,
    /// Bias added to the outputs (`rows`).
    pub c: Vec<f64>,
}

impl OutputFeatures {
    /// `y = B (A x) + c` for one input `x` (`cols`) into `y` (`rows`).
    pub fn apply(&self, x: &[f64], y: &mut [f64]) {
        let cols = x.len();
        let ax: Vec<f64> = self
            .a
            .chunks_exact(cols.max(1))
            .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
            .collect();
        for (i, yi) in y.iter_mut().enumerate() {
            *yi = self.c.get(i).copied().unwrap_or(0.0)
                + (0..self.k)
                    .map(|t| self.b[i * self.k + t] * ax[t])
                    .sum::<f64>();
        }
    }
}

/// Computes the [`OutputFeatures`] factorization of rank `k`.
///
/// # Errors
/// [`QuantError::BadShape`] for empty shapes, no samples, or `k` of 0 or
/// above `min(rows, samples)`; [`QuantError::LengthMismatch`];
/// [`QuantError::NonFinite`] (the index within `w`, else within `x`).
pub fn output_features(
    w: &[f64],
    rows: usize,
    cols: usize,
    x: &[f64],
    samples: usize,
    k: usize,
    seed: u64,
) -> Result<OutputFeatures, QuantError> {
    check_matrix(w, rows, cols, 1)?;
    check_matrix(x, samples, cols, 1)?;
    if k == 0 || k > rows.min(samples) {
        return Err(QuantError::BadShape { rows, cols });
    }
    // Outputs Y (samples × rows), centred.
    let mut y = vec![0.0; samples * rows];
    for (s, xr) in x.chunks_exact(cols).enumerate() {
        for (i, wr) in w.chunks_exact(cols).enumerate() {
            y[s * rows + i] = wr.iter().zip(xr).map(|(a, b)| a * b).sum();
        }
    }
    let mut mu = vec![0.0; rows];
    for yr in y.chunks_exact(rows) {
        mu.iter_mut().zip(yr).for_each(|(m, v)| *m += v);
    }
    mu.iter_mut().for_each(|m| *m /= samples as f64);
    for yr in y.chunks_exact_mut(rows) {
        yr.iter_mut().zip(&mu).for_each(|(v, m)| *v -= m);
    }
    // Principal directions: the right singular vectors of Y.
    let lr = randomized_svd(&y, samples, rows, k, 2, seed)?;
    let vt = lr.vt; // k × rows
    let mut a = vec![0.0; k * cols];
    matmul(&vt, k, rows, w, cols, &mut a);
    let mut b = vec![0.0; rows * k];
    for t in 0..k {
        for i in 0..rows {
            b[i * k + t] = vt[t * rows + i];
        }
    }
    let proj: Vec<f64> = (0..k)
        .map(|t| (0..rows).map(|i| vt[t * rows + i] * mu[i]).sum())
        .collect();
    let c = (0..rows)
        .map(|i| mu[i] - (0..k).map(|t| b[i * k + t] * proj[t]).sum::<f64>())
        .collect();
    Ok(OutputFeatures { k, a, b, c })
}
