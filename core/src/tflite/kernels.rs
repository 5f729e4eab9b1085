//! Scalar uint8 kernels with TFLite's reference arithmetic (the
//! specification for later SIMD and WGSL versions), and the fixed-point
//! helpers they use.

#![allow(clippy::indexing_slicing)] // shapes are validated by `super` before any kernel runs

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;

use super::{Activation, DType, Model, Op, Tensor, TfliteError, Window};

/// `(q, shift)` with `m ≈ q · 2^(shift - 31)`, `q` in `[2^30, 2^31)`:
/// TFLite's `QuantizeMultiplier`.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = libm::frexp(m);
    let mut q_fixed = libm::round(q * 2_147_483_648.0) as i64;
    if q_fixed == 1 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// `round(a·b / 2^31)` with ties away from zero, saturating the one
/// overflow case (gemmlowp's `SaturatingRoundingDoublingHighMul`).
#[inline]
pub fn srdhm(a: i32, b: i32) -> i32 {
    if a == i32::MIN && b == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `x / 2^e` rounded to nearest, ties away from zero (gemmlowp's
/// `RoundingDivideByPOT`), for `0 <= e <= 31`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, e: i32) -> i32 {
    let e = e.clamp(0, 31) as u32;
    let mask = ((1i64 << e) - 1) as i32;
    let rem = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> e) + i32::from(rem > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier` (double rounding).
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, q: i32, shift: i32) -> i32 {
    let left = shift.max(0);
    let right = (-shift).max(0);
    rounding_divide_by_pot(
        srdhm(x.wrapping_mul(1i32.wrapping_shl(left as u32)), q),
        right,
    )
}

/// `x · 2^e` with saturation (gemmlowp's `SaturatingRoundingMultiplyByPOT`
/// for `e > 0`; rounding division for `e < 0`).
#[inline]
fn mul_pot(x: i32, e: i32) -> i32 {
    if e >= 0 {
        let max = i32::MAX >> e;
        let min = i32::MIN >> e;
        if x > max {
            i32::MAX
        } else if x < min {
            i32::MIN
        } else {
            x << e
        }
    } else {
        rounding_divide_by_pot(x, -e)
    }
}

/// `(min, max)` of the output after a fused activation, as TFLite rounds it
/// (the model validation rejects graphs where `min > max`).
pub(crate) fn act_range(act: Activation, out: &Tensor<'_>) -> (i32, i32) {
    // In the uint8 view of int8 tensors (see [`flip`]).
    let q = |f: f32| zp(out) + libm::roundf(f / out.scale) as i32;
    match act {
        Activation::None => (0, 255),
        Activation::Relu => (q(0.0).max(0), 255),
        Activation::Relu6 => (q(0.0).max(0), q(6.0).min(255)),
    }
}

/// Shapes and padding of an AVERAGE_POOL_2D.
pub(crate) struct PoolShape {
    pub(crate) ih: usize,
    pub(crate) iw: usize,
    pub(crate) c: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) ph: i64,
    pub(crate) pw: i64,
}

pub(crate) fn pool_shape(
    ti: &Tensor<'_>,
    to: &Tensor<'_>,
    window: &Window,
    fh: usize,
    fw: usize,
) -> PoolShape {
    let (ih, iw, c) = dims(ti);
    let (oh, ow, _) = dims(to);
    PoolShape {
        ih,
        iw,
        c,
        oh,
        ow,
        ph: pad(window.stride_h, 1, ih, fh, oh),
        pw: pad(window.stride_w, 1, iw, fw, ow),
    }
}

/// Padding before the first row/column (TFLite's `ComputePadding`).
pub(crate) fn pad(
    stride: usize,
    dilation: usize,
    input: usize,
    filter: usize,
    output: usize,
) -> i64 {
    let eff = (filter as i64 - 1) * dilation as i64 + 1;
    (((output as i64 - 1) * stride as i64 + eff - input as i64) / 2).max(0)
}

pub(crate) fn dims(t: &Tensor<'_>) -> (usize, usize, usize) {
    match t.shape[..] {
        [_, h, w, c] => (h, w, c),
        _ => (1, 1, t.len()),
    }
}

/// int8 tensors are handled as uint8 with the sign bit flipped: byte
/// `b ^ 0x80` is `q + 128`, so with the zero point also moved up by 128
/// every centred value `q - z` (and every clamp to the type's range) is the
/// same. [`flip`] is that byte mask, [`zp`] the moved zero point.
pub(crate) fn flip(t: &Tensor<'_>) -> u8 {
    if t.dtype == DType::I8 {
        0x80
    } else {
        0
    }
}

/// Zero point in the uint8 view (see [`flip`]).
pub(crate) fn zp(t: &Tensor<'_>) -> i32 {
    t.zero_point + i32::from(flip(t))
}

/// The data inputs an operator reads (the second only for ADD) and its output.
pub(crate) fn op_io(op: &Op) -> (usize, Option<usize>, usize) {
    match *op {
        Op::Conv2d { input, output, .. }
        | Op::DepthwiseConv2d { input, output, .. }
        | Op::AvgPool { input, output, .. }
        | Op::Reshape { input, output }
        | Op::Softmax { input, output, .. } => (input, None, output),
        Op::FullyConnected { input, output, .. }
        | Op::Pad { input, output, .. }
        | Op::Mean { input, output }
        | Op::Quantize { input, output } => (input, None, output),
        Op::HardSwish { input, output } | Op::Dequantize { input, output } => (input, None, output),
        Op::Add { a, b, output, .. } | Op::Concatenation { a, b, output, .. } => {
            (a, Some(b), output)
        }
    }
}

/// Whether `op` computes in float32: its output is float32 (DEQUANTIZE
/// aside), or it is a QUANTIZE from float32.
pub(crate) fn float_op(model: &Model<'_>, op: &Op) -> bool {
    let (a, _, o) = op_io(op);
    let dt = |i: usize| model.tensors.get(i).map(|t| t.dtype);
    match op {
        Op::Dequantize { .. } => false,
        Op::Quantize { .. } => dt(a) == Some(DType::F32),
        _ => dt(o) == Some(DType::F32),
    }
}

/// Which loops compute the convolution sums (all give the same integers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loops {
    /// TFLite's reference loops ([`pixel_reference`]): the specification.
    Reference,
    /// No copies, no allocation ([`pixel_direct`]): the arena path.
    Direct,
    /// The vectorised kernels: full convolutions as int16 products over
    /// output channels ([`conv_1x1`]), depthwise ones by
    /// [`pixel_depthwise`].
    I16,
}

/// Runs one operator: `a` (and `b` for ADD) are its data inputs, `out` its
/// output tensor (already sized); `loops` picks the convolution loops.
pub(crate) fn run_op(
    model: &Model<'_>,
    op: &Op,
    a: &[u8],
    b: &[u8],
    out: &mut [u8],
    loops: Loops,
    packed: Option<&Packed>,
) -> Result<(), TfliteError> {
    let t = |i: usize| &model.tensors[i];
    let (_, _, out_index) = op_io(op);
    let float = float_op(model, op);
    let float_out = float || matches!(op, Op::Dequantize { .. });
    let quantize_float = matches!(*op, Op::Quantize { input, .. } if t(input).dtype == DType::F32);
    if matches!(t(out_index).dtype, DType::U8 | DType::I8) == (float_out && !quantize_float)
        || out.len() != t(out_index).byte_len()
    {
        return Err(TfliteError::BadGraph("output size"));
    }
    if float {
        super::float::run_op(model, op, a, b, out);
        return Ok(());
    }
    match *op {
        Op::Conv2d { .. } | Op::DepthwiseConv2d { .. } | Op::FullyConnected { .. } => {
            if let Some(c) = ConvSpec::of(op) {
                conv(model, a, out, &c, loops, packed);
            }
        }
        Op::AvgPool {
            input,
            output,
            window,
            filter_w,
            filter_h,
            act,
        } => {
            let PoolShape {
                ih,
                iw,
                c,
                oh,
                ow,
                ph,
                pw,
            } = pool_shape(t(input), t(output), &window, filter_h, filter_w);
            let (lo, hi) = act_range(act, t(output));
            let (fi, fo) = (flip(t(input)), flip(t(output)));
            // TFLite rounds the average of the stored values half away from
            // zero: for int8 that is around -128 in the uint8 view.
            let off = i32::from(fi);
            for oy in 0..oh {
                for ox in 0..ow {
                    let y0 = oy as i64 * window.stride_h as i64 - ph;
                    let x0 = ox as i64 * window.stride_w as i64 - pw;
                    for ch in 0..c {
                        let (mut sum, mut count) = (0i32, 0i32);
                        for fy in 0..filter_h as i64 {
                            for fx in 0..filter_w as i64 {
                                let (iy, ix) = (y0 + fy, x0 + fx);
                                if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                                    let b = a[(iy as usize * iw + ix as usize) * c + ch] ^ fi;
                                    sum += i32::from(b) - off;
                                    count += 1;
                                }
                            }
                        }
                        let avg = match count {
                            0 => 0,
                            n if sum >= 0 => (sum + n / 2) / n,
                            n => (sum - n / 2) / n,
                        } + off;
                        out[(oy * ow + ox) * c + ch] = avg.max(lo).min(hi) as u8 ^ fo;
                    }
                }
            }
        }
        Op::Pad {
            input,
            output,
            pads,
        } => {
            let (ih, iw, c) = dims(t(input));
            let (_, ow, oc) = dims(t(output));
            out.fill(t(output).zero_point as u8);
            for (y, row) in a.chunks_exact(iw * c).take(ih).enumerate() {
                for (xi, px) in row.chunks_exact(c).enumerate() {
                    let p = ((y + pads[1].0) * ow + pads[2].0 + xi) * oc + pads[3].0;
                    out[p..p + c].copy_from_slice(px);
                }
            }
        }
        Op::Mean { input, output } => {
            // As LiteRT's reference kernel for uint8: the multiplier of
            // `s_in / s_out` takes in `1 / n` as an integer division after a
            // left shift by `floor(log2 n)` (at most 32, and at most
            // 31 + its shift), then one fixed-point rescale of the centred
            // integer sum.
            let (ih, iw, c) = dims(t(input));
            let n = (ih * iw) as i64;
            let (q, shift) = mean_multiplier(t(input), t(output), ih * iw);
            let (fi, fo) = (flip(t(input)), flip(t(output)));
            for (ch, o) in out.iter_mut().enumerate().take(c) {
                let sum: i64 = a
                    .iter()
                    .skip(ch)
                    .step_by(c)
                    .map(|&v| i64::from(v ^ fi))
                    .sum();
                let centred = (sum - i64::from(zp(t(input))) * n) as i32;
                let v = multiply_by_quantized_multiplier(centred, q, shift) + zp(t(output));
                *o = v.clamp(0, 255) as u8 ^ fo;
            }
        }
        Op::Reshape { .. } => out.copy_from_slice(a),
        Op::Softmax {
            input,
            output,
            beta,
        } => {
            let depth = *t(input).shape.last().unwrap_or(&1);
            let flips = (flip(t(input)), flip(t(output)));
            softmax_u8(a, out, flips, depth.max(1), beta, t(input).scale);
        }
        Op::Quantize { input, output } => {
            // TFLite's Requantize: `MBQM(x - z_in, s_in / s_out) + z_out`.
            let (q, shift) = requantize_multiplier(t(input), t(output));
            let (fi, fo) = (flip(t(input)), flip(t(output)));
            let (zi, zo) = (zp(t(input)), zp(t(output)));
            for (o, &v) in out.iter_mut().zip(a) {
                let r = multiply_by_quantized_multiplier(i32::from(v ^ fi) - zi, q, shift) + zo;
                *o = r.clamp(0, 255) as u8 ^ fo;
            }
        }
        Op::Add {
            a: ia,
            b: ib,
            output,
            act,
        } => add_u8(a, b, out, t(ia), t(ib), t(output), act),
        Op::Dequantize { input, output: _ } => {
            // TFLite's reference: `(float)(double(scale) · (q - z))`, one
            // rounding (the product of an f32 and a 9-bit integer is exact
            // in double).
            let (ti, fi) = (t(input), flip(t(input)));
            let s = f64::from(ti.scale);
            for (o, &q) in out.chunks_exact_mut(4).zip(a) {
                let v = (s * f64::from(i32::from(q ^ fi) - zp(ti))) as f32;
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
        Op::HardSwish { input, output } => {
            let hp = hard_swish_params(t(input), t(output));
            for (o, &v) in out.iter_mut().zip(a) {
                *o = hard_swish(i32::from(v ^ hp.flips.0), &hp) as u8 ^ hp.flips.1;
            }
        }
        Op::Concatenation {
            a: ia,
            b: ib,
            output,
            axis,
        } => {
            let to = t(output);
            let (outer, na, nb) = concat_blocks(model, ia, ib, output, axis);
            let mut at = 0;
            for k in 0..outer {
                for (src, ti, n) in [(a, t(ia), na), (b, t(ib), nb)] {
                    let dst = &mut out[at..at + n];
                    concat_block(&src[k * n..(k + 1) * n], dst, ti, to);
                    at += n;
                }
            }
        }
    }
    Ok(())
}

/// `(outer, na, nb)` of a CONCATENATION along `axis`: the output is
/// `outer` repetitions of a block of `na` values of `a` followed by `nb`
/// of `b` (each input's dimensions from the axis on).
pub(crate) fn concat_blocks(
    model: &Model<'_>,
    a: usize,
    b: usize,
    output: usize,
    axis: usize,
) -> (usize, usize, usize) {
    let t = |i: usize| &model.tensors[i];
    let inner = |i: usize| t(i).shape[axis..].iter().product::<usize>();
    let outer = t(output).shape[..axis].iter().product::<usize>();
    (outer, inner(a), inner(b))
}

/// One input block of a CONCATENATION into the output: a copy when the
/// quantization is the same, else TFLite's float requantization
/// `round(q·s + b) + z_out` with `s = s_in · (1 / s_out)`, `b = -z_in · s`
/// (f32, rounding half away from zero), clamped.
fn concat_block(src: &[u8], dst: &mut [u8], ti: &Tensor<'_>, to: &Tensor<'_>) {
    if ti.scale == to.scale && ti.zero_point == to.zero_point {
        dst.copy_from_slice(src);
        return;
    }
    let (fi, fo) = (flip(ti), flip(to));
    let scale = ti.scale * (1.0 / to.scale);
    let bias = -(ti.zero_point as f32) * scale;
    for (d, &q) in dst.iter_mut().zip(src) {
        // The stored value (int8 as int8): undo the view's flip and offset.
        let stored = i32::from(q ^ fi) - i32::from(fi);
        let v = libm::roundf(stored as f32 * scale + bias) as i32 + to.zero_point;
        let lo = -i32::from(fo);
        *d = ((v.clamp(lo, lo + 255) + i32::from(fo)) as u8) ^ fo;
    }
}

/// The prepared constants of a quantized HARD_SWISH (TFLite's
/// `HardSwishPrepare`): 16-bit fixed-point multipliers and exponents for
/// the output and the "relu-ish" factor, zero points in the uint8 view.
pub(crate) struct HardSwishParams {
    pub(crate) zero_in: i32,
    pub(crate) zero_out: i32,
    pub(crate) out_mult: i32,
    pub(crate) out_exp: i32,
    pub(crate) relu_mult: i32,
    pub(crate) relu_exp: i32,
    pub(crate) flips: (u8, u8),
}

/// `(q16, exponent)`: the Q0.31 multiplier of `m` (in float, as TFLite
/// computes it) rounded to Q0.15, saturating at its top.
fn multiplier_16(m: f32) -> (i32, i32) {
    let (q, e) = quantize_multiplier(f64::from(m));
    let q16 = if q >= i32::MAX - (1 << 15) {
        i32::from(i16::MAX)
    } else {
        (q + (1 << 15)) >> 16
    };
    (q16, e)
}

pub(crate) fn hard_swish_params(ti: &Tensor<'_>, to: &Tensor<'_>) -> HardSwishParams {
    let hires = (1.0f32 / 128.0) * ti.scale;
    let (out_mult, out_exp) = multiplier_16(hires / to.scale);
    let (relu_mult, relu_exp) = multiplier_16(hires / (3.0f32 / 32768.0));
    HardSwishParams {
        zero_in: zp(ti),
        zero_out: zp(to),
        out_mult,
        out_exp,
        relu_mult,
        relu_exp,
        flips: (flip(ti), flip(to)),
    }
}

/// gemmlowp's 16-bit `SaturatingRoundingDoublingHighMul`.
fn srdhm16(a: i32, b: i32) -> i32 {
    if a == i32::from(i16::MIN) && b == i32::from(i16::MIN) {
        return i32::from(i16::MAX);
    }
    let ab = a * b;
    let nudge = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    (ab + nudge) / (1 << 15)
}

/// 16-bit doubling high multiply truncating toward zero (no rounding).
fn sdhm16(a: i32, b: i32) -> i32 {
    if a == i32::from(i16::MIN) && b == i32::from(i16::MIN) {
        return i32::from(i16::MAX);
    }
    (a * b) / (1 << 15)
}

/// `x · 2^e` saturated to int16.
fn shl_sat16(x: i32, e: i32) -> i32 {
    (i64::from(x) << e.clamp(0, 40)).clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i32
}

/// HARD_SWISH of one value `v` in the uint8 view: 16-bit fixed point as
/// TFLite's reference kernel (the input on a 2^7 finer scale; a
/// "relu-ish" factor in [0, 1] from rescaling [-3, 3]; their product
/// rescaled to the output), clamped to the view's range.
pub(crate) fn hard_swish(v: i32, p: &HardSwishParams) -> i32 {
    let hires = (v - p.zero_in) * (1 << 7);
    let pre_out = srdhm16(hires, p.out_mult);
    let mut relu = hires;
    if p.relu_exp > 0 {
        relu = shl_sat16(relu, p.relu_exp - 1);
    }
    relu = srdhm16(relu, p.relu_mult);
    if p.relu_exp > 0 {
        relu = shl_sat16(relu, 1);
    } else if p.relu_exp < 0 {
        relu = rounding_divide_by_pot(relu, -p.relu_exp);
    }
    let relu = (relu + (1 << 15)) >> 1;
    let out = rounding_divide_by_pot(sdhm16(relu, pre_out), -p.out_exp) + p.zero_out;
    out.clamp(0, 255)
}

/// What a [`conv`] call computes.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// CONV_2D.
    Full,
    /// DEPTHWISE_CONV_2D with this multiplier.
    Depthwise(usize),
    /// FULLY_CONNECTED (one batch).
    Dense,
}

/// The tensors and parameters of CONV_2D, DEPTHWISE_CONV_2D and
/// FULLY_CONNECTED, which share one kernel.
#[derive(Clone, Copy)]
pub(crate) struct ConvSpec {
    pub(crate) input: usize,
    pub(crate) filter: usize,
    pub(crate) bias: Option<usize>,
    pub(crate) output: usize,
    pub(crate) window: Window,
    pub(crate) act: Activation,
    pub(crate) kind: Kind,
}

impl ConvSpec {
    pub(crate) fn of(op: &Op) -> Option<Self> {
        Some(match *op {
            Op::Conv2d {
                input,
                filter,
                bias,
                output,
                window,
                act,
            } => ConvSpec {
                input,
                filter,
                bias,
                output,
                window,
                act,
                kind: Kind::Full,
            },
            Op::DepthwiseConv2d {
                input,
                filter,
                bias,
                output,
                window,
                multiplier,
                act,
            } => ConvSpec {
                input,
                filter,
                bias,
                output,
                window,
                act,
                kind: Kind::Depthwise(multiplier),
            },
            Op::FullyConnected {
                input,
                weights,
                bias,
                output,
                act,
            } => ConvSpec {
                input,
                filter: weights,
                bias,
                output,
                window: Window {
                    padding: super::Padding::Valid,
                    stride_w: 1,
                    stride_h: 1,
                    dilation_w: 1,
                    dilation_h: 1,
                },
                act,
                kind: Kind::Dense,
            },
            _ => return None,
        })
    }
}

/// Output channels computed together per pixel (accumulators on the stack).
const CHUNK: usize = 64;

fn conv(
    model: &Model<'_>,
    x: &[u8],
    out: &mut [u8],
    c: &ConvSpec,
    loops: Loops,
    packed: Option<&Packed>,
) {
    let ConvSpec { input, filter, .. } = *c;
    let t = |i: usize| &model.tensors[i];
    let f = t(filter).data.unwrap_or(&[]);
    let g = geometry(model, c);
    let in_off = -zp(t(input));
    let f_off = -zp(t(filter));
    let ready = match loops {
        Loops::Reference => None,
        _ => packed.map(|p| &p.channels),
    };
    let rq = requant(model, c, loops != Loops::Reference, ready);
    #[cfg(target_arch = "x86_64")]
    let dw_ready = packed.and_then(|p| p.depthwise.as_ref());
    let packed = packed.map(|p| &p.filter);
    let v = Operands {
        x,
        in_off,
        x_flip: flip(t(input)),
        f,
        f_off,
        f_flip: flip(t(filter)),
    };
    match loops {
        Loops::Reference => {
            return conv_loop(&g, &rq, out, |oy, ox, o0, acc| {
                pixel_reference(&g, &v, oy, ox, o0, acc)
            })
        }
        Loops::Direct => {
            return conv_loop(&g, &rq, out, |oy, ox, o0, acc| {
                pixel_direct(&g, &v, oy, ox, o0, acc)
            })
        }
        Loops::I16 => {}
    }
    let made;
    let f16: &[i16] = match packed {
        Some(pf @ PackedFilter::Pairs { pairs, data, .. }) if pf.fits(&g) => {
            conv_1x1(&g, &rq, out, &v, *pairs, data);
            return;
        }
        Some(PackedFilter::Plain(f16)) if f16.len() == f.len() => f16,
        _ => {
            if let Some(PackedFilter::Pairs { pairs, data, .. }) = PackedFilter::pairs(&g, &v) {
                conv_1x1(&g, &rq, out, &v, pairs, &data);
                return;
            }
            made = centred(&v, f.len());
            &made
        }
    };
    // Full convolutions took the product above: what is left is depthwise,
    // for the register kernel over a padded copy when it takes the layer,
    // else for the loops (input bytes centred where read, filter centred).
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2_available() && rq.vector {
        let made;
        let tables = match dw_ready {
            Some(t) => Some(t),
            None => {
                made = DepthwiseTables::new(&g, &v, f16, &rq.channels(g.oc));
                made.as_ref()
            }
        };
        // SAFETY: AVX2 support was just checked.
        if tables.is_some_and(|t| unsafe { depthwise_avx2(&g, out, &v, t) }) {
            return;
        }
    }
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if crate::arch::avx2_available() {
        // SAFETY: AVX2 support was just checked.
        return unsafe { depthwise_loop_avx2(&g, &rq, out, &v, f16) };
    }
    conv_loop(&g, &rq, out, |oy, ox, o0, acc| {
        pixel_depthwise(&g, &v, f16, oy, ox, o0, acc)
    });
}

/// Depthwise sums of channels `o0..o0 + acc.len()` at pixel `(oy, ox)`:
/// taps outer, channels inner, the input byte centred where it is read and
/// the filter already centred (`f16`, filter layout). Integer sums, so
/// equal to [`pixel_reference`] bit for bit.
#[inline(always)]
fn pixel_depthwise(
    g: &Geometry,
    v: &Operands<'_>,
    f16: &[i16],
    oy: usize,
    ox: usize,
    o0: usize,
    acc: &mut [i32],
) {
    let n = acc.len();
    for ky in 0..g.fh {
        for kx in 0..g.fw {
            let Some(p) = g.tap(oy, ox, ky, kx) else {
                continue;
            };
            let fs = &f16[(ky * g.fw + kx) * g.oc + o0..(ky * g.fw + kx) * g.oc + o0 + n];
            match g.depthwise {
                Some(m) if m != 1 => {
                    for (k, (a, &f)) in acc.iter_mut().zip(fs).enumerate() {
                        *a += v.x_at(p * g.ic + (o0 + k) / m) * i32::from(f);
                    }
                }
                _ => {
                    let xs = &v.x[p * g.ic + o0..p * g.ic + o0 + n];
                    for ((a, &xb), &f) in acc.iter_mut().zip(xs).zip(fs) {
                        *a += (i32::from(xb ^ v.x_flip) + v.in_off) * i32::from(f);
                    }
                }
            }
        }
    }
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[target_feature(enable = "avx2")]
unsafe fn depthwise_loop_avx2(
    g: &Geometry,
    rq: &Requant<'_>,
    out: &mut [u8],
    v: &Operands<'_>,
    f16: &[i16],
) {
    conv_loop(g, rq, out, |oy, ox, o0, acc| {
        pixel_depthwise(g, v, f16, oy, ox, o0, acc)
    });
}

/// A copy of the input that holds every window of `g` whole: padded
/// pixel `(py, px)` is input pixel `(py - ph, px - pw)`, and the pixels
/// outside the input hold the zero point (a centred zero: those taps add
/// nothing, as TFLite skips them), followed by 16 spare bytes for 16-byte
/// loads; empty when the output is.
fn padded_input(g: &Geometry, v: &Operands<'_>) -> Padded {
    if g.oh == 0 || g.ow == 0 {
        return Padded::default();
    }
    let rows = (g.oh - 1) * g.w.stride_h + (g.fh - 1) * g.w.dilation_h + 1;
    let cols = (g.ow - 1) * g.w.stride_w + (g.fw - 1) * g.w.dilation_w + 1;
    let c = g.ic;
    let zero = (-v.in_off) as u8 ^ v.x_flip;
    // Padding is never negative (see `pad`): input column 0 sits at
    // padded column `pw`, row 0 at row `ph`. Each byte is written once
    // (the padding, then the input row), row by row.
    let (ph, pw) = (g.ph.max(0) as usize, g.pw.max(0) as usize);
    let n = g.iw.min(cols.saturating_sub(pw)) * c;
    let row_bytes = cols * c;
    let mut buf = Vec::with_capacity(rows * row_bytes + 16);
    for py in 0..rows {
        let end = buf.len() + row_bytes;
        let src = py
            .checked_sub(ph)
            .filter(|&iy| iy < g.ih)
            .and_then(|iy| v.x.get(iy * g.iw * c..iy * g.iw * c + n));
        if let Some(src) = src {
            buf.resize(buf.len() + pw.min(cols) * c, zero);
            buf.extend_from_slice(src);
        }
        buf.resize(end, zero);
    }
    buf.resize(rows * row_bytes + 16, zero);
    // Each output pixel's window corner, row by row (no division per pixel).
    let mut corners = Vec::with_capacity(g.oh * g.ow);
    for oy in 0..g.oh {
        let row = oy * g.w.stride_h * cols;
        corners.extend((0..g.ow).map(|ox| (row + ox * g.w.stride_w) * c));
    }
    Padded {
        bytes: buf,
        cols,
        corners,
    }
}

/// A [`padded_input`] copy: its bytes, its row width in pixels, and the
/// byte offset of every output pixel's window (its top-left tap).
#[derive(Default)]
struct Padded {
    bytes: Vec<u8>,
    cols: usize,
    corners: Vec<usize>,
}

/// Depthwise convolution with multiplier 1 and a multiple of 8 channels,
/// on a [`padded_input`] copy (every window whole, no bounds per tap):
/// sixteen channels in registers across the window, two taps per
/// `pmaddwd` against the filter pre-interleaved for it; a last group of
/// eight channels takes two pixels at once (one per 128-bit half). The
/// input bytes enter uncentred (zero-extended, or sign-extended for int8)
/// and the zero point comes in through the bias: `Σ (x - z)·f = Σ x'·f +
/// k·Σ f` with `k` fixed per layer — integer sums of the same products as
/// [`pixel_depthwise`], so the same bytes. The filter and the folded
/// biases come from [`DepthwiseTables`] (made once by [`Model::prepare`]).
/// Returns `false` (having written nothing) when the sizes do not fit.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn depthwise_avx2(
    g: &Geometry,
    out: &mut [u8],
    v: &Operands<'_>,
    t: &DepthwiseTables,
) -> bool {
    use core::arch::x86_64::*;
    let (c, taps) = (g.oc, g.fh * g.fw);
    let npix = g.oh * g.ow;
    let pairs = taps.div_ceil(2);
    let (groups, tail) = (c / 16, c % 16 == 8);
    if npix == 0
        || out.len() < npix * c
        || t.filter.len() < (groups + usize::from(tail)) * pairs * 32
        || t.channels.bias.len() != c
    {
        return false;
    }
    let (signed, ch) = (t.signed, &t.channels);
    let padded = padded_input(g, v);
    let (buf, cols, corners) = (&padded.bytes, padded.cols, &padded.corners);
    // Byte offsets of the taps from a window's corner; an odd last tap
    // pairs with a second read of the corner against zero filter values.
    let offs: Vec<usize> = (0..2 * pairs)
        .map(|t| match t < taps {
            true => ((t / g.fw) * g.w.dilation_h * cols + (t % g.fw) * g.w.dilation_w) * c,
            false => 0,
        })
        .collect();
    // Every read ends inside the copy (the window of the last pixel is the
    // copy's bottom-right corner); checked once here.
    let last = corners.last().copied().unwrap_or(0) + offs.iter().max().copied().unwrap_or(0) + c;
    if last > buf.len() || corners.len() != npix {
        return false;
    }
    // One pair of taps' interleaved filter: its low and high vectors.
    let taps2 = |f: &[i16]| {
        // SAFETY: 32 values per chunk (`chunks_exact(32)` below).
        unsafe {
            (
                _mm256_loadu_si256(f.as_ptr().cast()),
                _mm256_loadu_si256(f.as_ptr().add(16).cast()),
            )
        }
    };
    let widen = |x: __m128i| match signed {
        true => _mm256_cvtepi8_epi16(x),
        false => _mm256_cvtepu8_epi16(x),
    };
    let (bp, op) = (buf.as_ptr(), out.as_mut_ptr());
    for (p, &at) in corners.iter().enumerate() {
        for (gi, fg) in t.filter.chunks_exact(32 * pairs).take(groups).enumerate() {
            let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for (o2, f2) in offs.chunks_exact(2).zip(fg.chunks_exact(32)) {
                let (flo, fhi) = taps2(f2);
                // SAFETY: `at + offs[t] + c <= last <= buf.len()` for every
                // tap and `gi·16 + 16 <= c`.
                let (xa, xb) = unsafe {
                    (
                        widen(_mm_loadu_si128(bp.add(at + o2[0] + gi * 16).cast())),
                        widen(_mm_loadu_si128(bp.add(at + o2[1] + gi * 16).cast())),
                    )
                };
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), flo));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), fhi));
            }
            // lo: channels 0-3 and 8-11, hi: 4-7 and 12-15.
            let o0 = gi * 16;
            // SAFETY: AVX2; channels o0..o0 + 16 are in the tables and
            // `out` holds pixel p's c bytes (checked above).
            unsafe {
                let r0 = ch.requant8_avx2(_mm256_permute2x128_si256::<0x20>(lo, hi), o0);
                let r1 = ch.requant8_avx2(_mm256_permute2x128_si256::<0x31>(lo, hi), o0 + 8);
                _mm_storeu_si128(op.add(p * c + o0).cast(), _mm_unpacklo_epi64(r0, r1));
            }
        }
    }
    if tail {
        let o0 = groups * 16;
        let ft = &t.filter[groups * pairs * 32..];
        for p in (0..npix).step_by(2) {
            // A last odd pixel pairs with itself.
            let q = (p + 1).min(npix - 1);
            let (ap, aq) = (corners[p] + o0, corners[q] + o0);
            let (mut lo, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256());
            for (o2, f2) in offs.chunks_exact(2).zip(ft.chunks_exact(32)) {
                let (flo, fhi) = taps2(f2);
                // SAFETY: as above, eight bytes from channel o0 = c - 8.
                let (xa, xb) = unsafe {
                    let two = |o: usize| {
                        _mm_unpacklo_epi64(
                            _mm_loadl_epi64(bp.add(ap + o).cast()),
                            _mm_loadl_epi64(bp.add(aq + o).cast()),
                        )
                    };
                    (widen(two(o2[0])), widen(two(o2[1])))
                };
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), flo));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), fhi));
            }
            // lo: pixel p channels 0-3 | pixel q 0-3; hi: the same for 4-7.
            // SAFETY: AVX2; channels o0..o0 + 8 are in the tables; pixels
            // p and q have their c bytes in `out`.
            unsafe {
                let rp = ch.requant8_avx2(_mm256_permute2x128_si256::<0x20>(lo, hi), o0);
                _mm_storel_epi64(op.add(p * c + o0).cast(), rp);
                let rq = ch.requant8_avx2(_mm256_permute2x128_si256::<0x31>(lo, hi), o0);
                _mm_storel_epi64(op.add(q * c + o0).cast(), rq);
            }
        }
    }
    true
}

