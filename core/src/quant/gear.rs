//! The GEAR composite: `W ≈ Q + U·Vt + S` with a group-quantized backbone
//! `Q`, a rank-`k` approximation `U·Vt` of the quantization residual (f16
//! factors) and sparse outliers `S` (the largest and smallest fraction of
//! each row, kept in CSR with f16 values). Stored packed, never expanded:
//! [`GearMatrix::gemv`] computes `Q·x + U·(Vt·x) + S·x`.
//!
//! ```
//! use shoal_core::quant::{gear::GearMatrix, Bits, Format, ScaleType, Scheme};
//! let (rows, cols) = (16, 64);
//! let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 7919 % 97) as f32 - 48.0) / 48.0).collect();
//! let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
//! let g = GearMatrix::compress(&w, rows, cols, f, 2, 0.02).unwrap();
//! let mut y = vec![0.0; rows];
//! g.gemv(&vec![1.0; cols], &mut y).unwrap();
//! ```

use alloc::vec;
use alloc::vec::Vec;

use super::gemm::Epilogue;
use super::lowrank::randomized_svd;
use super::{Format, QuantError, QuantMatrix};

/// A GEAR-compressed matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct GearMatrix {
    pub(crate) q: QuantMatrix,
    pub(crate) rank: usize,
    /// `rows × rank`, f16 bits.
    pub(crate) u: Vec<u16>,
    /// `rank × cols`, f16 bits.
    pub(crate) vt: Vec<u16>,
    /// CSR row pointers (`rows + 1`).
    pub(crate) row_ptr: Vec<u32>,
    /// CSR column indices, increasing within a row.
    pub(crate) col: Cols,
    /// CSR values, f16 bits.
    pub(crate) val: Vec<u16>,
}

/// Outlier column indices in memory: 16 bits while the matrix has at most
/// 65,536 columns (a third less outlier traffic in the products), else 32.
/// Files always store 32 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Cols {
    /// Indices below 2^16.
    Narrow(Vec<u16>),
    /// Any indices.
    Wide(Vec<u32>),
}

impl Cols {
    /// The narrowest form for a matrix of `cols` columns.
    pub(crate) fn new(v: Vec<u32>, cols: usize) -> Cols {
        if cols <= 1 << 16 {
            Cols::Narrow(v.iter().map(|&c| c as u16).collect())
        } else {
            Cols::Wide(v)
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Cols::Narrow(v) => v.len(),
            Cols::Wide(v) => v.len(),
        }
    }

    /// Index `i` (0 past the end).
    pub(crate) fn get(&self, i: usize) -> usize {
        match self {
            Cols::Narrow(v) => v.get(i).map_or(0, |&c| usize::from(c)),
            Cols::Wide(v) => v.get(i).map_or(0, |&c| c as usize),
        }
    }
}

fn f16(v: f32) -> u16 {
    half::f16::from_f32(v).to_bits()
}

fn from_f16(b: u16) -> f32 {
    half::f16::from_bits(b).to_f32()
}

