//! Shoal's own compact model file (`.shm`) for inverted-residual
//! (MobileNet-style) classifiers, and its float inference.
//!
//! Pointwise convolutions and the classifier are stored in the packed
//! quantized formats of [`crate::quant`] (a `.shq` blob each, GEAR when a
//! low-rank residual is present) and multiplied without expanding them; the
//! stem and depthwise filters are f16, biases f32 (batch norm folded in).
//!
//! Layout (little-endian): magic `SHM1`; `u32` version 1; `u32` layer count;
//! `u32` input size `S` (the input is `S × S × 3` uint8); `u32` classes;
//! `f32` input mean; `f32` input std. Then per layer: `u8` kind (0 stem
//! convolution, 1 depthwise, 2 pointwise, 3 fully connected), `u8` stride,
//! `u8` kernel, `u8` flags (1: ReLU6, 2: add the block input, 4: this layer
//! starts a block), `u32` input channels, `u32` output channels; weights
//! (kinds 0 and 1: f16, layout `[out][ky][kx][in]` and `[ky][kx][channel]`;
//! kinds 2 and 3: `u32` byte length then a `.shq` file with `out` rows and
//! `in` columns); `out` f32 biases. The file ends with the FNV-1a 64 of all
//! preceding bytes. Convolutions use TensorFlow's `SAME` padding.

#![deny(clippy::indexing_slicing)]

use crate::quant::file::le;
use alloc::vec;
use alloc::vec::Vec;

use crate::quant::file::fnv1a64;
use crate::quant::gear::GearMatrix;
use crate::quant::gemm::Epilogue;

mod conv;

/// Most layers a model may have.
pub const MAX_LAYERS: usize = 1024;
/// Most channels of any layer.
pub const MAX_CHANNELS: usize = 1 << 16;

/// Why a `.shm` model was rejected or could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShmError {
    /// Shorter than the sizes it declares.
    Truncated,
    /// Not a `.shm` file.
    BadMagic,
    /// Unsupported version.
    UnsupportedVersion(u32),
    /// A field out of range (which one).
    BadField(&'static str),
    /// Checksum mismatch.
    Checksum,
    /// Layers whose channel counts do not chain, or a bad embedded matrix.
    BadGraph(&'static str),
    /// Input of the wrong size.
    InputSize {
        /// Bytes required.
        expected: usize,
        /// Bytes given.
        found: usize,
    },
}

impl core::fmt::Display for ShmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ShmError::Truncated => write!(f, "shm: file is truncated"),
            ShmError::BadMagic => write!(f, "shm: not a Shoal model (bad magic)"),
            ShmError::UnsupportedVersion(v) => write!(f, "shm: unsupported version {v}"),
            ShmError::BadField(w) => write!(f, "shm: field out of range ({w})"),
            ShmError::Checksum => write!(f, "shm: checksum mismatch"),
            ShmError::BadGraph(w) => write!(f, "shm: inconsistent model ({w})"),
            ShmError::InputSize { expected, found } => {
                write!(
                    f,
                    "shm: input has {found} bytes, the model needs {expected}"
                )
            }
        }
    }
}

impl core::error::Error for ShmError {}

/// Kind of layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Full convolution (the stem).
    Conv,
    /// Depthwise convolution.
    Depthwise,
    /// 1×1 convolution on the packed quantized form.
    Pointwise,
    /// Global average pool, then the classifier on the packed form.
    Classifier,
}

/// Weights of a layer.
#[derive(Clone, Debug)]
pub enum Weights {
    /// f32 filters (decoded from f16).
    Dense(Vec<f32>),
    /// A packed quantized matrix (`out × in`).
    Packed(alloc::boxed::Box<GearMatrix>),
}

/// One layer.
#[derive(Clone, Debug)]
pub struct Layer {
    /// Kind.
    pub kind: Kind,
    /// Stride.
    pub stride: usize,
    /// Kernel size.
    pub kernel: usize,
    /// ReLU6 after the layer.
    pub relu6: bool,
    /// Add the block's input after the layer.
    pub residual: bool,
    /// The layer starts a block (its input is the block input).
    pub first: bool,
    /// Input channels.
    pub cin: usize,
    /// Output channels.
    pub cout: usize,
    /// Weights.
    pub weights: Weights,
    /// Biases.
    pub bias: Vec<f32>,
}

