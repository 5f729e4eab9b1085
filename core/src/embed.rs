//! Compressed embedding tables with single, batched and pooled (bag)
//! lookups, decodable from a byte slice in `no_std` + `alloc`.
//!
//! ```
//! use shoal_core::embed::{Method, Pool, Table};
//! let (rows, dim) = (4, 3);
//! let e: Vec<f32> = (0..rows * dim).map(|i| i as f32 * 0.5).collect();
//! let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
//! let mut v = [0.0f32; 3];
//! t.lookup(2, &mut v).unwrap();
//! assert!((v[0] - 3.0).abs() < 0.01);
//! // EmbeddingBag-style mean of rows {0, 1} and {3}.
//! let mut bags = [0.0f32; 6];
//! t.bag(&[0, 1, 3], &[0, 2], None, Pool::Mean, &mut bags).unwrap();
//! assert!(t.lookup(9, &mut v).unwrap_err().to_string().contains("id 9"));
//! ```
//!
//! # Row layouts (little-endian)
//!
//! * `F16`, `Bf16`: `dim` 16-bit values.
//! * `Int8`, `Int4`, `Int2` (the FBGEMM/TorchRec fused row-wise layout): the
//!   codes (`ceil(dim·b/8)` bytes; element `i` at bits `(i·b) mod 8` of byte
//!   `i·b/8`, low bits first), then an f16 scale and an f16 bias:
//!   `value = code · scale + bias`.
//!
//! # File (`.she`)
//!
//! Magic `SHE1`, `u8` method (0 f16, 1 bf16, 2 int8, 3 int4, 4 int2), three
//! zero bytes, `u64` rows, `u64` dim, `u64` FNV-1a 64 of the row data, then
//! `rows × row_bytes` bytes, nothing after.

use alloc::vec;
use alloc::vec::Vec;

use crate::quant::file::fnv1a64;

/// Largest table accepted from a file (bytes of row data).
pub const MAX_TABLE_BYTES: u64 = 1 << 36;
/// Largest embedding dimension.
pub const MAX_DIM: usize = 1 << 16;

/// Storage method of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// IEEE binary16 values.
    F16,
    /// bfloat16 values.
    Bf16,
    /// 8-bit codes with an f16 scale and bias per row.
    Int8,
    /// 4-bit codes with an f16 scale and bias per row.
    Int4,
    /// 2-bit codes with an f16 scale and bias per row.
    Int2,
}

impl Method {
    fn bits(self) -> usize {
        match self {
            Method::Int8 => 8,
            Method::Int4 => 4,
            Method::Int2 => 2,
            _ => 16,
        }
    }

    fn code(self) -> u8 {
        match self {
            Method::F16 => 0,
            Method::Bf16 => 1,
            Method::Int8 => 2,
            Method::Int4 => 3,
            Method::Int2 => 4,
        }
    }
}

/// Pooling of a bag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pool {
    /// Sum of the rows (times their weights, when given).
    Sum,
    /// Mean of the rows (weights, when given, multiply before averaging).
    Mean,
}

/// Errors of encoding, lookups and parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EmbedError {
    /// An id outside `0..rows`.
    OutOfRange {
        /// The id.
        id: u64,
        /// Number of rows.
        rows: usize,
    },
    /// A slice of the wrong length.
    LengthMismatch {
        /// Length required.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// Bag offsets that are not non-decreasing within the id list.
    BadOffsets,
    /// Zero rows or dimension, or a size above the caps.
    BadShape,
    /// A non-finite value at this flat index.
    NonFinite(usize),
    /// A row's range does not fit the f16 scale and bias (this row).
    OutOfF16Range(usize),
    /// Not a `.she` file.
    BadMagic,
    /// File shorter than declared.
    Truncated,
    /// Unknown method or nonzero reserved bytes.
    BadHeader,
    /// Checksum mismatch.
    Checksum,
    /// Bytes after the table.
    TrailingBytes(usize),
}

