//! Integer GEMV: the vector is quantized to int8 in blocks of 32 columns
//! (one f32 scale per block, as ggml's `q8_0`), each block's dot product with
//! the weight codes is computed exactly in integers, and only one
//! multiply-add per block is done in floating point.
//!
//! For a group `g` with scale `d_g` (and minimum `m_g`) and blocks `b` of
//! `x̂ = s_b · q` inside it, with codes centred as `c' = c - k` (`k` = 128 for
//! Q8, so that `c'` fits an `i8`; 0 otherwise):
//!
//! ```text
//! y_r = Σ_g d_g · Σ_b s_b · I_b  +  Σ_g e_g · T_g,
//! I_b = Σ_j c'_j q_j  (exact i32),   T_g = Σ_b s_b · Σ_j q_j,
//! e_g = (k - z) · d_g  (symmetric, zero point z)   or   m_g + k · d_g  (asymmetric).
//! ```
//!
//! [`QuantMatrix::gemv_int8_scalar`] evaluates exactly this, in this order: the
//! specification of the AVX2 kernel. Compared with the f32 product, the only
//! extra error is the rounding of `x`: `|x_j - x̂_j| <= s_b / 2`.

use alloc::vec;
use alloc::vec::Vec;

use super::scalar::code;
use super::{Bits, QuantError, QuantMatrix, Scheme};

/// Columns per block of the quantized vector.
pub const BLOCK: usize = 32;

/// A vector quantized to int8 in blocks of [`BLOCK`] columns.
///
/// Block `b` stores `s_b = max|x| / 127` and codes `q_j = round(x_j / s_b)`
/// (ties away from zero, within `-127..=127`); the last block is padded with
/// zero codes. `x̂_j = s_b · q_j`.
///
/// ```
/// use shoal_core::quant::Int8Vector;
/// let x = [127.0f32, -63.0, 2.5];
/// let q = Int8Vector::quantize(&x).unwrap();
/// assert_eq!(q.scales(), &[1.0]);
/// assert_eq!(&q.codes()[..4], &[127, -63, 3, 0]); // 2.5 rounds away from zero
/// assert_eq!(q.dequantize(), vec![127.0, -63.0, 3.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Int8Vector {
    cols: usize,
    q: Vec<i8>,
    scale: Vec<f32>,
    sum: Vec<i32>,
}

impl Int8Vector {
    /// Quantizes `x` block by block.
    ///
    /// # Errors
    /// [`QuantError::NonFinite`] with the index of the first NaN or infinity.
    pub fn quantize(x: &[f32]) -> Result<Self, QuantError> {
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite(i));
        }
        let nb = x.len().div_ceil(BLOCK);
        let mut q = vec![0i8; nb * BLOCK];
        let mut scale = Vec::with_capacity(nb);
        let mut sum = Vec::with_capacity(nb);
        for (xb, qb) in x.chunks(BLOCK).zip(q.chunks_exact_mut(BLOCK)) {
            let amax = xb.iter().fold(0.0f32, |a, v| a.max(libm::fabsf(*v)));
            let s = amax / 127.0;
            let mut total = 0i32;
            if s > 0.0 {
                for (o, v) in qb.iter_mut().zip(xb) {
                    *o = libm::roundf(v / s).clamp(-127.0, 127.0) as i8;
                    total += i32::from(*o);
                }
            }
            scale.push(s);
            sum.push(total);
        }
        Ok(Int8Vector {
            cols: x.len(),
            q,
            scale,
            sum,
        })
    }

    /// Length of the original vector.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Codes, `BLOCK` per block (the last block zero-padded).
    pub fn codes(&self) -> &[i8] {
        &self.q
    }

    /// Scale `s_b` of each block.
    pub fn scales(&self) -> &[f32] {
        &self.scale
    }

    /// `x̂`: the vector the integer kernels multiply with.
    pub fn dequantize(&self) -> Vec<f32> {
        self.q
            .chunks_exact(BLOCK)
            .zip(&self.scale)
            .flat_map(|(qb, &s)| qb.iter().map(move |&c| s * f32::from(c)))
            .take(self.cols)
            .collect()
    }

    /// `T_g = Σ_b s_b · Σ_j q_j` over the blocks of each group of `group`
    /// columns (a multiple of [`BLOCK`]).
    pub(crate) fn group_sums(&self, group: usize) -> Vec<f32> {
        self.scale
            .chunks(group / BLOCK)
            .zip(self.sum.chunks(group / BLOCK))
            .map(|(s, n)| s.iter().zip(n).fold(0.0f32, |a, (s, n)| a + s * *n as f32))
            .collect()
    }
}

