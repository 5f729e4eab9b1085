//! Compressed embedding tables with single, batched and pooled (bag)
//! lookups, decodable from a borrowed byte slice in `no_std` + `alloc`.
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
//! // The file form is parsed without copying the rows.
//! let bytes = t.to_bytes();
//! let view = Table::from_bytes(&bytes).unwrap();
//! assert_eq!(view, t);
//! ```
//!
//! # Methods
//!
//! Every method is a table with the same lookups ([`Method`]):
//!
//! * Row-wise ([`Codec`]): `F32`, `F16`, `Bf16`, and `Int8`/`Int4`/`Int2` in
//!   the FBGEMM/TorchRec fused layout: the codes (`ceil(dim·b/8)` bytes;
//!   element `i` at bits `(i·b) mod 8` of byte `i·b/8`, low bits first), then
//!   an f16 scale and an f16 bias: `value = code · scale + bias`.
//! * Product quantization ([`Method::Pq`]): k-means codebooks per sub-space,
//!   8-bit or 4-bit codes (the layout of fastText's `.ftz`, which
//!   [`crate::fasttext`] loads into this type).
//! * Low rank ([`Method::LowRank`]): `E ≈ A·B` by truncated SVD, `A`
//!   (`rows × rank`) stored with a row-wise codec, `B` (`rank × dim`) in f32.
//! * Hashing trick ([`Method::Hashed`]): id `i` reads bucket
//!   `splitmix64(i ⊕ seed) mod buckets`.
//! * Quotient-remainder ([`Method::QuotientRemainder`]): row `i` is
//!   `Q[i / m] ⊙ R[i mod m]` (element-wise product).
//!
//! The hashing and quotient-remainder forms are meant for tables trained
//! that way; their encoders fit a full table by least squares (bucket means;
//! a rank-1 fit per column) for comparison.
//!
//! # File (`.she`, version 2)
//!
//! A 64-byte header: magic `SHE2`, `u8` method (0 f16, 1 bf16, 2 int8,
//! 3 int4, 4 int2, 5 f32, 16 PQ, 17 low rank, 18 hashed, 19
//! quotient-remainder), `u8` flags (bit 0: PQ row norms), two zero bytes,
//! `u64` rows, `u64` dim, three `u64` method parameters (PQ: sub-spaces, sub-space
//! width, bits; low rank: rank; hashed: seed; quotient-remainder: modulus),
//! `u32` section count, four zero bytes, and the FNV-1a 64 of the header's
//! first 56 bytes. Then one 24-byte entry per section (`u64` offset from the
//! file start, `u64` length, `u64` FNV-1a 64 of its bytes), then the sections
//! at 8-byte-aligned offsets, in order, without overlap, the last one ending
//! the file. Sections: row-wise `[rows]`; PQ `[centroids (f32), codes]` plus
//! `[norms (256 f32), norm codes]` with the flag; low rank `[A (.she), B (f32)]`;
//! hashed `[buckets (.she)]`; quotient-remainder `[Q (.she), R (.she)]`.
//! Nested tables are row-wise. Every count is capped before anything is
//! allocated and the row data is borrowed from the input
//! ([`Table::from_bytes`]), so a memory-mapped file is used in place.

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;

mod encode;
mod file;
pub(crate) mod pq;
pub(crate) mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm32;
#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod x86;

use pq::Pq;

/// Largest table accepted from a file (bytes of row data).
pub const MAX_TABLE_BYTES: u64 = 1 << 36;
/// Largest embedding dimension.
pub const MAX_DIM: usize = 1 << 16;
/// Largest rank of a low-rank table.
pub const MAX_RANK: usize = 1024;

/// How ahead (in ids) the batched and bag lookups prefetch rows.
const PREFETCH_AHEAD: usize = 8;

/// Row-wise storage of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Codec {
    /// IEEE binary32 values (no compression).
    F32,
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

