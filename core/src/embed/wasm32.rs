//! wasm `simd128` row kernel (compiled in only when the build enables
//! `simd128`), lane-for-lane the operations of [`super::scalar`]: multiply,
//! add the bias, add into the output; bit-identical to it.

use core::arch::wasm32::*;

/// `out[i] += q_i · s + b` for the 8-bit codes `codes`.
pub(crate) fn accumulate_int8(codes: &[u8], s: f32, b: f32, out: &mut [f32]) {
    let n = out.len().min(codes.len());
    let (vs, vb) = (f32x4_splat(s), f32x4_splat(b));
    let (head, tail) = out[..n].split_at_mut(n - n % 4);
    for (o, q) in head.chunks_exact_mut(4).zip(codes.chunks_exact(4)) {
        let qv = f32x4_convert_u32x4(u32x4(
            u32::from(q[0]),
            u32::from(q[1]),
            u32::from(q[2]),
            u32::from(q[3]),
        ));
        let t = f32x4_add(f32x4_mul(qv, vs), vb);
        let ov = f32x4_add(f32x4(o[0], o[1], o[2], o[3]), t);
        o[0] = f32x4_extract_lane::<0>(ov);
        o[1] = f32x4_extract_lane::<1>(ov);
        o[2] = f32x4_extract_lane::<2>(ov);
        o[3] = f32x4_extract_lane::<3>(ov);
    }
    let done = head.len();
    for (o, &q) in tail.iter_mut().zip(&codes[done..n]) {
        *o += f32::from(q) * s + b;
    }
}
