//! Group-wise quantized matrices (8, 4 and 2 bits; symmetric or asymmetric;
//! f16 or bf16 scales) and matrix-vector products computed directly on the
//! packed form.
//!
//! ```
//! use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
//! let (rows, cols) = (3, 100); // 100 is not a multiple of the group size
//! let w: Vec<f32> = (0..rows * cols).map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0).collect();
//! let fmt = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
//! let q = QuantMatrix::quantize(&w, rows, cols, fmt).unwrap();
//! let x = vec![1.0f32; cols];
//! let mut y = vec![0.0f32; rows];
//! q.gemv(&x, &mut y).unwrap();
//! // 100 columns are stored as 4 groups of 32 (padding included), plus one f16 scale each.
//! assert!((q.bits_per_weight() - 5.76).abs() < 1e-9);
//! ```
//!
//! # Layout (all little-endian)
//!
//! A `rows × cols` matrix is cut, row by row, into groups of `G` consecutive
//! columns (`G` = 32, 64 or 128); the last group of a row is padded with
//! zero codes to `G` (padding is never read by the kernels). Storage is
//! planar:
//!
//! * `codes`: for each row, `ceil(cols / G)` groups of `G·b/8` bytes
//!   (`b` = 8, 4 or 2 bits). Q8: one code per byte. Q4: code `2i` in the low
//!   nibble of byte `i`, code `2i+1` in the high nibble. Q2: code `4i+j` in
//!   bits `2j..2j+2` of byte `i`.
//! * `scales`: one 16-bit scale `d` per group (row-major over `row, group`),
//!   IEEE binary16 or bfloat16 bits.
//! * `mins` (asymmetric only): one 16-bit minimum `m` per group, same type.
//!
//! Decoding a code `c`:
//!
//! * symmetric: `w = d · (c - 2^(b-1))`, codes `1 ..= 2^b - 1` (zero is
//!   exact; Q2 symmetric is ternary: `-d, 0, d`);
//! * asymmetric: `w = m + d · c`, codes `0 ..= 2^b - 1`.
//!
//! Quantization rounds the scale (and minimum) to the 16-bit type first and
//! then picks each code by round-to-nearest with the rounded values, so the
//! stored parameters are the ones the codes were chosen for.
//!
//! # Kernels
//!
//! [`QuantMatrix::gemv_scalar`] is the specification (f32 accumulation per
//! group, in column order); [`QuantMatrix::gemv`] dispatches to AVX2 when
//! available (run-time detection with `std`) and is tested against it with
//! the bound `|Δy| <= 2^-20 · Σ |d·(c - z)·x|` per row.
//!
//! [`QuantMatrix::gemv_int8`] rounds the vector to int8 per 32 columns and
//! multiplies in integers (module [`int8`], whose scalar `gemv` is the
//! specification of the AVX2 kernel for Q8 and Q4; same bound on the float
//! summation order, plus the vector's rounding against the f32 product). Where
//! the CPU has AVX-512 VNNI, the AVX2 kernel's integer block products take
//! `vpdpbusd` instead; they give the same i32 lanes, so the same bits (unit
//! test `vnni_equals_avx2_bit_for_bit`).

pub use file::ShqError;
pub use int8::Int8Vector;

use alloc::vec;
use alloc::vec::Vec;

pub mod file;
pub mod gear;
pub mod gemm;
pub mod int8;
pub mod lowrank;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86;

/// Bits per code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bits {
    /// 8 bits.
    Q8,
    /// 4 bits.
    Q4,
    /// 2 bits.
    Q2,
}

impl Bits {
    /// Number of bits.
    pub fn count(self) -> usize {
        match self {
            Bits::Q8 => 8,
            Bits::Q4 => 4,
            Bits::Q2 => 2,
        }
    }
}

/// Symmetric (scale only) or asymmetric (scale and minimum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// `w = d·(c - 2^(b-1))`.
    Symmetric,
    /// `w = m + d·c`.
    Asymmetric,
}