impl Codec {
    pub(crate) fn bits(self) -> usize {
        match self {
            Codec::Int8 => 8,
            Codec::Int4 => 4,
            Codec::Int2 => 2,
            Codec::F32 => 32,
            Codec::F16 | Codec::Bf16 => 16,
        }
    }

    /// Bytes of one row of `dim` values.
    pub fn row_bytes(self, dim: usize) -> usize {
        match self {
            Codec::F32 => 4 * dim,
            Codec::F16 | Codec::Bf16 => 2 * dim,
            c => (dim * c.bits()).div_ceil(8) + 4,
        }
    }

    fn code(self) -> u8 {
        match self {
            Codec::F16 => 0,
            Codec::Bf16 => 1,
            Codec::Int8 => 2,
            Codec::Int4 => 3,
            Codec::Int2 => 4,
            Codec::F32 => 5,
        }
    }

    fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            0 => Codec::F16,
            1 => Codec::Bf16,
            2 => Codec::Int8,
            3 => Codec::Int4,
            4 => Codec::Int2,
            5 => Codec::F32,
            _ => return None,
        })
    }

    /// Encodes one row into `out` (`row_bytes(row.len())` bytes). `Err(())`
    /// when the row's range does not fit the f16 scale and bias.
    fn encode_row(self, row: &[f32], out: &mut [u8]) -> Result<(), ()> {
        match self {
            Codec::F32 => row
                .iter()
                .zip(out.chunks_exact_mut(4))
                .for_each(|(v, o)| o.copy_from_slice(&v.to_le_bytes())),
            Codec::F16 => row
                .iter()
                .zip(out.chunks_exact_mut(2))
                .for_each(|(v, o)| o.copy_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
            Codec::Bf16 => row
                .iter()
                .zip(out.chunks_exact_mut(2))
                .for_each(|(v, o)| o.copy_from_slice(&half::bf16::from_f32(*v).to_le_bytes())),
            c => {
                let bits = c.bits();
                let top = ((1u32 << bits) - 1) as f32;
                let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                // Scale and bias rounded to f16 first; codes chosen for the rounded values.
                let bias = half::f16::from_f32(lo);
                let b = bias.to_f32();
                let scale = half::f16::from_f32(((hi - b) / top).max(0.0));
                let s = scale.to_f32();
                if !(b.is_finite() && s.is_finite()) {
                    return Err(());
                }
                let (codes, tail) = out.split_at_mut(out.len().saturating_sub(4));
                codes.iter_mut().for_each(|c| *c = 0);
                for (i, v) in row.iter().enumerate() {
                    let q = if s > 0.0 {
                        libm::roundf((v - b) / s).clamp(0.0, top) as u8
                    } else {
                        0
                    };
                    if let Some(c) = codes.get_mut(i * bits / 8) {
                        *c |= q << ((i * bits) % 8);
                    }
                }
                if let [s0, s1, b0, b1] = tail {
                    [*s0, *s1] = scale.to_le_bytes();
                    [*b0, *b1] = bias.to_le_bytes();
                }
            }
        }
        Ok(())
    }
}

/// Storage method of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Method {
    /// IEEE binary32 rows.
    F32,
    /// IEEE binary16 rows.
    F16,
    /// bfloat16 rows.
    Bf16,
    /// 8-bit codes with an f16 scale and bias per row.
    Int8,
    /// 4-bit codes with an f16 scale and bias per row.
    Int4,
    /// 2-bit codes with an f16 scale and bias per row.
    Int2,
    /// Product quantization with `subspaces` sub-spaces (of `ceil(dim /
    /// subspaces)` columns; the last may be narrower) and `bits`-bit codes (8:
    /// 256 centroids; 4: 16).
    Pq {
        /// Number of sub-spaces `M`.
        subspaces: usize,
        /// 8 or 4.
        bits: u8,
    },
    /// `E ≈ A·B` with `A` stored row-wise by `factors`.
    LowRank {
        /// Rank kept.
        rank: usize,
        /// Codec of `A`'s rows.
        factors: Codec,
    },
    /// Hashing trick onto `buckets` rows stored with `codec`.
    Hashed {
        /// Number of stored rows.
        buckets: usize,
        /// Codec of the stored rows.
        codec: Codec,
    },
    /// Quotient-remainder composition with modulus `modulus`.
    QuotientRemainder {
        /// `m`: the remainder table has `m` rows, the quotient table `ceil(rows / m)`.
        modulus: usize,
        /// Codec of both tables.
        codec: Codec,
    },
}

