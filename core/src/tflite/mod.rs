//! TFLite flatbuffer models, read directly and run with integer arithmetic
//! that follows TFLite's reference kernels bit for bit (uint8 models).
//!
//! ```no_run
//! # fn demo(bytes: &[u8], image: &[u8]) -> Result<(), shoal_core::tflite::TfliteError> {
//! use shoal_core::tflite::Model;
//! let model = Model::parse(bytes)?;          // bounds-checked, capped
//! let run = model.run_u8(image)?;             // HxWx3 uint8 input
//! let probs = run.output(&model, 0)?;         // raw uint8 output tensor
//! # Ok(()) }
//! ```
//!
//! Float32 models run too ([`Model::run_u8`] takes the input tensor's
//! bytes, little-endian floats for them): the same operators in float32 in
//! the order of TFLite's reference kernels (bit-exact against LiteRT's
//! `BUILTIN_REF` in the tests, softmax included), and QUANTIZE from
//! float32.
//!
//! Supported now: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED (one batch),
//! AVERAGE_POOL_2D, MEAN (over height and width), PAD, RESHAPE, ADD (with
//! fused ReLU/ReLU6), SOFTMAX, QUANTIZE, DEQUANTIZE (to float32),
//! HARD_SWISH and CONCATENATION (two inputs, any axis), on uint8 tensors and on int8
//! tensors with per-tensor or per-channel weight scales (int8 is computed as
//! uint8 with the sign bit flipped and the zero point moved by 128, which
//! leaves every centred value and clamp unchanged). Any other operator is
//! rejected at parse time with [`TfliteError::UnsupportedOperator`] naming
//! it. Arithmetic: int32 accumulation, TFLite's fixed-point requantization
//! (`QuantizeMultiplier`, saturating rounding doubling high multiply,
//! rounding right shift), and its activation-range rounding.

#![deny(clippy::indexing_slicing)]

use alloc::vec;
use alloc::vec::Vec;

mod flatbuf;
mod float;
pub mod kernels;
pub mod lower;

use flatbuf::Table;

/// Most tensors, operators or buffers a model may declare.
pub const MAX_ITEMS: usize = 65_536;
/// Most elements in one tensor.
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 26;

/// Why a model was rejected or could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TfliteError {
    /// The flatbuffer is malformed (what was wrong).
    Malformed(&'static str),
    /// Not a TFLite file (missing `TFL3` identifier).
    BadIdentifier,
    /// An operator this engine does not implement (TFLite builtin code).
    UnsupportedOperator(i32),
    /// A tensor type this engine does not run.
    UnsupportedType(u8),
    /// Too many items or a tensor too large.
    TooLarge,
    /// Shapes or tensor references that do not fit together.
    BadGraph(&'static str),
    /// The arena given to [`Model::run_in`] is smaller than the plan needs.
    ArenaTooSmall {
        /// Bytes the plan needs.
        needed: usize,
        /// Bytes given.
        given: usize,
    },
    /// An operator form the accelerator kernels do not run (what).
    NotLowerable(&'static str),
    /// The input has the wrong number of bytes.
    InputSize {
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
}

impl core::fmt::Display for TfliteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TfliteError::Malformed(w) => write!(f, "tflite: malformed model ({w})"),
            TfliteError::BadIdentifier => {
                write!(f, "tflite: not a TFLite model (no TFL3 identifier)")
            }
            TfliteError::UnsupportedOperator(c) => {
                write!(
                    f,
                    "tflite: unsupported operator {} (builtin code {c})",
                    op_name(*c)
                )
            }
            TfliteError::UnsupportedType(t) => write!(f, "tflite: unsupported tensor type {t}"),
            TfliteError::TooLarge => write!(f, "tflite: model exceeds the size caps"),
            TfliteError::BadGraph(w) => write!(f, "tflite: inconsistent graph ({w})"),
            TfliteError::ArenaTooSmall { needed, given } => {
                write!(
                    f,
                    "tflite: the arena has {given} bytes, the plan needs {needed}"
                )
            }
            TfliteError::NotLowerable(w) => {
                write!(f, "tflite: not supported by the GPU kernels ({w})")
            }
            TfliteError::InputSize { expected, found } => {
                write!(
                    f,
                    "tflite: input has {found} bytes, the model needs {expected}"
                )
            }
        }
    }
}

impl core::error::Error for TfliteError {}

/// Name of a TFLite builtin operator code (for messages).
pub fn op_name(code: i32) -> &'static str {
    match code {
        0 => "ADD",
        1 => "AVERAGE_POOL_2D",
        2 => "CONCATENATION",
        3 => "CONV_2D",
        4 => "DEPTHWISE_CONV_2D",
        6 => "DEQUANTIZE",
        9 => "FULLY_CONNECTED",
        14 => "LOGISTIC",
        17 => "MAX_POOL_2D",
        18 => "MUL",
        22 => "RESHAPE",
        25 => "SOFTMAX",
        34 => "PAD",
        40 => "MEAN",
        114 => "QUANTIZE",
        117 => "HARD_SWISH",
        _ => "(other)",
    }
}

/// Element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DType {
    /// uint8 (quantized).
    U8,
    /// int32 (biases, shapes).
    I32,
    /// float32.
    F32,
    /// int8 (quantized).
    I8,
}

/// One tensor of the graph.
#[derive(Clone, Debug)]
pub struct Tensor<'a> {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Constant data, when the tensor is a weight.
    pub data: Option<&'a [u8]>,
    /// Quantization scale (first channel).
    pub scale: f32,
    /// Quantization zero point (first channel).
    pub zero_point: i32,
    /// Per-channel scales (of the last dimension for convolution filters;
    /// one entry for per-tensor quantization).
    pub scales: Vec<f32>,
}