/// A parsed `.shm` model.
#[derive(Clone, Debug)]
pub struct ShmModel {
    /// Input side (the input is `size × size × 3` uint8).
    pub size: usize,
    /// Number of classes.
    pub classes: usize,
    /// Input normalisation: `(x - mean) / std`.
    pub mean: f32,
    /// See `mean`.
    pub std: f32,
    /// Layers in order.
    pub layers: Vec<Layer>,
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ShmError> {
        let end = self.at.checked_add(n).ok_or(ShmError::Truncated)?;
        let s = self.b.get(self.at..end).ok_or(ShmError::Truncated)?;
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, ShmError> {
        Ok(self.take(1)?.first().copied().unwrap_or(0))
    }
    fn u32(&mut self) -> Result<u32, ShmError> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes(le(s)))
    }
    fn f32(&mut self) -> Result<f32, ShmError> {
        Ok(f32::from_bits(self.u32()?))
    }
}

fn out_size(n: usize, s: usize) -> usize {
    n.div_ceil(s)
}

/// TF `SAME` padding before the first row/column.
fn pad_before(n: usize, k: usize, s: usize) -> usize {
    let out = out_size(n, s);
    ((out - 1) * s + k).saturating_sub(n) / 2
}

impl ShmModel {
    /// Parses a `.shm` file.
    ///
    /// # Errors
    /// [`ShmError`] for every way the bytes can be wrong.
    pub fn parse(b: &[u8]) -> Result<Self, ShmError> {
        if b.len() < 8 + 24 {
            return Err(ShmError::Truncated);
        }
        if b.get(..4) != Some(b"SHM1".as_slice()) {
            return Err(ShmError::BadMagic);
        }
        let (body, sum) = b.split_at(b.len() - 8);
        let want = u64::from_le_bytes(le(sum));
        if !crate::quant::file::checksum_ok(body, want) {
            return Err(ShmError::Checksum);
        }
        let mut r = Reader { b: body, at: 4 };
        let version = r.u32()?;
        if version != 1 {
            return Err(ShmError::UnsupportedVersion(version));
        }
        let count = r.u32()? as usize;
        let size = r.u32()? as usize;
        let classes = r.u32()? as usize;
        let mean = r.f32()?;
        let std = r.f32()?;
        if count == 0 || count > MAX_LAYERS {
            return Err(ShmError::BadField("layer count"));
        }
        if !(1..=4096).contains(&size) || classes == 0 || classes > MAX_CHANNELS {
            return Err(ShmError::BadField("input size or classes"));
        }
        if !(mean.is_finite() && std.is_finite() && std > 0.0) {
            return Err(ShmError::BadField("normalisation"));
        }
        let mut layers = Vec::new();
        for _ in 0..count {
            let kind = match r.u8()? {
                0 => Kind::Conv,
                1 => Kind::Depthwise,
                2 => Kind::Pointwise,
                3 => Kind::Classifier,
                _ => return Err(ShmError::BadField("layer kind")),
            };
            let stride = r.u8()? as usize;
            let kernel = r.u8()? as usize;
            let flags = r.u8()?;
            let cin = r.u32()? as usize;
            let cout = r.u32()? as usize;
            if !(1..=4).contains(&stride) || !(1..=15).contains(&kernel) {
                return Err(ShmError::BadField("stride or kernel"));
            }
            if cin == 0 || cout == 0 || cin > MAX_CHANNELS || cout > MAX_CHANNELS {
                return Err(ShmError::BadField("channels"));
            }
            let weights = match kind {
                Kind::Conv | Kind::Depthwise => {
                    let n = if kind == Kind::Conv {
                        cout * kernel * kernel * cin
                    } else {
                        kernel * kernel * cout
                    };
                    let raw = r.take(n.checked_mul(2).ok_or(ShmError::Truncated)?)?;
                    Weights::Dense(
                        raw.chunks_exact(2)
                            .map(|c| half::f16::from_le_bytes(le(c)).to_f32())
                            .collect(),
                    )
                }
                Kind::Pointwise | Kind::Classifier => {
                    let len = r.u32()? as usize;
                    let mut g = GearMatrix::from_bytes(r.take(len)?)
                        .map_err(|_| ShmError::BadGraph("embedded matrix"))?;
                    // Pointwise layers multiply whole images (batched
                    // products): where those take the AVX2 panel path, the
                    // codes are kept in panel order too (the same bits).
                    if kind == Kind::Pointwise && crate::quant::gemm::fused() {
                        g.pack_panels();
                    }
                    if g.backbone().rows() != cout || g.backbone().cols() != cin {
                        return Err(ShmError::BadGraph("matrix shape"));
                    }
                    Weights::Packed(alloc::boxed::Box::new(g))
                }
            };
            let bias: Vec<f32> = r
                .take(cout * 4)?
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect();
            layers.push(Layer {
                kind,
                stride,
                kernel,
                relu6: flags & 1 != 0,
                residual: flags & 2 != 0,
                first: flags & 4 != 0,
                cin,
                cout,
                weights,
                bias,
            });
        }
        if r.at != body.len() {
            return Err(ShmError::BadField("trailing bytes"));
        }
        let model = ShmModel {
            size,
            classes,
            mean,
            std,
            layers,
        };
        model.validate()?;
        Ok(model)
    }