impl From<Codec> for Method {
    fn from(c: Codec) -> Self {
        match c {
            Codec::F32 => Method::F32,
            Codec::F16 => Method::F16,
            Codec::Bf16 => Method::Bf16,
            Codec::Int8 => Method::Int8,
            Codec::Int4 => Method::Int4,
            Codec::Int2 => Method::Int2,
        }
    }
}

impl Method {
    /// The row-wise codec, for the row-wise methods.
    pub fn codec(self) -> Option<Codec> {
        Some(match self {
            Method::F32 => Codec::F32,
            Method::F16 => Codec::F16,
            Method::Bf16 => Codec::Bf16,
            Method::Int8 => Codec::Int8,
            Method::Int4 => Codec::Int4,
            Method::Int2 => Codec::Int2,
            _ => return None,
        })
    }
}

impl core::fmt::Display for Codec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Codec::F32 => "f32",
            Codec::F16 => "f16",
            Codec::Bf16 => "bf16",
            Codec::Int8 => "int8",
            Codec::Int4 => "int4",
            Codec::Int2 => "int2",
        })
    }
}

impl core::fmt::Display for Method {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Method::Pq { subspaces, bits } => write!(f, "pq (M={subspaces}, {bits}-bit codes)"),
            Method::LowRank { rank, factors } => write!(f, "low rank (rank {rank}, {factors} A)"),
            Method::Hashed { buckets, codec } => write!(f, "hashed ({buckets} {codec} buckets)"),
            Method::QuotientRemainder { modulus, codec } => {
                write!(f, "quotient-remainder (m={modulus}, {codec})")
            }
            m => match m.codec() {
                Some(c) => write!(f, "{c} row-wise"),
                None => f.write_str("unknown"),
            },
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

/// Progress of a long encoding step, passed to the caller's callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// What is running (`"k-means"`, `"svd"`, ...).
    pub stage: &'static str,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
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
    /// Zero rows or dimension, a size above the caps, or parameters that do
    /// not fit the shape.
    BadShape,
    /// A non-finite value at this flat index.
    NonFinite(usize),
    /// A row's range does not fit the f16 scale and bias (this row).
    OutOfF16Range(usize),
    /// Not a `.she` file.
    BadMagic,
    /// File shorter than declared.
    Truncated,
    /// Unknown method, flags or version, nonzero reserved bytes, or nesting
    /// that the format does not allow.
    BadHeader,
    /// Section offsets out of order, misaligned, overlapping or outside the file,
    /// or a section of the wrong length.
    BadSections,
    /// Checksum mismatch (header or a section).
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
            EmbedError::BadShape => write!(
                f,
                "table shape is empty, above the caps, or does not fit the method"
            ),
            EmbedError::NonFinite(i) => write!(f, "non-finite value at index {i}"),
            EmbedError::OutOfF16Range(r) => write!(
                f,
                "row {r} exceeds the f16 range of the row-wise scale and bias"
            ),
            EmbedError::BadMagic => write!(f, "she: not an embedding table (bad magic)"),
            EmbedError::Truncated => write!(f, "she: file is truncated"),
            EmbedError::BadHeader => write!(f, "she: invalid header"),
            EmbedError::BadSections => write!(f, "she: invalid section table"),
            EmbedError::Checksum => write!(f, "she: checksum mismatch"),
            EmbedError::TrailingBytes(n) => write!(f, "she: {n} unexpected bytes after the table"),
        }
    }
}

