//! wasm `simd128` GEMV for Q8 and Q4 groups (compiled in only when the build
//! enables `simd128`): codes widened to f32 four at a time, `(c - z)·x`
//! accumulated per group in two vector registers. Tested against
//! [`super::scalar::gemv`] with a summation-order bound (in the wasm tests).

use core::arch::wasm32::*;

use super::{Bits, QuantMatrix, Scheme};

#[inline(always)]
fn lanes_sum(v: v128) -> f32 {
    (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
        + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
}

#[inline(always)]
fn load4(x: &[f32]) -> v128 {
    f32x4(x[0], x[1], x[2], x[3])
}

#[inline(always)]
fn codes4(c: &[u8], z: v128) -> v128 {
    f32x4_sub(
        f32x4(
            f32::from(c[0]),
            f32::from(c[1]),
            f32::from(c[2]),
            f32::from(c[3]),
        ),
        z,
    )
}

/// `y = W x` for Q8 and Q4 formats (`x.len() == q.cols`, `y.len() ==
/// q.rows`; checked by the caller).
pub(crate) fn gemv(q: &QuantMatrix, x: &[f32], y: &mut [f32]) {
    let f = q.format;
    let gb = f.group_bytes();
    let gpr = q.groups_per_row();
    let zs = f32::from(f.zero_point());
    let z = f32x4_splat(zs);
    let asym = f.scheme == Scheme::Asymmetric;
    let mut c = [0u8; 8];
    for (r, yr) in y.iter_mut().enumerate() {
        let mut acc = 0.0f32;
        for (g, xg) in x.chunks(f.group).enumerate() {
            let gi = r * gpr + g;
            let Some(packed) = q.codes.get(gi * gb..(gi + 1) * gb) else {
                return;
            };
            let (d, m) = q.params(gi);
            let full = xg.len() / 8 * 8;
            let (mut d0, mut d1, mut sx) = (f32x4_splat(0.0), f32x4_splat(0.0), f32x4_splat(0.0));
            for (i, xs) in xg[..full].chunks_exact(8).enumerate() {
                match f.bits {
                    Bits::Q8 => c.copy_from_slice(&packed[8 * i..8 * i + 8]),
                    _ => {
                        for (k, b) in packed[4 * i..4 * i + 4].iter().enumerate() {
                            c[2 * k] = b & 0x0f;
                            c[2 * k + 1] = b >> 4;
                        }
                    }
                }
                let (x0, x1) = (load4(&xs[..4]), load4(&xs[4..]));
                d0 = f32x4_add(d0, f32x4_mul(codes4(&c[..4], z), x0));
                d1 = f32x4_add(d1, f32x4_mul(codes4(&c[4..], z), x1));
                if asym {
                    sx = f32x4_add(sx, f32x4_add(x0, x1));
                }
            }
            let (mut dot, mut sxs) = (lanes_sum(f32x4_add(d0, d1)), lanes_sum(sx));
            for (j, &xj) in xg.iter().enumerate().skip(full) {
                let cj = super::scalar::code(packed, f.bits, j);
                dot += (f32::from(cj) - zs) * xj;
                sxs += xj;
            }
            acc += d * dot;
            if asym {
                acc += m * sxs;
            }
        }
        *yr = acc;
    }
}