    fn validate(&self) -> Result<(), ShmError> {
        let mut ch = 3;
        let mut side = self.size;
        let mut block_in = (0, 0);
        for (i, l) in self.layers.iter().enumerate() {
            if l.first {
                block_in = (ch, side);
            }
            if l.cin != ch && l.kind != Kind::Depthwise {
                return Err(ShmError::BadGraph("channel counts do not chain"));
            }
            if l.kind == Kind::Depthwise && (l.cin != ch || l.cout != ch) {
                return Err(ShmError::BadGraph("depthwise channels"));
            }
            if l.kind == Kind::Classifier && (i + 1 != self.layers.len() || l.cout != self.classes)
            {
                return Err(ShmError::BadGraph("the classifier must be last"));
            }
            if matches!(l.kind, Kind::Conv | Kind::Depthwise) {
                side = out_size(side, l.stride);
            }
            ch = l.cout;
            if l.residual && block_in != (ch, side) {
                return Err(ShmError::BadGraph("residual shape"));
            }
        }
        if self.layers.last().map(|l| l.kind) != Some(Kind::Classifier) {
            return Err(ShmError::BadGraph("no classifier"));
        }
        Ok(())
    }

    /// Runs the model on a `size × size × 3` uint8 image; returns the logits.
    ///
    /// # Errors
    /// [`ShmError::InputSize`].
    pub fn run(&self, image: &[u8]) -> Result<Vec<f32>, ShmError> {
        self.classify_features(&self.features(image)?)
    }

    /// The classifier applied to pooled features (from
    /// [`ShmModel::features`]): the logits.
    ///
    /// # Errors
    /// [`ShmError::BadGraph`] for features of the wrong length.
    pub fn classify_features(&self, pooled: &[f32]) -> Result<Vec<f32>, ShmError> {
        let (g, l) = self.classifier()?;
        let mut y = vec![0.0f32; l.cout];
        g.gemv(pooled, &mut y)
            .map_err(|_| ShmError::BadGraph("classifier shape"))?;
        for (v, b) in y.iter_mut().zip(&l.bias) {
            *v += b;
        }
        Ok(y)
    }

    /// The last layer, which `parse` checked is the packed classifier.
    fn classifier(&self) -> Result<(&GearMatrix, &Layer), ShmError> {
        match self.layers.last() {
            Some(
                l @ Layer {
                    weights: Weights::Packed(g),
                    kind: Kind::Classifier,
                    ..
                },
            ) => Ok((g, l)),
            _ => Err(ShmError::BadGraph("no classifier")),
        }
    }

    /// The classifier's weight rows, decoded (`classes × features`,
    /// row-major): the class prototypes of the penultimate feature space.
    ///
    /// # Errors
    /// [`ShmError::BadGraph`] when the model has no classifier.
    pub fn prototypes(&self) -> Result<Vec<f32>, ShmError> {
        let (g, l) = self.classifier()?;
        let mut w = vec![0.0f32; l.cin * l.cout];
        g.dequantize_all(&mut w)
            .map_err(|_| ShmError::BadGraph("classifier shape"))?;
        Ok(w)
    }