impl Tensor<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Real values of `raw`, this tensor's bytes as a run produced them:
    /// `scale · (q - zero_point)` for 8-bit tensors (first channel's
    /// quantization), the little-endian values for float32 and int32.
    pub fn values(&self, raw: &[u8]) -> Vec<f32> {
        let le = |c: &[u8]| <[u8; 4]>::try_from(c).unwrap_or([0; 4]);
        match self.dtype {
            DType::U8 => raw
                .iter()
                .map(|&q| (f32::from(q) - self.zero_point as f32) * self.scale)
                .collect(),
            DType::I8 => raw
                .iter()
                .map(|&q| (f32::from(q as i8) - self.zero_point as f32) * self.scale)
                .collect(),
            DType::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect(),
            DType::I32 => raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(le(c)) as f32)
                .collect(),
        }
    }

    /// Bytes of the tensor's values (4 per int32 or float32 element).
    pub fn byte_len(&self) -> usize {
        match self.dtype {
            DType::U8 | DType::I8 => self.len(),
            DType::I32 | DType::F32 => 4 * self.len(),
        }
    }

    /// True when the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Padding scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Output size `ceil(in / stride)`, zero-point padding split evenly.
    Same,
    /// No padding.
    Valid,
}

/// Fused activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// None.
    None,
    /// max(0, x).
    Relu,
    /// clamp(x, 0, 6).
    Relu6,
}

/// Spatial parameters shared by convolutions and pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Padding scheme.
    pub padding: Padding,
    /// Stride along width.
    pub stride_w: usize,
    /// Stride along height.
    pub stride_h: usize,
    /// Dilation along width (1 for pooling).
    pub dilation_w: usize,
    /// Dilation along height.
    pub dilation_h: usize,
}

/// One operator with its tensor indices.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// CONV_2D: input, filter (OHWI), bias, output.
    Conv2d {
        /// Input tensor.
        input: usize,
        /// Filter tensor.
        filter: usize,
        /// Bias tensor (int32), if any.
        bias: Option<usize>,
        /// Output tensor.
        output: usize,
        /// Window.
        window: Window,
        /// Fused activation.
        act: Activation,
    },
    /// DEPTHWISE_CONV_2D: filter `[1, H, W, C·M]`.
    DepthwiseConv2d {
        /// Input tensor.
        input: usize,
        /// Filter tensor.
        filter: usize,
        /// Bias tensor.
        bias: Option<usize>,
        /// Output tensor.
        output: usize,
        /// Window.
        window: Window,
        /// Depth multiplier.
        multiplier: usize,
        /// Fused activation.
        act: Activation,
    },
    /// AVERAGE_POOL_2D.
    AvgPool {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
        /// Window.
        window: Window,
        /// Filter width.
        filter_w: usize,
        /// Filter height.
        filter_h: usize,
        /// Fused activation.
        act: Activation,
    },
    /// RESHAPE (data unchanged).
    Reshape {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
    },
    /// SOFTMAX along the last axis.
    Softmax {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
        /// Beta.
        beta: f32,
    },
    /// FULLY_CONNECTED with one batch: weights `[outputs, inputs]`.
    FullyConnected {
        /// Input (any shape holding `inputs` values).
        input: usize,
        /// Weights tensor.
        weights: usize,
        /// Bias tensor (int32), if any.
        bias: Option<usize>,
        /// Output.
        output: usize,
        /// Fused activation.
        act: Activation,
    },
    /// PAD of an NHWC tensor with the output's zero point.
    Pad {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
        /// `(before, after)` per dimension.
        pads: [(usize, usize); 4],
    },
    /// MEAN over height and width of an NHWC tensor.
    Mean {
        /// Input.
        input: usize,
        /// Output (`[1, 1, 1, C]` or `[1, C]`).
        output: usize,
    },
    /// QUANTIZE between 8-bit types (requantization: new scale, zero
    /// point and signedness).
    Quantize {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
    },
    /// HARD_SWISH: `x·relu6(x + 3)/6` in TFLite's 16-bit fixed point.
    HardSwish {
        /// Input.
        input: usize,
        /// Output.
        output: usize,
    },
    /// DEQUANTIZE of an 8-bit tensor to float32 (`s·(q - z)`).
    Dequantize {
        /// Input.
        input: usize,
        /// Output (float32).
        output: usize,
    },
    /// CONCATENATION of two tensors along `axis`.
    Concatenation {
        /// First input.
        a: usize,
        /// Second input.
        b: usize,
        /// Output.
        output: usize,
        /// Axis (non-negative, below the rank).
        axis: usize,
    },
    /// ADD of two same-shape tensors.
    Add {
        /// First input.
        a: usize,
        /// Second input.
        b: usize,
        /// Output.
        output: usize,
        /// Fused activation.
        act: Activation,
    },
}

/// A parsed model, borrowing its weights from the file bytes.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    /// All tensors.
    pub tensors: Vec<Tensor<'a>>,
    /// Operators in execution order.
    pub ops: Vec<Op>,
    /// Graph inputs.
    pub inputs: Vec<usize>,
    /// Graph outputs.
    pub outputs: Vec<usize>,
}

fn idx(v: i32, n: usize) -> Result<usize, TfliteError> {
    usize::try_from(v)
        .ok()
        .filter(|&i| i < n)
        .ok_or(TfliteError::BadGraph("tensor index out of range"))
}

fn padding(code: u8) -> Result<Padding, TfliteError> {
    match code {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        _ => Err(TfliteError::Malformed("padding")),
    }
}

fn activation(code: u8) -> Result<Activation, TfliteError> {
    match code {
        0 => Ok(Activation::None),
        1 => Ok(Activation::Relu),
        3 => Ok(Activation::Relu6),
        _ => Err(TfliteError::BadGraph("unsupported fused activation")),
    }
}

fn positive(v: i32) -> Result<usize, TfliteError> {
    usize::try_from(v)
        .ok()
        .filter(|&s| (1..=1024).contains(&s))
        .ok_or(TfliteError::BadGraph(
            "stride, dilation or filter size out of range",
        ))
}