/// The layer constants of [`depthwise_avx2`]: the centred filter
/// interleaved as `pmaddwd` reads it, and the requantization tables with
/// the input zero point folded into the biases.
#[derive(Clone, Debug)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct DepthwiseTables {
    /// Per group of sixteen channels (a last group of eight: its channels
    /// twice) and pair of taps `(2j, 2j + 1)` (an odd last tap paired with
    /// zeros): the 32 values `_mm256_unpacklo_epi16` and then
    /// `_mm256_unpackhi_epi16` make of the two taps' sixteen values.
    filter: Vec<i16>,
    channels: Channels,
    /// int8 input (sign-extended) rather than uint8.
    signed: bool,
}

impl DepthwiseTables {
    /// The tables of a depthwise layer with multiplier 1 and a multiple of
    /// 8 channels, from its centred filter `f16` (filter layout) and its
    /// requantization `ch`; `None` for any other layer.
    fn new(g: &Geometry, v: &Operands<'_>, f16: &[i16], ch: &Channels) -> Option<Self> {
        let (c, taps) = (g.oc, g.fh * g.fw);
        let signed = match v.x_flip {
            0 => false,
            0x80 => true,
            _ => return None,
        };
        if g.depthwise != Some(1)
            || g.ic != c
            || !c.is_multiple_of(8)
            || f16.len() < taps * c
            || ch.bias.len() != c
        {
            return None;
        }
        let fv = |t: usize, o: usize| match t < taps {
            true => f16[t * c + o],
            false => 0,
        };
        // Σ (x - z)·f = Σ x'·f + k·Σ f, x' the zero- or sign-extended byte.
        let k = v.in_off + if signed { 128 } else { 0 };
        let mut channels = ch.clone();
        for (o, b) in channels.bias.iter_mut().enumerate() {
            let sum: i32 = (0..taps).map(|t| i32::from(fv(t, o))).sum();
            *b = b.wrapping_add(k.wrapping_mul(sum));
        }
        let (groups, tail) = (c / 16, c % 16 == 8);
        let pairs = taps.div_ceil(2);
        let mut filter = Vec::with_capacity((groups + 1) * pairs * 32);
        for gi in 0..groups + usize::from(tail) {
            let lane = |q: usize| gi * 16 + if gi == groups { q % 8 } else { q };
            for j in 0..pairs {
                // Within each 128-bit half (channels 8h..8h + 8): the low
                // four channels' taps side by side, then the high four.
                for part in [0, 4] {
                    for h in [0, 8] {
                        for q in h + part..h + part + 4 {
                            filter.push(fv(2 * j, lane(q)));
                            filter.push(fv(2 * j + 1, lane(q)));
                        }
                    }
                }
            }
        }
        Some(DepthwiseTables {
            filter,
            channels,
            signed,
        })
    }
}

