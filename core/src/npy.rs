//! A strict reader and writer for NumPy `.npy` files (format versions 1.0,
//! 2.0 and 3.0) holding `u1`, `i1` or little-endian `f2`, `f4`, `f8` arrays in C
//! order.
//!
//! Every size is checked before anything is allocated: the header is capped
//! at [`MAX_HEADER`] bytes, the shape at [`MAX_DIMS`] dimensions, and the
//! element count must match the bytes that follow exactly.
//!
//! ```
//! use shoal_core::npy;
//! let bytes = npy::write_f64(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
//! let arr = npy::read(&bytes).unwrap();
//! assert_eq!(arr.shape, vec![2, 3]);
//! assert_eq!(arr.to_f64()[4], 5.0);
//! ```

#![deny(clippy::indexing_slicing)]

use crate::quant::file::le;
use alloc::string::String;
use alloc::vec::Vec;

/// Largest header accepted (bytes).
pub const MAX_HEADER: usize = 65_536;
/// Most dimensions accepted.
pub const MAX_DIMS: usize = 8;

/// Why a `.npy` file was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NpyError {
    /// Fewer bytes than the fixed preamble or the declared header.
    Truncated,
    /// The file does not start with `\x93NUMPY`.
    BadMagic,
    /// A format version other than 1, 2 or 3.
    UnsupportedVersion(u8),
    /// Declared header longer than [`MAX_HEADER`].
    HeaderTooLarge(usize),
    /// The header dictionary is not valid.
    BadHeader(&'static str),
    /// A dtype other than `|u1`, `|i1`, `<f2`, `<f4`, `<f8`, `<i4`, `<i8`, `<u4`, `<u8`.
    UnsupportedDtype(String),
    /// Fortran-ordered data.
    FortranOrder,
    /// More than [`MAX_DIMS`] dimensions, or a shape whose size overflows.
    BadShape,
    /// Not usable as ids: a float array, or a negative value at this index.
    NotIds(usize),
    /// The data section is not exactly `count × item size` bytes.
    SizeMismatch {
        /// Bytes the shape calls for.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
}

impl core::fmt::Display for NpyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NpyError::Truncated => write!(f, "npy: file is truncated"),
            NpyError::BadMagic => write!(f, "npy: not a .npy file (bad magic)"),
            NpyError::UnsupportedVersion(v) => write!(f, "npy: unsupported format version {v}"),
            NpyError::HeaderTooLarge(n) => {
                write!(
                    f,
                    "npy: header of {n} bytes exceeds the {MAX_HEADER}-byte cap"
                )
            }
            NpyError::BadHeader(why) => write!(f, "npy: malformed header ({why})"),
            NpyError::UnsupportedDtype(d) => {
                write!(
                    f,
                    "npy: dtype {d} not supported (use |u1, |i1, <f2, <f4, <f8, <i4, <i8, <u4 or <u8)"
                )
            }
            NpyError::NotIds(i) => write!(
                f,
                "npy: ids must be a non-negative integer array (element {i})"
            ),
            NpyError::FortranOrder => write!(f, "npy: Fortran-ordered arrays are not supported"),
            NpyError::BadShape => write!(f, "npy: shape has too many dimensions or overflows"),
            NpyError::SizeMismatch { expected, found } => write!(
                f,
                "npy: data section has {found} bytes, the shape needs {expected}"
            ),
        }
    }
}

impl core::error::Error for NpyError {}

/// Element type of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dtype {
    /// uint8.
    U8,
    /// int8.
    I8,
    /// IEEE binary16.
    F16,
    /// IEEE binary32.
    F32,
    /// IEEE binary64.
    F64,
    /// int32.
    I32,
    /// int64.
    I64,
    /// uint32.
    U32,
    /// uint64.
    U64,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 | Dtype::I8 => 1,
            Dtype::F16 => 2,
            Dtype::F32 => 4,
            Dtype::F64 | Dtype::I64 | Dtype::U64 => 8,
            Dtype::I32 | Dtype::U32 => 4,
        }
    }
}

/// A parsed array borrowing its data from the input bytes.
#[derive(Clone, Debug)]
pub struct Array<'a> {
    /// Dimensions, C order.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: Dtype,
    /// Raw little-endian element bytes (`len = count × dtype.size()`).
    pub data: &'a [u8],
}