    /// The penultimate features of a `size × size × 3` uint8 image: the
    /// last feature map averaged over its pixels (what the classifier reads).
    ///
    /// # Errors
    /// [`ShmError::InputSize`].
    pub fn features(&self, image: &[u8]) -> Result<Vec<f32>, ShmError> {
        Ok(self.features_in(&mut Workspace::default(), image)?.to_vec())
    }

    /// [`ShmModel::run`] with the activations in `ws`, which keeps its
    /// buffers for the next image (no allocation once they have grown).
    ///
    /// ```no_run
    /// # fn demo(bytes: &[u8], images: &[Vec<u8>]) -> Result<(), shoal_core::model::ShmError> {
    /// use shoal_core::model::{ShmModel, Workspace};
    /// let model = ShmModel::parse(bytes)?;
    /// let mut ws = Workspace::default();
    /// for image in images {
    ///     let logits = model.run_in(&mut ws, image)?;
    ///     println!("{:?}", logits.iter().copied().fold(f32::MIN, f32::max));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`ShmError::InputSize`].
    pub fn run_in(&self, ws: &mut Workspace, image: &[u8]) -> Result<Vec<f32>, ShmError> {
        let pooled = self.features_in(ws, image)?;
        self.classify_features(pooled)
    }

    /// [`ShmModel::features`] with the activations in `ws` (see
    /// [`ShmModel::run_in`]); the features are borrowed from it.
    ///
    /// # Errors
    /// [`ShmError::InputSize`].
    pub fn features_in<'w>(
        &self,
        ws: &'w mut Workspace,
        image: &[u8],
    ) -> Result<&'w [f32], ShmError> {
        let s = self.size;
        if image.len() != s * s * 3 {
            return Err(ShmError::InputSize {
                expected: s * s * 3,
                found: image.len(),
            });
        }
        let inv = 1.0 / self.std;
        let first = grow(&mut ws.bufs[0], image.len());
        for (v, &b) in first.iter_mut().zip(image) {
            *v = (f32::from(b) - self.mean) * inv;
        }
        let (mut h, mut w, mut c) = (s, s, 3usize);
        // Indices into `ws.bufs`: the current input, and the block input
        // (kept for the residual); each layer writes the third buffer.
        let (mut inp, mut blk) = (0usize, 0usize);
        for l in &self.layers {
            if l.first {
                blk = inp;
            }
            if l.kind == Kind::Classifier {
                let n = h * w;
                let pooled = grow(&mut ws.pooled, c);
                pooled.fill(0.0);
                for px in slot(&ws.bufs, inp, n * c).chunks_exact(c) {
                    for (p, v) in pooled.iter_mut().zip(px) {
                        *p += v;
                    }
                }
                pooled.iter_mut().for_each(|p| *p /= n as f32);
                return Ok(pooled);
            }
            let out = (0..3).find(|&i| i != inp && i != blk).unwrap_or(0);
            let (oh, ow) = match l.kind {
                Kind::Conv | Kind::Depthwise => (out_size(h, l.stride), out_size(w, l.stride)),
                _ => (h, w),
            };
            let len = oh * ow * l.cout;
            let mut y = ws
                .bufs
                .get_mut(out)
                .map(core::mem::take)
                .unwrap_or_default();
            let ys = grow(&mut y, len);
            let x = slot(&ws.bufs, inp, h * w * c);
            let res = match l.residual {
                true => slot(&ws.bufs, blk, len),
                false => &[],
            };
            let clamp = l.relu6.then_some((0.0, 6.0));
            let g = conv::Geom {
                h,
                w,
                c,
                k: l.kernel,
                s: l.stride,
                cout: l.cout,
            };
            let done = match (&l.weights, l.kind) {
                (Weights::Dense(f), k @ (Kind::Conv | Kind::Depthwise)) => {
                    let o = conv::Operands {
                        x,
                        g,
                        f,
                        bias: &l.bias,
                        clamp,
                    };
                    conv::convolution(k == Kind::Depthwise, &o, ys);
                    // A residual after a convolution (the format allows
                    // one; the models written here have none): a pass after
                    // the clamp, nothing without one.
                    Epilogue {
                        res,
                        ..Epilogue::NONE
                    }
                    .apply(ys, l.cout, 0)
                    .map_err(|_| ShmError::BadGraph("residual shape"))
                }
                (Weights::Packed(m), Kind::Pointwise) => {
                    // Bias, ReLU6 and the residual as each tile is stored.
                    let epi = Epilogue {
                        bias: &l.bias,
                        clamp,
                        res,
                    };
                    m.gemm_with(x, h * w, ys, &epi, &mut ws.panels)
                        .map_err(|_| ShmError::BadGraph("pointwise shape"))
                }
                _ => Err(ShmError::BadGraph("weights do not match the layer kind")),
            };
            if let Some(b) = ws.bufs.get_mut(out) {
                *b = y;
            }
            done?;
            (h, w, c, inp) = (oh, ow, l.cout, out);
        }
        Err(ShmError::BadGraph("no classifier"))
    }
}