/// Padding and strides (fields 0-2 of the conv/pool options tables) and,
/// when `dilation` names their field ids, the dilations.
fn window(t: &Table<'_>, dilation: Option<(usize, usize)>) -> Result<Window, TfliteError> {
    let (dilation_w, dilation_h) = match dilation {
        Some((w, h)) => (positive(t.i32_or(w, 1)?)?, positive(t.i32_or(h, 1)?)?),
        None => (1, 1),
    };
    Ok(Window {
        padding: padding(t.u8_or(0, 0)?)?,
        stride_w: positive(t.i32_or(1, 1)?)?,
        stride_h: positive(t.i32_or(2, 1)?)?,
        dilation_w,
        dilation_h,
    })
}

/// The values of a constant int32 tensor (PAD's paddings, MEAN's axes).
fn constant_i32s(tensors: &[Tensor<'_>], i: usize) -> Result<Vec<i32>, TfliteError> {
    let t = tensors
        .get(i)
        .ok_or(TfliteError::BadGraph("tensor index out of range"))?;
    match (t.dtype, t.data) {
        (DType::I32, Some(d)) => Ok(d
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(crate::quant::file::le(c)))
            .collect()),
        _ => Err(TfliteError::BadGraph("expected a constant int32 tensor")),
    }
}