/// The centred filter values `f - z_f` as i16, in the filter's layout.
fn centred(v: &Operands<'_>, n: usize) -> Vec<i16> {
    (0..n).map(|i| v.f_at(i) as i16).collect()
}

/// Output channels of one packed filter block.
const OB: usize = 16;
/// Pixels computed together by the 1 x 1 kernel.
const PB: usize = 6;

/// The centred filter of a full convolution (or FULLY_CONNECTED) packed
/// for products over output channels: for each block of [`OB`] channels
/// and each pair of patch positions `(2j, 2j + 1)` (patch order ky, kx,
/// input channel), the [`OB`] channels' two taps side by side (zero-padded past the last channel or input), so
/// that one `pmaddwd` of a block row with a broadcast input pair gives
/// [`OB`] / 2 channels' partial sums without horizontal additions.
#[derive(Clone, Debug)]
pub(crate) enum PackedFilter {
    /// A 1 x 1 convolution's filter in input-channel pairs.
    Pairs {
        pairs: usize,
        oc: usize,
        data: Vec<i16>,
    },
    /// A depthwise convolution's centred filter as i16 (its own layout),
    /// for [`pixel_depthwise`].
    Plain(Vec<i16>),
}

/// What [`Model::prepare`] keeps of one convolution: its filter packed
/// for the vectorised kernels and its requantization tables.
#[derive(Clone, Debug)]
pub(crate) struct Packed {
    filter: PackedFilter,
    channels: Channels,
    /// For a depthwise layer the register kernel takes.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    depthwise: Option<DepthwiseTables>,
}