impl core::error::Error for EmbedError {}

/// Row-wise rows: the body of the row-wise methods and the parts of the
/// composite ones.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Rows<'a> {
    pub(crate) rows: usize,
    pub(crate) dim: usize,
    pub(crate) codec: Codec,
    pub(crate) data: Cow<'a, [u8]>,
}

impl<'a> Rows<'a> {
    pub(crate) fn encode(
        e: &[f32],
        rows: usize,
        dim: usize,
        codec: Codec,
    ) -> Result<Rows<'static>, EmbedError> {
        let rb = codec.row_bytes(dim);
        let mut data = vec![0u8; rows * rb];
        for (ri, (row, out)) in e
            .chunks_exact(dim)
            .zip(data.chunks_exact_mut(rb))
            .enumerate()
        {
            codec
                .encode_row(row, out)
                .map_err(|()| EmbedError::OutOfF16Range(ri))?;
        }
        Ok(Rows {
            rows,
            dim,
            codec,
            data: Cow::Owned(data),
        })
    }

    #[inline]
    fn bytes(&self, i: usize) -> &[u8] {
        let rb = self.codec.row_bytes(self.dim);
        self.data.get(i * rb..(i + 1) * rb).unwrap_or(&[])
    }

    /// `out += w · row i` (`i < rows`, `out.len() == dim`); `spec` forces
    /// the scalar specification kernel.
    #[inline]
    pub(crate) fn accumulate(&self, i: usize, w: f32, out: &mut [f32], spec: bool) {
        let r = self.bytes(i);
        if spec {
            return scalar::accumulate(self.codec, r, w, out);
        }
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        if crate::arch::avx2_available() {
            let (codes, tail) = r.split_at(r.len().saturating_sub(4));
            match self.codec {
                Codec::Int8 => {
                    let (s, b) = scalar::scale_bias(tail, w);
                    // SAFETY: AVX2 was detected just above.
                    return unsafe { x86::accumulate_int8(codes, s, b, out) };
                }
                Codec::Int4 => {
                    let (s, b) = scalar::scale_bias(tail, w);
                    // SAFETY: AVX2 was detected just above.
                    return unsafe { x86::accumulate_int4(codes, s, b, out) };
                }
                // SAFETY: AVX2 was detected just above.
                Codec::F32 => return unsafe { x86::accumulate_f32(r, w, out) },
                // SAFETY: AVX2 and F16C are checked first.
                Codec::F16 if crate::arch::f16c_available() => {
                    return unsafe { x86::accumulate_f16(r, w, out) }
                }
                _ => {}
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        if self.codec == Codec::Int8 {
            let (codes, tail) = r.split_at(r.len().saturating_sub(4));
            let (s, b) = scalar::scale_bias(tail, w);
            wasm32::accumulate_int8(codes, s, b, out);
            return;
        }
        scalar::accumulate(self.codec, r, w, out);
    }

    #[inline]
    fn prefetch(&self, _i: usize) {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let rb = self.codec.row_bytes(self.dim);
            x86::prefetch(self.data.as_ptr().wrapping_add(_i.wrapping_mul(rb)));
        }
    }

    fn dot(&self, i: usize, x: &[f32], scratch: &mut Vec<f32>) -> f32 {
        if self.codec == Codec::F32 {
            // Column order, one rounding per step (fastText's dense `dotRow`).
            return self
                .bytes(i)
                .chunks_exact(4)
                .zip(x)
                .fold(0.0f32, |s, (c, v)| s + scalar::f32_le(c) * v);
        }
        scratch.clear();
        scratch.resize(self.dim, 0.0);
        scalar::accumulate(self.codec, self.bytes(i), 1.0, scratch);
        scratch.iter().zip(x).fold(0.0f32, |s, (a, b)| s + a * b)
    }

    fn into_owned(self) -> Rows<'static> {
        Rows {
            rows: self.rows,
            dim: self.dim,
            codec: self.codec,
            data: Cow::Owned(self.data.into_owned()),
        }
    }

    fn stored_bytes(&self) -> usize {
        self.data.len()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body<'a> {
    Rows(Rows<'a>),
    Pq(Pq<'a>),
    LowRank {
        a: Rows<'a>,
        b: Vec<f32>,
    },
    Hashed {
        buckets: Rows<'a>,
        seed: u64,
    },
    QuotRem {
        q: Rows<'a>,
        r: Rows<'a>,
        modulus: usize,
    },
}

/// A read-only view of a table's stored form, for backends that upload it
/// (the WGSL kernels) or inspect it.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Parts<'t> {
    /// Row-wise rows: `rows × codec.row_bytes(dim)` bytes.
    RowWise {
        /// The codec.
        codec: Codec,
        /// All rows, back to back.
        data: &'t [u8],
    },
    /// Product quantization.
    Pq {
        /// Sub-spaces.
        nsub: usize,
        /// Columns per sub-space (the last may have fewer).
        dsub: usize,
        /// 8 or 4.
        bits: u8,
        /// `dim × 2^bits` floats; sub-space `m` at `m·2^bits·dsub`.
        centroids: &'t [f32],
        /// Codes, row after row.
        codes: &'t [u8],
        /// 256 row norms and one norm code per row, when present.
        norms: Option<(&'t [f32], &'t [u8])>,
    },
    /// Low-rank, hashed or quotient-remainder (no flat view).
    Composite,
}

/// A compressed table. `'a` is the lifetime of the bytes it was parsed from
/// ([`Table::from_bytes`] borrows the rows); encoded tables are `Table<'static>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Table<'a> {
    rows: usize,
    dim: usize,
    body: Body<'a>,
}