impl<'a> Model<'a> {
    /// Parses a `.tflite` file (schema v3).
    ///
    /// # Errors
    /// [`TfliteError`] for malformed files, unsupported operators or types,
    /// and sizes above the caps.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, TfliteError> {
        if bytes.get(4..8) != Some(b"TFL3") {
            return Err(TfliteError::BadIdentifier);
        }
        let root = Table::root(bytes)?;
        let codes: Vec<i32> = root
            .tables(1)?
            .iter()
            .map(|c| {
                let dep = i32::from(c.u8_or(0, 0)? as i8);
                let code = c.i32_or(3, 0)?;
                Ok(dep.max(code))
            })
            .collect::<Result<_, TfliteError>>()?;
        let buffers: Vec<&'a [u8]> = root
            .tables(4)?
            .iter()
            .map(|b| b.bytes(0))
            .collect::<Result<_, _>>()?;
        let subgraphs = root.tables(2)?;
        let sg = subgraphs
            .first()
            .ok_or(TfliteError::Malformed("no subgraph"))?;
        let traw = sg.tables(0)?;
        if traw.len() > MAX_ITEMS || codes.len() > MAX_ITEMS || buffers.len() > MAX_ITEMS {
            return Err(TfliteError::TooLarge);
        }
        let mut tensors = Vec::with_capacity(traw.len());
        for t in &traw {
            let shape: Vec<usize> = t
                .i32s(0)?
                .iter()
                .map(|&d| {
                    usize::try_from(d).map_err(|_| TfliteError::BadGraph("negative dimension"))
                })
                .collect::<Result<_, _>>()?;
            let count = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&c| c <= MAX_TENSOR_ELEMENTS)
                .ok_or(TfliteError::TooLarge)?;
            let ty = t.u8_or(1, 0)?;
            let dtype = match ty {
                0 => DType::F32,
                2 => DType::I32,
                3 => DType::U8,
                9 => DType::I8,
                other => return Err(TfliteError::UnsupportedType(other)),
            };
            let elem = match dtype {
                DType::U8 | DType::I8 => 1,
                DType::I32 | DType::F32 => 4,
            };
            let buf = t.i32_or(2, 0)? as u32 as usize;
            let data = match buffers.get(buf) {
                Some(d) if !d.is_empty() => {
                    if d.len() != count * elem {
                        return Err(TfliteError::BadGraph("constant tensor size"));
                    }
                    Some(*d)
                }
                _ => None,
            };
            let (mut scales, mut zero_point) = (Vec::new(), 0);
            if let Some(q) = t.table(4)? {
                scales = q.f32s(2)?;
                if scales.len() > MAX_ITEMS {
                    return Err(TfliteError::TooLarge);
                }
                zero_point = q.i64s(3)?.first().copied().unwrap_or(0) as i32;
            }
            tensors.push(Tensor {
                shape,
                dtype,
                data,
                scale: scales.first().copied().unwrap_or(0.0),
                zero_point,
                scales,
            });
        }
        let n = tensors.len();
        let list = |v: Vec<i32>| -> Result<Vec<usize>, TfliteError> {
            v.into_iter().map(|i| idx(i, n)).collect()
        };
        let inputs = list(sg.i32s(1)?)?;
        let outputs = list(sg.i32s(2)?)?;
        let mut ops = Vec::new();
        let oraw = sg.tables(3)?;
        if oraw.len() > MAX_ITEMS {
            return Err(TfliteError::TooLarge);
        }
        for o in &oraw {
            let code = *codes
                .get(o.i32_or(0, 0)? as u32 as usize)
                .ok_or(TfliteError::BadGraph("opcode index"))?;
            let ins = o.i32s(1)?;
            let outs = o.i32s(2)?;
            let input = |k: usize| {
                idx(
                    *ins.get(k).ok_or(TfliteError::BadGraph("missing input"))?,
                    n,
                )
            };
            let output = idx(
                *outs
                    .first()
                    .ok_or(TfliteError::BadGraph("missing output"))?,
                n,
            )?;
            let opt = o.table(4)?;
            let opt = |_: ()| opt.ok_or(TfliteError::Malformed("missing options"));
            let bias = |k: usize| -> Result<Option<usize>, TfliteError> {
                match ins.get(k) {
                    Some(&-1) | None => Ok(None),
                    Some(&i) => idx(i, n).map(Some),
                }
            };
            let op = match code {
                3 => {
                    let t = opt(())?;
                    Op::Conv2d {
                        input: input(0)?,
                        filter: input(1)?,
                        bias: bias(2)?,
                        output,
                        window: window(&t, Some((4, 5)))?,
                        act: activation(t.u8_or(3, 0)?)?,
                    }
                }
                4 => {
                    let t = opt(())?;
                    Op::DepthwiseConv2d {
                        input: input(0)?,
                        filter: input(1)?,
                        bias: bias(2)?,
                        output,
                        window: window(&t, Some((5, 6)))?,
                        multiplier: positive(t.i32_or(3, 1)?)?,
                        act: activation(t.u8_or(4, 0)?)?,
                    }
                }
                1 => {
                    let t = opt(())?;
                    Op::AvgPool {
                        input: input(0)?,
                        output,
                        window: window(&t, None)?,
                        filter_w: positive(t.i32_or(3, 1)?)?,
                        filter_h: positive(t.i32_or(4, 1)?)?,
                        act: activation(t.u8_or(5, 0)?)?,
                    }
                }
                22 => Op::Reshape {
                    input: input(0)?,
                    output,
                },
                25 => Op::Softmax {
                    input: input(0)?,
                    output,
                    beta: match o.table(4)? {
                        Some(t) => t.f32_or(0, 1.0)?,
                        None => 1.0,
                    },
                },
                0 => Op::Add {
                    a: input(0)?,
                    b: input(1)?,
                    output,
                    act: match o.table(4)? {
                        Some(t) => activation(t.u8_or(0, 0)?)?,
                        None => Activation::None,
                    },
                },
                9 => Op::FullyConnected {
                    input: input(0)?,
                    weights: input(1)?,
                    bias: bias(2)?,
                    output,
                    act: match o.table(4)? {
                        Some(t) => activation(t.u8_or(0, 0)?)?,
                        None => Activation::None,
                    },
                },
                34 => {
                    let p = constant_i32s(&tensors, input(1)?)?;
                    let mut pads = [(0usize, 0usize); 4];
                    if p.len() != 8 {
                        return Err(TfliteError::BadGraph("PAD needs 4 x 2 paddings"));
                    }
                    let side = |v: i32| {
                        usize::try_from(v)
                            .ok()
                            .filter(|&v| v <= 1024)
                            .ok_or(TfliteError::BadGraph("padding out of range"))
                    };
                    for (pair, v) in pads.iter_mut().zip(p.chunks_exact(2)) {
                        if let [a, b] = *v {
                            *pair = (side(a)?, side(b)?);
                        }
                    }
                    Op::Pad {
                        input: input(0)?,
                        output,
                        pads,
                    }
                }
                114 => Op::Quantize {
                    input: input(0)?,
                    output,
                },
                6 => Op::Dequantize {
                    input: input(0)?,
                    output,
                },
                117 => Op::HardSwish {
                    input: input(0)?,
                    output,
                },
                2 => {
                    if ins.len() != 2 {
                        return Err(TfliteError::BadGraph(
                            "CONCATENATION is supported for two inputs",
                        ));
                    }
                    let t = opt(())?;
                    if activation(t.u8_or(1, 0)?)? != Activation::None {
                        return Err(TfliteError::BadGraph(
                            "CONCATENATION with a fused activation",
                        ));
                    }
                    let a = input(0)?;
                    let rank = tensors.get(a).map_or(0, |t: &Tensor<'_>| t.shape.len()) as i32;
                    let axis = t.i32_or(0, 0)?;
                    let axis = if axis < 0 { axis + rank } else { axis };
                    Op::Concatenation {
                        a,
                        b: input(1)?,
                        output,
                        axis: usize::try_from(axis)
                            .ok()
                            .filter(|&x| (x as i32) < rank)
                            .ok_or(TfliteError::BadGraph("CONCATENATION axis"))?,
                    }
                }
                40 => {
                    let mut axes = constant_i32s(&tensors, input(1)?)?;
                    axes.sort_unstable();
                    if axes != [1, 2] {
                        return Err(TfliteError::BadGraph(
                            "MEAN is supported over height and width only",
                        ));
                    }
                    Op::Mean {
                        input: input(0)?,
                        output,
                    }
                }
                other => return Err(TfliteError::UnsupportedOperator(other)),
            };
            ops.push(op);
        }
        let model = Model {
            tensors,
            ops,
            inputs,
            outputs,
        };
        model.validate()?;
        Ok(model)
    }

    /// Checks every operator's shapes and types, so that running cannot index
    /// out of bounds.
    // Tensor indices were checked against the tensor count by `idx` while
    // parsing, and filter shapes have 4 entries (checked before use).
    #[allow(clippy::indexing_slicing)]
    fn validate(&self) -> Result<(), TfliteError> {
        let t = |i: usize| &self.tensors[i];
        // 8-bit quantized tensors: uint8, or int8 (all of one operator's
        // data tensors share the type of its first input).
        let q8 = |i: usize| matches!(t(i).dtype, DType::U8 | DType::I8);
        let u8t = |i: usize| {
            if !q8(i) {
                return Err(TfliteError::UnsupportedType(t(i).dtype as u8));
            }
            Ok(())
        };
        let nhwc = |i: usize| -> Result<[usize; 4], TfliteError> {
            match t(i).shape[..] {
                [1, h, w, c] => Ok([1, h, w, c]),
                _ => Err(TfliteError::BadGraph("expected a 1xHxWxC tensor")),
            }
        };
        for (i, tensor) in self.tensors.iter().enumerate() {
            let used = self.ops.iter().any(|op| op_tensors(op).contains(&i));
            let zp_range = match tensor.dtype {
                DType::U8 => 0..=255,
                DType::I8 => -128..=127,
                _ => continue,
            };
            if used
                && !(tensor.scales.iter().all(|s| s.is_finite() && *s > 0.0)
                    && !tensor.scales.is_empty()
                    && zp_range.contains(&tensor.zero_point))
            {
                return Err(TfliteError::BadGraph(
                    "8-bit tensor with invalid scale or zero point",
                ));
            }
        }
        // One 8-bit type per operator (QUANTIZE converts between them).
        for op in &self.ops {
            let ts = op_tensors(op);
            let same = ts
                .iter()
                .filter(|&&i| q8(i))
                .all(|&i| t(i).dtype == t(ts[0]).dtype);
            if !same && !matches!(op, Op::Quantize { .. }) {
                return Err(TfliteError::BadGraph("mixed uint8 and int8 tensors"));
            }
        }
        for op in &self.ops {
            // Float32 operators: every data tensor (and bias) float32; the
            // same shape rules. QUANTIZE from float32 is checked below.
            let float = kernels::float_op(self, op);
            let quantize_float =
                matches!(*op, Op::Quantize { input, .. } if t(input).dtype == DType::F32);
            let u8t = |i: usize| {
                if float && !quantize_float {
                    if t(i).dtype != DType::F32 {
                        return Err(TfliteError::BadGraph(
                            "float32 operator with a non-float32 tensor",
                        ));
                    }
                    return Ok(());
                }
                u8t(i)
            };
            let bias_type = if float { DType::F32 } else { DType::I32 };
            if let Op::Conv2d { output, act, .. }
            | Op::DepthwiseConv2d { output, act, .. }
            | Op::FullyConnected { output, act, .. }
            | Op::AvgPool { output, act, .. }
            | Op::Add { output, act, .. } = *op
            {
                let (lo, hi) = kernels::act_range(act, t(output));
                if lo > hi && !float {
                    return Err(TfliteError::BadGraph("empty activation range"));
                }
            }
            match *op {
                Op::Conv2d {
                    input,
                    filter,
                    bias,
                    output,
                    ..
                }
                | Op::DepthwiseConv2d {
                    input,
                    filter,
                    bias,
                    output,
                    ..
                } => {
                    u8t(input)?;
                    u8t(filter)?;
                    u8t(output)?;
                    let [_, _, _, ic] = nhwc(input)?;
                    let [_, _, _, oc] = nhwc(output)?;
                    let f = &t(filter).shape;
                    if f.len() != 4 || t(filter).data.is_none() {
                        return Err(TfliteError::BadGraph(
                            "filter must be a constant 4-D tensor",
                        ));
                    }
                    // Keeps every int32 accumulator free of overflow: at most
                    // 32768 products of magnitude below 255².
                    if f.iter()
                        .skip(1)
                        .try_fold(1usize, |a, &d| a.checked_mul(d))
                        .is_none_or(|n| n > 32_768)
                    {
                        return Err(TfliteError::TooLarge);
                    }
                    let per_channel = t(filter).scales.len();
                    if !float
                        && per_channel != 1
                        && (per_channel != oc || t(filter).zero_point != 0)
                    {
                        return Err(TfliteError::BadGraph(
                            "filter scales: one, or one per output channel with zero point 0",
                        ));
                    }
                    match op {
                        Op::Conv2d { .. } if f[0] != oc || f[3] != ic => {
                            return Err(TfliteError::BadGraph("conv filter shape"))
                        }
                        Op::DepthwiseConv2d { multiplier, .. }
                            if f[0] != 1 || f[3] != oc || ic * multiplier != oc =>
                        {
                            return Err(TfliteError::BadGraph("depthwise filter shape"))
                        }
                        _ => {}
                    }
                    if let Some(b) = bias {
                        if t(b).dtype != bias_type || t(b).len() != oc || t(b).data.is_none() {
                            return Err(TfliteError::BadGraph(
                                "bias must be constant int32 (float32 for float models) of the output depth",
                            ));
                        }
                    }
                }
                Op::AvgPool { input, output, .. } => {
                    u8t(input)?;
                    u8t(output)?;
                    if nhwc(input)?[3] != nhwc(output)?[3] {
                        return Err(TfliteError::BadGraph("pool depth"));
                    }
                }
                Op::Reshape { input, output } | Op::Softmax { input, output, .. } => {
                    u8t(input)?;
                    u8t(output)?;
                    if t(input).len() != t(output).len() {
                        return Err(TfliteError::BadGraph("reshape/softmax element count"));
                    }
                }
                Op::FullyConnected {
                    input,
                    weights,
                    bias,
                    output,
                    ..
                } => {
                    u8t(input)?;
                    u8t(weights)?;
                    u8t(output)?;
                    let w = &t(weights).shape;
                    let [n_out, n_in] = w[..] else {
                        return Err(TfliteError::BadGraph("weights must be [outputs, inputs]"));
                    };
                    if t(weights).data.is_none()
                        || t(input).len() != n_in
                        || t(output).len() != n_out
                        || n_in > 32_768
                    {
                        return Err(TfliteError::BadGraph(
                            "FULLY_CONNECTED shapes (one batch, constant weights)",
                        ));
                    }
                    if let Some(b) = bias {
                        if t(b).dtype != bias_type || t(b).len() != n_out || t(b).data.is_none() {
                            return Err(TfliteError::BadGraph(
                                "bias must be constant int32 (float32 for float models) of the output depth",
                            ));
                        }
                    }
                }
                Op::Pad {
                    input,
                    output,
                    pads,
                } => {
                    u8t(input)?;
                    u8t(output)?;
                    let i = nhwc(input)?;
                    let o = t(output).shape.clone();
                    let want: Vec<usize> = (0..4).map(|k| i[k] + pads[k].0 + pads[k].1).collect();
                    if o != want || pads[0] != (0, 0) {
                        return Err(TfliteError::BadGraph("PAD output shape"));
                    }
                }
                Op::Quantize { input, output } => {
                    if !quantize_float {
                        u8t(input)?;
                    }
                    u8t(output)?;
                    if t(input).len() != t(output).len() {
                        return Err(TfliteError::BadGraph("QUANTIZE element count"));
                    }
                }
                Op::Mean { input, output } => {
                    u8t(input)?;
                    u8t(output)?;
                    if t(input).is_empty() || t(output).len() != nhwc(input)?[3] {
                        return Err(TfliteError::BadGraph("MEAN output shape"));
                    }
                }
                Op::Dequantize { input, output } => {
                    u8t(input)?;
                    if t(output).dtype != DType::F32 || t(input).len() != t(output).len() {
                        return Err(TfliteError::BadGraph(
                            "DEQUANTIZE needs a float32 output of the input's size",
                        ));
                    }
                }
                Op::HardSwish { input, output } => {
                    u8t(input)?;
                    u8t(output)?;
                    if t(input).shape != t(output).shape {
                        return Err(TfliteError::BadGraph("HARD_SWISH shapes"));
                    }
                }
                Op::Concatenation { a, b, output, axis } => {
                    u8t(a)?;
                    u8t(b)?;
                    u8t(output)?;
                    let (sa, sb, so) = (&t(a).shape, &t(b).shape, &t(output).shape);
                    let fits = sa.len() == so.len()
                        && sb.len() == so.len()
                        && (0..so.len()).all(|k| {
                            if k == axis {
                                sa[k].checked_add(sb[k]) == Some(so[k])
                            } else {
                                sa[k] == so[k] && sb[k] == so[k]
                            }
                        });
                    if !fits {
                        return Err(TfliteError::BadGraph("CONCATENATION shapes"));
                    }
                }
                Op::Add { a, b, output, .. } => {
                    u8t(a)?;
                    u8t(b)?;
                    u8t(output)?;
                    if t(a).shape != t(output).shape || t(b).shape != t(output).shape {
                        return Err(TfliteError::BadGraph(
                            "ADD needs equal shapes (no broadcasting yet)",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the model on `input` (the bytes of input tensor 0: uint8 or
    /// int8 values, or little-endian float32 for a float model).
    ///
    /// # Errors
    /// [`TfliteError::InputSize`], [`TfliteError::BadGraph`] for a graph
    /// that reads a tensor before it is written.
    pub fn run_u8(&self, input: &[u8]) -> Result<Run, TfliteError> {
        self.run_impl(input, false, None)
    }

    /// What [`Model::run_prepared`] reuses between runs: the filters of the
    /// 1 x 1 convolutions and FULLY_CONNECTED layers packed for the
    /// vectorised product (two bytes per weight; [`Model::run_u8`] packs
    /// them on every call instead).
    pub fn prepare(&self) -> Prepared {
        Prepared {
            packed: self
                .ops
                .iter()
                .map(|op| kernels::pack_op(self, op))
                .collect(),
        }
    }

    /// As [`Model::run_u8`] with the filters packed once by
    /// [`Model::prepare`] (same outputs, bit for bit).
    ///
    /// ```no_run
    /// # fn demo(bytes: &[u8], images: &[Vec<u8>]) -> Result<(), shoal_core::tflite::TfliteError> {
    /// use shoal_core::tflite::Model;
    /// let model = Model::parse(bytes)?;
    /// let prepared = model.prepare(); // once
    /// for image in images {
    ///     let run = model.run_prepared(&prepared, image)?;
    ///     let _probs = run.output(&model, 0)?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Model::run_u8`].
    pub fn run_prepared(&self, prepared: &Prepared, input: &[u8]) -> Result<Run, TfliteError> {
        self.run_impl(input, false, Some(prepared))
    }

    /// As [`Model::run_u8`] with the plain reference loops for every
    /// convolution (the specification the vectorised path is tested against).
    ///
    /// # Errors
    /// As [`Model::run_u8`].
    pub fn run_u8_reference(&self, input: &[u8]) -> Result<Run, TfliteError> {
        self.run_impl(input, true, None)
    }

    // The input's tensor index was checked by `idx` while parsing.
    #[allow(clippy::indexing_slicing)]
    fn run_impl(
        &self,
        input: &[u8],
        reference: bool,
        prepared: Option<&Prepared>,
    ) -> Result<Run, TfliteError> {
        let mut values: Vec<Option<Vec<u8>>> = vec![None; self.tensors.len()];
        let first = self.check_input(input)?;
        values[first] = Some(input.to_vec());
        for (k, op) in self.ops.iter().enumerate() {
            let (a, b, o) = kernels::op_io(op);
            let mut out = vec![0u8; self.tensors[o].byte_len()];
            let read = |i: usize| -> Result<&[u8], TfliteError> {
                match (self.tensors[i].data, values[i].as_deref()) {
                    (Some(d), _) | (None, Some(d)) => Ok(d),
                    (None, None) => Err(TfliteError::BadGraph("tensor read before it was written")),
                }
            };
            let bb = match b {
                Some(b) => read(b)?,
                None => &[],
            };
            let loops = if reference {
                kernels::Loops::Reference
            } else {
                kernels::Loops::I16
            };
            let packed = prepared
                .and_then(|p| p.packed.get(k))
                .and_then(Option::as_ref);
            kernels::run_op(self, op, read(a)?, bb, &mut out, loops, packed)?;
            values[o] = Some(out);
        }
        Ok(Run { values })
    }

    /// Index of input tensor 0, after checking that `input` fills it.
    // Tensor indices were checked by `idx` while parsing.
    #[allow(clippy::indexing_slicing)]
    fn check_input(&self, input: &[u8]) -> Result<usize, TfliteError> {
        let first = *self
            .inputs
            .first()
            .ok_or(TfliteError::BadGraph("no input"))?;
        let need = self.tensors[first].byte_len();
        if input.len() != need {
            return Err(TfliteError::InputSize {
                expected: need,
                found: input.len(),
            });
        }
        Ok(first)
    }

    /// First-fit placement of the tensors in `order` (lifetimes `life`):
    /// each goes to the lowest 16-byte-aligned offset free of every placed
    /// tensor whose lifetime overlaps its own. Returns the offsets and the
    /// arena size.
    // Tensor indices come from the model's own tensor list.
    #[allow(clippy::indexing_slicing)]
    fn first_fit(
        &self,
        order: &[usize],
        life: &[Option<(usize, usize)>],
    ) -> (Vec<Option<(usize, usize)>>, usize) {
        let mut offsets: Vec<Option<(usize, usize)>> = vec![None; self.tensors.len()];
        let mut placed: Vec<(usize, usize, usize)> = Vec::new(); // (offset, len, tensor)
        let mut arena_bytes = 0;
        for &i in order {
            let (s0, e0) = life[i].unwrap_or((0, 0));
            let len = self.tensors[i].byte_len();
            let mut busy: Vec<(usize, usize)> = placed
                .iter()
                .filter(|&&(_, _, j)| {
                    let (s1, e1) = life[j].unwrap_or((0, 0));
                    s0 <= e1 && s1 <= e0
                })
                .map(|&(off, l, _)| (off, off + l))
                .collect();
            busy.sort_unstable();
            let mut at = 0usize;
            for (lo, hi) in busy {
                if at + len <= lo {
                    break;
                }
                at = at.max(hi.next_multiple_of(16));
            }
            placed.push((at, len, i));
            offsets[i] = Some((at, len));
            arena_bytes = arena_bytes.max(at + len);
        }
        (offsets, arena_bytes)
    }

    /// Plans the activations of [`Model::run_in`] in one arena: each tensor
    /// an operator writes (and the input) lives from the operator that
    /// writes it to the last one that reads it (graph outputs to the end),
    /// and tensors whose lifetimes overlap get disjoint byte ranges at the
    /// lowest free offset (16-byte aligned), placed largest first or in the
    /// order they are written, whichever needs the smaller arena.
    ///
    /// # Errors
    /// [`TfliteError::BadGraph`] for a graph without input.
    // Tensor indices were checked by `idx` while parsing.
    #[allow(clippy::indexing_slicing)]
    pub fn plan(&self) -> Result<Plan, TfliteError> {
        let n = self.tensors.len();
        let first = *self
            .inputs
            .first()
            .ok_or(TfliteError::BadGraph("no input"))?;
        // Lifetimes in steps: 0 = input, k + 1 = operator k.
        let mut life: Vec<Option<(usize, usize)>> = vec![None; n];
        life[first] = Some((0, 0));
        for (k, op) in self.ops.iter().enumerate() {
            let (a, b, o) = kernels::op_io(op);
            for i in core::iter::once(a).chain(b) {
                if let Some((_, end)) = &mut life[i] {
                    *end = k + 1;
                }
            }
            if self.tensors[o].data.is_none() && life[o].is_none() {
                life[o] = Some((k + 1, k + 1));
            }
        }
        for &o in &self.outputs {
            if let Some((_, end)) = &mut life[o] {
                *end = self.ops.len() + 1;
            }
        }
        // Two first-fit orders, keep the smaller arena: largest tensor first
        // (TFLite Micro's greedy planner), and in the order they are written.
        let live: Vec<usize> = (0..n).filter(|&i| life[i].is_some()).collect();
        let mut by_size = live.clone();
        by_size.sort_by_key(|&i| (core::cmp::Reverse(self.tensors[i].byte_len()), i));
        let mut by_start = live;
        by_start.sort_by_key(|&i| {
            (
                life[i].map(|l| l.0),
                core::cmp::Reverse(self.tensors[i].byte_len()),
            )
        });
        let (a, b) = (
            self.first_fit(&by_size, &life),
            self.first_fit(&by_start, &life),
        );
        let (offsets, arena_bytes) = if b.1 < a.1 { b } else { a };
        Ok(Plan {
            offsets,
            arena_bytes,
        })
    }

    /// Runs a uint8 model without allocating: activations live in `arena`
    /// at the offsets of `plan` (from [`Model::plan`] on this model), and the
    /// convolutions run loops that need no copies (TFLite's integer
    /// arithmetic, so the outputs equal [`Model::run_u8`]'s bit for bit). Returns graph output 0,
    /// borrowed from the arena.
    ///
    /// ```no_run
    /// # fn demo(bytes: &[u8], image: &[u8]) -> Result<(), shoal_core::tflite::TfliteError> {
    /// use shoal_core::tflite::Model;
    /// let model = Model::parse(bytes)?;
    /// let plan = model.plan()?;                    // once, at start-up
    /// let mut arena = vec![0u8; plan.arena_bytes()]; // or a static buffer
    /// let probs = model.run_in(&plan, image, &mut arena)?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`TfliteError::ArenaTooSmall`], [`TfliteError::InputSize`],
    /// [`TfliteError::BadGraph`] for a plan that does not fit the model.
    pub fn run_in<'r>(
        &self,
        plan: &Plan,
        input: &[u8],
        arena: &'r mut [u8],
    ) -> Result<&'r [u8], TfliteError> {
        self.run_in_impl(plan, None, input, arena)
    }

    /// As [`Model::run_in`] (activations in `arena`, nothing kept between
    /// operators) with the vectorised kernels and the filters of `prepared`
    /// (from [`Model::prepare`] on this model): the fastest path for
    /// repeated inferences. The kernels take small scratch buffers from the
    /// heap; the outputs equal [`Model::run_u8`]'s bit for bit.
    ///
    /// ```no_run
    /// # fn demo(bytes: &[u8], images: &[Vec<u8>]) -> Result<(), shoal_core::tflite::TfliteError> {
    /// use shoal_core::tflite::Model;
    /// let model = Model::parse(bytes)?;
    /// let (plan, prepared) = (model.plan()?, model.prepare()); // once
    /// let mut arena = vec![0u8; plan.arena_bytes()];
    /// for image in images {
    ///     let probs = model.run_in_prepared(&plan, &prepared, image, &mut arena)?;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Model::run_in`].
    pub fn run_in_prepared<'r>(
        &self,
        plan: &Plan,
        prepared: &Prepared,
        input: &[u8],
        arena: &'r mut [u8],
    ) -> Result<&'r [u8], TfliteError> {
        self.run_in_impl(plan, Some(prepared), input, arena)
    }

    fn run_in_impl<'r>(
        &self,
        plan: &Plan,
        prepared: Option<&Prepared>,
        input: &[u8],
        arena: &'r mut [u8],
    ) -> Result<&'r [u8], TfliteError> {
        if arena.len() < plan.arena_bytes {
            return Err(TfliteError::ArenaTooSmall {
                needed: plan.arena_bytes,
                given: arena.len(),
            });
        }
        if plan.offsets.len() != self.tensors.len() {
            return Err(TfliteError::BadGraph("plan made for another model"));
        }
        let first = self.check_input(input)?;
        let region = |i: usize| -> Result<(usize, usize), TfliteError> {
            plan.offsets
                .get(i)
                .copied()
                .flatten()
                .ok_or(TfliteError::BadGraph("tensor has no place in the plan"))
        };
        let (at, len) = region(first)?;
        arena
            .get_mut(at..at + len)
            .ok_or(TfliteError::BadGraph("plan beyond the arena"))?
            .copy_from_slice(input);
        for (k, op) in self.ops.iter().enumerate() {
            let (a, b, o) = kernels::op_io(op);
            let (oat, olen) = region(o)?;
            let (left, rest) = arena.split_at_mut(oat);
            let (out, right) = rest
                .split_at_mut_checked(olen)
                .ok_or(TfliteError::BadGraph("plan beyond the arena"))?;
            let (left, right): (&[u8], &[u8]) = (left, right);
            // An input is a constant, or an arena range on either side of
            // the output's (the plan keeps live tensors apart).
            let read = |i: usize| -> Result<&[u8], TfliteError> {
                if let Some(d) = self.tensors.get(i).and_then(|t| t.data) {
                    return Ok(d);
                }
                let (at, len) = region(i)?;
                let end = at + len;
                if end <= oat {
                    left.get(at..end)
                } else if at >= oat + olen {
                    right.get(at - oat - olen..end - oat - olen)
                } else {
                    None
                }
                .ok_or(TfliteError::BadGraph(
                    "plan overlaps an input with the output",
                ))
            };
            let bb = match b {
                Some(b) => read(b)?,
                None => &[],
            };
            let (loops, packed) = match prepared {
                Some(p) => (
                    kernels::Loops::I16,
                    p.packed.get(k).and_then(Option::as_ref),
                ),
                None => (kernels::Loops::Direct, None),
            };
            kernels::run_op(self, op, read(a)?, bb, out, loops, packed)?;
        }
        let o = *self
            .outputs
            .first()
            .ok_or(TfliteError::BadGraph("no output"))?;
        let (at, len) = region(o)?;
        arena
            .get(at..at + len)
            .ok_or(TfliteError::BadGraph("plan beyond the arena"))
    }
}

/// Filters packed once for [`Model::run_prepared`] (from [`Model::prepare`]).
#[derive(Clone, Debug)]
pub struct Prepared {
    packed: Vec<Option<kernels::Packed>>,
}

/// A model ready to run repeatedly: its filters packed ([`Model::prepare`])
/// and its activation arena laid out by lifetime ([`Model::plan`]) and
/// allocated, once; each [`Runner::run`] is then
/// [`Model::run_in_prepared`] with nothing made per image.
///
/// ```no_run
/// # fn demo(bytes: &[u8], images: &[Vec<u8>]) -> Result<(), shoal_core::tflite::TfliteError> {
/// use shoal_core::tflite::{Model, Runner};
/// let model = Model::parse(bytes)?;
/// let mut runner = Runner::new(&model)?; // once
/// for image in images {
///     let _raw = runner.run(&model, image)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Runner {
    prepared: Prepared,
    plan: Plan,
    arena: Vec<u8>,
}