impl core::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EmbedError::OutOfRange { id, rows } => write!(
                f,
                "embedding id {id} is out of range (table has {rows} rows)"
            ),
            EmbedError::LengthMismatch { expected, found } => {
                write!(f, "slice of length {found} where {expected} was needed")
            }
            EmbedError::BadOffsets => {
                write!(f, "bag offsets must be non-decreasing and within the ids")
            }
            EmbedError::BadShape => write!(f, "table shape is empty or above the caps"),
            EmbedError::NonFinite(i) => write!(f, "non-finite value at index {i}"),
            EmbedError::OutOfF16Range(r) => write!(
                f,
                "row {r} exceeds the f16 range of the row-wise scale and bias"
            ),
            EmbedError::BadMagic => write!(f, "she: not an embedding table (bad magic)"),
            EmbedError::Truncated => write!(f, "she: file is truncated"),
            EmbedError::BadHeader => write!(f, "she: invalid header"),
            EmbedError::Checksum => write!(f, "she: checksum mismatch"),
            EmbedError::TrailingBytes(n) => write!(f, "she: {n} unexpected bytes after the table"),
        }
    }
}

impl core::error::Error for EmbedError {}

/// A compressed table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    rows: usize,
    dim: usize,
    method: Method,
    data: Vec<u8>,
}

fn row_bytes(method: Method, dim: usize) -> usize {
    match method {
        Method::F16 | Method::Bf16 => 2 * dim,
        m => (dim * m.bits()).div_ceil(8) + 4,
    }
}

#[inline]
fn f16(b: [u8; 2]) -> f32 {
    half::f16::from_le_bytes(b).to_f32()
}