/// The packed filter (see [`PackedFilter`]) and requantization tables of
/// `op` when it is a quantized convolution or FULLY_CONNECTED.
pub(crate) fn pack_op(model: &Model<'_>, op: &Op) -> Option<Packed> {
    if float_op(model, op) {
        return None;
    }
    let c = ConvSpec::of(op)?;
    let t = |i: usize| &model.tensors[i];
    let g = geometry(model, &c);
    let v = Operands {
        x: &[],
        in_off: -zp(t(c.input)),
        x_flip: flip(t(c.input)),
        f: t(c.filter).data.unwrap_or(&[]),
        f_off: -zp(t(c.filter)),
        f_flip: flip(t(c.filter)),
    };
    let rq = requant(model, &c, true, None);
    let channels = Channels::new(&rq, g.oc);
    let filter =
        PackedFilter::pairs(&g, &v).unwrap_or_else(|| PackedFilter::Plain(centred(&v, v.f.len())));
    // Only the AVX2 kernel reads the depthwise tables.
    let depthwise = match &filter {
        PackedFilter::Plain(f16) if cfg!(target_arch = "x86_64") => {
            DepthwiseTables::new(&g, &v, f16, &channels)
        }
        _ => None,
    };
    Some(Packed {
        filter,
        channels,
        depthwise,
    })
}

impl PackedFilter {
    /// Whether this is a pair packing of a convolution of geometry `g`.
    fn fits(&self, g: &Geometry) -> bool {
        match self {
            PackedFilter::Pairs { pairs, oc, data } => {
                *pairs == g.ic.div_ceil(2)
                    && *oc == g.oc
                    && data.len() == g.oc.div_ceil(OB) * pairs * 2 * OB
            }
            PackedFilter::Plain(_) => false,
        }
    }

    /// Packs the filter of `g` when it is a full 1 x 1 convolution with
    /// stride 1 and no padding (every pixel reads its own input pixel).
    fn pairs(g: &Geometry, v: &Operands<'_>) -> Option<Self> {
        // Full convolutions (and FULLY_CONNECTED): each output pixel is a
        // product of the filter rows with its patch of `fh·fw·ic` inputs in
        // filter order (ky, kx, c), padding contributing zeros.
        if g.depthwise.is_some() {
            return None;
        }
        let k = g.fh * g.fw * g.ic;
        let pairs = k.div_ceil(2);
        let blocks = g.oc.div_ceil(OB);
        let mut data = vec![0i16; blocks * pairs * 2 * OB];
        for (o, row) in v.f.chunks_exact(k).take(g.oc).enumerate() {
            let (b, ob) = (o / OB, o % OB);
            let dst = &mut data[b * pairs * 2 * OB..(b + 1) * pairs * 2 * OB];
            for (c, &f) in row.iter().enumerate() {
                dst[((c / 2) * OB + ob) * 2 + c % 2] = (i32::from(f ^ v.f_flip) + v.f_off) as i16;
            }
        }
        Some(PackedFilter::Pairs {
            pairs,
            oc: g.oc,
            data,
        })
    }
}

/// `acc[p][k] = Σ_c x'[p][c]·f'[o0 + k][c]` for the pixels of `xp` (input
/// pairs as i32 words, `pairs` per pixel) and one packed block: the
/// specification of [`block_1x1_avx2`] (integer sums: any order is exact).
#[inline(always)]
fn block_1x1(xp: &[i32], pairs: usize, blk: &[i16], acc: &mut [[i32; OB]; PB], n: usize) {
    for (p, a) in acc.iter_mut().enumerate().take(n) {
        a.fill(0);
        let xs = &xp[p * pairs..(p + 1) * pairs];
        for (j, &w) in xs.iter().enumerate() {
            let (x0, x1) = (i32::from(w as i16), i32::from((w >> 16) as i16));
            let row = &blk[j * 2 * OB..(j + 1) * 2 * OB];
            for k in 0..OB {
                a[k] += x0 * i32::from(row[2 * k]) + x1 * i32::from(row[2 * k + 1]);
            }
        }
    }
}

/// The sums of [`block_1x1`] with AVX2, in registers: per input pair, two
/// loads of the block row and one broadcast per pixel, `pmaddwd` into
/// [`PB`] x 2 accumulators (`HALF`: the block's first eight channels only,
/// the others' sums left as zero — for a last block of at most eight
/// channels). Pixels past `n` hold pixel 0's sums.
///
/// # Safety
/// The CPU must support AVX2; `xp` holds `1 <= n <= PB` pixels of `pairs`
/// words and `blk` `pairs · 2 · OB` values.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn block_sums_avx2<const HALF: bool>(
    xp: &[i32],
    pairs: usize,
    blk: &[i16],
    n: usize,
) -> [[core::arch::x86_64::__m256i; 2]; PB] {
    use core::arch::x86_64::*;
    debug_assert!((1..=PB).contains(&n) && xp.len() >= n * pairs && blk.len() >= pairs * 2 * OB);
    // SAFETY: AVX2 (caller).
    let mut a = [[unsafe { _mm256_setzero_si256() }; 2]; PB];
    // Pixels past `n` read pixel 0's words (their sums are not stored), so
    // the loop has no per-pixel condition and no index checks.
    let rows: [*const i32; PB] =
        core::array::from_fn(|p| xp.as_ptr().wrapping_add(if p < n { p * pairs } else { 0 }));
    for j in 0..pairs {
        // SAFETY: row `j` of the block holds 2·OB = 32 values, and each
        // pixel row `pairs` words (caller; rows past `n` are pixel 0's).
        unsafe {
            let r = blk.as_ptr().add(j * 2 * OB);
            let (f0, f1) = (
                _mm256_loadu_si256(r.cast()),
                _mm256_loadu_si256(r.add(OB).cast()),
            );
            for (p, acc) in a.iter_mut().enumerate() {
                let xb = _mm256_set1_epi32(*rows[p].add(j));
                acc[0] = _mm256_add_epi32(acc[0], _mm256_madd_epi16(f0, xb));
                if !HALF {
                    acc[1] = _mm256_add_epi32(acc[1], _mm256_madd_epi16(f1, xb));
                }
            }
        }
    }
    a
}

/// [`block_1x1`] with AVX2 ([`block_sums_avx2`], the sums written to
/// `acc`).
///
/// # Safety
/// The CPU must support AVX2; `xp` holds `n <= PB` pixels of `pairs`
/// words and `blk` `pairs · 2 · OB` values.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn block_1x1_avx2<const HALF: bool>(
    xp: &[i32],
    pairs: usize,
    blk: &[i16],
    acc: &mut [[i32; OB]; PB],
    n: usize,
) {
    use core::arch::x86_64::*;
    if n == 0 {
        return;
    }
    // SAFETY: as required (caller).
    let a = unsafe { block_sums_avx2::<HALF>(xp, pairs, blk, n) };
    for (p, ap) in a.iter().enumerate().take(n) {
        // SAFETY: `acc[p]` holds OB = 16 i32.
        unsafe {
            _mm256_storeu_si256(acc[p].as_mut_ptr().cast(), ap[0]);
            _mm256_storeu_si256(acc[p].as_mut_ptr().add(8).cast(), ap[1]);
        }
    }
}

/// [`block_1x1_avx2`] and [`Channels::store`] in one: the sums of `n`
/// pixels' [`OB`] channels from `o0` (`HALF`: a last block of exactly
/// eight) requantized from registers and written to `out` (pixel `p` at
/// `p·oc + o0`).
///
/// # Safety
/// AVX2; as [`block_1x1_avx2`]; `o0 + OB <= oc` (`HALF`: `o0 + 8 == oc`),
/// the tables of `ch` hold those channels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn block_store_avx2<const HALF: bool>(
    xp: &[i32],
    pairs: usize,
    blk: &[i16],
    n: usize,
    ch: &Channels,
    o0: usize,
    out: &mut [u8],
    oc: usize,
) {
    use core::arch::x86_64::*;
    if n == 0 {
        return;
    }
    // SAFETY: AVX2 is enabled here; sizes as the caller guarantees.
    let sums = unsafe { block_sums_avx2::<HALF>(xp, pairs, blk, n) };
    let width = if HALF { 8 } else { OB };
    for (p, acc) in sums.iter().enumerate().take(n) {
        let Some(dst) = out.get_mut(p * oc + o0..p * oc + o0 + width) else {
            return;
        };
        // SAFETY: AVX2; the tables hold channels o0..o0 + width (caller);
        // `dst` holds `width` bytes.
        unsafe {
            let lo = ch.requant8_avx2(acc[0], o0);
            if HALF {
                _mm_storel_epi64(dst.as_mut_ptr().cast(), lo);
            } else {
                let hi = ch.requant8_avx2(acc[1], o0 + 8);
                _mm_storeu_si128(dst.as_mut_ptr().cast(), _mm_unpacklo_epi64(lo, hi));
            }
        }
    }
}

/// A full convolution as a product over output channels (see
/// [`PackedFilter`]) of each pixel's patch: [`PB`] pixels at a time, [`OB`]
/// channels per block;
/// requantized as [`conv_loop`] does. Integer sums, so equal to the
/// reference loops bit for bit.
fn conv_1x1(
    g: &Geometry,
    rq: &Requant<'_>,
    out: &mut [u8],
    v: &Operands<'_>,
    pairs: usize,
    data: &[i16],
) {
    let (ic, oc) = (g.ic, g.oc);
    let mut patch = vec![0i16; 2 * pairs];
    let npix = g.oh * g.ow;
    let ch = rq.channels(oc);
    #[cfg(target_arch = "x86_64")]
    let avx2 = crate::arch::avx2_available();
    // Output pixel i reads input pixel i (a 1 x 1 window, stride 1, no
    // padding) and the channels pair up exactly: the whole input is packed
    // once, and each group of pixels reads its rows from there.
    let direct = g.fh == 1
        && g.fw == 1
        && ic.is_multiple_of(2)
        && (g.ih, g.iw) == (g.oh, g.ow)
        && (g.w.stride_h, g.w.stride_w, g.ph, g.pw) == (1, 1, 0, 0)
        && v.x.len() >= npix * ic;
    let whole = if direct {
        let mut w = vec![0i32; npix * pairs];
        let xs = &v.x[..npix * ic];
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: AVX2 was checked.
            unsafe { pack_pairs_avx2(xs, v.x_flip, v.in_off, &mut w) };
        } else {
            pack_pairs(xs, v.x_flip, v.in_off, &mut w);
        }
        #[cfg(not(target_arch = "x86_64"))]
        pack_pairs(xs, v.x_flip, v.in_off, &mut w);
        w
    } else {
        Vec::new()
    };
    let padded = match direct {
        true => Padded::default(),
        false => padded_input(g, v),
    };
    #[cfg(target_arch = "x86_64")]
    let wide = avx2 && g.w.dilation_w == 1 && g.fw * ic <= 16;
    let mut xp = vec![0i32; PB * pairs + 8];
    let mut acc = [[0i32; OB]; PB];
    let mut p0 = 0;
    while p0 < npix {
        let n = (npix - p0).min(PB);
        let rows = if direct {
            &whole[p0 * pairs..(p0 + n) * pairs]
        } else {
            let view = &padded;
            #[cfg(target_arch = "x86_64")]
            if wide {
                // SAFETY: AVX2 was checked; `padded` (see `padded_input`)
                // and `xp` carry the slack, the window rows are at most 16
                // bytes.
                unsafe { pack_patches_avx2(g, v, view, p0, n, pairs, &mut xp) };
            } else {
                pack_patches(g, v, view, p0, n, pairs, &mut patch, &mut xp);
            }
            #[cfg(not(target_arch = "x86_64"))]
            pack_patches(g, v, view, p0, n, pairs, &mut patch, &mut xp);
            &xp[..n * pairs]
        };
        for (b, blk) in data.chunks_exact(pairs * 2 * OB).enumerate() {
            #[cfg(target_arch = "x86_64")]
            if avx2 && rq.vector && (oc - b * OB >= OB || oc - b * OB == 8) {
                // A full block (or a last one of eight): products and
                // requantization in one go.
                let dst = &mut out[p0 * oc..];
                // SAFETY: AVX2 was checked; sizes as the function requires.
                unsafe {
                    match oc - b * OB == 8 {
                        true => block_store_avx2::<true>(rows, pairs, blk, n, &ch, b * OB, dst, oc),
                        false => {
                            block_store_avx2::<false>(rows, pairs, blk, n, &ch, b * OB, dst, oc)
                        }
                    }
                };
                continue;
            }
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: AVX2 was checked; sizes as the function requires.
                unsafe {
                    match oc - b * OB <= 8 {
                        true => block_1x1_avx2::<true>(rows, pairs, blk, &mut acc, n),
                        false => block_1x1_avx2::<false>(rows, pairs, blk, &mut acc, n),
                    }
                };
            } else {
                block_1x1(rows, pairs, blk, &mut acc, n);
            }
            #[cfg(not(target_arch = "x86_64"))]
            block_1x1(rows, pairs, blk, &mut acc, n);
            let o0 = b * OB;
            let m = (oc - o0).min(OB);
            for (p, a) in acc.iter().enumerate().take(n) {
                let row = &mut out[(p0 + p) * oc + o0..(p0 + p) * oc + o0 + m];
                ch.store(&a[..m], o0, row, rq.vector);
            }
        }
        p0 += n;
    }
}

