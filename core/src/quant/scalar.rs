//! Scalar quantization, packing and GEMV: the specification of the SIMD
//! kernels.

use super::{Bits, Format, QuantMatrix, Scheme};

/// Chooses the stored `(scale, min)` bits of one group; `None` when the
/// scale does not fit the 16-bit type.
pub(crate) fn choose_params(vals: &[f32], f: Format) -> Option<(u16, u16)> {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    match f.scheme {
        Scheme::Symmetric => {
            let amax = libm::fabsf(lo).max(libm::fabsf(hi));
            let qmax = f32::from(f.max_code() - f.zero_point());
            Some((f.scale.encode(amax / qmax)?, 0))
        }
        Scheme::Asymmetric => {
            let m = f.scale.encode(lo)?;
            let m_r = f.scale.decode(m);
            // Scale from the rounded minimum so the top code still reaches `hi`.
            let d = f
                .scale
                .encode((hi - m_r).max(0.0) / f32::from(f.max_code()))?;
            Some((d, m))
        }
    }
}

/// Codes of one group (unpacked, one per byte) for the stored parameters.
pub(crate) fn encode_group(vals: &[f32], f: Format, d_bits: u16, m_bits: u16, out: &mut [u8]) {
    let d = f.scale.decode(d_bits);
    let z = f32::from(f.zero_point());
    let top = f32::from(f.max_code());
    let (m, lo_code) = match f.scheme {
        Scheme::Symmetric => (0.0, 1.0),
        Scheme::Asymmetric => (f.scale.decode(m_bits), 0.0),
    };
    for (o, &v) in out.iter_mut().zip(vals) {
        let c = if d > 0.0 {
            libm::roundf((v - m) / d + z).clamp(lo_code, top)
        } else {
            z
        };
        *o = c as u8;
    }
}

/// Packs one-code-per-byte `codes` (length = group) into `out`.
pub(crate) fn pack(codes: &[u8], bits: Bits, out: &mut [u8]) {
    match bits {
        Bits::Q8 => out.copy_from_slice(codes),
        Bits::Q4 => {
            for (o, c) in out.iter_mut().zip(codes.chunks_exact(2)) {
                *o = (c[0] & 0xf) | (c[1] << 4);
            }
        }
        Bits::Q2 => {
            for (o, c) in out.iter_mut().zip(codes.chunks_exact(4)) {
                *o = (c[0] & 3) | ((c[1] & 3) << 2) | ((c[2] & 3) << 4) | (c[3] << 6);
            }
        }
    }
}

/// Inverse of [`pack`].
pub(crate) fn unpack(packed: &[u8], bits: Bits, out: &mut [u8]) {
    match bits {
        Bits::Q8 => out.copy_from_slice(packed),
        Bits::Q4 => {
            for (p, o) in packed.iter().zip(out.chunks_exact_mut(2)) {
                o[0] = p & 0xf;
                o[1] = p >> 4;
            }
        }
        Bits::Q2 => {
            for (p, o) in packed.iter().zip(out.chunks_exact_mut(4)) {
                o[0] = p & 3;
                o[1] = (p >> 2) & 3;
                o[2] = (p >> 4) & 3;
                o[3] = p >> 6;
            }
        }
    }
}

/// Code `i` of a packed group.
#[inline(always)]
pub(crate) fn code(packed: &[u8], bits: Bits, i: usize) -> u8 {
    match bits {
        Bits::Q8 => packed[i],
        Bits::Q4 => (packed[i / 2] >> ((i % 2) * 4)) & 0xf,
        Bits::Q2 => (packed[i / 4] >> ((i % 4) * 2)) & 3,
    }
}

/// `y = W x`: per group, `d · Σ (c - z)·x` (+ `m · Σ x` when asymmetric),
/// accumulated in f32 in column order. Shapes are checked by the caller.
pub(crate) fn gemv(q: &QuantMatrix, x: &[f32], y: &mut [f32]) {
    let f = q.format;
    let gb = f.group_bytes();
    let gpr = q.groups_per_row();
    let z = f32::from(f.zero_point());
    for (r, yr) in y.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (g, xg) in x.chunks(f.group).enumerate() {
            let gi = r * gpr + g;
            let packed = &q.codes[gi * gb..(gi + 1) * gb];
            let (d, m) = q.params(gi);
            let mut dot = 0.0f32;
            let mut sx = 0.0f32;
            for (i, &xi) in xg.iter().enumerate() {
                dot += (f32::from(code(packed, f.bits, i)) - z) * xi;
                sx += xi;
            }
            acc += d * dot;
            if f.scheme == Scheme::Asymmetric {
                acc += m * sx;
            }
        }
        *yr = acc;
    }
}

/// `Σ |d·(c - z)·x| + |m·x|` for row `r`: the scale of the rounding error
/// of any summation order (used by tests for their bound).
pub fn gemv_abs(q: &QuantMatrix, r: usize, x: &[f32]) -> f64 {
    let f = q.format;
    let gb = f.group_bytes();
    let gpr = q.groups_per_row();
    let z = f64::from(f.zero_point());
    let mut s = 0.0;
    for (g, xg) in x.chunks(f.group).enumerate() {
        let gi = r * gpr + g;
        let packed = &q.codes[gi * gb..(gi + 1) * gb];
        let (d, m) = q.params(gi);
        for (i, &xi) in xg.iter().enumerate() {
            let c = f64::from(code(packed, f.bits, i)) - z;
            s += (f64::from(d) * c * f64::from(xi)).abs() + (f64::from(m) * f64::from(xi)).abs();
        }
    }
    s
}
