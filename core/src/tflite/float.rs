//! Float32 operators, in the order of TFLite's reference kernels (each
//! output's products summed in filter-row, filter-column, input-channel
//! order, then the bias, then the activation clamp), so that results follow
//! LiteRT's `BUILTIN_REF` float kernels closely (bit for bit where no
//! transcendental function is involved, in tests).

#![allow(clippy::indexing_slicing)] // shapes are validated by `super` before any kernel runs

use alloc::vec::Vec;

use super::kernels::{self, ConvSpec};
use super::{Activation, Model, Op};

fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn store(out: &mut [u8], v: &[f32]) {
    for (o, x) in out.chunks_exact_mut(4).zip(v) {
        o.copy_from_slice(&x.to_le_bytes());
    }
}

/// TFLite's float activation range.
fn range(act: Activation) -> (f32, f32) {
    match act {
        Activation::None => (f32::NEG_INFINITY, f32::INFINITY),
        Activation::Relu => (0.0, f32::INFINITY),
        Activation::Relu6 => (0.0, 6.0),
    }
}

fn clamp(x: f32, (lo, hi): (f32, f32)) -> f32 {
    x.max(lo).min(hi)
}

/// Runs one float32 operator (`a`, `b`: input bytes; `out`: output bytes).
pub(crate) fn run_op(model: &Model<'_>, op: &Op, a: &[u8], b: &[u8], out: &mut [u8]) {
    let t = |i: usize| &model.tensors[i];
    let x = floats(a);
    let y: Vec<f32> = if let Some(c) = ConvSpec::of(op) {
        conv(model, &c, &x)
    } else {
        match *op {
            Op::AvgPool {
                input,
                output,
                window,
                filter_w,
                filter_h,
                act,
            } => {
                let g = kernels::pool_shape(t(input), t(output), &window, filter_h, filter_w);
                let mut y = Vec::with_capacity(g.oh * g.ow * g.c);
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let y0 = oy as i64 * window.stride_h as i64 - g.ph;
                        let x0 = ox as i64 * window.stride_w as i64 - g.pw;
                        for ch in 0..g.c {
                            let (mut sum, mut count) = (0.0f32, 0u32);
                            for fy in 0..filter_h as i64 {
                                for fx in 0..filter_w as i64 {
                                    let (iy, ix) = (y0 + fy, x0 + fx);
                                    if iy >= 0
                                        && ix >= 0
                                        && (iy as usize) < g.ih
                                        && (ix as usize) < g.iw
                                    {
                                        sum += x[(iy as usize * g.iw + ix as usize) * g.c + ch];
                                        count += 1;
                                    }
                                }
                            }
                            y.push(clamp(sum / count.max(1) as f32, range(act)));
                        }
                    }
                }
                y
            }
            Op::Add { act, .. } => {
                let bb = floats(b);
                x.iter()
                    .zip(&bb)
                    .map(|(p, q)| clamp(p + q, range(act)))
                    .collect()
            }
            Op::Mean { input, .. } => {
                let (ih, iw, c) = kernels::dims(t(input));
                (0..c)
                    .map(|ch| {
                        let mut s = 0.0f32;
                        for p in 0..ih * iw {
                            s += x[p * c + ch];
                        }
                        s / (ih * iw) as f32
                    })
                    .collect()
            }
            Op::Pad {
                input,
                output,
                pads,
            } => {
                let (ih, iw, c) = kernels::dims(t(input));
                let (_, ow, oc) = kernels::dims(t(output));
                let mut y = alloc::vec![0.0f32; t(output).len()];
                for yy in 0..ih {
                    for xx in 0..iw {
                        let p = ((yy + pads[1].0) * ow + pads[2].0 + xx) * oc + pads[3].0;
                        y[p..p + c].copy_from_slice(&x[(yy * iw + xx) * c..(yy * iw + xx + 1) * c]);
                    }
                }
                y
            }
            Op::Softmax { input, beta, .. } => {
                let depth = t(input).shape.last().copied().unwrap_or(1).max(1);
                let mut y = Vec::with_capacity(x.len());
                for row in x.chunks(depth) {
                    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    // exp in double, rounded once: the correctly rounded
                    // f32 exp that glibc's expf gives (libm's expf can be
                    // one unit off).
                    let e: Vec<f32> = row
                        .iter()
                        .map(|&v| libm::exp(f64::from((v - m) * beta)) as f32)
                        .collect();
                    let sum: f32 = e.iter().sum();
                    y.extend(e.iter().map(|v| v / sum));
                }
                y
            }
            Op::HardSwish { .. } => x
                .iter()
                .map(|&v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0)
                .collect(),
            Op::Concatenation {
                a: ia,
                b: ib,
                output,
                axis,
            } => {
                let bb = floats(b);
                let (outer, na, nb) = kernels::concat_blocks(model, ia, ib, output, axis);
                let mut y = Vec::with_capacity(t(output).len());
                for k in 0..outer {
                    y.extend_from_slice(&x[k * na..(k + 1) * na]);
                    y.extend_from_slice(&bb[k * nb..(k + 1) * nb]);
                }
                y
            }
            Op::Quantize { output, .. } => {
                // TFLite's AffineQuantize: round(x / s) half away from zero,
                // plus the zero point, clamped to the type; stored bytes.
                let to = t(output);
                let (lo, hi) = if to.dtype == super::DType::I8 {
                    (-128, 127)
                } else {
                    (0, 255)
                };
                for (o, &v) in out.iter_mut().zip(&x) {
                    let q = (libm::roundf(v / to.scale) as i32 + to.zero_point).clamp(lo, hi);
                    *o = q as u8;
                }
                return;
            }
            _ => x, // RESHAPE
        }
    };
    store(out, &y);
}

/// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED in float32.
fn conv(model: &Model<'_>, c: &ConvSpec, x: &[f32]) -> Vec<f32> {
    let t = |i: usize| &model.tensors[i];
    let g = kernels::geometry(model, c);
    let f = floats(t(c.filter).data.unwrap_or(&[]));
    let bias = c
        .bias
        .and_then(|b| t(b).data)
        .map(floats)
        .unwrap_or_default();
    let r = range(c.act);
    let mut y = alloc::vec![0.0f32; g.oh * g.ow * g.oc];
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            for o in 0..g.oc {
                let mut total = 0.0f32;
                for ky in 0..g.fh {
                    for kx in 0..g.fw {
                        let Some(p) = g.tap(oy, ox, ky, kx) else {
                            continue;
                        };
                        match g.depthwise {
                            None => {
                                let fo = ((o * g.fh + ky) * g.fw + kx) * g.ic;
                                for ch in 0..g.ic {
                                    total += x[p * g.ic + ch] * f[fo + ch];
                                }
                            }
                            Some(m) => {
                                total += x[p * g.ic + o / m] * f[(ky * g.fw + kx) * g.oc + o];
                            }
                        }
                    }
                }
                y[(oy * g.ow + ox) * g.oc + o] =
                    clamp(total + bias.get(o).copied().unwrap_or(0.0), r);
            }
        }
    }
    y
}
