//! The `.shq` file: one [`QuantMatrix`], readable from a byte slice in
//! `no_std` + `alloc`, with every size checked before it is used.
//!
//! Layout (little-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `SHQ1` |
//! | 4 | 2 | version = 1 |
//! | 6 | 2 | flags: 0, or 1 when a GEAR section follows |
//! | 8 | 8 | rows |
//! | 16 | 8 | cols |
//! | 24 | 1 | bits (8, 4, 2) |
//! | 25 | 1 | scheme (0 symmetric, 1 asymmetric) |
//! | 26 | 1 | scale type (0 f16, 1 bf16) |
//! | 27 | 1 | reserved = 0 |
//! | 28 | 4 | group size (32, 64, 128) |
//! | 32 | 8 | FNV-1a 64 of the codes section |
//! | 40 | 8 | FNV-1a 64 of the scales section |
//! | 48 | 8 | FNV-1a 64 of the mins section |
//! | 56 | … | codes, then scales (u16 each), then mins (u16 each, asymmetric only) |
//!
//! Section sizes follow from the header (see the [module layout](super)).
//! With flag 1 a GEAR section follows ([`super::gear::GearMatrix`]):
//! `rank` (u64), `nnz` (u64), FNV-1a 64 of the rest, then `U` (`rows × rank`
//! f16), `Vt` (`rank × cols` f16), CSR row pointers (`rows + 1` u32), column
//! indices (`nnz` u32, increasing within a row), values (`nnz` f16). The file
//! must end exactly after the last section.

#![deny(clippy::indexing_slicing)]

use alloc::vec::Vec;

use super::gear::GearMatrix;
use super::{Bits, Format, QuantMatrix, ScaleType, Scheme};

/// The first `N` bytes of `c` as an array (zeros when `c` is shorter; every
/// caller passes exactly `N` bytes from `chunks_exact` or a checked `get`).
pub(crate) fn le<const N: usize>(c: &[u8]) -> [u8; N] {
    c.get(..N).and_then(|c| c.try_into().ok()).unwrap_or([0; N])
}

const MAGIC: &[u8; 4] = b"SHQ1";
const HEADER: usize = 56;
/// Largest matrix accepted (elements), whatever the file claims.
pub const MAX_ELEMENTS: u64 = 1 << 36;

/// Why a `.shq` file was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShqError {
    /// Shorter than the header or than the sections it declares.
    Truncated,
    /// Does not start with `SHQ1`.
    BadMagic,
    /// Version other than 1, or nonzero flags/reserved bytes.
    UnsupportedVersion(u16),
    /// Bits, scheme, scale type or group size not valid.
    BadFormat,
    /// Zero dimension, or more than [`MAX_ELEMENTS`] elements.
    BadShape,
    /// A section's checksum does not match (`"codes"`, `"scales"`, `"mins"`).
    Checksum(&'static str),
    /// Bytes after the last section.
    TrailingBytes(usize),
    /// Invalid GEAR section: rank, counts or CSR structure.
    BadGear(&'static str),
}

impl core::fmt::Display for ShqError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ShqError::Truncated => write!(f, "shq: file is truncated"),
            ShqError::BadMagic => write!(f, "shq: not a .shq file (bad magic)"),
            ShqError::UnsupportedVersion(v) => write!(f, "shq: unsupported version {v} or flags"),
            ShqError::BadFormat => write!(f, "shq: invalid format fields"),
            ShqError::BadShape => write!(f, "shq: invalid or too large shape"),
            ShqError::Checksum(s) => write!(f, "shq: checksum mismatch in the {s} section"),
            ShqError::TrailingBytes(n) => {
                write!(f, "shq: {n} unexpected bytes after the last section")
            }
            ShqError::BadGear(why) => write!(f, "shq: invalid GEAR section ({why})"),
        }
    }
}

impl core::error::Error for ShqError {}

/// Whether `bytes` hash to `want`. Fuzzing builds (`--cfg fuzzing`, set by
/// cargo-fuzz) accept every checksum so that mutations reach the checks
/// behind them.
pub(crate) fn checksum_ok(bytes: &[u8], want: u64) -> bool {
    cfg!(fuzzing) || fnv1a64(bytes) == want
}

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn u16s_to_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn rd<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], ShqError> {
    b.get(at..at + N)
        .and_then(|s| s.try_into().ok())
        .ok_or(ShqError::Truncated)
}