/// SplitMix64's finaliser: the bucket hash of [`Method::Hashed`].
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn check_len(expected: usize, found: usize) -> Result<(), EmbedError> {
    if expected == found {
        Ok(())
    } else {
        Err(EmbedError::LengthMismatch { expected, found })
    }
}

impl Table<'static> {
    /// Encodes a row-major `rows × dim` f32 table (seed 0, no progress).
    ///
    /// # Errors
    /// [`EmbedError::BadShape`], [`EmbedError::LengthMismatch`],
    /// [`EmbedError::NonFinite`], [`EmbedError::OutOfF16Range`].
    pub fn encode(e: &[f32], rows: usize, dim: usize, method: Method) -> Result<Self, EmbedError> {
        Self::encode_with(e, rows, dim, method, 0, &mut |_| {})
    }

    /// [`Table::encode`] with a seed for the randomised encoders (k-means,
    /// randomized SVD) and a callback told of the progress of long steps.
    ///
    /// # Errors
    /// As [`Table::encode`].
    pub fn encode_with(
        e: &[f32],
        rows: usize,
        dim: usize,
        method: Method,
        seed: u64,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Self, EmbedError> {
        encode::encode(e, rows, dim, method, seed, progress)
    }
}

impl<'a> Table<'a> {
    pub(crate) fn from_body(rows: usize, dim: usize, body: Body<'a>) -> Self {
        Table { rows, dim, body }
    }