/// Storage type of scales and minimums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScaleType {
    /// IEEE binary16.
    F16,
    /// bfloat16.
    Bf16,
}

impl ScaleType {
    /// Rounds to the 16-bit type, returning the bits; `None` when the value
    /// does not fit (f16 above 65504).
    pub fn encode(self, v: f32) -> Option<u16> {
        match self {
            ScaleType::F16 => {
                let h = half::f16::from_f32(v);
                h.is_finite().then(|| h.to_bits())
            }
            ScaleType::Bf16 => {
                let h = half::bf16::from_f32(v);
                h.is_finite().then(|| h.to_bits())
            }
        }
    }

    /// The f32 value of stored bits.
    #[inline]
    pub fn decode(self, bits: u16) -> f32 {
        match self {
            ScaleType::F16 => half::f16::from_bits(bits).to_f32(),
            ScaleType::Bf16 => half::bf16::from_bits(bits).to_f32(),
        }
    }
}

/// A complete format description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Bits per code.
    pub bits: Bits,
    /// Symmetric or asymmetric.
    pub scheme: Scheme,
    /// Group size: 32, 64 or 128.
    pub group: usize,
    /// Scale storage type.
    pub scale: ScaleType,
}

impl Format {
    /// Validates the group size.
    ///
    /// # Errors
    /// [`QuantError::BadGroup`] unless `group` is 32, 64 or 128.
    pub fn new(
        bits: Bits,
        scheme: Scheme,
        group: usize,
        scale: ScaleType,
    ) -> Result<Self, QuantError> {
        if !matches!(group, 32 | 64 | 128) {
            return Err(QuantError::BadGroup(group));
        }
        Ok(Format {
            bits,
            scheme,
            group,
            scale,
        })
    }

    /// Bytes of codes per group.
    pub fn group_bytes(&self) -> usize {
        self.group * self.bits.count() / 8
    }

    /// Largest code.
    pub fn max_code(&self) -> u8 {
        ((1u16 << self.bits.count()) - 1) as u8
    }

    /// Zero point of symmetric codes (`2^(b-1)`); 0 for asymmetric.
    pub fn zero_point(&self) -> u8 {
        match self.scheme {
            Scheme::Symmetric => 1 << (self.bits.count() - 1),
            Scheme::Asymmetric => 0,
        }
    }
}

/// Errors of the quantized-matrix functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QuantError {
    /// Group size not 32, 64 or 128.
    BadGroup(usize),
    /// A dimension is zero, or `rows × cols` overflows.
    BadShape {
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
    },
    /// A slice has the wrong length.
    LengthMismatch {
        /// Length required.
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// The input has NaN or infinity (at this flat index).
    NonFinite(usize),
    /// A group's scale does not fit the 16-bit type (f16 above 65504), at this
    /// (row, group).
    ScaleOverflow {
        /// Row.
        row: usize,
        /// Group within the row.
        group: usize,
    },
    /// Row index out of range.
    RowOutOfRange {
        /// Row asked for.
        row: usize,
        /// Number of rows.
        rows: usize,
    },
    /// Clamp bounds that are NaN or not ordered (`lo <= hi`).
    BadClamp,
}

impl core::fmt::Display for QuantError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            QuantError::BadGroup(g) => write!(f, "group size {g} is not 32, 64 or 128"),
            QuantError::BadShape { rows, cols } => write!(f, "bad shape {rows} x {cols}"),
            QuantError::LengthMismatch { expected, found } => {
                write!(f, "slice of length {found} where {expected} was needed")
            }
            QuantError::NonFinite(i) => write!(f, "non-finite value at index {i}"),
            QuantError::ScaleOverflow { row, group } => write!(
                f,
                "scale of row {row}, group {group} exceeds the f16 range (use bf16 scales)"
            ),
            QuantError::RowOutOfRange { row, rows } => {
                write!(f, "row {row} out of range (0..{rows})")
            }
            QuantError::BadClamp => write!(f, "clamp bounds are NaN or not ordered"),
        }
    }
}