impl Runner {
    /// Prepares `model`.
    ///
    /// # Errors
    /// As [`Model::plan`].
    pub fn new(model: &Model<'_>) -> Result<Self, TfliteError> {
        let plan = model.plan()?;
        Ok(Runner {
            prepared: model.prepare(),
            arena: vec![0u8; plan.arena_bytes()],
            plan,
        })
    }

    /// Runs `model` (the one this runner was made from) on `input`; the
    /// output tensor's bytes, in the arena.
    ///
    /// # Errors
    /// As [`Model::run_in_prepared`].
    pub fn run<'r>(&'r mut self, model: &Model<'_>, input: &[u8]) -> Result<&'r [u8], TfliteError> {
        model.run_in_prepared(&self.plan, &self.prepared, input, &mut self.arena)
    }
}

/// Where [`Model::run_in`] keeps each activation tensor (from [`Model::plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    offsets: Vec<Option<(usize, usize)>>,
    arena_bytes: usize,
}

impl Plan {
    /// Bytes of arena the model needs.
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes
    }

    /// `(offset, length)` of tensor `i` in the arena, if it has a place.
    pub fn region(&self, i: usize) -> Option<(usize, usize)> {
        self.offsets.get(i).copied().flatten()
    }
}

/// Tensor indices an operator touches.
fn op_tensors(op: &Op) -> Vec<usize> {
    match *op {
        Op::Conv2d {
            input,
            filter,
            output,
            ..
        }
        | Op::DepthwiseConv2d {
            input,
            filter,
            output,
            ..
        } => vec![input, filter, output],
        Op::AvgPool { input, output, .. }
        | Op::Reshape { input, output }
        | Op::Softmax { input, output, .. } => {
            vec![input, output]
        }
        Op::FullyConnected {
            input,
            weights,
            output,
            ..
        } => vec![input, weights, output],
        Op::Pad { input, output, .. }
        | Op::Mean { input, output }
        | Op::Quantize { input, output } => vec![input, output],
        Op::HardSwish { input, output } | Op::Dequantize { input, output } => {
            vec![input, output]
        }
        Op::Add { a, b, output, .. } | Op::Concatenation { a, b, output, .. } => {
            vec![a, b, output]
        }
    }
}

/// Tensor values after a run.
#[derive(Clone, Debug)]
pub struct Run {
    values: Vec<Option<Vec<u8>>>,
}

impl Run {
    /// The bytes of tensor `i`, if it was computed.
    pub fn tensor(&self, i: usize) -> Option<&[u8]> {
        self.values.get(i).and_then(|v| v.as_deref())
    }

    /// The bytes of graph output `k`.
    ///
    /// # Errors
    /// [`TfliteError::BadGraph`] when the model has no such output.
    pub fn output(&self, model: &Model<'_>, k: usize) -> Result<&[u8], TfliteError> {
        let i = *model
            .outputs
            .get(k)
            .ok_or(TfliteError::BadGraph("no such output"))?;
        self.tensor(i)
            .ok_or(TfliteError::BadGraph("output not computed"))
    }
}