impl Array<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The elements converted to f64.
    pub fn to_f64(&self) -> Vec<f64> {
        match self.dtype {
            Dtype::U8 => self.data.iter().map(|&b| f64::from(b)).collect(),
            Dtype::F16 => self
                .data
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(le(c)).to_f64())
                .collect(),
            Dtype::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_le_bytes(le(c))))
                .collect(),
            Dtype::F64 => self
                .data
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(le(c)))
                .collect(),
            Dtype::I8 | Dtype::I32 | Dtype::I64 | Dtype::U32 | Dtype::U64 => self
                .to_i128()
                .unwrap_or_default()
                .into_iter()
                .map(|v| v as f64)
                .collect(),
        }
    }

    /// Integer elements widened to i128 (`None` for float arrays).
    fn to_i128(&self) -> Option<Vec<i128>> {
        let w = self.dtype.size();
        let it = self.data.chunks_exact(w).map(|c| {
            // Little-endian bytes zero-extended to 64 bits.
            let u = c
                .iter()
                .rev()
                .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
            match self.dtype {
                Dtype::I8 => i128::from(u as u8 as i8),
                Dtype::I32 => i128::from(u as u32 as i32),
                Dtype::I64 => i128::from(u as i64),
                _ => i128::from(u),
            }
        });
        match self.dtype {
            Dtype::I8 | Dtype::I32 | Dtype::I64 | Dtype::U8 | Dtype::U32 | Dtype::U64 => {
                Some(it.collect())
            }
            _ => None,
        }
    }

    /// The elements as ids (`u64`): integer arrays only, no negative values.
    ///
    /// # Errors
    /// [`NpyError::NotIds`] naming the first offending index (or 0 for a
    /// float array).
    pub fn to_ids(&self) -> Result<Vec<u64>, NpyError> {
        let v = self.to_i128().ok_or(NpyError::NotIds(0))?;
        v.iter()
            .enumerate()
            .map(|(i, &x)| u64::try_from(x).map_err(|_| NpyError::NotIds(i)))
            .collect()
    }

    /// The elements converted to f32 (f64 values rounded).
    pub fn to_f32(&self) -> Vec<f32> {
        match self.dtype {
            Dtype::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect(),
            _ => self.to_f64().into_iter().map(|v| v as f32).collect(),
        }
    }
}

fn dict_value<'h>(header: &'h str, key: &str) -> Result<&'h str, NpyError> {
    let pos = header.find(key).ok_or(NpyError::BadHeader("missing key"))?;
    let rest = header
        .get(pos + key.len()..)
        .ok_or(NpyError::BadHeader("missing value"))?;
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix(':')
        .ok_or(NpyError::BadHeader("expected ':'"))?;
    Ok(rest.trim_start())
}

