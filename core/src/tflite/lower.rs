//! A quantized model lowered to a list of integer kernel launches, for
//! accelerators (the WGSL kernels in `wgsl/quantized.wgsl`, run by
//! `shoal-host-gpu` natively and by the web page in the browser).
//!
//! Lowering does on the CPU, once, everything that needs floating point or
//! 64-bit integers: TFLite's fixed-point multipliers and shifts of every
//! output channel, activation ranges, padding, the softmax constants. What
//! remains for the device is integer arithmetic on 32-bit values, so a
//! device that follows [`kernels`]' definitions gives the
//! CPU engine's bytes exactly.
//!
//! Layout contract shared with the WGSL source:
//!
//! - The **arena** is an array of `u32`, one per tensor element, holding the
//!   element in the *uint8 view* (int8 values with the sign bit flipped, see
//!   [`kernels::flip`](super::kernels)), or a float32's bits. Tensors sit at
//!   the byte offsets of [`Model::plan`] read as element indices; image `b`
//!   of a batch uses `arena[b·arena_len..]`.
//! - **Constants** ([`Lowered::consts`]) are `u32` words: filter bytes (in
//!   the uint8 view) packed four to a word, little-endian, each filter
//!   starting on a word; and per-output-channel tables of three `i32`
//!   words `(bias, multiplier, shift)`.
//! - Each [`Step`] carries [`PARAMS`] `i32` parameters (slot meanings per
//!   [`Kernel`] below), and slots [`SLOT_ROW`], [`SLOT_THREADS`],
//!   [`SLOT_ARENA`] common to all: the dispatcher writes the number of
//!   threads per dispatch row into [`SLOT_ROW`].
//!
//! ```
//! # fn demo(bytes: &[u8]) -> Result<(), shoal_core::tflite::TfliteError> {
//! use shoal_core::tflite::Model;
//! let model = Model::parse(bytes)?;
//! let lowered = model.lower()?;
//! for step in &lowered.steps {
//!     // one dispatch of `step.kernel.entry_point()` over `step.threads` threads
//!     let _ = (step.kernel.entry_point(), step.threads, &step.params);
//! }
//! # Ok(()) }
//! # let model = include_bytes!("../../../tests/ref/tflite/tiny.tflite");
//! # demo(model).unwrap();
//! ```

use alloc::vec::Vec;

use super::kernels::{self, ConvSpec, Kind};
use super::{Model, Op, TfliteError};

/// Parameters per step.
pub const PARAMS: usize = 32;
/// Slot: threads per dispatch row (written by the dispatcher).
pub const SLOT_ROW: usize = 29;
/// Slot: number of threads (outputs) of the step.
pub const SLOT_THREADS: usize = 30;
/// Slot: arena elements per image (the batch stride).
pub const SLOT_ARENA: usize = 31;

/// Which WGSL entry point a step runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kernel {
    /// CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: one thread per pixel
    /// and group of four output channels. Slots: 0 input, 1 output, 2 ih, 3 iw, 4 ic, 5 oh, 6 ow,
    /// 7 oc, 8 fh, 9 fw, 10 stride h, 11 stride w, 12 dilation h,
    /// 13 dilation w, 14 pad top, 15 pad left, 16 depth multiplier (0: full
    /// convolution), 17 input zero point, 18 filter zero point, 19 output
    /// zero point, 20 clamp low, 21 clamp high, 22 filter byte offset in
    /// the constants, 23 word offset of the channel table, 24 groups of
    /// four channels.
    Conv,
    /// AVERAGE_POOL_2D, one thread per output value. Slots: 0 input,
    /// 1 output, 2 ih, 3 iw, 4 channels, 5 oh, 6 ow, 7 fh, 8 fw,
    /// 9 stride h, 10 stride w, 11 pad top, 12 pad left, 13 offset of the
    /// stored values' rounding origin (128 for int8), 14 low, 15 high.
    AvgPool,
    /// ADD, one thread per value. Slots: 0 a, 1 b, 2 output, 3 zero a,
    /// 4 zero b, 5 zero out, 6/7 multiplier/shift a, 8/9 b, 10/11 output,
    /// 12 low, 13 high.
    Add,
    /// MEAN over height and width, one thread per channel. Slots: 0 input,
    /// 1 output, 2 pixels, 3 channels, 4 zero in, 5 zero out, 6 multiplier,
    /// 7 shift.
    Mean,
    /// QUANTIZE, one thread per value. Slots: 0 input, 1 output, 2 zero in,
    /// 3 zero out, 4 multiplier, 5 shift.
    Quantize,
    /// PAD, one thread per output value. Slots: 0 input, 1 output, 2 ih,
    /// 3 iw, 4 ic, 5 ow, 6 oc, 7 top, 8 left, 9 channels before, 10 fill.
    Pad,
    /// RESHAPE: a copy. Slots: 0 input, 1 output.
    Copy,
    /// SOFTMAX, one thread per row. Slots: 0 input, 1 output, 2 depth,
    /// 3 multiplier, 4 left shift, 5 smallest difference counted.
    Softmax,
    /// HARD_SWISH, one thread per value. Slots: 0 input, 1 output, 2 zero
    /// in, 3 zero out, 4/5 output multiplier (Q0.15) and exponent, 6/7 the
    /// relu-ish multiplier and exponent.
    HardSwish,
    /// CONCATENATION with the inputs' quantization equal to the output's
    /// (a copy), one thread per output value. Slots: 0 a, 1 b, 2 output,
    /// 3/4 the blocks of a and b per outer index.
    Concat,
    /// DEQUANTIZE to float32 (the arena element holds the float's bits),
    /// one thread per value. Slots: 0 input, 1 output, 2 zero point, 3 the
    /// scale's f32 bits.
    Dequantize,
}