impl core::error::Error for QuantError {}

/// A packed group-quantized matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantMatrix {
    rows: usize,
    cols: usize,
    format: Format,
    codes: Vec<u8>,
    scales: Vec<u16>,
    mins: Vec<u16>,
    /// The codes also in panel order, when [`QuantMatrix::pack_panels`]
    /// was called (a cache: not part of the matrix's value).
    panels: gemm::PanelCache,
}

fn check(len: usize, expected: usize) -> Result<(), QuantError> {
    if len == expected {
        Ok(())
    } else {
        Err(QuantError::LengthMismatch {
            expected,
            found: len,
        })
    }
}

/// Checks `x` (`n × cols`) and `y` (`n × rows`) of a batched product.
pub(crate) fn check_batch(
    x: &[f32],
    y: &[f32],
    n: usize,
    rows: usize,
    cols: usize,
) -> Result<(), QuantError> {
    let bad = QuantError::BadShape { rows: n, cols };
    check(x.len(), n.checked_mul(cols).ok_or(bad)?)?;
    check(y.len(), n.checked_mul(rows).ok_or(bad)?)
}

impl QuantMatrix {
    /// Quantizes a row-major `rows × cols` f32 matrix.
    ///
    /// # Errors
    /// [`QuantError::BadShape`], [`QuantError::LengthMismatch`],
    /// [`QuantError::NonFinite`], [`QuantError::ScaleOverflow`].
    pub fn quantize(
        w: &[f32],
        rows: usize,
        cols: usize,
        format: Format,
    ) -> Result<Self, QuantError> {
        let n = rows
            .checked_mul(cols)
            .filter(|&n| n > 0)
            .ok_or(QuantError::BadShape { rows, cols })?;
        check(w.len(), n)?;
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite(i));
        }
        let gpr = cols.div_ceil(format.group);
        let groups = rows * gpr;
        let mut codes = vec![0u8; groups * format.group_bytes()];
        let mut scales = vec![0u16; groups];
        let mut mins = if format.scheme == Scheme::Asymmetric {
            vec![0u16; groups]
        } else {
            Vec::new()
        };
        let mut buf = vec![0u8; format.group];
        for (r, row) in w.chunks_exact(cols).enumerate() {
            for (g, vals) in row.chunks(format.group).enumerate() {
                let gi = r * gpr + g;
                let (d, m) = scalar::choose_params(vals, format)
                    .ok_or(QuantError::ScaleOverflow { row: r, group: g })?;
                scales[gi] = d;
                if let Some(slot) = mins.get_mut(gi) {
                    *slot = m;
                }
                buf.iter_mut().for_each(|b| *b = 0);
                scalar::encode_group(vals, format, d, m, &mut buf);
                let gb = format.group_bytes();
                scalar::pack(&buf, format.bits, &mut codes[gi * gb..(gi + 1) * gb]);
            }
        }
        Ok(QuantMatrix {
            rows,
            cols,
            format,
            codes,
            scales,
            mins,
            panels: gemm::PanelCache::default(),
        })
    }

    /// Rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Packed codes, row-major (see the [layout](self)).
    pub fn codes(&self) -> &[u8] {
        &self.codes
    }

    /// Scale bits, one per group, row-major.
    pub fn scales(&self) -> &[u16] {
        &self.scales
    }

    /// Minimum bits, one per group (empty for symmetric formats).
    pub fn mins(&self) -> &[u16] {
        &self.mins
    }

    /// Groups in each row (`ceil(cols / group)`).
    pub fn groups_per_row(&self) -> usize {
        self.cols.div_ceil(self.format.group)
    }

    /// Storage in bits per weight (codes, scales and minimums, padding
    /// included) over `rows × cols` weights.
    pub fn bits_per_weight(&self) -> f64 {
        let bytes = self.codes.len() + 2 * self.scales.len() + 2 * self.mins.len();
        8.0 * bytes as f64 / (self.rows * self.cols) as f64
    }

    /// Decodes row `r` into `out` (length `cols`).
    ///
    /// # Errors
    /// [`QuantError::RowOutOfRange`], [`QuantError::LengthMismatch`].
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) -> Result<(), QuantError> {
        if r >= self.rows {
            return Err(QuantError::RowOutOfRange {
                row: r,
                rows: self.rows,
            });
        }
        check(out.len(), self.cols)?;
        let f = self.format;
        let gpr = self.groups_per_row();
        let gb = f.group_bytes();
        // Groups are at most 128 codes (`Format::new`): a stack buffer, no
        // allocation per row.
        let (mut codes, mut heap) = ([0u8; 128], Vec::new());
        let buf: &mut [u8] = match codes.get_mut(..f.group) {
            Some(b) => b,
            None => {
                heap.resize(f.group, 0);
                &mut heap
            }
        };
        for (g, o) in out.chunks_mut(f.group).enumerate() {
            let gi = r * gpr + g;
            scalar::unpack(&self.codes[gi * gb..(gi + 1) * gb], f.bits, buf);
            let (d, m) = self.params(gi);
            let z = f32::from(f.zero_point());
            for (v, &c) in o.iter_mut().zip(buf.iter()) {
                *v = m + d * (f32::from(c) - z);
            }
        }
        Ok(())
    }

    #[inline]
    fn params(&self, gi: usize) -> (f32, f32) {
        let d = self.format.scale.decode(self.scales[gi]);
        let m = self
            .mins
            .get(gi)
            .map_or(0.0, |&b| self.format.scale.decode(b));
        (d, m)
    }

    fn check_gemv(&self, x: &[f32], y: &[f32]) -> Result<(), QuantError> {
        check(x.len(), self.cols)?;
        check(y.len(), self.rows)
    }

    /// `y = W x` by the scalar specification.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv_scalar(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.check_gemv(x, y)?;
        scalar::gemv(self, x, y);
        Ok(())
    }

    /// `y = W x`, with AVX2 (x86, run-time detection) or simd128 (wasm, compile time) when available.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.check_gemv(x, y)?;
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if crate::arch::f16c_available() && self.format.bits != Bits::Q2 {
            // SAFETY: AVX2, FMA and F16C support was just checked; shapes were
            // checked above.
            unsafe { x86::gemv(self, x, y) };
            return Ok(());
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.format.bits != Bits::Q2 {
            wasm32::gemv(self, x, y);
            return Ok(());
        }
        scalar::gemv(self, x, y);
        Ok(())
    }

    /// `y = W x̂` with `x` quantized to int8 in blocks of 32 ([`Int8Vector`],
    /// as ggml's `q8_0`) and integer dot products (module [`int8`]): several
    /// times faster than [`QuantMatrix::gemv`], at the cost of rounding `x`
    /// (`|x_j - x̂_j| <= max|x_block| / 254`). AVX2 on x86 (run-time
    /// detection; `vpdpbusd` where the CPU has AVX-512 VNNI, same bits) for
    /// Q8 and Q4; the scalar specification otherwise. A
    /// vector with NaN or infinity takes the f32 path instead, so non-finite
    /// values propagate as in [`QuantMatrix::gemv`].
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv_int8(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.check_gemv(x, y)?;
        let Ok(xq) = Int8Vector::quantize(x) else {
            return self.gemv(x, y);
        };
        self.gemv_int8_quantized(&xq, y)
    }

    /// As [`QuantMatrix::gemv_int8`] on an already quantized vector (reuse
    /// one `Int8Vector` across matrices that share the input).
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemv_int8_quantized(&self, xq: &Int8Vector, y: &mut [f32]) -> Result<(), QuantError> {
        check(xq.cols(), self.cols)?;
        check(y.len(), self.rows)?;
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        if crate::arch::f16c_available() && self.format.bits != Bits::Q2 {
            // SAFETY: AVX2, FMA and F16C were just checked; shapes above.
            unsafe { x86::gemv_int8(self, xq, y) };
            return Ok(());
        }
        int8::gemv(self, xq, y);
        Ok(())
    }

    /// The scalar specification of [`QuantMatrix::gemv_int8`].
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`], [`QuantError::NonFinite`].
    pub fn gemv_int8_scalar(&self, x: &[f32], y: &mut [f32]) -> Result<(), QuantError> {
        self.check_gemv(x, y)?;
        int8::gemv(self, &Int8Vector::quantize(x)?, y);
        Ok(())
    }

    /// `Y = X Wᵀ` for a batch `X` of `n × cols` (row-major), `Y` of `n × rows`.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`].
    pub fn gemm(&self, x: &[f32], n: usize, y: &mut [f32]) -> Result<(), QuantError> {
        self.gemm_with(x, n, y, &gemm::Epilogue::NONE, &mut Vec::new())
    }

    /// [`QuantMatrix::gemm`], then the epilogue's steps on each output (bias
    /// per output row, clamp, residual; applied as the outputs are stored),
    /// with the decoded weight panels in `scratch` (grown when needed; keep
    /// it between calls to allocate once).
    ///
    /// ```
    /// use shoal_core::quant::{gemm::Epilogue, Bits, Format, QuantMatrix, ScaleType, Scheme};
    /// let fmt = Format::new(Bits::Q8, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
    /// let w: Vec<f32> = (0..2 * 40).map(|i| (i % 7) as f32 - 3.0).collect();
    /// let q = QuantMatrix::quantize(&w, 2, 40, fmt).unwrap();
    /// let x = vec![0.5f32; 8 * 40]; // eight input rows
    /// let (mut y, mut scratch) = (vec![0.0f32; 8 * 2], Vec::new());
    /// let relu6 = Epilogue { bias: &[1.0, -100.0], clamp: Some((0.0, 6.0)), res: &[] };
    /// q.gemm_with(&x, 8, &mut y, &relu6, &mut scratch).unwrap();
    /// assert!(y.chunks(2).all(|r| r[1] == 0.0 && (0.0..=6.0).contains(&r[0])));
    /// ```
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`] (also for an epilogue whose slices do
    /// not fit the output), [`QuantError::BadClamp`].
    pub fn gemm_with(
        &self,
        x: &[f32],
        n: usize,
        y: &mut [f32],
        epi: &gemm::Epilogue<'_>,
        scratch: &mut Vec<f32>,
    ) -> Result<(), QuantError> {
        check_batch(x, y, n, self.rows, self.cols)?;
        if n >= Self::GEMM_MIN_BATCH {
            return gemm::gemm(self, x, n, y, epi, scratch);
        }
        epi.check(n, self.rows)?;
        for (xr, yr) in x.chunks_exact(self.cols).zip(y.chunks_exact_mut(self.rows)) {
            self.gemv(xr, yr)?;
        }
        epi.apply(y, self.rows, 0)
    }

    /// Keeps the codes also in the order the batched product reads them
    /// (see [`gemm::Panels`]): one more byte per weight and eight per group
    /// and row (scale and minimum as f32), after which
    /// [`QuantMatrix::gemm_with`] converts each panel from bytes already in
    /// place instead of unpacking and transposing rows. The results are the
    /// same bits.
    pub fn pack_panels(&mut self) {
        self.panels = gemm::PanelCache(Some(gemm::Panels::new(self)));
    }

    /// The codes in panel order, when [`QuantMatrix::pack_panels`] was
    /// called.
    pub fn panels(&self) -> Option<&gemm::Panels> {
        self.panels.0.as_ref()
    }

    /// Batches of at least this many rows take the panel product of module
    /// [`gemm`] (weights decoded once per panel and block); smaller ones
    /// are row-by-row [`QuantMatrix::gemv`].
    pub const GEMM_MIN_BATCH: usize = 4;
}