impl Table {
    /// Encodes a row-major `rows × dim` f32 table.
    ///
    /// # Errors
    /// [`EmbedError::BadShape`], [`EmbedError::LengthMismatch`],
    /// [`EmbedError::NonFinite`].
    pub fn encode(e: &[f32], rows: usize, dim: usize, method: Method) -> Result<Self, EmbedError> {
        let n = rows
            .checked_mul(dim)
            .filter(|&n| n > 0 && dim <= MAX_DIM)
            .ok_or(EmbedError::BadShape)?;
        if e.len() != n {
            return Err(EmbedError::LengthMismatch {
                expected: n,
                found: e.len(),
            });
        }
        if let Some(i) = e.iter().position(|v| !v.is_finite()) {
            return Err(EmbedError::NonFinite(i));
        }
        let rb = row_bytes(method, dim);
        let mut data = vec![0u8; rows * rb];
        for (ri, (row, out)) in e
            .chunks_exact(dim)
            .zip(data.chunks_exact_mut(rb))
            .enumerate()
        {
            match method {
                Method::F16 => row
                    .iter()
                    .zip(out.chunks_exact_mut(2))
                    .for_each(|(v, o)| o.copy_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
                Method::Bf16 => row
                    .iter()
                    .zip(out.chunks_exact_mut(2))
                    .for_each(|(v, o)| o.copy_from_slice(&half::bf16::from_f32(*v).to_le_bytes())),
                m => {
                    let bits = m.bits();
                    let top = ((1u32 << bits) - 1) as f32;
                    let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
                    let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    // Scale and bias rounded to f16 first; codes chosen for the rounded values.
                    let bias = half::f16::from_f32(lo);
                    let b = bias.to_f32();
                    let scale = half::f16::from_f32(((hi - b) / top).max(0.0));
                    let s = scale.to_f32();
                    if !(b.is_finite() && s.is_finite()) {
                        return Err(EmbedError::OutOfF16Range(ri));
                    }
                    let (codes, tail) = out.split_at_mut(out.len() - 4);
                    codes.iter_mut().for_each(|c| *c = 0);
                    for (i, v) in row.iter().enumerate() {
                        let q = if s > 0.0 {
                            libm::roundf((v - b) / s).clamp(0.0, top) as u8
                        } else {
                            0
                        };
                        codes[i * bits / 8] |= q << ((i * bits) % 8);
                    }
                    tail[..2].copy_from_slice(&scale.to_le_bytes());
                    tail[2..].copy_from_slice(&bias.to_le_bytes());
                }
            }
        }
        Ok(Table {
            rows,
            dim,
            method,
            data,
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Storage method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// Bytes per row.
    pub fn row_bytes(&self) -> usize {
        row_bytes(self.method, self.dim)
    }

    /// Compression ratio against f32 rows.
    pub fn compression(&self) -> f64 {
        (4 * self.dim) as f64 / self.row_bytes() as f64
    }

    fn row(&self, id: u64) -> Result<&[u8], EmbedError> {
        let i =
            usize::try_from(id)
                .ok()
                .filter(|&i| i < self.rows)
                .ok_or(EmbedError::OutOfRange {
                    id,
                    rows: self.rows,
                })?;
        let rb = self.row_bytes();
        Ok(&self.data[i * rb..(i + 1) * rb])
    }

    /// `out += w · row` for one decoded row (the scalar kernel every lookup uses).
    fn accumulate(&self, r: &[u8], w: f32, out: &mut [f32]) {
        match self.method {
            Method::F16 => out
                .iter_mut()
                .zip(r.chunks_exact(2))
                .for_each(|(o, c)| *o += w * f16([c[0], c[1]])),
            Method::Bf16 => out
                .iter_mut()
                .zip(r.chunks_exact(2))
                .for_each(|(o, c)| *o += w * half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
            m => {
                let bits = m.bits();
                let mask = ((1u16 << bits) - 1) as u8;
                let (codes, tail) = r.split_at(r.len() - 4);
                let s = f16([tail[0], tail[1]]) * w;
                let b = f16([tail[2], tail[3]]) * w;
                for (i, o) in out.iter_mut().enumerate() {
                    let q = (codes[i * bits / 8] >> ((i * bits) % 8)) & mask;
                    *o += f32::from(q) * s + b;
                }
            }
        }
    }

    /// Decodes row `id` into `out` (length `dim`).
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`] naming the id, [`EmbedError::LengthMismatch`].
    pub fn lookup(&self, id: u64, out: &mut [f32]) -> Result<(), EmbedError> {
        if out.len() != self.dim {
            return Err(EmbedError::LengthMismatch {
                expected: self.dim,
                found: out.len(),
            });
        }
        let r = self.row(id)?;
        out.iter_mut().for_each(|o| *o = 0.0);
        self.accumulate(r, 1.0, out);
        Ok(())
    }

    /// Decodes rows `ids` into `out` (`ids.len() × dim`). All ids are checked
    /// before anything is written.
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`], [`EmbedError::LengthMismatch`].
    pub fn lookup_batch(&self, ids: &[u64], out: &mut [f32]) -> Result<(), EmbedError> {
        let need = ids.len() * self.dim;
        if out.len() != need {
            return Err(EmbedError::LengthMismatch {
                expected: need,
                found: out.len(),
            });
        }
        for &id in ids {
            self.row(id)?;
        }
        for (&id, o) in ids.iter().zip(out.chunks_exact_mut(self.dim)) {
            self.lookup(id, o)?;
        }
        Ok(())
    }

    /// Pooled lookups like `EmbeddingBag`: bag `k` holds
    /// `ids[offsets[k]..offsets[k+1]]` (the last bag runs to the end), pooled
    /// by `mode`, optionally weighted per id; `out` is `offsets.len() × dim`.
    /// Empty bags give zeros.
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`], [`EmbedError::LengthMismatch`],
    /// [`EmbedError::BadOffsets`].
    pub fn bag(
        &self,
        ids: &[u64],
        offsets: &[usize],
        weights: Option<&[f32]>,
        mode: Pool,
        out: &mut [f32],
    ) -> Result<(), EmbedError> {
        let need = offsets.len() * self.dim;
        if out.len() != need {
            return Err(EmbedError::LengthMismatch {
                expected: need,
                found: out.len(),
            });
        }
        if let Some(w) = weights {
            if w.len() != ids.len() {
                return Err(EmbedError::LengthMismatch {
                    expected: ids.len(),
                    found: w.len(),
                });
            }
        }
        if offsets.windows(2).any(|p| p[0] > p[1]) || offsets.last().is_some_and(|&l| l > ids.len())
        {
            return Err(EmbedError::BadOffsets);
        }
        for &id in ids {
            self.row(id)?;
        }
        for (k, o) in out.chunks_exact_mut(self.dim).enumerate() {
            let start = offsets[k];
            let end = offsets.get(k + 1).copied().unwrap_or(ids.len());
            o.iter_mut().for_each(|v| *v = 0.0);
            for j in start..end {
                let w = weights.map_or(1.0, |w| w[j]);
                self.accumulate(self.row(ids[j])?, w, o);
            }
            if mode == Pool::Mean && end > start {
                let inv = 1.0 / (end - start) as f32;
                o.iter_mut().for_each(|v| *v *= inv);
            }
        }
        Ok(())
    }

    /// Serialises to `.she`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut o = Vec::with_capacity(32 + self.data.len());
        o.extend_from_slice(b"SHE1");
        o.extend_from_slice(&[self.method.code(), 0, 0, 0]);
        o.extend_from_slice(&(self.rows as u64).to_le_bytes());
        o.extend_from_slice(&(self.dim as u64).to_le_bytes());
        o.extend_from_slice(&fnv1a64(&self.data).to_le_bytes());
        o.extend_from_slice(&self.data);
        o
    }

    /// Parses a `.she` file.
    ///
    /// # Errors
    /// One [`EmbedError`] variant per way the bytes can be wrong.
    pub fn from_bytes(b: &[u8]) -> Result<Self, EmbedError> {
        let head = b.get(..32).ok_or(EmbedError::Truncated)?;
        if &head[..4] != b"SHE1" {
            return Err(EmbedError::BadMagic);
        }
        let method = match head[4] {
            0 => Method::F16,
            1 => Method::Bf16,
            2 => Method::Int8,
            3 => Method::Int4,
            4 => Method::Int2,
            _ => return Err(EmbedError::BadHeader),
        };
        if head[5..8] != [0, 0, 0] {
            return Err(EmbedError::BadHeader);
        }
        let u64_at = |i: usize| {
            u64::from_le_bytes([
                head[i],
                head[i + 1],
                head[i + 2],
                head[i + 3],
                head[i + 4],
                head[i + 5],
                head[i + 6],
                head[i + 7],
            ])
        };
        let (rows, dim, sum) = (u64_at(8), u64_at(16), u64_at(24));
        if rows == 0 || dim == 0 || dim > MAX_DIM as u64 {
            return Err(EmbedError::BadShape);
        }
        let rb = row_bytes(method, dim as usize) as u64;
        let total = rows
            .checked_mul(rb)
            .filter(|&t| t <= MAX_TABLE_BYTES)
            .ok_or(EmbedError::BadShape)?;
        let total = usize::try_from(total).map_err(|_| EmbedError::BadShape)?;
        let data = b.get(32..).ok_or(EmbedError::Truncated)?;
        if data.len() < total {
            return Err(EmbedError::Truncated);
        }
        if data.len() > total {
            return Err(EmbedError::TrailingBytes(data.len() - total));
        }
        if fnv1a64(data) != sum {
            return Err(EmbedError::Checksum);
        }
        Ok(Table {
            rows: rows as usize,
            dim: dim as usize,
            method,
            data: data.to_vec(),
        })
    }
}