impl Kernel {
    /// The WGSL entry point.
    pub fn entry_point(self) -> &'static str {
        match self {
            Kernel::Conv => "q_conv",
            Kernel::AvgPool => "q_avg_pool",
            Kernel::Add => "q_add",
            Kernel::Mean => "q_mean",
            Kernel::Quantize => "q_quantize",
            Kernel::Pad => "q_pad",
            Kernel::Copy => "q_copy",
            Kernel::Softmax => "q_softmax",
            Kernel::HardSwish => "q_hard_swish",
            Kernel::Concat => "q_concat",
            Kernel::Dequantize => "q_dequantize",
        }
    }

    /// Every kernel, for building pipelines up front.
    pub const ALL: [Kernel; 11] = [
        Kernel::Conv,
        Kernel::AvgPool,
        Kernel::Add,
        Kernel::Mean,
        Kernel::Quantize,
        Kernel::Pad,
        Kernel::Copy,
        Kernel::Softmax,
        Kernel::HardSwish,
        Kernel::Concat,
        Kernel::Dequantize,
    ];
}

/// One kernel launch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The kernel.
    pub kernel: Kernel,
    /// Its parameters (see [`Kernel`]).
    pub params: [i32; PARAMS],
    /// Threads to launch (per image).
    pub threads: u32,
}

/// Where a graph input or output lives in the arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First element.
    pub offset: usize,
    /// Elements.
    pub len: usize,
    /// Byte mask between the stored bytes and the arena's uint8 view.
    pub flip: u8,
    /// Float32 values (each arena element holds a float's bits) instead
    /// of 8-bit ones.
    pub float: bool,
}

/// A model as integer kernel launches (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lowered {
    /// The launches, in order.
    pub steps: Vec<Step>,
    /// Filters and channel tables.
    pub consts: Vec<u32>,
    /// Arena elements per image.
    pub arena_len: usize,
    /// Graph input 0.
    pub input: Region,
    /// Graph output 0.
    pub output: Region,
}

/// Most values a single kernel parameter may hold.
fn slot(v: usize) -> Result<i32, TfliteError> {
    i32::try_from(v).map_err(|_| TfliteError::TooLarge)
}

/// Appends `bytes` (masked by `flip`) to `consts`, word aligned; returns
/// their byte offset.
fn push_bytes(consts: &mut Vec<u32>, bytes: &[u8], flip: u8) -> Result<i32, TfliteError> {
    let at = slot(consts.len().checked_mul(4).ok_or(TfliteError::TooLarge)?)?;
    consts.extend(bytes.chunks(4).map(|c| {
        c.iter()
            .rev()
            .fold(0u32, |w, &b| (w << 8) | u32::from(b ^ flip))
    }));
    Ok(at)
}

