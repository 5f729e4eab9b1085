//! Image classification with uint8 TFLite models: image decoding and
//! resizing, top-K with labels, the sea-life catalogue and an uncertainty
//! score.

use std::fmt;

use shoal_core::tflite::{Model, TfliteError};

/// The built-in default model: EfficientNet-Lite0 (ImageNet) in Shoal's own
/// compressed format (see `host-gpu/models/LICENSE.md`).
pub const DEFAULT_MODEL: &[u8] = include_bytes!("../models/efficientnet-lite0.shm");
/// Labels of the built-in model, in output order.
pub const DEFAULT_LABELS: &str = include_str!("../models/imagenet-labels.txt");

/// The built-in catalogue of ImageNet fish and sea-life classes.
pub const SEA_LIFE_CATALOG: &str = include_str!("../catalog/sea-life.tsv");

/// Largest image file read (bytes) and largest decoded image (pixels).
pub const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Largest decoded image, in pixels.
pub const MAX_PIXELS: u64 = 64 << 20;

/// Errors of classification.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClassifyError {
    /// The model could not be read or run.
    Model(TfliteError),
    /// The image could not be read or decoded.
    Image(String),
    /// The model is not a single-input uint8 HxWx3 image classifier.
    UnsupportedModel(&'static str),
    /// A catalogue line is malformed (1-based line number).
    Catalog(usize),
}

impl fmt::Display for ClassifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClassifyError::Model(e) => write!(f, "{e}"),
            ClassifyError::Image(e) => write!(f, "image: {e}"),
            ClassifyError::UnsupportedModel(w) => {
                write!(f, "model not supported for classify: {w}")
            }
            ClassifyError::Catalog(l) => {
                write!(f, "catalogue line {l}: expected 5 tab-separated fields")
            }
        }
    }
}

impl std::error::Error for ClassifyError {}

impl From<TfliteError> for ClassifyError {
    fn from(e: TfliteError) -> Self {
        ClassifyError::Model(e)
    }
}

pub use shoal_core::classify::CatalogEntry;

/// Parses a catalogue (`#` comments, 5 tab-separated fields per line).
///
/// # Errors
/// [`ClassifyError::Catalog`] naming the first bad line.
pub fn parse_catalog(text: &str) -> Result<Vec<CatalogEntry>, ClassifyError> {
    shoal_core::classify::parse_catalog(text).map_err(|e| ClassifyError::Catalog(e.0))
}

/// Decodes a JPEG, PNG or BMP file into RGB8 `(width, height, pixels)`;
/// an image with an alpha channel is composited over white.
///
/// # Errors
/// [`ClassifyError::Image`] for unreadable, oversized or corrupt images.
pub fn decode_image(bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), ClassifyError> {
    decode_image_within(bytes, MAX_PIXELS)
}

/// As [`decode_image`] with a smaller pixel cap (at most [`MAX_PIXELS`]):
/// the dimensions are checked before any pixel buffer is allocated.
///
/// # Errors
/// [`ClassifyError::Image`] for unreadable, oversized or corrupt images.
pub fn decode_image_within(
    bytes: &[u8],
    max_pixels: u64,
) -> Result<(u32, u32, Vec<u8>), ClassifyError> {
    let max_pixels = max_pixels.min(MAX_PIXELS);
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ClassifyError::Image(e.to_string()))?;
    let mut reader = reader;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(max_pixels * 4);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ClassifyError::Image(e.to_string()))?;
    let (w, h) = (img.width(), img.height());
    let pixels = if img.color().has_alpha() {
        shoal_core::image::rgba_over_white(img.to_rgba8().as_raw())
    } else {
        img.to_rgb8().into_raw()
    };
    if u64::from(w) * u64::from(h) > max_pixels || w == 0 || h == 0 {
        return Err(ClassifyError::Image(format!(
            "{w} x {h} pixels is outside the supported range"
        )));
    }
    Ok((w, h, pixels))
}

pub use shoal_core::image::resize_rgb;

/// Input size `(height, width)` of a single-input uint8 image model.
///
/// # Errors
/// [`ClassifyError::UnsupportedModel`].
pub fn input_size(model: &Model<'_>) -> Result<(usize, usize), ClassifyError> {
    let i = *model
        .inputs
        .first()
        .ok_or(ClassifyError::UnsupportedModel("no input"))?;
    let t = &model.tensors[i];
    match t.shape[..] {
        [1, h, w, 3]
            if matches!(
                t.dtype,
                shoal_core::tflite::DType::U8 | shoal_core::tflite::DType::F32
            ) =>
        {
            Ok((h, w))
        }
        _ => Err(ClassifyError::UnsupportedModel(
            "input is not a 1xHxWx3 uint8 or float32 tensor",
        )),
    }
}

/// The input bytes of `model` for an RGB image already resized to its
/// size: the bytes themselves for a uint8 input; for a float32 input each
/// value `(v - mean) / std`, little-endian (MobileNet float models expect
/// mean = std = 127.5).
pub fn model_input(model: &Model<'_>, rgb: Vec<u8>, mean: f32, std: f32) -> Vec<u8> {
    let float = model
        .inputs
        .first()
        .and_then(|&i| model.tensors.get(i))
        .is_some_and(|t| t.dtype == shoal_core::tflite::DType::F32);
    if !float {
        return rgb;
    }
    rgb.iter()
        .flat_map(|&v| ((f32::from(v) - mean) / std).to_le_bytes())
        .collect()
}

/// One classification result.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// Raw output tensor bytes (uint8 values, or little-endian float32 for
    /// a model ending in DEQUANTIZE).
    pub raw: Vec<u8>,
    /// Dequantized scores.
    pub scores: Vec<f32>,
    /// Class indices, best first (`top` of them).
    pub top: Vec<usize>,
    /// Softmax margin between the two best classes (0: undecided, 1: certain).
    pub margin: f32,
    /// Normalised entropy of the scores (0: certain, 1: uniform).
    pub entropy: f32,
}

/// Softmax of logits, then the same ranking and uncertainty as [`predict`]
/// (for float models such as the built-in `.shm`).
pub fn rank_logits(logits: &[f32], top: usize) -> Prediction {
    rank(Vec::new(), shoal_core::classify::softmax(logits), top)
}

fn rank(raw: Vec<u8>, scores: Vec<f32>, top: usize) -> Prediction {
    let r = shoal_core::classify::rank(&scores, top);
    Prediction {
        raw,
        scores,
        top: r.top,
        margin: r.margin,
        entropy: r.entropy,
    }
}

/// Runs the model (prepared by `runner`, made from this model) on an
/// already-resized HxWx3 uint8 input.
///
/// # Errors
/// [`ClassifyError::Model`].
pub fn predict(
    model: &Model<'_>,
    runner: &mut shoal_core::tflite::Runner,
    input: &[u8],
    top: usize,
) -> Result<Prediction, ClassifyError> {
    let out = runner.run(model, input)?;
    Ok(rank_raw(model, out.to_vec(), top))
}

/// Ranking and uncertainty of a raw uint8 output of `model` (from the CPU
/// engine or the GPU), dequantized with the output tensor's scale.
pub fn rank_raw(model: &Model<'_>, raw: Vec<u8>, top: usize) -> Prediction {
    let Some(o) = model.outputs.first().and_then(|&i| model.tensors.get(i)) else {
        return rank(raw, Vec::new(), top);
    };
    let scores = o.values(&raw);
    rank(raw, scores, top)
}