/// The patches of output pixels `p0..p0 + n` in filter order, centred and
/// packed in i16 pairs into `xp` (`pairs` words per pixel), read from the
/// [`padded_input`] copy `buf` (rows of `cols` pixels): every window whole,
/// the padding a centred zero (TFLite skips those taps: the same sums).
#[allow(clippy::too_many_arguments)]
fn pack_patches(
    g: &Geometry,
    v: &Operands<'_>,
    padded: &Padded,
    p0: usize,
    n: usize,
    pairs: usize,
    patch: &mut [i16],
    xp: &mut [i32],
) {
    let (buf, cols) = (&padded.bytes, padded.cols);
    let ic = g.ic;
    // A window row is one run of fw·ic bytes without dilation, else fw
    // runs of ic bytes.
    let (run, runs) = match g.w.dilation_w {
        1 => (g.fw * ic, 1),
        _ => (ic, g.fw),
    };
    for (p, &corner) in padded.corners.iter().skip(p0).take(n).enumerate() {
        let mut at = 0;
        for ky in 0..g.fh {
            for r in 0..runs {
                let s = corner + (ky * g.w.dilation_h * cols + r * g.w.dilation_w) * ic;
                let (Some(src), Some(dst)) = (buf.get(s..s + run), patch.get_mut(at..at + run))
                else {
                    return;
                };
                for (d, &b) in dst.iter_mut().zip(src) {
                    *d = (i32::from(b ^ v.x_flip) + v.in_off) as i16;
                }
                at += run;
            }
        }
        patch[at..].fill(0);
        for (w, pr) in xp[p * pairs..(p + 1) * pairs]
            .iter_mut()
            .zip(patch.chunks_exact(2))
        {
            *w = (u32::from(pr[0] as u16) | (u32::from(pr[1] as u16) << 16)) as i32;
        }
    }
}

/// [`pack_patches`] with AVX2, for window rows of at most 16 bytes: each
/// run is loaded as 16 bytes, centred in one step and stored as 16 i16
/// values over the patch (the next run, or the next pixel, overwrites the
/// excess). The i32 pair words are the i16 values in memory order
/// (little-endian: value `2j` in the low half of word `j`).
///
/// # Safety
/// AVX2; `buf` holds 16 bytes past the last run any window reads and `xp`
/// 16 i16 values past `n · pairs` words; `g.fw · g.ic <= 16` (no dilation).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_patches_avx2(
    g: &Geometry,
    v: &Operands<'_>,
    padded: &Padded,
    p0: usize,
    n: usize,
    pairs: usize,
    xp: &mut [i32],
) {
    let (buf, cols) = (&padded.bytes, padded.cols);
    use core::arch::x86_64::*;
    let ic = g.ic;
    let run = g.fw * ic;
    let (fl, off) = (
        _mm_set1_epi8(v.x_flip as i8),
        _mm256_set1_epi16(v.in_off as i16),
    );
    let dst = xp.as_mut_ptr().cast::<i16>();
    for (p, &corner) in padded.corners.iter().skip(p0).take(n).enumerate() {
        let row = p * pairs * 2;
        for ky in 0..g.fh {
            let s = corner + ky * g.w.dilation_h * cols * ic;
            // SAFETY: `s + 16 <= buf.len()` and `row + ky·run + 16` is
            // inside `xp`'s i16 view (caller).
            unsafe {
                let w = centre16_avx2(buf.as_ptr().add(s), fl, off);
                _mm256_storeu_si256(dst.add(row + ky * run).cast(), w);
            }
        }
        let k = g.fh * run;
        if k < 2 * pairs {
            // SAFETY: inside the pixel's words.
            unsafe { *dst.add(row + k) = 0 };
        }
    }
}

/// Sixteen bytes from `src` centred as i16: `(b ^ flip) + off`, with
/// `flip` in every byte of `fl` and `off` in every lane of `off`.
///
/// # Safety
/// AVX2; 16 bytes readable at `src`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn centre16_avx2(
    src: *const u8,
    fl: core::arch::x86_64::__m128i,
    off: core::arch::x86_64::__m256i,
) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::*;
    // SAFETY: 16 bytes at `src` (caller).
    let b = _mm_xor_si128(unsafe { _mm_loadu_si128(src.cast()) }, fl);
    _mm256_add_epi16(_mm256_cvtepu8_epi16(b), off)
}

/// Centred bytes `(b ^ flip) + off` as i16 pairs, two per i32 word (low
/// half first), an odd last byte paired with zero: the input row of the
/// 1 x 1 product kernel. Specification of [`pack_pairs_avx2`].
fn pack_pairs(xs: &[u8], flip: u8, off: i32, row: &mut [i32]) {
    let c = |b: u8| u32::from((i32::from(b ^ flip) + off) as u16);
    for (w, pr) in row.iter_mut().zip(xs.chunks(2)) {
        let hi = pr.get(1).map_or(0, |&b| c(b));
        *w = (c(pr[0]) | (hi << 16)) as i32;
    }
}

/// [`pack_pairs`] sixteen bytes at a time.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_pairs_avx2(xs: &[u8], flip: u8, off: i32, row: &mut [i32]) {
    use core::arch::x86_64::*;
    let n = xs.len().min(row.len() * 2) / 16 * 16;
    let (fl, o) = (_mm_set1_epi8(flip as i8), _mm256_set1_epi16(off as i16));
    let mut i = 0;
    while i < n {
        // SAFETY: bytes i..i + 16 of `xs` and words i/2..i/2 + 8 of `row`
        // exist (n bounds both).
        unsafe {
            let w = centre16_avx2(xs.as_ptr().add(i), fl, o);
            _mm256_storeu_si256(row.as_mut_ptr().add(i / 2).cast(), w);
        }
        i += 16;
    }
    if let (Some(xs), Some(row)) = (xs.get(n..), row.get_mut(n / 2..)) {
        pack_pairs(xs, flip, off, row);
    }
}

/// Shapes, padding and window of the convolution `c` (a FULLY_CONNECTED is
/// a 1 x 1 convolution over a single pixel).
pub(crate) fn geometry(model: &Model<'_>, c: &ConvSpec) -> Geometry {
    let t = |i: usize| &model.tensors[i];
    let ((ih, iw, ic), (oh, ow, oc), (fh, fw)) = match c.kind {
        Kind::Dense => ((1, 1, t(c.input).len()), (1, 1, t(c.output).len()), (1, 1)),
        _ => (
            dims(t(c.input)),
            dims(t(c.output)),
            (t(c.filter).shape[1], t(c.filter).shape[2]),
        ),
    };
    let w = c.window;
    Geometry {
        ih,
        iw,
        ic,
        oh,
        ow,
        oc,
        fh,
        fw,
        ph: pad(w.stride_h, w.dilation_h, ih, fh, oh),
        pw: pad(w.stride_w, w.dilation_w, iw, fw, ow),
        w,
        depthwise: match c.kind {
            Kind::Depthwise(m) => Some(m),
            _ => None,
        },
    }
}

/// The requantization of convolution `c` (`vector`: see [`Requant`]).
fn requant<'a>(
    model: &'a Model<'_>,
    c: &ConvSpec,
    vector: bool,
    ready: Option<&'a Channels>,
) -> Requant<'a> {
    let t = |i: usize| &model.tensors[i];
    Requant {
        scales: (t(c.input).scale, &t(c.filter).scales, t(c.output).scale),
        vector,
        range: act_range(c.act, t(c.output)),
        zero: zp(t(c.output)),
        flip: flip(t(c.output)),
        bias: c.bias.and_then(|b| t(b).data).unwrap_or(&[]),
        ready,
    }
}

/// Requantization of one convolution's accumulators.
struct Requant<'a> {
    /// Input scale, filter scales (one, or one per output channel), output scale.
    scales: (f32, &'a [f32], f32),
    /// Requantize eight channels at a time with SIMD (not for the
    /// reference loops, which keep the scalar specification).
    vector: bool,
    range: (i32, i32),
    zero: i32,
    /// Output byte mask (see [`flip`]).
    flip: u8,
    /// int32 little-endian biases (empty: none).
    bias: &'a [u8],
    /// The [`Channels`] made by [`Model::prepare`], if any.
    ready: Option<&'a Channels>,
}

impl<'a> Requant<'a> {
    /// `(multiplier, shift)` of output channel `o`, as TFLite prepares it:
    /// per tensor, the float product of the input and filter scales divided
    /// in double; per channel, all in double.
    fn multiplier(&self, o: usize) -> (i32, i32) {
        channel_multiplier(self.scales, o)
    }

    /// The requantization tables of `oc` channels: the prepared ones, or
    /// made now.
    fn channels(&self, oc: usize) -> Cow<'a, Channels> {
        match self.ready {
            Some(c) if c.bias.len() == oc => Cow::Borrowed(c),
            _ => Cow::Owned(Channels::new(self, oc)),
        }
    }
}

/// `(multiplier, shift)` of output channel `o` of a convolution with input,
/// filter and output scales `scales`, as TFLite prepares it: per tensor,
/// the float product of the input and filter scales divided in double; per
/// channel, all in double.
pub(crate) fn channel_multiplier(scales: (f32, &[f32], f32), o: usize) -> (i32, i32) {
    let (si, sf, so) = scales;
    let real = match sf {
        [one] => f64::from(si * *one) / f64::from(so),
        many => f64::from(si) * f64::from(many.get(o).copied().unwrap_or(0.0)) / f64::from(so),
    };
    quantize_multiplier(real)
}

/// Every output pixel, `CHUNK` channels at a time: `pixel` fills the int32
/// sums `Σ (f - z_f)(x - z_x)` of channels `o0..o0 + acc.len()`, which are
/// then biased, requantized and clamped into `out`.
#[inline(always)]
fn conv_loop(
    g: &Geometry,
    rq: &Requant<'_>,
    out: &mut [u8],
    mut pixel: impl FnMut(usize, usize, usize, &mut [i32]),
) {
    let ch = rq.channels(g.oc);
    let mut acc = [0i32; CHUNK];
    let mut o0 = 0;
    while o0 < g.oc {
        let n = (g.oc - o0).min(CHUNK);
        for oy in 0..g.oh {
            for ox in 0..g.ow {
                let base = (oy * g.ow + ox) * g.oc + o0;
                let a = &mut acc[..n];
                a.fill(0);
                pixel(oy, ox, o0, a);
                ch.store(a, o0, &mut out[base..base + n], rq.vector);
            }
        }
        o0 += n;
    }
}

/// Per-output-channel requantization constants of one convolution, laid
/// out for eight channels at a time.
#[derive(Clone, Debug)]
pub(crate) struct Channels {
    bias: Vec<i32>,
    q: Vec<i32>,
    shift: Vec<i32>,
    /// The left shift as `multiply_by_quantized_multiplier` applies it
    /// (`max(shift, 0) mod 32`; read by the AVX2 path).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    left: Vec<i32>,
    /// [`one_rounding`]'s `pos`, `neg` and `s` per channel, as 64-bit
    /// values in groups of eight channels: the four even ones, then the
    /// four odd ones (the lanes `_mm256_mul_epi32` fills).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pos: Vec<i64>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    neg: Vec<i64>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    s: Vec<i64>,
    /// The zero point less [`one_rounding`]'s `corr`, per channel.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    zc: Vec<i32>,
    zero: i32,
    range: (i32, i32),
    flip: u8,
}