impl Model<'_> {
    /// Lowers the model to integer kernel launches over the arena of
    /// [`Model::plan`] (see [`lower`](self)).
    ///
    /// # Errors
    /// [`TfliteError::BadGraph`] for a graph without input or output,
    /// [`TfliteError::TooLarge`] when an offset or a MEAN's sum would not
    /// fit 32-bit kernel arithmetic.
    // Tensor indices were checked by `idx` while parsing and shapes by
    // `validate`.
    #[allow(clippy::indexing_slicing)]
    pub fn lower(&self) -> Result<Lowered, TfliteError> {
        use kernels::{act_range, flip, zp};
        let plan = self.plan()?;
        let t = |i: usize| &self.tensors[i];
        let at = |i: usize| -> Result<i32, TfliteError> {
            plan.region(i)
                .ok_or(TfliteError::BadGraph("tensor has no place in the plan"))
                .and_then(|(o, _)| slot(o))
        };
        let region = |k: Option<&usize>| -> Result<Region, TfliteError> {
            let i = *k.ok_or(TfliteError::BadGraph("no input or output"))?;
            // Arena element index = the plan's byte offset (a float32
            // tensor uses the first quarter of its planned bytes).
            let (offset, _) = plan
                .region(i)
                .ok_or(TfliteError::BadGraph("tensor has no place in the plan"))?;
            let float = t(i).dtype == super::DType::F32;
            Ok(Region {
                offset,
                len: t(i).len(),
                flip: flip(t(i)),
                float,
            })
        };
        let mut consts = Vec::new();
        let mut steps = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            if kernels::float_op(self, op) {
                return Err(TfliteError::NotLowerable("float32 operators"));
            }
            let mut p = [0i32; PARAMS];
            let (_, _, out) = kernels::op_io(op);
            let threads = t(out).len();
            let kernel = if let Some(c) = ConvSpec::of(op) {
                let g = kernels::geometry(self, &c);
                let (lo, hi) = act_range(c.act, t(c.output));
                let filter = t(c.filter).data.unwrap_or(&[]);
                let fo = push_bytes(&mut consts, filter, flip(t(c.filter)))?;
                let table = slot(consts.len())?;
                let bias = c.bias.and_then(|b| t(b).data).unwrap_or(&[]);
                let scales = (t(c.input).scale, &t(c.filter).scales[..], t(c.output).scale);
                for o in 0..g.oc {
                    let b = bias
                        .get(4 * o..4 * o + 4)
                        .map_or(0, |c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                    let (q, shift) = kernels::channel_multiplier(scales, o);
                    consts.extend([b as u32, q as u32, shift as u32]);
                }
                let w = g.w;
                let vals = [
                    at(c.input)?,
                    at(c.output)?,
                    slot(g.ih)?,
                    slot(g.iw)?,
                    slot(g.ic)?,
                    slot(g.oh)?,
                    slot(g.ow)?,
                    slot(g.oc)?,
                    slot(g.fh)?,
                    slot(g.fw)?,
                    slot(w.stride_h)?,
                    slot(w.stride_w)?,
                    slot(w.dilation_h)?,
                    slot(w.dilation_w)?,
                    i32::try_from(g.ph).map_err(|_| TfliteError::TooLarge)?,
                    i32::try_from(g.pw).map_err(|_| TfliteError::TooLarge)?,
                    match c.kind {
                        Kind::Depthwise(m) => slot(m)?,
                        _ => 0,
                    },
                    zp(t(c.input)),
                    zp(t(c.filter)),
                    zp(t(c.output)),
                    lo,
                    hi,
                    fo,
                    table,
                    slot(g.oc.div_ceil(4))?,
                ];
                p[..vals.len()].copy_from_slice(&vals);
                steps.push(Step {
                    kernel: Kernel::Conv,
                    params: p,
                    threads: u32::try_from(g.oh * g.ow * g.oc.div_ceil(4))
                        .map_err(|_| TfliteError::TooLarge)?,
                });
                continue;
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
                        let g =
                            kernels::pool_shape(t(input), t(output), &window, filter_h, filter_w);
                        let (ph, pw) = (g.ph, g.pw);
                        let (lo, hi) = act_range(act, t(output));
                        let vals = [
                            at(input)?,
                            at(output)?,
                            slot(g.ih)?,
                            slot(g.iw)?,
                            slot(g.c)?,
                            slot(g.oh)?,
                            slot(g.ow)?,
                            slot(filter_h)?,
                            slot(filter_w)?,
                            slot(window.stride_h)?,
                            slot(window.stride_w)?,
                            i32::try_from(ph).map_err(|_| TfliteError::TooLarge)?,
                            i32::try_from(pw).map_err(|_| TfliteError::TooLarge)?,
                            i32::from(flip(t(input))),
                            lo,
                            hi,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::AvgPool
                    }
                    Op::Add { a, b, output, act } => {
                        let [(m1, s1), (m2, s2), (mo, so)] =
                            kernels::add_multipliers(t(a), t(b), t(output));
                        let (lo, hi) = act_range(act, t(output));
                        let vals = [
                            at(a)?,
                            at(b)?,
                            at(output)?,
                            zp(t(a)),
                            zp(t(b)),
                            zp(t(output)),
                            m1,
                            s1,
                            m2,
                            s2,
                            mo,
                            so,
                            lo,
                            hi,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::Add
                    }
                    Op::Mean { input, output } => {
                        let (ih, iw, c) = kernels::dims(t(input));
                        let n = ih * iw;
                        // Sums of up to 255·n and zero-point products stay in i32.
                        if n >= (1 << 23) {
                            return Err(TfliteError::TooLarge);
                        }
                        let (q, shift) = kernels::mean_multiplier(t(input), t(output), n);
                        let vals = [
                            at(input)?,
                            at(output)?,
                            slot(n)?,
                            slot(c)?,
                            zp(t(input)),
                            zp(t(output)),
                            q,
                            shift,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        steps.push(Step {
                            kernel: Kernel::Mean,
                            params: p,
                            threads: u32::try_from(c).map_err(|_| TfliteError::TooLarge)?,
                        });
                        continue;
                    }
                    Op::Quantize { input, output } => {
                        let (q, shift) = kernels::requantize_multiplier(t(input), t(output));
                        let vals = [
                            at(input)?,
                            at(output)?,
                            zp(t(input)),
                            zp(t(output)),
                            q,
                            shift,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::Quantize
                    }
                    Op::Pad {
                        input,
                        output,
                        pads,
                    } => {
                        let (ih, iw, ic) = kernels::dims(t(input));
                        let (_, ow, oc) = kernels::dims(t(output));
                        let vals = [
                            at(input)?,
                            at(output)?,
                            slot(ih)?,
                            slot(iw)?,
                            slot(ic)?,
                            slot(ow)?,
                            slot(oc)?,
                            slot(pads[1].0)?,
                            slot(pads[2].0)?,
                            slot(pads[3].0)?,
                            zp(t(output)),
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::Pad
                    }
                    Op::Reshape { input, output } => {
                        p[0] = at(input)?;
                        p[1] = at(output)?;
                        Kernel::Copy
                    }
                    Op::Softmax {
                        input,
                        output,
                        beta,
                    } => {
                        let depth = t(input).shape.last().copied().unwrap_or(1).max(1);
                        let sp = kernels::softmax_params(beta, t(input).scale);
                        let vals = [
                            at(input)?,
                            at(output)?,
                            slot(depth)?,
                            sp.mult,
                            sp.left,
                            sp.diff_min,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        steps.push(Step {
                            kernel: Kernel::Softmax,
                            params: p,
                            threads: u32::try_from(t(input).len() / depth)
                                .map_err(|_| TfliteError::TooLarge)?,
                        });
                        continue;
                    }
                    Op::Dequantize { input, output } => {
                        let vals = [
                            at(input)?,
                            at(output)?,
                            zp(t(input)),
                            t(input).scale.to_bits() as i32,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::Dequantize
                    }
                    Op::HardSwish { input, output } => {
                        let hp = kernels::hard_swish_params(t(input), t(output));
                        let vals = [
                            at(input)?,
                            at(output)?,
                            hp.zero_in,
                            hp.zero_out,
                            hp.out_mult,
                            hp.out_exp,
                            hp.relu_mult,
                            hp.relu_exp,
                        ];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::HardSwish
                    }
                    Op::Concatenation { a, b, output, axis } => {
                        let same = |i: usize| {
                            t(i).scale == t(output).scale && t(i).zero_point == t(output).zero_point
                        };
                        if !same(a) || !same(b) {
                            return Err(TfliteError::NotLowerable(
                                "CONCATENATION that requantizes (float rounding)",
                            ));
                        }
                        let (_, na, nb) = kernels::concat_blocks(self, a, b, output, axis);
                        let vals = [at(a)?, at(b)?, at(output)?, slot(na)?, slot(nb)?];
                        p[..vals.len()].copy_from_slice(&vals);
                        Kernel::Concat
                    }
                    _ => return Err(TfliteError::BadGraph("operator without a kernel")),
                }
            };
            steps.push(Step {
                kernel,
                params: p,
                threads: u32::try_from(threads).map_err(|_| TfliteError::TooLarge)?,
            });
        }
        let arena_len = plan.arena_bytes().max(1);
        let stride = slot(arena_len)?;
        for s in &mut steps {
            s.params[SLOT_THREADS] = i32::try_from(s.threads).map_err(|_| TfliteError::TooLarge)?;
            s.params[SLOT_ARENA] = stride;
        }
        Ok(Lowered {
            steps,
            consts,
            arena_len,
            input: region(self.inputs.first())?,
            output: region(self.outputs.first())?,
        })
    }
}