    pub(crate) fn body(&self) -> &Body<'a> {
        &self.body
    }

    /// Rows (ids accepted: `0..rows`).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Storage method.
    pub fn method(&self) -> Method {
        match &self.body {
            Body::Rows(r) => r.codec.into(),
            Body::Pq(p) => Method::Pq {
                subspaces: p.nsub,
                bits: p.bits,
            },
            Body::LowRank { a, .. } => Method::LowRank {
                rank: a.dim,
                factors: a.codec,
            },
            Body::Hashed { buckets, .. } => Method::Hashed {
                buckets: buckets.rows,
                codec: buckets.codec,
            },
            Body::QuotRem { q, modulus, .. } => Method::QuotientRemainder {
                modulus: *modulus,
                codec: q.codec,
            },
        }
    }

    /// The stored form, for upload to another backend.
    pub fn parts(&self) -> Parts<'_> {
        match &self.body {
            Body::Rows(r) => Parts::RowWise {
                codec: r.codec,
                data: &r.data,
            },
            Body::Pq(p) => Parts::Pq {
                nsub: p.nsub,
                dsub: p.dsub,
                bits: p.bits,
                centroids: &p.centroids,
                codes: &p.codes,
                norms: p.norms.as_ref().map(|(t, c)| (t.as_slice(), &c[..])),
            },
            _ => Parts::Composite,
        }
    }

    /// Bytes of stored data (codes, scales, codebooks, factors), without the
    /// file's headers.
    pub fn stored_bytes(&self) -> usize {
        match &self.body {
            Body::Rows(r) => r.stored_bytes(),
            Body::Pq(p) => {
                p.codes.len()
                    + 4 * p.centroids.len()
                    + p.norms.as_ref().map_or(0, |(t, c)| 4 * t.len() + c.len())
            }
            Body::LowRank { a, b } => a.stored_bytes() + 4 * b.len(),
            Body::Hashed { buckets, .. } => buckets.stored_bytes(),
            Body::QuotRem { q, r, .. } => q.stored_bytes() + r.stored_bytes(),
        }
    }

    /// Bytes per row, averaged ([`Table::stored_bytes`] / rows).
    pub fn row_bytes(&self) -> f64 {
        self.stored_bytes() as f64 / self.rows.max(1) as f64
    }

    /// Compression ratio against f32 rows (codebooks and factors included).
    pub fn compression(&self) -> f64 {
        (4 * self.dim) as f64 * self.rows as f64 / self.stored_bytes().max(1) as f64
    }

    /// A copy that owns its bytes.
    pub fn into_owned(self) -> Table<'static> {
        let body = match self.body {
            Body::Rows(r) => Body::Rows(r.into_owned()),
            Body::Pq(p) => Body::Pq(p.into_owned()),
            Body::LowRank { a, b } => Body::LowRank {
                a: a.into_owned(),
                b,
            },
            Body::Hashed { buckets, seed } => Body::Hashed {
                buckets: buckets.into_owned(),
                seed,
            },
            Body::QuotRem { q, r, modulus } => Body::QuotRem {
                q: q.into_owned(),
                r: r.into_owned(),
                modulus,
            },
        };
        Table {
            rows: self.rows,
            dim: self.dim,
            body,
        }
    }

    fn index(&self, id: u64) -> Result<usize, EmbedError> {
        usize::try_from(id)
            .ok()
            .filter(|&i| i < self.rows)
            .ok_or(EmbedError::OutOfRange {
                id,
                rows: self.rows,
            })
    }

    /// Scratch floats the composite bodies need per row.
    fn scratch(&self) -> Vec<f32> {
        match &self.body {
            Body::LowRank { a, .. } => vec![0.0; a.dim],
            Body::QuotRem { .. } => vec![0.0; 2 * self.dim],
            _ => Vec::new(),
        }
    }

    /// `out += w · row i` for a checked index `i < rows`; `spec` forces the
    /// scalar specification kernels.
    fn accumulate(&self, i: usize, w: f32, out: &mut [f32], scratch: &mut [f32], spec: bool) {
        match &self.body {
            Body::Rows(r) => r.accumulate(i, w, out, spec),
            Body::Pq(p) if spec => p.accumulate_scalar(i, w, out),
            Body::Pq(p) => p.accumulate(i, w, out),
            Body::LowRank { a, b } => {
                scratch.iter_mut().for_each(|s| *s = 0.0);
                a.accumulate(i, 1.0, scratch, spec);
                for (&c, brow) in scratch.iter().zip(b.chunks_exact(self.dim)) {
                    let c = w * c;
                    out.iter_mut().zip(brow).for_each(|(o, b)| *o += c * b);
                }
            }
            Body::Hashed { buckets, seed } => {
                let k = (splitmix64(i as u64 ^ seed) % buckets.rows as u64) as usize;
                buckets.accumulate(k, w, out, spec);
            }
            Body::QuotRem { q, r, modulus } => {
                scratch.iter_mut().for_each(|s| *s = 0.0);
                let (sq, sr) = scratch.split_at_mut(self.dim);
                q.accumulate(i / modulus, 1.0, sq, spec);
                r.accumulate(i % modulus, 1.0, sr, spec);
                for ((o, a), b) in out.iter_mut().zip(sq.iter()).zip(sr.iter()) {
                    *o += w * (a * b);
                }
            }
        }
    }

    #[inline]
    fn prefetch(&self, i: usize) {
        match &self.body {
            Body::Rows(r) => r.prefetch(i),
            Body::LowRank { a, .. } => a.prefetch(i),
            Body::Pq(_p) => {
                #[cfg(all(target_arch = "x86_64", feature = "std"))]
                x86::prefetch(
                    _p.codes
                        .as_ptr()
                        .wrapping_add(i.wrapping_mul(Pq::code_bytes(_p.nsub, _p.bits))),
                );
            }
            _ => {}
        }
    }

    /// Decodes row `id` into `out` (length `dim`).
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`] naming the id, [`EmbedError::LengthMismatch`].
    pub fn lookup(&self, id: u64, out: &mut [f32]) -> Result<(), EmbedError> {
        check_len(self.dim, out.len())?;
        let i = self.index(id)?;
        out.iter_mut().for_each(|o| *o = 0.0);
        self.accumulate(i, 1.0, out, &mut self.scratch(), false);
        Ok(())
    }

    /// [`Table::lookup`] through the scalar specification kernels only (no
    /// SIMD): what every vectorised lookup must equal bit for bit.
    ///
    /// # Errors
    /// As [`Table::lookup`].
    pub fn lookup_reference(&self, id: u64, out: &mut [f32]) -> Result<(), EmbedError> {
        check_len(self.dim, out.len())?;
        let i = self.index(id)?;
        out.iter_mut().for_each(|o| *o = 0.0);
        self.accumulate(i, 1.0, out, &mut self.scratch(), true);
        Ok(())
    }

    /// `Σ_j row(id)_j · x_j`, accumulated in column order (for row-wise f32
    /// and PQ rows exactly fastText's order).
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`], [`EmbedError::LengthMismatch`].
    pub fn dot(&self, id: u64, x: &[f32]) -> Result<f32, EmbedError> {
        check_len(self.dim, x.len())?;
        let i = self.index(id)?;
        let mut scratch = Vec::new();
        Ok(match &self.body {
            Body::Rows(r) => r.dot(i, x, &mut scratch),
            Body::Pq(p) => p.dot(i, x),
            _ => {
                let mut row = vec![0.0; self.dim];
                self.accumulate(i, 1.0, &mut row, &mut self.scratch(), false);
                row.iter().zip(x).fold(0.0f32, |s, (a, b)| s + a * b)
            }
        })
    }

    /// Decodes rows `ids` into `out` (`ids.len() × dim`). All ids are checked
    /// before anything is written.
    ///
    /// # Errors
    /// [`EmbedError::OutOfRange`], [`EmbedError::LengthMismatch`].
    pub fn lookup_batch(&self, ids: &[u64], out: &mut [f32]) -> Result<(), EmbedError> {
        check_len(ids.len() * self.dim, out.len())?;
        let idx = ids
            .iter()
            .map(|&id| self.index(id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut scratch = self.scratch();
        out.iter_mut().for_each(|o| *o = 0.0);
        for (j, (&i, o)) in idx.iter().zip(out.chunks_exact_mut(self.dim)).enumerate() {
            if let Some(&ahead) = idx.get(j + PREFETCH_AHEAD) {
                self.prefetch(ahead);
            }
            self.accumulate(i, 1.0, o, &mut scratch, false);
        }
        Ok(())
    }

    /// Pooled lookups like `EmbeddingBag`: bag `k` holds
    /// `ids[offsets[k]..offsets[k+1]]` (the last bag runs to the end), pooled
    /// by `mode`, optionally weighted per id; `out` is `offsets.len() × dim`.
    /// Rows are added in id order; the mean multiplies the sum by the f32
    /// nearest to `1/n`. Empty bags give zeros.
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
        check_len(offsets.len() * self.dim, out.len())?;
        if let Some(w) = weights {
            check_len(ids.len(), w.len())?;
        }
        if offsets.windows(2).any(|p| p[0] > p[1]) || offsets.last().is_some_and(|&l| l > ids.len())
        {
            return Err(EmbedError::BadOffsets);
        }
        let idx = ids
            .iter()
            .map(|&id| self.index(id))
            .collect::<Result<Vec<_>, _>>()?;
        let mut scratch = self.scratch();
        for (k, o) in out.chunks_exact_mut(self.dim).enumerate() {
            let start = offsets.get(k).copied().unwrap_or(0);
            let end = offsets.get(k + 1).copied().unwrap_or(ids.len());
            o.iter_mut().for_each(|v| *v = 0.0);
            for j in start..end {
                if let Some(&ahead) = idx.get(j + PREFETCH_AHEAD) {
                    self.prefetch(ahead);
                }
                let w = weights.and_then(|w| w.get(j)).copied().unwrap_or(1.0);
                if let Some(&i) = idx.get(j) {
                    self.accumulate(i, w, o, &mut scratch, false);
                }
            }
            if mode == Pool::Mean && end > start {
                let inv = (1.0f64 / (end - start) as f64) as f32;
                o.iter_mut().for_each(|v| *v *= inv);
            }
        }
        Ok(())
    }

    /// Serialises to `.she`.
    pub fn to_bytes(&self) -> Vec<u8> {
        file::write(self)
    }

    /// Parses a `.she` file, borrowing the row data from `b`.
    ///
    /// # Errors
    /// One [`EmbedError`] variant per way the bytes can be wrong.
    pub fn from_bytes(b: &'a [u8]) -> Result<Self, EmbedError> {
        file::read(b, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn table(rows: usize, dim: usize, seed: u64) -> Vec<f32> {
        let mut rng = Rng::new(seed);
        (0..rows * dim).map(|_| rng.normal() as f32).collect()
    }

    /// The dispatched kernels (AVX2 when present) equal the scalar spec bit
    /// for bit, for every method and odd dimensions.
    #[test]
    fn simd_rows_equal_the_scalar_spec() {
        for dim in [1, 7, 8, 16, 37, 64] {
            let e = table(40, dim, dim as u64);
            for m in [
                Method::Int8,
                Method::Int4,
                Method::F16,
                Method::F32,
                Method::Pq {
                    subspaces: dim.div_ceil(8),
                    bits: 8,
                },
                Method::Pq {
                    subspaces: dim.div_ceil(4),
                    bits: 8,
                },
                Method::LowRank {
                    rank: 1,
                    factors: Codec::Int8,
                },
            ] {
                let t = Table::encode(&e, 40, dim, m).unwrap();
                let ids: Vec<u64> = (0..40).rev().collect();
                let mut a = vec![0.0f32; 40 * dim];
                t.lookup_batch(&ids, &mut a).unwrap();
                for (&id, a) in ids.iter().zip(a.chunks_exact(dim)) {
                    let mut b = vec![0.0f32; dim];
                    t.lookup_reference(id, &mut b).unwrap();
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(a), bits(&b), "{m:?} dim {dim} row {id}");
                }
            }
        }
    }
}