/// Parses a `.npy` file held in memory.
///
/// # Errors
/// One [`NpyError`] variant per way the bytes can be wrong.
pub fn read(bytes: &[u8]) -> Result<Array<'_>, NpyError> {
    let magic = bytes.get(..6).ok_or(NpyError::Truncated)?;
    if magic != b"\x93NUMPY" {
        return Err(NpyError::BadMagic);
    }
    let major = *bytes.get(6).ok_or(NpyError::Truncated)?;
    let (hlen, start) = match major {
        1 => {
            let b = bytes.get(8..10).ok_or(NpyError::Truncated)?;
            (usize::from(u16::from_le_bytes(le(b))), 10)
        }
        2 | 3 => {
            let b = bytes.get(8..12).ok_or(NpyError::Truncated)?;
            let n = u32::from_le_bytes(le(b));
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        v => return Err(NpyError::UnsupportedVersion(v)),
    };
    if hlen > MAX_HEADER {
        return Err(NpyError::HeaderTooLarge(hlen));
    }
    let end = start + hlen;
    let header = bytes.get(start..end).ok_or(NpyError::Truncated)?;
    let header = core::str::from_utf8(header).map_err(|_| NpyError::BadHeader("not UTF-8"))?;
    let header = header.trim_end();
    if !(header.starts_with('{') && header.ends_with('}')) {
        return Err(NpyError::BadHeader("not a dict"));
    }
    // descr
    let d = dict_value(header, "'descr'")?;
    let d = d.get(1..).ok_or(NpyError::BadHeader("descr"))?;
    let q = d.find('\'').ok_or(NpyError::BadHeader("descr"))?;
    let descr = d.get(..q).ok_or(NpyError::BadHeader("descr"))?;
    let dtype = match descr {
        "|u1" | "<u1" => Dtype::U8,
        "|i1" | "<i1" => Dtype::I8,
        "<f2" => Dtype::F16,
        "<f4" => Dtype::F32,
        "<f8" => Dtype::F64,
        "<i4" => Dtype::I32,
        "<i8" => Dtype::I64,
        "<u4" => Dtype::U32,
        "<u8" => Dtype::U64,
        other => return Err(NpyError::UnsupportedDtype(String::from(other))),
    };
    // fortran_order
    let f = dict_value(header, "'fortran_order'")?;
    if f.starts_with("True") {
        return Err(NpyError::FortranOrder);
    } else if !f.starts_with("False") {
        return Err(NpyError::BadHeader("fortran_order"));
    }
    // shape
    let s = dict_value(header, "'shape'")?;
    let s = s.strip_prefix('(').ok_or(NpyError::BadHeader("shape"))?;
    let close = s.find(')').ok_or(NpyError::BadHeader("shape"))?;
    let inner = s.get(..close).ok_or(NpyError::BadHeader("shape"))?;
    let mut shape = Vec::new();
    for part in inner.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if shape.len() == MAX_DIMS {
            return Err(NpyError::BadShape);
        }
        let n: usize = part
            .parse()
            .map_err(|_| NpyError::BadHeader("shape entry"))?;
        shape.push(n);
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or(NpyError::BadShape)?;
    let expected = count.checked_mul(dtype.size()).ok_or(NpyError::BadShape)?;
    let data = bytes.get(end..).ok_or(NpyError::Truncated)?;
    if data.len() != expected {
        return Err(NpyError::SizeMismatch {
            expected,
            found: data.len(),
        });
    }
    Ok(Array { shape, dtype, data })
}

fn write_with(shape: &[usize], descr: &str, data_len: usize) -> Result<Vec<u8>, NpyError> {
    use core::fmt::Write;
    if shape.len() > MAX_DIMS {
        return Err(NpyError::BadShape);
    }
    let mut dict = String::new();
    let _ = write!(
        dict,
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': ("
    );
    for (i, n) in shape.iter().enumerate() {
        let _ = write!(dict, "{n}");
        if i + 1 < shape.len() || shape.len() == 1 {
            dict.push(',');
            if shape.len() != 1 {
                dict.push(' ');
            }
        }
    }
    dict.push_str("), }");
    // Pad so that the data starts on a 64-byte boundary; end with '\n'.
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let hlen = dict.len() + pad + 1;
    let hlen16 = u16::try_from(hlen).map_err(|_| NpyError::HeaderTooLarge(hlen))?;
    let mut out = Vec::with_capacity(10 + hlen + data_len);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&hlen16.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(core::iter::repeat_n(b' ', pad));
    out.push(b'\n');
    Ok(out)
}

fn check_count(shape: &[usize], len: usize) -> Result<(), NpyError> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or(NpyError::BadShape)?;
    if count == len {
        Ok(())
    } else {
        Err(NpyError::BadShape)
    }
}

/// Serialises an f64 array (format 1.0, C order).
///
/// # Errors
/// [`NpyError::BadShape`] when the shape does not match `data.len()`.
pub fn write_f64(shape: &[usize], data: &[f64]) -> Result<Vec<u8>, NpyError> {
    check_count(shape, data.len())?;
    let mut out = write_with(shape, "<f8", data.len() * 8)?;
    data.iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    Ok(out)
}

/// Serialises an f32 array (format 1.0, C order).
///
/// # Errors
/// [`NpyError::BadShape`] when the shape does not match `data.len()`.
pub fn write_f32(shape: &[usize], data: &[f32]) -> Result<Vec<u8>, NpyError> {
    check_count(shape, data.len())?;
    let mut out = write_with(shape, "<f4", data.len() * 4)?;
    data.iter()
        .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    Ok(out)
}