impl Channels {
    fn new(rq: &Requant<'_>, oc: usize) -> Self {
        let (q, shift) = (0..oc).map(|o| rq.multiplier(o)).unzip();
        let bias = (0..oc)
            .map(|o| {
                rq.bias
                    .get(4 * o..4 * o + 4)
                    .map_or(0, |c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            })
            .collect();
        Self::from_parts(bias, q, shift, rq.zero, rq.range, rq.flip)
    }

    /// The tables of per-channel biases and `(q, shift)` multipliers.
    fn from_parts(
        bias: Vec<i32>,
        q: Vec<i32>,
        shift: Vec<i32>,
        zero: i32,
        range: (i32, i32),
        flip: u8,
    ) -> Self {
        // Group layout of the 64-bit tables (see the fields), padded to a
        // whole group; `q` gets one more value for the odd lanes' read.
        let n = shift.len().div_ceil(8) * 8;
        let (mut pos, mut neg, mut s) = (vec![0; n], vec![0; n], vec![63; n]);
        let mut zc = Vec::with_capacity(shift.len());
        for (c, &sh) in shift.iter().enumerate() {
            let at = c / 8 * 8 + (c % 8 % 2) * 4 + c % 8 / 2;
            let (p, m, sc, corr) = one_rounding(sh);
            (pos[at], neg[at], s[at]) = (p, m, sc);
            zc.push(zero.wrapping_sub(corr));
        }
        let mut q = q;
        q.resize(n + 1, 0);
        Channels {
            left: shift.iter().map(|&s| s.max(0) & 31).collect(),
            pos,
            neg,
            s,
            zc,
            bias,
            q,
            shift,
            zero,
            range,
            flip,
        }
    }

    /// Requantizes the sums `acc` of channels `o0..` into `out`: the
    /// specification, one channel at a time with TFLite's arithmetic.
    fn store_scalar(&self, acc: &[i32], o0: usize, out: &mut [u8]) {
        for (k, (o, &v)) in out.iter_mut().zip(acc).enumerate() {
            let c = o0 + k;
            let r = multiply_by_quantized_multiplier(
                v.wrapping_add(self.bias[c]),
                self.q[c],
                self.shift[c],
            ) + self.zero;
            *o = r.max(self.range.0).min(self.range.1) as u8 ^ self.flip;
        }
    }

    /// [`Channels::store_scalar`], eight channels at a time with AVX2 when
    /// `vector` and the CPU allow (the same integers).
    #[inline(always)]
    fn store(&self, acc: &[i32], o0: usize, out: &mut [u8], vector: bool) {
        #[cfg(target_arch = "x86_64")]
        if vector && o0.is_multiple_of(8) && crate::arch::avx2_available() {
            let full = acc.len() - acc.len() % 8;
            // SAFETY: AVX2 was checked; `full` channels from `o0` exist in
            // every table and in `acc` and `out`.
            unsafe { self.store8_avx2(&acc[..full], o0, &mut out[..full]) };
            self.store_scalar(&acc[full..], o0 + full, &mut out[full..]);
            return;
        }
        let _ = vector;
        self.store_scalar(acc, o0, out);
    }

    /// # Safety
    /// AVX2; `acc.len()` is a multiple of 8 and equals `out.len()`; the
    /// tables hold channels `o0..o0 + acc.len()`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn store8_avx2(&self, acc: &[i32], o0: usize, out: &mut [u8]) {
        use core::arch::x86_64::*;
        let mut k = 0;
        while k + 8 <= acc.len() {
            // SAFETY: eight sums from `acc[k..]`; AVX2 is enabled here; the
            // tables hold channels o0 + k..o0 + k + 8 (caller).
            let bytes = unsafe {
                let v = _mm256_loadu_si256(acc.as_ptr().add(k).cast());
                self.requant8_avx2(v, o0 + k)
            };
            let dst = &mut out[k..k + 8];
            // SAFETY: `dst` holds eight bytes; an unaligned 8-byte store.
            unsafe { _mm_storel_epi64(dst.as_mut_ptr().cast(), bytes) };
            k += 8;
        }
    }

    /// The output bytes (low 64 bits) of the sums `v` of channels
    /// `c..c + 8`: [`Channels::store_scalar`] for eight lanes.
    ///
    /// # Safety
    /// AVX2; the tables hold channels `c..c + 8`.
    #[cfg(target_arch = "x86_64")]
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn requant8_avx2(
        &self,
        v: core::arch::x86_64::__m256i,
        c: usize,
    ) -> core::arch::x86_64::__m128i {
        use core::arch::x86_64::*;
        // SAFETY: eight values from `t[c..]` exist (caller).
        let ld = |t: &[i32], at: usize| unsafe { _mm256_loadu_si256(t.as_ptr().add(at).cast()) };
        // SAFETY: the 64-bit tables hold eight values per group of eight
        // channels (even channels, then odd), `c` starts a group (caller).
        let ld64 = |t: &[i64], at: usize| unsafe { _mm256_loadu_si256(t.as_ptr().add(at).cast()) };
        let x = _mm256_add_epi32(v, ld(&self.bias, c));
        let two = |t: &[i64]| [ld64(t, c), ld64(t, c + 4)];
        // The odd lanes' multipliers: the table read one channel on.
        let q = (ld(&self.q, c), ld(&self.q, c + 1));
        let w = mbqm8_avx2(
            x,
            q,
            ld(&self.left, c),
            [two(&self.pos), two(&self.neg), two(&self.s)],
        );
        // `zc`: the zero point less `corr`.
        let r = _mm256_add_epi32(w, ld(&self.zc, c));
        let r = _mm256_min_epi32(
            _mm256_max_epi32(r, _mm256_set1_epi32(self.range.0)),
            _mm256_set1_epi32(self.range.1),
        );
        bytes8_avx2(r, self.flip)
    }
}

/// [`multiply_by_quantized_multiplier`] with one rounding instead of two:
/// the constants `(pos, neg, s, corr)` of a shift. With `e` the right shift
/// (`(-shift).clamp(0, 31)`) and `t = x·q + 2^30`, TFLite's
/// `RDBP(floor(t / 2^31), e)` (ties away from zero) equals
/// `floor((t + 2^(30 + e) - [t < 0]·2^31) / 2^(31 + e))` for `e >= 1`
/// (nested floors of divisions by powers of two are one floor) and
/// `floor(t / 2^31)` for `e = 0`. Adding `2^62` keeps the 64-bit value
/// nonnegative for any i32 `x` and `q`, so a logical shift by `s = 31 + e`
/// gives the result plus `2^(62 - s)`: `corr`, that offset mod 2^32.
/// `pos` and `neg` are the addends of `x·q` for `t >= 0` and `t < 0`.
pub(crate) fn one_rounding(shift: i32) -> (i64, i64, i64, i32) {
    let e = i64::from((-shift).clamp(0, 31));
    let s = 31 + e;
    let (pos, neg) = match e {
        0 => (1 << 30, 1 << 30),
        _ => (
            (1 << 30) + (1 << (30 + e)),
            (1 << 30) + (1 << (30 + e)) - (1 << 31),
        ),
    };
    let corr = ((1i64 << (62 - s)) as u64 as u32) as i32;
    ((1 << 62) + pos, (1 << 62) + neg, s, corr)
}

/// The scalar form of the one-rounding arithmetic (see [`one_rounding`]):
/// `multiply_by_quantized_multiplier(x, q, shift)` for `q >= 0`, what
/// [`mbqm8_avx2`] computes per lane.
#[cfg(test)]
fn mbqm_one_rounding(x: i32, q: i32, shift: i32) -> i32 {
    let (pos, neg, s, corr) = one_rounding(shift);
    let x = x.wrapping_mul(1i32.wrapping_shl(shift.max(0) as u32));
    let p = i64::from(x) * i64::from(q);
    let u = p.wrapping_add(if p < -(1 << 30) { neg } else { pos }) as u64;
    ((u >> s) as u32 as i32).wrapping_sub(corr)
}

/// [`mbqm_one_rounding`] on eight lanes, less its `corr`: `x` shifted left
/// by `left`, times `q` (the even lanes' multipliers in `q_even`, the odd
/// lanes' in the low halves of `q_odd`'s 64-bit lanes), plus `pos` or
/// `neg`, shifted right by `s` (`[0]`: even lanes, `[1]`: odd lanes, as
/// 64-bit values). The caller subtracts each lane's `corr`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn mbqm8_avx2(
    x: core::arch::x86_64::__m256i,
    (q_even, q_odd): (core::arch::x86_64::__m256i, core::arch::x86_64::__m256i),
    left: core::arch::x86_64::__m256i,
    [pos, neg, s]: [[core::arch::x86_64::__m256i; 2]; 3],
) -> core::arch::x86_64::__m256i {
    use core::arch::x86_64::*;
    let x = _mm256_sllv_epi32(x, left);
    let lim = _mm256_set1_epi64x(-(1 << 30));
    let half = |p: __m256i, k: usize| {
        let n = _mm256_blendv_epi8(pos[k], neg[k], _mm256_cmpgt_epi64(lim, p));
        _mm256_srlv_epi64(_mm256_add_epi64(p, n), s[k])
    };
    let even = half(_mm256_mul_epi32(x, q_even), 0);
    let odd = half(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), q_odd), 1);
    _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0b1010_1010)
}

/// Eight values in `0..=255` (i32 lanes) as the low eight bytes, XORed
/// with `flip`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn bytes8_avx2(r: core::arch::x86_64::__m256i, flip: u8) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::*;
    // Pack each 128-bit half to 16 and 8 bits (in place, no saturation at
    // work), join the halves.
    let p = _mm256_packus_epi16(_mm256_packus_epi32(r, r), _mm256_setzero_si256());
    let bytes = _mm_unpacklo_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256::<1>(p));
    _mm_xor_si128(bytes, _mm_set1_epi8(flip as i8))
}

/// A convolution's input and filter with the offsets that centre them
/// (`-zero_point`).
#[derive(Clone, Copy)]
struct Operands<'a> {
    x: &'a [u8],
    in_off: i32,
    /// Byte mask of int8 input (see [`flip`]).
    x_flip: u8,
    f: &'a [u8],
    f_off: i32,
    /// Byte mask of int8 filters.
    f_flip: u8,
}

impl Operands<'_> {
    /// Centred input value `x[i] - z_x`.
    #[inline(always)]
    fn x_at(&self, i: usize) -> i32 {
        i32::from(self.x[i] ^ self.x_flip) + self.in_off
    }

    /// Centred filter value `f[i] - z_f`.
    #[inline(always)]
    fn f_at(&self, i: usize) -> i32 {
        i32::from(self.f[i] ^ self.f_flip) + self.f_off
    }
}

/// Shapes and window of one convolution.
pub(crate) struct Geometry {
    pub(crate) ih: usize,
    pub(crate) iw: usize,
    pub(crate) ic: usize,
    pub(crate) oh: usize,
    pub(crate) ow: usize,
    pub(crate) oc: usize,
    pub(crate) fh: usize,
    pub(crate) fw: usize,
    pub(crate) ph: i64,
    pub(crate) pw: i64,
    pub(crate) w: Window,
    pub(crate) depthwise: Option<usize>,
}

impl Geometry {
    /// Input pixel `(iy, ix)` under filter tap `(ky, kx)` of output
    /// `(oy, ox)`, or `None` in the padding.
    #[inline(always)]
    pub(crate) fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let iy = oy as i64 * self.w.stride_h as i64 - self.ph + (ky * self.w.dilation_h) as i64;
        let ix = ox as i64 * self.w.stride_w as i64 - self.pw + (kx * self.w.dilation_w) as i64;
        if iy < 0 || ix < 0 || iy as usize >= self.ih || ix as usize >= self.iw {
            None
        } else {
            Some(iy as usize * self.iw + ix as usize)
        }
    }
}

/// int32 sums `Σ (f - z_f)(x - z_x)` (no bias) of output channels
/// `o0..o0 + acc.len()` at pixel `(oy, ox)`: the plain loops of TFLite's
/// reference kernels, the specification of the other loops.
fn pixel_reference(
    g: &Geometry,
    v: &Operands<'_>,
    oy: usize,
    ox: usize,
    o0: usize,
    acc: &mut [i32],
) {
    let (xv, fv) = (|i: usize| v.x_at(i), |i: usize| v.f_at(i));
    for (k, a) in acc.iter_mut().enumerate() {
        let o = o0 + k;
        for ky in 0..g.fh {
            for kx in 0..g.fw {
                let Some(p) = g.tap(oy, ox, ky, kx) else {
                    continue;
                };
                let px = p * g.ic;
                match g.depthwise {
                    None => {
                        let fo = ((o * g.fh + ky) * g.fw + kx) * g.ic;
                        for c in 0..g.ic {
                            *a = a.wrapping_add(fv(fo + c) * xv(px + c));
                        }
                    }
                    Some(m) => {
                        let c = o / m;
                        *a = a.wrapping_add(fv((ky * g.fw + kx) * g.oc + o) * xv(px + c));
                    }
                }
            }
        }
    }
}