impl GearMatrix {
    /// Compresses a row-major `rows × cols` matrix: outliers first (a
    /// fraction `outliers` of each row, half from the top, half from the
    /// bottom), then the quantized backbone of the rest, then a rank-`rank`
    /// SVD of the residual (`rank` may be 0).
    ///
    /// # Errors
    /// Those of [`QuantMatrix::quantize`]; [`QuantError::BadShape`] for a rank
    /// above `min(rows, cols)` or a fraction outside `[0, 1)`;
    /// [`QuantError::ScaleOverflow`] when an outlier exceeds the f16 range.
    pub fn compress(
        w: &[f32],
        rows: usize,
        cols: usize,
        format: Format,
        rank: usize,
        outliers: f64,
    ) -> Result<Self, QuantError> {
        let n = rows
            .checked_mul(cols)
            .filter(|&n| n > 0)
            .ok_or(QuantError::BadShape { rows, cols })?;
        if w.len() != n {
            return Err(QuantError::LengthMismatch {
                expected: n,
                found: w.len(),
            });
        }
        if rank > rows.min(cols) || !(0.0..1.0).contains(&outliers) {
            return Err(QuantError::BadShape { rows, cols });
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite(i));
        }
        let per_side = (outliers * cols as f64 / 2.0) as usize;
        let mut rest = w.to_vec();
        let mut row_ptr = Vec::with_capacity(rows + 1);
        let mut col = Vec::new();
        let mut val = Vec::new();
        row_ptr.push(0u32);
        let mut order: Vec<usize> = Vec::with_capacity(cols);
        for (r, row) in rest.chunks_exact_mut(cols).enumerate() {
            if per_side > 0 {
                order.clear();
                order.extend(0..cols);
                order.sort_by(|&a, &b| row[a].total_cmp(&row[b]));
                let mut picked: Vec<usize> = order[..per_side]
                    .iter()
                    .chain(&order[cols - per_side..])
                    .copied()
                    .collect();
                picked.sort_unstable();
                picked.dedup();
                for j in picked {
                    let bits = f16(row[j]);
                    let stored = from_f16(bits);
                    if !stored.is_finite() {
                        return Err(QuantError::ScaleOverflow {
                            row: r,
                            group: j / format.group,
                        });
                    }
                    col.push(j as u32);
                    val.push(bits);
                    // What f16 does not carry stays in the quantized part.
                    row[j] -= stored;
                }
            }
            row_ptr
                .push(u32::try_from(col.len()).map_err(|_| QuantError::BadShape { rows, cols })?);
        }
        let q = QuantMatrix::quantize(&rest, rows, cols, format)?;
        let (mut u, mut vt) = (Vec::new(), Vec::new());
        if rank > 0 {
            let mut resid = vec![0.0f64; n];
            let mut deq = vec![0.0f32; cols];
            for r in 0..rows {
                q.dequantize_row(r, &mut deq)?;
                for j in 0..cols {
                    resid[r * cols + j] = f64::from(rest[r * cols + j]) - f64::from(deq[j]);
                }
            }
            let lr = randomized_svd(&resid, rows, cols, rank, 2, 0x9ea7)?;
            u = lr.u.iter().map(|&a| f16(a as f32)).collect();
            vt = lr.vt.iter().map(|&a| f16(a as f32)).collect();
        }
        Ok(GearMatrix {
            q,
            rank,
            u,
            vt,
            row_ptr,
            col: Cols::new(col, cols),
            val,
        })
    }

    /// The low-rank factors as f16 bits: `U` (`rows × rank`, row-major)
    /// and `Vt` (`rank × cols`).
    pub fn factors(&self) -> (&[u16], &[u16]) {
        (&self.u, &self.vt)
    }

    /// The outliers in CSR form: row pointers (`rows + 1`), column indices
    /// (increasing within a row) and f16 values.
    pub fn outlier_csr(&self) -> (&[u32], Vec<u32>, &[u16]) {
        let cols = (0..self.col.len())
            .map(|i| self.col.get(i) as u32)
            .collect();
        (&self.row_ptr, cols, &self.val)
    }

    /// Keeps the backbone's codes also in panel order (see
    /// [`QuantMatrix::pack_panels`]): faster batched products, the same
    /// bits, one more byte per weight.
    pub fn pack_panels(&mut self) {
        self.q.pack_panels();
    }

    /// The quantized backbone.
    pub fn backbone(&self) -> &QuantMatrix {
        &self.q
    }

    /// Rank of the residual approximation.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Number of stored outliers.
    pub fn outliers(&self) -> usize {
        self.val.len()
    }

    /// Bits per weight of everything stored (backbone, factors, CSR; a
    /// matrix without either is stored as its backbone alone).
    pub fn bits_per_weight(&self) -> f64 {
        if self.rank == 0 && self.val.is_empty() {
            return self.q.bits_per_weight();
        }
        let (rows, cols) = (self.q.rows(), self.q.cols());
        let extra = 16 * (self.u.len() + self.vt.len() + self.val.len())
            + 32 * (self.row_ptr.len() + self.col.len());
        self.q.bits_per_weight() + extra as f64 / (rows * cols) as f64
    }

    /// Decodes every row into `out` (`rows × cols`, row-major): as
    /// [`GearMatrix::dequantize_row`] for each row, with the factor `Vt`
    /// converted from f16 once (the same values).
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn dequantize_all(&self, out: &mut [f32]) -> Result<(), QuantError> {
        let (rows, cols) = (self.q.rows(), self.q.cols());
        super::check(out.len(), rows * cols)?;
        let vt: Vec<f32> = self.vt.iter().map(|&b| from_f16(b)).collect();
        for (r, o) in out.chunks_exact_mut(cols).enumerate() {
            self.q.dequantize_row(r, o)?;
            let u: Vec<f32> = self.u[r * self.rank..(r + 1) * self.rank]
                .iter()
                .map(|&b| from_f16(b))
                .collect();
            for (j, v) in o.iter_mut().enumerate() {
                let mut s = 0.0f32;
                for (t, ut) in u.iter().enumerate() {
                    s += ut * vt[t * cols + j];
                }
                *v += s;
            }
            let (a, b) = (self.row_ptr[r] as usize, self.row_ptr[r + 1] as usize);
            for (i, v) in (a..b).zip(&self.val[a..b]) {
                o[self.col.get(i)] += from_f16(*v);
            }
        }
        Ok(())
    }

    /// Decodes row `r` (`Q + U·Vt + S`).
    ///
    /// # Errors
    /// [`QuantError::RowOutOfRange`], [`QuantError::LengthMismatch`].
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) -> Result<(), QuantError> {
        self.q.dequantize_row(r, out)?;
        let cols = self.q.cols();
        for (j, o) in out.iter_mut().enumerate() {
            let mut s = 0.0f32;
            for t in 0..self.rank {
                s += from_f16(self.u[r * self.rank + t]) * from_f16(self.vt[t * cols + j]);
            }
            *o += s;
        }
        let (a, b) = (self.row_ptr[r] as usize, self.row_ptr[r + 1] as usize);
        for (i, v) in (a..b).zip(&self.val[a..b]) {
            out[self.col.get(i)] += from_f16(*v);
        }
        Ok(())
    }

    /// `y = Q·x + U·(Vt·x) + S·x`; the backbone product uses SIMD when
    /// available.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.q.gemv(x, y)?;
        self.add_corrections_fast(x, y);
        Ok(())
    }

    /// As [`GearMatrix::gemv`] with the backbone product on the int8-rounded
    /// vector ([`QuantMatrix::gemv_int8`]); the low-rank and outlier terms
    /// use `x` itself.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv_int8(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        // The corrections after the whole backbone product: the input stays
        // in L1 and the outliers are read as one stream (interleaving them
        // with the backbone every 64 rows made their sums about 15% slower).
        self.q.gemv_int8(x, y)?;
        self.add_corrections_fast(x, y);
        Ok(())
    }

    /// As [`GearMatrix::gemv`] with the scalar backbone kernel.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv_scalar(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.q.gemv_scalar(x, y)?;
        self.add_corrections(x, y);
        Ok(())
    }

    /// `Y = X Wᵀ` for a batch `X` of `n × cols`, `Y` of `n × rows`.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemm(&self, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
        self.gemm_with(x, n, y, &Epilogue::NONE, &mut Vec::new())
    }

    /// [`GearMatrix::gemm`], then the epilogue on each output (see
    /// [`QuantMatrix::gemm_with`]; fused into the backbone's product when the
    /// matrix has no corrections, else one pass after them).
    ///
    /// # Errors
    /// As [`QuantMatrix::gemm_with`].
    pub fn gemm_with(
        &self,
        x: &[f32],
        n: usize,
        y: &mut [f32],
        epi: &Epilogue<'_>,
        scratch: &mut Vec<f32>,
    ) -> Result<(), QuantError> {
        let (rows, cols) = (self.q.rows(), self.q.cols());
        super::check_batch(x, y, n, rows, cols)?;
        if self.rank == 0 && self.val.is_empty() {
            return self.q.gemm_with(x, n, y, epi, scratch);
        }
        epi.check(n, rows)?;
        self.q.gemm_with(x, n, y, &Epilogue::NONE, scratch)?;
        for (xr, yr) in x.chunks_exact(cols).zip(y.chunks_exact_mut(rows)) {
            self.add_corrections_fast(xr, yr);
        }
        epi.apply(y, rows, 0)
    }

    /// [`GearMatrix::add_corrections`] with AVX2/F16C when available.
    fn add_corrections_fast(&self, x: &[f32], y: &mut [f32]) {
        if self.rank == 0 && self.val.is_empty() {
            return; // a plain quantized matrix: nothing to add
        }
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if crate::arch::f16c_available() {
            // SAFETY: features checked; `x` and `y` were checked against the
            // shape by the backbone product; indices were validated when the
            // matrix was built or read.
            unsafe { super::x86::gear_corrections(self, x, y) };
            return;
        }
        self.add_corrections(x, y);
    }

    /// `y += U·(Vt·x) + S·x`, the specification of the SIMD version.
    fn add_corrections(&self, x: &[f32], y: &mut [f32]) {
        let cols = self.q.cols();
        let t: Vec<f32> = (0..self.rank)
            .map(|k| {
                self.vt[k * cols..(k + 1) * cols]
                    .iter()
                    .zip(x)
                    .map(|(v, xi)| from_f16(*v) * xi)
                    .sum()
            })
            .collect();
        for (r, yr) in y.iter_mut().enumerate() {
            let mut s = 0.0f32;
            for (k, tk) in t.iter().enumerate() {
                s += from_f16(self.u[r * self.rank + k]) * tk;
            }
            let (a, b) = (self.row_ptr[r] as usize, self.row_ptr[r + 1] as usize);
            for (i, v) in (a..b).zip(&self.val[a..b]) {
                s += from_f16(*v) * x[self.col.get(i)];
            }
            *yr += s;
        }
    }
}
