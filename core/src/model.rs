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
                    let g = GearMatrix::from_bytes(r.take(len)?)
                        .map_err(|_| ShmError::BadGraph("embedded matrix"))?;
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
        let s = self.size;
        if image.len() != s * s * 3 {
            return Err(ShmError::InputSize {
                expected: s * s * 3,
                found: image.len(),
            });
        }
        let inv = 1.0 / self.std;
        let mut x: Vec<f32> = image
            .iter()
            .map(|&v| (f32::from(v) - self.mean) * inv)
            .collect();
        let (mut h, mut w, mut c) = (s, s, 3usize);
        let mut block_in: Vec<f32> = Vec::new();
        for l in &self.layers {
            // A block's input is kept for its residual (moved, not copied).
            if l.first {
                block_in = core::mem::take(&mut x);
            }
            let input = if l.first { &block_in } else { &x };
            let y = match (&l.weights, l.kind) {
                (Weights::Dense(f), Kind::Conv) => conv(input, h, w, c, f, l),
                (Weights::Dense(f), Kind::Depthwise) => depthwise(input, h, w, c, f, l),
                (Weights::Packed(g), Kind::Pointwise) => {
                    let mut y = vec![0.0f32; h * w * l.cout];
                    g.gemm(input, h * w, &mut y)
                        .map_err(|_| ShmError::BadGraph("pointwise shape"))?;
                    y
                }
                (Weights::Packed(_), Kind::Classifier) => {
                    let mut pooled = vec![0.0f32; c];
                    for px in input.chunks_exact(c) {
                        for (p, v) in pooled.iter_mut().zip(px) {
                            *p += v;
                        }
                    }
                    let n = (h * w) as f32;
                    pooled.iter_mut().for_each(|p| *p /= n);
                    return Ok(pooled);
                }
                _ => return Err(ShmError::BadGraph("weights do not match the layer kind")),
            };
            if matches!(l.kind, Kind::Conv | Kind::Depthwise) {
                h = out_size(h, l.stride);
                w = out_size(w, l.stride);
            }
            c = l.cout;
            x = y;
            // The pointwise bias (the convolutions started from theirs),
            // ReLU6 and the residual in one pass, in that order per value.
            let bias: &[f32] = if l.kind == Kind::Pointwise {
                &l.bias
            } else {
                &[]
            };
            let res: &[f32] = if l.residual { &block_in } else { &[] };
            finish(&mut x, bias, l.relu6, res);
        }
        Err(ShmError::BadGraph("no classifier"))
    }
}

/// `v = v + bias[channel]` (when `bias` is not empty), then the ReLU6 clamp
/// (when `relu6`), then `v += res[i]` (when `res` is not empty; validated to
/// have `x`'s shape), for every value of `x` (channels innermost,
/// `bias.len()` of them): one pass, each value's steps in that order.
fn finish(x: &mut [f32], bias: &[f32], relu6: bool, res: &[f32]) {
    match (!bias.is_empty(), relu6, !res.is_empty()) {
        (false, false, false) => {}
        (false, false, true) => finish_pass::<false, false, true>(x, bias, res),
        (false, true, false) => finish_pass::<false, true, false>(x, bias, res),
        (false, true, true) => finish_pass::<false, true, true>(x, bias, res),
        (true, false, false) => finish_pass::<true, false, false>(x, bias, res),
        (true, false, true) => finish_pass::<true, false, true>(x, bias, res),
        (true, true, false) => finish_pass::<true, true, false>(x, bias, res),
        (true, true, true) => finish_pass::<true, true, true>(x, bias, res),
    }
}

/// [`finish`] with its steps fixed at compile time (`B`: bias, `R`: ReLU6,
/// `S`: residual), so that the loop has no branches and vectorises.
// Float engine: every index below is bounded by the slices' lengths.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn finish_pass<const B: bool, const R: bool, const S: bool>(
    x: &mut [f32],
    bias: &[f32],
    res: &[f32],
) {
    let c = if B { bias.len() } else { x.len() }.max(1);
    for (i, px) in x.chunks_mut(c).enumerate() {
        let n = px.len();
        let b = if B { &bias[..n] } else { &[][..] };
        let r = match S {
            true => match res.get(i * c..i * c + n) {
                Some(r) => r,
                None => return,
            },
            false => &[][..],
        };
        for (k, v) in px.iter_mut().enumerate() {
            let mut y = *v;
            if B {
                y += b[k];
            }
            if R {
                y = y.clamp(0.0, 6.0);
            }
            if S {
                y += r[k];
            }
            *v = y;
        }
    }
}

/// Shared loop of the stem and depthwise convolutions (TF `SAME` padding):
/// for every output pixel, starts from the biases and calls
/// `tap(out, input_pixel, ky, kx)` for each filter tap inside the image.
// Float engine: every index below is bounded by shapes `parse` validated.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn convolve(
    x: &[f32],
    h: usize,
    w: usize,
    c: usize,
    l: &Layer,
    mut tap: impl FnMut(&mut [f32], &[f32], usize, usize),
) -> Vec<f32> {
    let (k, s) = (l.kernel, l.stride);
    let (oh, ow) = (out_size(h, s), out_size(w, s));
    let (pt, pl) = (pad_before(h, k, s), pad_before(w, k, s));
    // Each pixel's outputs start from the biases (no zero-filled buffer).
    let mut y = Vec::with_capacity(oh * ow * l.cout);
    for _ in 0..oh * ow {
        y.extend_from_slice(&l.bias);
    }
    for oy in 0..oh {
        for ox in 0..ow {
            let out = &mut y[(oy * ow + ox) * l.cout..(oy * ow + ox + 1) * l.cout];
            for ky in 0..k {
                let iy = (oy * s + ky) as isize - pt as isize;
                if iy < 0 || iy as usize >= h {
                    continue;
                }
                for kx in 0..k {
                    let ix = (ox * s + kx) as isize - pl as isize;
                    if ix < 0 || ix as usize >= w {
                        continue;
                    }
                    tap(out, &x[(iy as usize * w + ix as usize) * c..][..c], ky, kx);
                }
            }
        }
    }
    y
}