/// Activation buffers for [`ShmModel::run_in`] and
/// [`ShmModel::features_in`], kept between images.
#[derive(Clone, Debug, Default)]
pub struct Workspace {
    /// Three feature maps: a layer's input, the block input and the output.
    bufs: [Vec<f32>; 3],
    /// The pointwise layers' decoded weight panels.
    panels: Vec<f32>,
    /// The pooled features.
    pooled: Vec<f32>,
}

/// `n` values of `v`, which is grown (with zeros) when short; it never
/// shrinks, so a kept buffer is filled once.
///
/// The `n` values start at the first 64-byte boundary inside `v` (see
/// [`align64`]): the kernels' 32-byte loads of activations then never
/// straddle cache lines (large buffers come from the allocator 16 bytes
/// past a page boundary; aligned, the 5 x 5 depthwise layers took about 40%
/// less time here).
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n + 15 {
        v.resize(n + 15, 0.0);
    }
    let at = align64(v);
    v.get_mut(at..at + n).unwrap_or_default()
}

/// The index of the first value of `v` on a 64-byte boundary (0 to 15).
fn align64(v: &[f32]) -> usize {
    (64 - v.as_ptr() as usize % 64) % 64 / 4
}

/// The `n` values of buffer `i` that [`grow`] handed out (empty if there
/// are fewer).
fn slot(bufs: &[Vec<f32>; 3], i: usize, n: usize) -> &[f32] {
    bufs.get(i)
        .and_then(|b| b.get(align64(b)..align64(b) + n))
        .unwrap_or_default()
}

/// One layer for [`write()`]: weights as f32 (`[out][ky][kx][in]` for the stem,
/// `[ky][kx][channel]` for depthwise) or a packed matrix.
pub struct LayerSpec {
    /// Kind.
    pub kind: Kind,
    /// Stride.
    pub stride: u8,
    /// Kernel size.
    pub kernel: u8,
    /// Flags (1 ReLU6, 2 residual, 4 block start).
    pub flags: u8,
    /// Input channels.
    pub cin: u32,
    /// Output channels.
    pub cout: u32,
    /// Weights.
    pub weights: Weights,
    /// Biases.
    pub bias: Vec<f32>,
}

/// Serialises a model (see the module docs for the layout).
pub fn write(size: u32, classes: u32, mean: f32, std: f32, layers: &[LayerSpec]) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"SHM1");
    for v in [1u32, layers.len() as u32, size, classes] {
        o.extend_from_slice(&v.to_le_bytes());
    }
    o.extend_from_slice(&mean.to_le_bytes());
    o.extend_from_slice(&std.to_le_bytes());
    for l in layers {
        o.push(match l.kind {
            Kind::Conv => 0,
            Kind::Depthwise => 1,
            Kind::Pointwise => 2,
            Kind::Classifier => 3,
        });
        o.extend_from_slice(&[l.stride, l.kernel, l.flags]);
        o.extend_from_slice(&l.cin.to_le_bytes());
        o.extend_from_slice(&l.cout.to_le_bytes());
        match &l.weights {
            Weights::Dense(f) => f
                .iter()
                .for_each(|v| o.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes())),
            Weights::Packed(g) => {
                let b = g.to_bytes();
                o.extend_from_slice(&(b.len() as u32).to_le_bytes());
                o.extend_from_slice(&b);
            }
        }
        l.bias
            .iter()
            .for_each(|v| o.extend_from_slice(&v.to_le_bytes()));
    }
    let sum = fnv1a64(&o);
    o.extend_from_slice(&sum.to_le_bytes());
    o
}