/// Centre `k` of the codes: 128 for Q8 (so `c - k` is an `i8`), else 0.
pub(crate) fn centre(bits: Bits) -> i32 {
    if bits == Bits::Q8 {
        128
    } else {
        0
    }
}

/// Bytes of codes per block of [`BLOCK`] columns.
pub(crate) fn block_bytes(bits: Bits) -> usize {
    BLOCK * bits.count() / 8
}

/// `e_g` of the module docs from the group's `(d, m)`.
pub(crate) fn correction_weight(q: &QuantMatrix, d: f32, m: f32) -> f32 {
    let k = centre(q.format.bits) as f32;
    match q.format.scheme {
        Scheme::Symmetric => (k - f32::from(q.format.zero_point())) * d,
        Scheme::Asymmetric => m + k * d,
    }
}

/// The scalar specification: `y = W x̂` in the order of the module docs.
/// Shapes are checked by the caller (`xq.cols() == q.cols()`).
pub(crate) fn gemv(q: &QuantMatrix, xq: &Int8Vector, y: &mut [f32]) {
    let f = q.format;
    let gpr = q.groups_per_row();
    let bb = block_bytes(f.bits);
    let row_bytes = gpr * f.group_bytes();
    let k = centre(f.bits);
    let t = xq.group_sums(f.group);
    let bpg = f.group / BLOCK;
    for (r, yr) in y.iter_mut().enumerate() {
        let row = &q.codes[r * row_bytes..(r + 1) * row_bytes];
        let (mut acc, mut corr) = (0.0f32, 0.0f32);
        for (g, &tg) in t.iter().enumerate() {
            let (d, m) = q.params(r * gpr + g);
            let mut dot = 0.0f32;
            let blocks = g * bpg..((g + 1) * bpg).min(xq.scale.len());
            for b in blocks {
                let packed = &row[b * bb..(b + 1) * bb];
                let qb = &xq.q[b * BLOCK..(b + 1) * BLOCK];
                let i: i32 = qb
                    .iter()
                    .enumerate()
                    .map(|(j, &c)| (i32::from(code(packed, f.bits, j)) - k) * i32::from(c))
                    .sum();
                dot += xq.scale[b] * i as f32;
            }
            acc += d * dot;
            corr += correction_weight(q, d, m) * tg;
        }
        *yr = acc + corr;
    }
}

/// `Σ_g |d_g| Σ_b s_b Σ_j |c'_j q_j| + Σ_g |e_g T_g|` for row `r`: the scale
/// of the rounding error of any order of the float operations (tests).
pub fn gemv_abs(q: &QuantMatrix, xq: &Int8Vector, r: usize) -> f64 {
    let f = q.format;
    let gpr = q.groups_per_row();
    let bb = block_bytes(f.bits);
    let row = &q.codes[r * gpr * f.group_bytes()..(r + 1) * gpr * f.group_bytes()];
    let k = centre(f.bits);
    let t = xq.group_sums(f.group);
    let mut s = 0.0f64;
    for (b, &sb) in xq.scale.iter().enumerate() {
        let g = b * BLOCK / f.group;
        let (d, _) = q.params(r * gpr + g);
        let packed = &row[b * bb..(b + 1) * bb];
        let a: i64 = xq.q[b * BLOCK..(b + 1) * BLOCK]
            .iter()
            .enumerate()
            .map(|(j, &c)| i64::from((i32::from(code(packed, f.bits, j)) - k) * i32::from(c)).abs())
            .sum();
        s += f64::from(d.abs()) * f64::from(sb) * a as f64;
    }
    for (g, &tg) in t.iter().enumerate() {
        let (d, m) = q.params(r * gpr + g);
        s += f64::from((correction_weight(q, d, m) * tg).abs());
    }
    s
}