impl QuantMatrix {
    /// Serialises to the `.shq` layout.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with_flags(0)
    }

    pub(crate) fn to_bytes_with_flags(&self, flags: u16) -> Vec<u8> {
        let scales = u16s_to_bytes(&self.scales);
        let mins = u16s_to_bytes(&self.mins);
        let mut out = Vec::with_capacity(HEADER + self.codes.len() + scales.len() + mins.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&1u16.to_le_bytes());
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&(self.rows as u64).to_le_bytes());
        out.extend_from_slice(&(self.cols as u64).to_le_bytes());
        out.push(self.format.bits.count() as u8);
        out.push(match self.format.scheme {
            Scheme::Symmetric => 0,
            Scheme::Asymmetric => 1,
        });
        out.push(match self.format.scale {
            ScaleType::F16 => 0,
            ScaleType::Bf16 => 1,
        });
        out.push(0);
        out.extend_from_slice(&(self.format.group as u32).to_le_bytes());
        out.extend_from_slice(&fnv1a64(&self.codes).to_le_bytes());
        out.extend_from_slice(&fnv1a64(&scales).to_le_bytes());
        out.extend_from_slice(&fnv1a64(&mins).to_le_bytes());
        out.extend_from_slice(&self.codes);
        out.extend_from_slice(&scales);
        out.extend_from_slice(&mins);
        out
    }

    /// Parses a `.shq` file held in memory (without a GEAR section; see
    /// [`super::gear::GearMatrix::from_bytes`] for files that may have one).
    ///
    /// # Errors
    /// One [`ShqError`] variant per way the bytes can be wrong.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ShqError> {
        let (q, flags, end) = Self::parse(b)?;
        if flags != 0 {
            return Err(ShqError::UnsupportedVersion(1));
        }
        if end != b.len() {
            return Err(ShqError::TrailingBytes(b.len() - end));
        }
        Ok(q)
    }

    /// Parses the matrix part; returns it with the flags and the offset
    /// where it ends.
    pub(crate) fn parse(b: &[u8]) -> Result<(Self, u16, usize), ShqError> {
        if b.get(..4).ok_or(ShqError::Truncated)? != MAGIC {
            return Err(ShqError::BadMagic);
        }
        let version = u16::from_le_bytes(rd(b, 4)?);
        let flags = u16::from_le_bytes(rd(b, 6)?);
        if version != 1 || flags > 1 || rd::<1>(b, 27)?[0] != 0 {
            return Err(ShqError::UnsupportedVersion(version));
        }
        let rows = u64::from_le_bytes(rd(b, 8)?);
        let cols = u64::from_le_bytes(rd(b, 16)?);
        let bits = match rd::<1>(b, 24)?[0] {
            8 => Bits::Q8,
            4 => Bits::Q4,
            2 => Bits::Q2,
            _ => return Err(ShqError::BadFormat),
        };
        let scheme = match rd::<1>(b, 25)?[0] {
            0 => Scheme::Symmetric,
            1 => Scheme::Asymmetric,
            _ => return Err(ShqError::BadFormat),
        };
        let scale = match rd::<1>(b, 26)?[0] {
            0 => ScaleType::F16,
            1 => ScaleType::Bf16,
            _ => return Err(ShqError::BadFormat),
        };
        let group = u32::from_le_bytes(rd(b, 28)?) as usize;
        let format = Format::new(bits, scheme, group, scale).map_err(|_| ShqError::BadFormat)?;
        let elements = rows.checked_mul(cols).ok_or(ShqError::BadShape)?;
        if rows == 0 || cols == 0 || elements > MAX_ELEMENTS {
            return Err(ShqError::BadShape);
        }
        let rows = usize::try_from(rows).map_err(|_| ShqError::BadShape)?;
        let cols = usize::try_from(cols).map_err(|_| ShqError::BadShape)?;
        // Within MAX_ELEMENTS, none of these products can overflow a u64;
        // usize::try_from guards 32-bit targets.
        let groups = rows
            .checked_mul(cols.div_ceil(group))
            .ok_or(ShqError::BadShape)?;
        let codes_len = groups
            .checked_mul(format.group_bytes())
            .ok_or(ShqError::BadShape)?;
        let scales_len = groups.checked_mul(2).ok_or(ShqError::BadShape)?;
        let mins_len = if scheme == Scheme::Asymmetric {
            scales_len
        } else {
            0
        };
        let sums = [
            u64::from_le_bytes(rd(b, 32)?),
            u64::from_le_bytes(rd(b, 40)?),
            u64::from_le_bytes(rd(b, 48)?),
        ];
        let mut at = HEADER;
        let mut section = |len: usize, name: &'static str, sum: u64| -> Result<&[u8], ShqError> {
            let end = at.checked_add(len).ok_or(ShqError::Truncated)?;
            let s = b.get(at..end).ok_or(ShqError::Truncated)?;
            if !checksum_ok(s, sum) {
                return Err(ShqError::Checksum(name));
            }
            at = end;
            Ok(s)
        };
        let codes = section(codes_len, "codes", sums[0])?.to_vec();
        let scales = to_u16s(section(scales_len, "scales", sums[1])?);
        let mins = to_u16s(section(mins_len, "mins", sums[2])?);
        Ok((
            QuantMatrix {
                rows,
                cols,
                format,
                codes,
                scales,
                mins,
                panels: super::gemm::PanelCache::default(),
            },
            flags,
            at,
        ))
    }
}