/// The sums of [`pixel_reference`] without copies of input or filter: for
/// a full convolution, each tap's input channels are offset into i16 on
/// the stack (256 at a time) and `Σ (f - z_f)(x - z_x)` is formed as
/// `Σ f·x' - z_f·Σ x'` with `x' = x - z_x` (exact in integers, so equal to
/// the reference bit for bit). Depthwise convolutions run taps outer and
/// channels inner (one product per tap and channel, contiguous rows).
fn pixel_direct(g: &Geometry, v: &Operands<'_>, oy: usize, ox: usize, o0: usize, acc: &mut [i32]) {
    let Operands {
        x,
        in_off,
        x_flip,
        f,
        f_off,
        f_flip,
    } = *v;
    match g.depthwise {
        // Depth multipliers above 1 (no model at hand uses them) take the
        // specification's loops.
        Some(m) if m != 1 => return pixel_reference(g, v, oy, ox, o0, acc),
        Some(_) => {
            // Taps outer, channels inner: contiguous input and filter rows.
            let n = acc.len();
            for ky in 0..g.fh {
                for kx in 0..g.fw {
                    let Some(p) = g.tap(oy, ox, ky, kx) else {
                        continue;
                    };
                    let fo = (ky * g.fw + kx) * g.oc + o0;
                    let xs = &x[p * g.ic + o0..p * g.ic + o0 + n];
                    for ((a, &xb), &fb) in acc.iter_mut().zip(xs).zip(&f[fo..fo + n]) {
                        let prod =
                            (i32::from(xb ^ x_flip) + in_off) * (i32::from(fb ^ f_flip) + f_off);
                        *a = a.wrapping_add(prod);
                    }
                }
            }
            return;
        }
        None => {}
    }
    const SPAN: usize = 256;
    let mut xb = [0i16; SPAN];
    for ky in 0..g.fh {
        for kx in 0..g.fw {
            let Some(p) = g.tap(oy, ox, ky, kx) else {
                continue;
            };
            let mut c0 = 0;
            while c0 < g.ic {
                let n = (g.ic - c0).min(SPAN);
                let xs = &mut xb[..n];
                let mut sum = 0i32;
                for (d, &b) in xs.iter_mut().zip(&x[p * g.ic + c0..p * g.ic + c0 + n]) {
                    *d = (i32::from(b ^ x_flip) + in_off) as i16;
                    sum += i32::from(*d);
                }
                for (k, a) in acc.iter_mut().enumerate() {
                    let fo = (((o0 + k) * g.fh + ky) * g.fw + kx) * g.ic + c0;
                    let d = dot_i16(xs, &f[fo..fo + n], |b| i32::from(b ^ f_flip));
                    *a = a.wrapping_add(d).wrapping_add(f_off.wrapping_mul(sum));
                }
                c0 += n;
            }
        }
    }
}

/// `Σ a_i val(b_i)` with wrapping i32 sums in 16 lanes (vectorised).
#[inline(always)]
fn dot_i16<B: Copy>(a: &[i16], b: &[B], val: impl Fn(B) -> i32) -> i32 {
    let mut s = [0i32; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..16 {
            s[k] = s[k].wrapping_add(i32::from(x[k]) * val(y[k]));
        }
    }
    let mut t = s.iter().fold(0i32, |p, &v| p.wrapping_add(v));
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        t = t.wrapping_add(i32::from(*x) * val(*y));
    }
    t
}

/// `QuantizeMultiplierSmallerThanOneExp`: `(q, shift)` with `shift <= 0`.
fn quantize_small(m: f64) -> (i32, i32) {
    quantize_multiplier(m)
}

/// Left shift of both ADD operands before rescaling (TFLite's uint8 ADD).
pub(crate) const ADD_LEFT_SHIFT: i32 = 20;

/// The three `(multiplier, shift)` pairs of an ADD, as TFLite's Prepare
/// computes them: the float maximum of the input scales times 2 (in
/// float), the divisions in double.
pub(crate) fn add_multipliers(
    ta: &Tensor<'_>,
    tb: &Tensor<'_>,
    to: &Tensor<'_>,
) -> [(i32, i32); 3] {
    let twice_max = f64::from(2.0 * ta.scale.max(tb.scale));
    [
        quantize_small(f64::from(ta.scale) / twice_max),
        quantize_small(f64::from(tb.scale) / twice_max),
        quantize_small(twice_max / f64::from((1i32 << ADD_LEFT_SHIFT) as f32 * to.scale)),
    ]
}

/// `(multiplier, shift)` of QUANTIZE between 8-bit types: `s_in / s_out`.
pub(crate) fn requantize_multiplier(ti: &Tensor<'_>, to: &Tensor<'_>) -> (i32, i32) {
    quantize_multiplier(f64::from(ti.scale) / f64::from(to.scale))
}

/// `(multiplier, shift)` of a MEAN over `n` values: LiteRT's reference
/// kernel folds `1 / n` into the multiplier of `s_in / s_out` as an integer
/// division after a left shift by `floor(log2 n)` (at most 32, and at most
/// 31 + its shift).
pub(crate) fn mean_multiplier(ti: &Tensor<'_>, to: &Tensor<'_>, n: usize) -> (i32, i32) {
    let n = (n as i64).max(1);
    let (q, shift) = requantize_multiplier(ti, to);
    let k = (63 - (n as u64).leading_zeros() as i32)
        .min(32)
        .min(31 + shift);
    (((i64::from(q) << k) / n) as i32, shift - k)
}

/// The constants of one uint8/int8 ADD (see [`add_multipliers`]).
#[derive(Clone, Copy)]
struct AddParams {
    mult: [(i32, i32); 3],
    zeros: [i32; 3],
    flips: [u8; 3],
    range: (i32, i32),
}

impl AddParams {
    /// TFLite's reference arithmetic for one pair of stored bytes: the
    /// specification of [`add_u8_avx2`].
    #[inline(always)]
    fn one(&self, x: u8, y: u8) -> u8 {
        let [(m1, s1), (m2, s2), (mo, so)] = self.mult;
        let x = (i32::from(x ^ self.flips[0]) - self.zeros[0]) * (1 << ADD_LEFT_SHIFT);
        let y = (i32::from(y ^ self.flips[1]) - self.zeros[1]) * (1 << ADD_LEFT_SHIFT);
        let sx = multiply_by_quantized_multiplier(x, m1, s1);
        let sy = multiply_by_quantized_multiplier(y, m2, s2);
        let raw = multiply_by_quantized_multiplier(sx.wrapping_add(sy), mo, so) + self.zeros[2];
        raw.max(self.range.0).min(self.range.1) as u8 ^ self.flips[2]
    }
}

fn add_u8(
    a: &[u8],
    b: &[u8],
    out: &mut [u8],
    ta: &Tensor<'_>,
    tb: &Tensor<'_>,
    to: &Tensor<'_>,
    act: Activation,
) {
    let p = AddParams {
        mult: add_multipliers(ta, tb, to),
        zeros: [zp(ta), zp(tb), zp(to)],
        flips: [flip(ta), flip(tb), flip(to)],
        range: act_range(act, to),
    };
    // The leading bytes the vector kernel wrote.
    #[cfg(target_arch = "x86_64")]
    // SAFETY: AVX2 is checked first.
    let done = match crate::arch::avx2_available() {
        true => unsafe { add_u8_avx2(a, b, out, &p) },
        false => 0,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b).skip(done) {
        *o = p.one(x, y);
    }
}

/// [`AddParams::one`] eight bytes at a time (the three rescalings by
/// [`mbqm8_avx2`]); returns how many leading bytes it wrote (a multiple of
/// eight), the rest is left to the caller.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_u8_avx2(a: &[u8], b: &[u8], out: &mut [u8], p: &AddParams) -> usize {
    use core::arch::x86_64::*;
    let n = out.len().min(a.len()).min(b.len()) / 8 * 8;
    let set = _mm256_set1_epi32;
    // Each rescaling's constants in every lane (see `mbqm8_avx2`).
    let parts = |(q, shift): (i32, i32)| {
        let (pos, neg, s, corr) = one_rounding(shift);
        let wide = |v: i64| [_mm256_set1_epi64x(v); 2];
        let k = (
            (set(q), set(q)),
            set(shift.max(0) & 31),
            [wide(pos), wide(neg), wide(s)],
        );
        (k, set(corr))
    };
    let [ma, mb, mo] = p.mult.map(parts);
    let rescale = |x: __m256i, ((q, left, k), corr): ((_, _, _), __m256i)| {
        _mm256_sub_epi32(mbqm8_avx2(x, q, left, k), corr)
    };
    let widen = |src: &[u8], i: usize, flip: u8, zero: i32| {
        // SAFETY: `i + 8 <= n <= src.len()`.
        let v = unsafe { _mm_loadl_epi64(src.as_ptr().add(i).cast()) };
        let v = _mm256_cvtepu8_epi32(_mm_xor_si128(v, _mm_set1_epi8(flip as i8)));
        _mm256_slli_epi32::<ADD_LEFT_SHIFT>(_mm256_sub_epi32(v, set(zero)))
    };
    let mut i = 0;
    while i < n {
        let x = widen(a, i, p.flips[0], p.zeros[0]);
        let y = widen(b, i, p.flips[1], p.zeros[1]);
        let sum = _mm256_add_epi32(rescale(x, ma), rescale(y, mb));
        let r = _mm256_add_epi32(rescale(sum, mo), set(p.zeros[2]));
        let r = _mm256_min_epi32(_mm256_max_epi32(r, set(p.range.0)), set(p.range.1));
        // SAFETY: `i + 8 <= n <= out.len()`.
        unsafe { _mm_storel_epi64(out.as_mut_ptr().add(i).cast(), bytes8_avx2(r, p.flips[2])) };
        i += 8;
    }
    n
}

// ---- gemmlowp-style fixed point for the uint8 softmax ------------------

/// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31 in and out.
fn exp_quarter(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
    const ONE_THIRD: i32 = 715_827_883;
    let x = a.wrapping_add(1 << 28); // a + 1/8
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = rounding_divide_by_pot(x4, 2);
    let poly = rounding_divide_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// `exp(a)` for `a <= 0` given in Q5.26; result Q0.31.
pub fn exp_negative(a: i32) -> i32 {
    const FRAC: i32 = 26;
    let quarter = 1i32 << (FRAC - 2);
    let mask = quarter - 1;
    let a_mod = (a & mask).wrapping_sub(quarter);
    let mut result = exp_quarter(mul_pot(a_mod, 5));
    let remainder = a_mod.wrapping_sub(a);
    const BARREL: [(i32, i32); 7] = [
        (-2, 1_672_461_947),
        (-1, 1_302_514_674),
        (0, 790_015_084),
        (1, 290_630_308),
        (2, 39_332_535),
        (3, 720_401),
        (4, 242),
    ];
    for (e, mult) in BARREL {
        if remainder & (1 << (FRAC + e)) != 0 {
            result = srdhm(result, mult);
        }
    }
    if a == 0 {
        i32::MAX
    } else {
        result
    }
}

/// `1 / (1 + x)` for `x` in `[0, 1)`, Q0.31 in and out (Newton-Raphson).
pub fn one_over_one_plus_x(a: i32) -> i32 {
    let half_denominator = {
        let sum = i64::from(a) + i64::from(i32::MAX);
        let sign = if sum >= 0 { 1 } else { -1 };
        ((sum + sign) / 2) as i32
    };
    const C48_17: i32 = 1_515_870_810; // Q2.29
    const CNEG32_17: i32 = -1_010_580_540;
    let one_q2: i32 = 1 << 29;
    let mut x = C48_17.wrapping_add(srdhm(half_denominator, CNEG32_17));
    for _ in 0..3 {
        let hdx = srdhm(half_denominator, x);
        let one_minus = one_q2.wrapping_sub(hdx);
        x = x.wrapping_add(mul_pot(srdhm(x, one_minus), 2));
    }
    mul_pot(x, 1)
}

/// Integer bits of the softmax's exponential sums (gemmlowp Q12.19).
pub(crate) const SOFTMAX_ACC_BITS: i32 = 12;

/// The prepared constants of a uint8 softmax.
pub(crate) struct SoftmaxParams {
    /// Multiplier of the input differences.
    pub mult: i32,
    /// Left shift of the differences before it, in `0..=31`.
    pub left: i32,
    /// Differences below this contribute nothing.
    pub diff_min: i32,
}

/// TFLite's `PreprocessSoftmaxScaling` and `CalculateInputRadius` for 5
/// integer bits of input difference.
pub(crate) fn softmax_params(beta: f32, scale: f32) -> SoftmaxParams {
    const DIFF_BITS: i32 = 5;
    let real = (f64::from(beta) * f64::from(scale) * f64::from(1u32 << (31 - DIFF_BITS)))
        .min(2_147_483_647.0);
    let (mult, left) = quantize_multiplier(real);
    let max_rescaled = f64::from((1 << DIFF_BITS) - 1) * (1i64 << (31 - DIFF_BITS)) as f64
        / (1i64 << left.clamp(0, 62)) as f64;
    SoftmaxParams {
        mult,
        left: left.clamp(0, 31),
        diff_min: -(libm::floor(max_rescaled) as i32),
    }
}

fn softmax_u8(x: &[u8], out: &mut [u8], flips: (u8, u8), depth: usize, beta: f32, scale: f32) {
    let (fi, fo) = flips;
    let SoftmaxParams {
        mult,
        left,
        diff_min,
    } = softmax_params(beta, scale);
    // exp of a difference depends on the difference alone (0..=255 below
    // the row's maximum): each row fills a table once, as far as it needs.
    let mut table = [0i32; 256];
    for (row, orow) in x.chunks(depth).zip(out.chunks_mut(depth)) {
        let max = row.iter().map(|&v| i32::from(v ^ fi)).max().unwrap_or(0);
        let min = row.iter().map(|&v| i32::from(v ^ fi)).min().unwrap_or(0);
        for (d, e) in table.iter_mut().enumerate().take((max - min) as usize + 1) {
            let diff = -(d as i32);
            *e = match diff >= diff_min {
                true => exp_negative(srdhm(
                    diff.wrapping_mul(1i32.wrapping_shl(left as u32)),
                    mult,
                )),
                false => 0,
            };
        }
        let exp = |v: u8| table[(max - i32::from(v ^ fi)) as usize];
        let mut sum = 0i32;
        for &v in row {
            if i32::from(v ^ fi) - max >= diff_min {
                sum = sum.wrapping_add(rounding_divide_by_pot(exp(v), SOFTMAX_ACC_BITS));
            }
        }
        let headroom = (sum as u32).leading_zeros().min(31) as i32;
        let bits_over_unit = SOFTMAX_ACC_BITS - headroom;
        let shifted = ((sum as u32) << headroom).wrapping_sub(1u32 << 31) as i32;
        let recip = one_over_one_plus_x(shifted);
        for (o, &v) in orow.iter_mut().zip(row) {
            *o = if i32::from(v ^ fi) - max >= diff_min {
                rounding_divide_by_pot(srdhm(recip, exp(v)), bits_over_unit + 31 - 8).clamp(0, 255)
                    as u8
            } else {
                0
            } ^ fo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 requantization against the scalar specification on
    /// random sums, biases, multipliers and shifts (every shift TFLite can
    /// produce and beyond), including the extremes of i32.
    /// The AVX2 pair packing of the 1 x 1 kernel's input equals its scalar
    /// specification on lengths around the 16-byte step, both byte flips.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn pack_pairs_avx2_equals_scalar() {
        if !crate::arch::avx2_available() {
            return;
        }
        for len in [0usize, 1, 2, 15, 16, 17, 30, 32, 33, 64, 98] {
            let xs: Vec<u8> = (0..len).map(|i| (i * 73 + 11) as u8).collect();
            for (flip, off) in [(0u8, -128i32), (0x80, 0), (0, -3)] {
                let mut a = vec![7i32; len.div_ceil(2)];
                let mut b = a.clone();
                pack_pairs(&xs, flip, off, &mut a);
                // SAFETY: AVX2 was checked.
                unsafe { pack_pairs_avx2(&xs, flip, off, &mut b) };
                assert_eq!(a, b, "len {len} flip {flip} off {off}");
            }
        }
    }

    /// The AVX2 patch packing equals its scalar specification: windows
    /// 1 x 1 to 5 x 3 with 1 to 5 input channels (rows up to 15 bytes),
    /// strides 1 and 2, SAME and VALID sizes, both byte flips; every
    /// pixel of every block, with the odd last value's zero.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn pack_patches_avx2_equals_scalar() {
        if !crate::arch::avx2_available() {
            return;
        }
        let mut cases = 0;
        for (fh, fw, ic, s, same, flip) in [
            (3, 3, 3, 2, true, 0u8),
            (3, 3, 3, 1, false, 0x80),
            (1, 1, 5, 1, true, 0),
            (5, 3, 5, 2, true, 0x80),
            (2, 5, 3, 1, true, 0),
            (3, 2, 1, 2, false, 0),
        ] {
            let (ih, iw) = (9usize, 7usize);
            let (oh, ow) = match same {
                true => (ih.div_ceil(s), iw.div_ceil(s)),
                false => ((ih - fh) / s + 1, (iw - fw) / s + 1),
            };
            let w = Window {
                padding: super::super::Padding::Same,
                stride_w: s,
                stride_h: s,
                dilation_w: 1,
                dilation_h: 1,
            };
            let g = Geometry {
                ih,
                iw,
                ic,
                oh,
                ow,
                oc: 16,
                fh,
                fw,
                ph: pad(s, 1, ih, fh, oh),
                pw: pad(s, 1, iw, fw, ow),
                w,
                depthwise: None,
            };
            let x: Vec<u8> = (0..ih * iw * ic).map(|i| (i * 89 + 5) as u8).collect();
            let v = Operands {
                x: &x,
                in_off: -77,
                x_flip: flip,
                f: &[],
                f_off: 0,
                f_flip: 0,
            };
            let buf = padded_input(&g, &v);
            let pairs = (fh * fw * ic).div_ceil(2);
            let mut patch = vec![0i16; 2 * pairs];
            for p0 in (0..oh * ow).step_by(PB) {
                let n = (oh * ow - p0).min(PB);
                let mut a = vec![-1i32; PB * pairs + 8];
                let mut b = a.clone();
                pack_patches(&g, &v, &buf, p0, n, pairs, &mut patch, &mut a);
                // SAFETY: AVX2 was checked; `buf` and `b` carry the slack
                // and the window rows are at most 15 bytes.
                unsafe { pack_patches_avx2(&g, &v, &buf, p0, n, pairs, &mut b) };
                assert_eq!(
                    a[..n * pairs],
                    b[..n * pairs],
                    "{fh}x{fw}x{ic} s{s} p0 {p0}"
                );
                cases += 1;
            }
        }
        assert!(cases > 20);
    }

    /// The AVX2 ADD equals its scalar specification on random multipliers
    /// (every shift an ADD can have and beyond), zero points, byte flips,
    /// activation ranges and lengths around the 8-byte step.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn add_avx2_equals_scalar() {
        if !crate::arch::avx2_available() {
            return;
        }
        let mut rng = crate::rng::Rng::new(7);
        let mut byte = || (rng.next_u64() >> 56) as u8;
        let mut checked = 0;
        for round in 0..3000 {
            let mut r = crate::rng::Rng::new(round);
            let mut mult = || {
                let q = (1 << 30) + (r.next_u64() % (1 << 30)) as i32;
                (q, (r.next_u64() % 40) as i32 - 36)
            };
            let mult = [mult(), mult(), mult()];
            let (lo, hi) = (round as i32 % 7, 255 - round as i32 % 5);
            let flips = [0u8, 0x80, 0, 0x80][round as usize % 4];
            let p = AddParams {
                mult,
                zeros: [
                    (round * 37 % 256) as i32,
                    (round * 91 % 256) as i32,
                    (round % 256) as i32,
                ],
                flips: [flips, flips ^ (0x80 * u8::from(round % 3 == 0)), flips],
                range: (lo, hi),
            };
            let n = (round % 41) as usize;
            let a: Vec<u8> = (0..n).map(|_| byte()).collect();
            let b: Vec<u8> = (0..n).map(|_| byte()).collect();
            let want: Vec<u8> = a.iter().zip(&b).map(|(&x, &y)| p.one(x, y)).collect();
            let mut got = vec![0u8; n];
            // SAFETY: AVX2 was checked.
            let done = unsafe { add_u8_avx2(&a, &b, &mut got, &p) };
            assert_eq!(done, n / 8 * 8);
            assert_eq!(got[..done], want[..done], "round {round}");
            checked += done;
        }
        assert!(checked > 40_000);
    }

    /// The vector requantization against the scalar specification where
    /// the arithmetic is most at risk: sums on and next to
    /// the rounding ties of both roundings (`x ≈ (k + 1/2) / M` and
    /// `x·q ≈ (j + 1/2)·2^31`), for multipliers from 2^-14 to 1/2, outputs
    /// across the whole byte range, and sums large enough to lose f32
    /// precision.
    #[test]
    fn vector_requantization_near_rounding_ties() {
        let mut rng = crate::rng::Rng::new(5);
        let mut checked = 0;
        for round in 0..3000 {
            let m = libm::ldexp(0.5 + 0.5 * rng.next_f64(), -(round % 14) - 1);
            let (q, s) = quantize_multiplier(m);
            let zero = (rng.next_u64() % 256) as i32;
            let ch = Channels::from_parts(vec![0; 8], vec![q; 8], vec![s; 8], zero, (0, 255), 0);
            let k = (rng.next_u64() % 600) as f64 - 300.0;
            let mut acc: Vec<i32> = (0..8)
                .map(|j| match round % 3 {
                    // Next to a tie of the final rounding.
                    0 => ((k + 0.5) / m) as i32 + j - 4,
                    // Next to a tie of the first (x·q = (i + 1/2)·2^31).
                    1 => {
                        let i = (k / m * f64::from(q) / 2_147_483_648.0) as i64 + j as i64;
                        (((i as f64 + 0.5) * 2_147_483_648.0 / f64::from(q)) as i64) as i32
                    }
                    // Beyond f32's 24 bits.
                    _ => (rng.next_u64() as i32) >> (rng.next_u64() % 8),
                })
                .collect();
            if round % 5 == 0 {
                acc.reverse();
            }
            let (mut a, mut b) = (vec![0u8; 8], vec![0u8; 8]);
            ch.store_scalar(&acc, 0, &mut a);
            ch.store(&acc, 0, &mut b, true);
            assert_eq!(a, b, "round {round} m {m} acc {acc:?}");
            checked += a.iter().filter(|&&v| v != 0 && v != 255).count();
        }
        // Most outputs inside the byte range, not saturated.
        assert!(checked > 5_000, "{checked}");
    }

    /// The one-rounding form equals TFLite's two roundings for every shift
    /// from +8 to -40, on sums at the extremes of i32, random ones of every
    /// magnitude, and ones next to both roundings' ties.
    #[test]
    fn one_rounding_equals_two() {
        let mut rng = crate::rng::Rng::new(11);
        for shift in -40..=8 {
            for k in 0..4000u32 {
                let q = match k % 5 {
                    0 => 1 << 30,
                    1 => i32::MAX,
                    2 => 0,
                    _ => (1 << 30) + (rng.next_u64() % (1 << 30)) as i32,
                };
                let x = match k % 9 {
                    0 => i32::MAX,
                    1 => i32::MIN,
                    2 => 0,
                    3 => -1,
                    // x·q next to (j + 1/2)·2^31.
                    4 => {
                        let j = (rng.next_u64() % 4096) as i64 - 2048;
                        (((j << 31) + (1 << 30)) / i64::from(q.max(1))) as i32 + (k % 3) as i32 - 1
                    }
                    _ => (rng.next_u64() as i32) >> (rng.next_u64() % 32),
                };
                assert_eq!(
                    mbqm_one_rounding(x, q, shift),
                    multiply_by_quantized_multiplier(x, q, shift),
                    "x {x} q {q} shift {shift}"
                );
            }
        }
    }

    #[test]
    fn vector_requantization_equals_the_scalar_specification() {
        let mut rng = crate::rng::Rng::new(42);
        let mut checked = 0;
        for round in 0..4000 {
            let n = 8 * (1 + round % 4);
            let zero = (rng.next_u64() % 256) as i32;
            let flip = if round % 2 == 0 { 0 } else { 0x80 };
            let lo = (rng.next_u64() % 100) as i32;
            let range = (lo, lo + (rng.next_u64() % 156) as i32);
            let (mut bias, mut qs, mut shifts) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..n {
                // A quarter exact powers of two (q = 2^30): products of odd
                // sums then sit exactly on a rounding tie.
                let frac = if rng.next_u64().is_multiple_of(4) {
                    0.5
                } else {
                    0.5 + 0.5 * rng.next_f64()
                };
                let m = libm::ldexp(frac, (rng.next_u64() % 48) as i32 - 40);
                let (q, s) = quantize_multiplier(if rng.next_u64().is_multiple_of(50) {
                    0.0
                } else {
                    m
                });
                qs.push(q);
                shifts.push(s);
                bias.push((rng.next_u64() as i32) >> (rng.next_u64() % 32));
            }
            let ch = Channels::from_parts(bias, qs, shifts, zero, range, flip);
            let acc: Vec<i32> = (0..n)
                .map(|k| match (round + k) % 7 {
                    0 => i32::MAX,
                    1 => i32::MIN,
                    2 => 0,
                    _ => (rng.next_u64() as i32) >> (rng.next_u64() % 32),
                })
                .collect();
            let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
            ch.store_scalar(&acc, 0, &mut a);
            ch.store(&acc, 0, &mut b, true);
            assert_eq!(a, b, "round {round}");
            checked += n;
        }
        assert!(checked > 50_000);
    }
}
