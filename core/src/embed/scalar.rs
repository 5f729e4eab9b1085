//! The scalar row kernels: the specification that the AVX2 and simd128
//! kernels reproduce bit for bit.
//!
//! Every decoder adds `w · row` into an output slice with the operations in
//! a fixed order (`out + ((q · s) + b)` for the row-wise integer codes, with
//! `s` and `b` already multiplied by `w`), so vector code computing lanes in
//! parallel gives identical results.

use super::Codec;

#[inline]
pub(crate) fn f16(b: [u8; 2]) -> f32 {
    half::f16::from_le_bytes(b).to_f32()
}

#[inline]
pub(crate) fn f32_le(b: &[u8]) -> f32 {
    f32::from_le_bytes(crate::quant::file::le(b))
}

/// `out += w · decode(r)` for one row of `codec` (`r.len() == codec.row_bytes(out.len())`).
pub(crate) fn accumulate(codec: Codec, r: &[u8], w: f32, out: &mut [f32]) {
    match codec {
        Codec::F32 => out
            .iter_mut()
            .zip(r.chunks_exact(4))
            .for_each(|(o, c)| *o += w * f32_le(c)),
        Codec::F16 => out
            .iter_mut()
            .zip(r.chunks_exact(2))
            .for_each(|(o, c)| *o += w * f16([c[0], c[1]])),
        Codec::Bf16 => out
            .iter_mut()
            .zip(r.chunks_exact(2))
            .for_each(|(o, c)| *o += w * half::bf16::from_le_bytes([c[0], c[1]]).to_f32()),
        Codec::Int8 | Codec::Int4 | Codec::Int2 => {
            let bits = codec.bits();
            let mask = ((1u16 << bits) - 1) as u8;
            let (codes, tail) = r.split_at(r.len().saturating_sub(4));
            let (s, b) = scale_bias(tail, w);
            for (i, o) in out.iter_mut().enumerate() {
                let q = codes.get(i * bits / 8).map_or(0, |c| c >> ((i * bits) % 8)) & mask;
                *o += f32::from(q) * s + b;
            }
        }
    }
}

/// The row's f16 scale and bias (its last four bytes), times `w`.
#[inline]
pub(crate) fn scale_bias(tail: &[u8], w: f32) -> (f32, f32) {
    match tail {
        [s0, s1, b0, b1] => (f16([*s0, *s1]) * w, f16([*b0, *b1]) * w),
        _ => (0.0, 0.0),
    }
}

/// `out[m·dsub + n] += alpha · centroid(m, code_m)[n]`: one product-quantized
/// row, `codes` holding one centroid index per sub-space (already unpacked
/// when the codes are 4-bit).
pub(crate) fn accumulate_pq(
    centroids: &[f32],
    ksub: usize,
    dsub: usize,
    codes: impl Iterator<Item = usize>,
    alpha: f32,
    out: &mut [f32],
) {
    for (m, (code, o)) in codes.zip(out.chunks_mut(dsub)).enumerate() {
        let width = o.len();
        let at = m * ksub * dsub + code * width;
        if let Some(c) = centroids.get(at..at + width) {
            o.iter_mut().zip(c).for_each(|(o, c)| *o += alpha * c);
        }
    }
}