impl GearMatrix {
    /// Serialises to `.shq` (plain when rank and outliers are both zero).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.rank == 0 && self.val.is_empty() {
            return self.q.to_bytes();
        }
        let mut out = self.q.to_bytes_with_flags(1);
        let mut rest = Vec::new();
        self.u
            .iter()
            .for_each(|v| rest.extend_from_slice(&v.to_le_bytes()));
        self.vt
            .iter()
            .for_each(|v| rest.extend_from_slice(&v.to_le_bytes()));
        self.row_ptr
            .iter()
            .for_each(|v| rest.extend_from_slice(&v.to_le_bytes()));
        (0..self.col.len())
            .for_each(|i| rest.extend_from_slice(&(self.col.get(i) as u32).to_le_bytes()));
        self.val
            .iter()
            .for_each(|v| rest.extend_from_slice(&v.to_le_bytes()));
        out.extend_from_slice(&(self.rank as u64).to_le_bytes());
        out.extend_from_slice(&(self.val.len() as u64).to_le_bytes());
        out.extend_from_slice(&fnv1a64(&rest).to_le_bytes());
        out.extend_from_slice(&rest);
        out
    }

    /// Parses a `.shq` file with or without a GEAR section.
    ///
    /// # Errors
    /// One [`ShqError`] variant per way the bytes can be wrong.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ShqError> {
        let (q, flags, at) = QuantMatrix::parse(b)?;
        let (rows, cols) = (q.rows(), q.cols());
        if flags == 0 {
            if at != b.len() {
                return Err(ShqError::TrailingBytes(b.len() - at));
            }
            return Ok(GearMatrix {
                q,
                rank: 0,
                u: Vec::new(),
                vt: Vec::new(),
                row_ptr: alloc::vec![0; rows + 1],
                col: super::gear::Cols::Wide(Vec::new()),
                val: Vec::new(),
            });
        }
        let rank = u64::from_le_bytes(rd(b, at)?);
        let nnz = u64::from_le_bytes(rd(b, at + 8)?);
        let sum = u64::from_le_bytes(rd(b, at + 16)?);
        if rank > rows.min(cols) as u64 {
            return Err(ShqError::BadGear("rank above min(rows, cols)"));
        }
        if nnz > (rows as u64) * (cols as u64) {
            return Err(ShqError::BadGear("more outliers than weights"));
        }
        let (rank, nnz) = (rank as usize, nnz as usize);
        // All below MAX_ELEMENTS-bounded sizes: no overflow.
        let need = 2 * rows * rank + 2 * rank * cols + 4 * (rows + 1) + 6 * nnz;
        let start = at + 24;
        let rest = b.get(start..start + need).ok_or(ShqError::Truncated)?;
        if !checksum_ok(rest, sum) {
            return Err(ShqError::Checksum("gear"));
        }
        if start + need != b.len() {
            return Err(ShqError::TrailingBytes(b.len() - start - need));
        }
        let (u_b, r) = rest.split_at(2 * rows * rank);
        let (vt_b, r) = r.split_at(2 * rank * cols);
        let (rp_b, r) = r.split_at(4 * (rows + 1));
        let (col_b, val_b) = r.split_at(4 * nnz);
        let to_u32s = |b: &[u8]| -> Vec<u32> {
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(le(c)))
                .collect()
        };
        let row_ptr = to_u32s(rp_b);
        let col = to_u32s(col_b);
        if row_ptr.first() != Some(&0) || row_ptr.last().map(|&v| v as usize) != Some(nnz) {
            return Err(ShqError::BadGear("row pointers do not span the outliers"));
        }
        for (&lo, &hi) in row_ptr.iter().zip(row_ptr.iter().skip(1)) {
            if lo > hi {
                return Err(ShqError::BadGear("row pointers decrease"));
            }
            // A pointer beyond the outliers (with later ones back in range)
            // is refused here, before the slice (found by fuzzing).
            let cs = col
                .get(lo as usize..hi as usize)
                .ok_or(ShqError::BadGear("row pointer beyond the outliers"))?;
            if cs.iter().any(|&c| c as usize >= cols)
                || cs.iter().zip(cs.iter().skip(1)).any(|(a, b)| a >= b)
            {
                return Err(ShqError::BadGear(
                    "column indices out of range or not increasing",
                ));
            }
        }
        Ok(GearMatrix {
            q,
            rank,
            u: to_u16s(u_b),
            vt: to_u16s(vt_b),
            row_ptr,
            col: super::gear::Cols::new(col, cols),
            val: to_u16s(val_b),
        })
    }
}

fn to_u16s(b: &[u8]) -> Vec<u16> {
    b.chunks_exact(2)
        .map(|c| u16::from_le_bytes(le(c)))
        .collect()
}