// Float engine: every index below is bounded by shapes `parse` validated.
#[allow(clippy::indexing_slicing)]
fn conv(x: &[f32], h: usize, w: usize, c: usize, f: &[f32], l: &Layer) -> Vec<f32> {
    let (k, cout) = (l.kernel, l.cout);
    // The filter with output channels innermost, so that each input value
    // updates every output channel in one vectorised pass.
    let mut ft = vec![0.0f32; k * k * c * cout];
    for o in 0..cout {
        for t in 0..k * k * c {
            ft[t * cout + o] = f[o * k * k * c + t];
        }
    }
    convolve(x, h, w, c, l, |out, px, ky, kx| {
        for (ci, &xv) in px.iter().enumerate() {
            let row = &ft[((ky * k + kx) * c + ci) * cout..][..cout];
            for (v, &fw) in out.iter_mut().zip(row) {
                *v += xv * fw;
            }
        }
    })
}

/// [`depthwise_plain`], compiled for AVX2 where the CPU has it: the same
/// f32 operations per element (product, then sum; no fused multiply-add),
/// eight channels per instruction, so the same bits.
fn depthwise(x: &[f32], h: usize, w: usize, c: usize, f: &[f32], l: &Layer) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::avx2_available() {
        // SAFETY: AVX2 support was just checked.
        return unsafe { depthwise_avx2(x, h, w, c, f, l) };
    }
    depthwise_plain(x, h, w, c, f, l)
}

/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn depthwise_avx2(
    x: &[f32],
    h: usize,
    w: usize,
    c: usize,
    f: &[f32],
    l: &Layer,
) -> Vec<f32> {
    depthwise_plain(x, h, w, c, f, l)
}

// Float engine: every index below is bounded by shapes `parse` validated.
#[allow(clippy::indexing_slicing)]
#[inline(always)]
fn depthwise_plain(x: &[f32], h: usize, w: usize, c: usize, f: &[f32], l: &Layer) -> Vec<f32> {
    let k = l.kernel;
    convolve(x, h, w, c, l, |out, px, ky, kx| {
        let fk = &f[(ky * k + kx) * c..][..c];
        for ((v, a), b) in out.iter_mut().zip(px).zip(fk) {
            *v += a * b;
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass `finish` equals its steps done one pass after another
    /// (bias, ReLU6, residual), bit for bit, for every combination.
    #[test]
    fn finish_equals_its_steps_in_turn() {
        let mut rng = crate::rng::Rng::new(3);
        let mut val = || (rng.next_f64() as f32 - 0.5) * 16.0;
        let (c, n) = (13, 13 * 7);
        let x0: Vec<f32> = (0..n).map(|_| val()).collect();
        let bias0: Vec<f32> = (0..c).map(|_| val()).collect();
        let res0: Vec<f32> = (0..n).map(|_| val()).collect();
        for mask in 0..8 {
            let bias: &[f32] = if mask & 1 != 0 { &bias0 } else { &[] };
            let relu6 = mask & 2 != 0;
            let res: &[f32] = if mask & 4 != 0 { &res0 } else { &[] };
            let mut want = x0.clone();
            for (v, b) in want.iter_mut().zip(bias.iter().cycle()) {
                *v += b;
            }
            if relu6 {
                want.iter_mut().for_each(|v| *v = v.clamp(0.0, 6.0));
            }
            for (v, r) in want.iter_mut().zip(res) {
                *v += r;
            }
            let mut got = x0.clone();
            finish(&mut got, bias, relu6, res);
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "mask {mask}"
            );
        }
    }

    /// The depthwise convolution compiled for AVX2 equals the plain loops
    /// bit for bit (strides 1 and 2, 3 x 3 and 5 x 5, channel counts that
    /// are and are not multiples of eight).
    #[test]
    fn depthwise_dispatch_equals_plain_loops() {
        let mut rng = crate::rng::Rng::new(21);
        for (h, c, k, s) in [
            (9usize, 16usize, 3usize, 1usize),
            (10, 24, 5, 2),
            (7, 13, 3, 2),
            (12, 40, 3, 1),
            (11, 75, 5, 1),
            (6, 5, 3, 1),
        ] {
            let x: Vec<f32> = (0..h * h * c)
                .map(|_| rng.next_f64() as f32 - 0.5)
                .collect();
            let f: Vec<f32> = (0..k * k * c)
                .map(|_| rng.next_f64() as f32 - 0.5)
                .collect();
            let l = Layer {
                kind: Kind::Depthwise,
                stride: s,
                kernel: k,
                relu6: true,
                residual: false,
                first: false,
                cin: c,
                cout: c,
                weights: Weights::Dense(f.clone()),
                bias: (0..c).map(|i| i as f32 * 0.01).collect(),
            };
            let a = depthwise(&x, h, h, c, &f, &l);
            let b = depthwise_plain(&x, h, h, c, &f, &l);
            assert_eq!(a.len(), b.len());
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()));
        }
    }
}
