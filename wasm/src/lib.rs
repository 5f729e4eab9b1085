//! # shoal-wasm
//!
//! JavaScript bindings of the Shoal core, built with `wasm-bindgen --target web`
//! (or `nodejs`). No export panics: bad input becomes a JS exception
//! (`Error` with a message) and the instance keeps working.
//!
//! ```js
//! import init, { logBesselI, vmfFit } from './pkg/shoal_wasm.js';
//! await init();
//! const y = logBesselI(new Float64Array([0.5, 5000]), new Float64Array([2, 1000]));
//! ```
#![deny(missing_docs)]

use js_sys::{Float64Array, Object, Reflect};
use shoal_core::{bessel, vmf};
use wasm_bindgen::prelude::*;

fn lengths(v: &Float64Array, x: &Float64Array) -> Result<(Vec<f64>, Vec<f64>), JsError> {
    let (v, x) = (v.to_vec(), x.to_vec());
    if v.len() != x.len() {
        return Err(JsError::new(&format!(
            "orders and arguments differ in length ({} vs {})",
            v.len(),
            x.len()
        )));
    }
    Ok((v, x))
}

fn map2(
    v: &Float64Array,
    x: &Float64Array,
    f: fn(f64, f64) -> f64,
) -> Result<Float64Array, JsError> {
    let (v, x) = lengths(v, x)?;
    let out: Vec<f64> = v.iter().zip(&x).map(|(&a, &b)| f(a, b)).collect();
    Ok(Float64Array::from(out.as_slice()))
}

type SliceFn = fn(&[f64], &[f64], &mut [f64]) -> Result<(), bessel::BesselError>;

fn slice2(v: &Float64Array, x: &Float64Array, f: SliceFn) -> Result<Float64Array, JsError> {
    let (v, x) = lengths(v, x)?;
    let mut out = vec![0.0; v.len()];
    f(&v, &x, &mut out).map_err(|e| JsError::new(&e.to_string()))?;
    Ok(Float64Array::from(out.as_slice()))
}

/// `ln I_v(x)` element-wise (f64; simd128 in the SIMD build). NaN for
/// negative or NaN inputs.
#[wasm_bindgen(js_name = logBesselI)]
pub fn log_bessel_i(v: &Float64Array, x: &Float64Array) -> Result<Float64Array, JsError> {
    slice2(v, x, bessel::log_bessel_i_slice)
}

/// `ln K_v(x)` element-wise (f64; simd128 in the SIMD build).
#[wasm_bindgen(js_name = logBesselK)]
pub fn log_bessel_k(v: &Float64Array, x: &Float64Array) -> Result<Float64Array, JsError> {
    slice2(v, x, bessel::log_bessel_k_slice)
}

/// `ln I_v(x)` element-wise through the pure-f32 kernel that mirrors the WGSL
/// shader operation for operation (for comparing with WebGPU results).
#[wasm_bindgen(js_name = logBesselIF32Twin)]
pub fn log_bessel_i_f32_twin(v: &Float64Array, x: &Float64Array) -> Result<Float64Array, JsError> {
    map2(v, x, |a, b| {
        f64::from(bessel::scalar_f32::log_i(a as f32, b as f32))
    })
}

/// `ln K_v(x)` element-wise through the pure-f32 twin of the WGSL kernel.
#[wasm_bindgen(js_name = logBesselKF32Twin)]
pub fn log_bessel_k_f32_twin(v: &Float64Array, x: &Float64Array) -> Result<Float64Array, JsError> {
    map2(v, x, |a, b| {
        f64::from(bessel::scalar_f32::log_k(a as f32, b as f32))
    })
}

/// The WGSL source of the log-Bessel kernels (entry points `log_bessel_i`,
/// `log_bessel_k`; bindings 0: orders, 1: arguments, 2: results, all f32).
#[wasm_bindgen(js_name = logBesselWgsl)]
pub fn log_bessel_wgsl() -> String {
    concat!(
        include_str!("../../core/src/bessel/wgsl/debye_table.wgsl"),
        include_str!("../../core/src/bessel/wgsl/log_bessel.wgsl")
    )
    .to_string()
}

/// Maximum-likelihood von Mises-Fisher fit of `samples` (row-major n × p).
/// Returns `{ kappa, meanResultantLength, logNormalizer, iterations, mean }`.
#[wasm_bindgen(js_name = vmfFit)]
pub fn vmf_fit(samples: &Float64Array, p: usize) -> Result<Object, JsError> {
    let data = samples.to_vec();
    let mut mean = vec![0.0; p];
    let fit = vmf::fit(&data, p, &mut mean).map_err(|e| JsError::new(&e.to_string()))?;
    let o = Object::new();
    let set = |k: &str, v: JsValue| Reflect::set(&o, &JsValue::from_str(k), &v).map(|_| ());
    set("kappa", fit.kappa.into()).map_err(|_| JsError::new("building the result failed"))?;
    set("meanResultantLength", fit.mean_resultant_length.into())
        .map_err(|_| JsError::new("building the result failed"))?;
    set("logNormalizer", fit.log_normalizer.into())
        .map_err(|_| JsError::new("building the result failed"))?;
    set("iterations", fit.iterations.into())
        .map_err(|_| JsError::new("building the result failed"))?;
    set("mean", Float64Array::from(mean.as_slice()).into())
        .map_err(|_| JsError::new("building the result failed"))?;
    Ok(o)
}

/// The WGSL source of the quantized TFLite operators (entry points named by
/// `Classifier.lowered().entryPoints`), the same file the native host runs.
#[wasm_bindgen(js_name = tfliteWgsl)]
pub fn tflite_wgsl() -> String {
    include_str!("../../core/src/tflite/wgsl/quantized.wgsl").to_string()
}

/// An image classifier held by JavaScript (`new Classifier(bytes)`): a uint8
/// TFLite model, or a Shoal `.shm` model such as the built-in
/// EfficientNet-Lite0. The model bytes are copied into the instance; every
/// method returns errors as exceptions and leaves the instance usable.
#[wasm_bindgen]
pub struct Classifier {
    bytes: Vec<u8>,
    shm: Option<shoal_core::model::ShmModel>,
    height: usize,
    width: usize,
    classes: usize,
    labels: Vec<String>,
    catalog: Vec<shoal_core::classify::CatalogEntry>,
    top: usize,
    ood: Option<shoal_core::classify::VmfOod>,
    /// A TFLite model's packed filters, activation plan and arena (made
    /// once; a cell because `classify` takes `&self`).
    runner: Option<core::cell::RefCell<shoal_core::tflite::Runner>>,
    /// The built-in model's activation buffers, kept between images.
    shm_ws: core::cell::RefCell<shoal_core::model::Workspace>,
}

/// The ImageNet labels of the built-in `.shm` model (1000 classes).
const IMAGENET_LABELS: &str = include_str!("../../host-gpu/models/imagenet-labels.txt");
/// The built-in sea-life catalogue.
const SEA_LIFE: &str = include_str!("../../host-gpu/catalog/sea-life.tsv");

fn js_err(e: impl core::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

/// Sets `key` on `obj` (building a result object cannot fail in practice).
fn set(obj: &Object, key: &str, value: JsValue) -> Result<(), JsError> {
    Reflect::set(obj, &key.into(), &value)
        .map(|_| ())
        .map_err(|_| JsError::new("building the result failed"))
}

#[wasm_bindgen]
impl Classifier {
    /// Parses and validates a `.tflite` (uint8 input) or `.shm` model.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<Classifier, JsError> {
        let bytes = model.to_vec();
        if bytes.starts_with(b"SHM1") {
            let m = shoal_core::model::ShmModel::parse(&bytes).map_err(js_err)?;
            let labels = if m.classes == 1000 {
                IMAGENET_LABELS.lines().map(String::from).collect()
            } else {
                Vec::new()
            };
            return Ok(Classifier {
                height: m.size,
                width: m.size,
                classes: m.classes,
                ood: shoal_core::classify::builtin_ood::scorer(&bytes, &m),
                shm: Some(m),
                bytes: Vec::new(),
                labels,
                catalog: builtin_catalog(),
                top: 5,
                runner: None,
                shm_ws: Default::default(),
            });
        }
        let m = shoal_core::tflite::Model::parse(&bytes).map_err(js_err)?;
        let input = *m
            .inputs
            .first()
            .ok_or_else(|| JsError::new("model has no input"))?;
        let (height, width) = match m.tensors[input].shape[..] {
            [1, h, w, 3] if m.tensors[input].dtype == shoal_core::tflite::DType::U8 => (h, w),
            _ => return Err(JsError::new("model input is not a 1xHxWx3 uint8 tensor")),
        };
        let out = *m
            .outputs
            .first()
            .ok_or_else(|| JsError::new("model has no output"))?;
        let classes = m.tensors[out].len();
        let runner = Some(core::cell::RefCell::new(
            shoal_core::tflite::Runner::new(&m).map_err(js_err)?,
        ));
        Ok(Classifier {
            bytes,
            shm: None,
            height,
            width,
            classes,
            labels: Vec::new(),
            catalog: builtin_catalog(),
            top: 5,
            ood: None,
            runner,
            shm_ws: Default::default(),
        })
    }

    /// Sets the class labels, one per line in output order (the built-in
    /// model has ImageNet's; a TFLite model's come with it as a text file).
    #[wasm_bindgen(js_name = setLabels)]
    pub fn set_labels(&mut self, text: &str) {
        self.labels = text.lines().map(String::from).collect();
    }

    /// Replaces the built-in sea-life catalogue (tab-separated: label,
    /// common name, scientific name, commonly eaten, conservation note).
    #[wasm_bindgen(js_name = setCatalog)]
    pub fn set_catalog(&mut self, text: &str) -> Result<(), JsError> {
        self.catalog = shoal_core::classify::parse_catalog(text).map_err(js_err)?;
        Ok(())
    }

    /// How many classes results list (at least 1; default 5).
    #[wasm_bindgen(js_name = setTop)]
    pub fn set_top(&mut self, k: usize) {
        self.top = k.max(1);
    }

    /// Input height the model expects.
    #[wasm_bindgen(getter)]
    pub fn height(&self) -> usize {
        self.height
    }

    /// Input width the model expects.
    #[wasm_bindgen(getter)]
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of output classes.
    #[wasm_bindgen(getter)]
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Whether the model can run on WebGPU (quantized TFLite models can;
    /// `.shm` models run in wasm).
    #[wasm_bindgen(getter, js_name = gpuCapable)]
    pub fn gpu_capable(&self) -> bool {
        self.shm.is_none()
    }

    /// The model's input from an RGBA (`ImageData.data`, composited over
    /// white) or RGB image of `width × height`: resized to the model's size,
    /// RGB bytes.
    pub fn input(&self, pixels: &[u8], width: usize, height: usize) -> Result<Vec<u8>, JsError> {
        let n = width
            .checked_mul(height)
            .filter(|&n| n > 0 && n <= 1 << 26)
            .ok_or_else(|| JsError::new("image size out of range"))?;
        let rgb: Vec<u8> = if pixels.len() == n * 4 {
            shoal_core::image::rgba_over_white(pixels)
        } else if pixels.len() == n * 3 {
            pixels.to_vec()
        } else {
            return Err(JsError::new(&format!(
                "{} bytes is neither RGBA nor RGB for {width} x {height}",
                pixels.len()
            )));
        };
        Ok(shoal_core::image::resize_rgb(
            &rgb,
            width,
            height,
            self.width,
            self.height,
        ))
    }

    /// Classifies an RGBA (`ImageData.data`) or RGB image of `width × height`
    /// (resized here to the model's input) in wasm. Returns `{ raw:
    /// Uint8Array, scores: Float32Array, top: [{ index, label, score,
    /// catalog: { common, scientific, edible, conservation } | null }],
    /// margin, entropy }`: one score per class (`raw` is empty for `.shm`
    /// models, whose scores are the softmax of logits), the best classes
    /// with their labels and sea-life catalogue entries, and the
    /// uncertainty (margin between the two best scores; normalised entropy).
    /// For the built-in model also `ood: { logDensity, threshold, unusual }`,
    /// the vMF out-of-distribution score of its penultimate features (see
    /// `shoal_core::classify::VmfOod`).
    pub fn classify(&self, pixels: &[u8], width: usize, height: usize) -> Result<Object, JsError> {
        let input = self.input(pixels, width, height)?;
        if let Some(m) = &self.shm {
            let mut ws = self
                .shm_ws
                .try_borrow_mut()
                .map_err(|_| JsError::new("classify is already running"))?;
            let f = m.features_in(&mut ws, &input).map_err(js_err)?;
            let logits = m.classify_features(f).map_err(js_err)?;
            let r = self.result(Vec::new(), &shoal_core::classify::softmax(&logits))?;
            if let Some(l) = self.ood.as_ref().and_then(|o| o.log_density(f).ok()) {
                let t = shoal_core::classify::builtin_ood::THRESHOLD;
                let o = Object::new();
                set(&o, "logDensity", l.into())?;
                set(&o, "threshold", t.into())?;
                set(&o, "unusual", (l < t).into())?;
                set(&r, "ood", o.into())?;
            }
            return Ok(r);
        }
        let m = shoal_core::tflite::Model::parse(&self.bytes).map_err(js_err)?;
        let out = match &self.runner {
            Some(cell) => {
                let mut runner = cell
                    .try_borrow_mut()
                    .map_err(|_| JsError::new("classify is already running"))?;
                runner.run(&m, &input).map_err(js_err)?.to_vec()
            }
            None => return Err(JsError::new("no TFLite model")),
        };
        self.from_raw(&out)
    }

    /// The result object of [`Classifier::classify`] from a raw uint8
    /// output (as the WebGPU path reads it back).
    #[wasm_bindgen(js_name = fromRaw)]
    pub fn from_raw(&self, raw: &[u8]) -> Result<Object, JsError> {
        let m = shoal_core::tflite::Model::parse(&self.bytes).map_err(js_err)?;
        let o = &m.tensors[m.outputs[0]];
        if self.shm.is_some() || raw.len() != o.byte_len() {
            return Err(JsError::new(&format!(
                "expected the {} raw output bytes of a TFLite model",
                o.byte_len()
            )));
        }
        let scores = o.values(raw);
        self.result(raw.to_vec(), &scores)
    }

    fn result(&self, raw: Vec<u8>, scores: &[f32]) -> Result<Object, JsError> {
        let obj = Object::new();
        set(&obj, "raw", js_sys::Uint8Array::from(&raw[..]).into())?;
        set(&obj, "scores", js_sys::Float32Array::from(scores).into())?;
        let r = shoal_core::classify::rank(scores, self.top);
        let top = js_sys::Array::new();
        for &i in &r.top {
            let label = self
                .labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("class {i}"));
            let e = Object::new();
            set(&e, "index", (i as f64).into())?;
            set(&e, "score", f64::from(scores[i]).into())?;
            let cat = match shoal_core::classify::lookup(&self.catalog, &label) {
                Some(c) => {
                    let o = Object::new();
                    set(&o, "common", c.common.as_str().into())?;
                    set(&o, "scientific", c.scientific.as_str().into())?;
                    set(&o, "edible", c.edible.as_str().into())?;
                    set(&o, "conservation", c.conservation.as_str().into())?;
                    o.into()
                }
                None => JsValue::NULL,
            };
            set(&e, "label", label.into())?;
            set(&e, "catalog", cat)?;
            top.push(&e);
        }
        set(&obj, "top", top.into())?;
        set(&obj, "margin", f64::from(r.margin).into())?;
        set(&obj, "entropy", f64::from(r.entropy).into())?;
        Ok(obj)
    }

    /// The model lowered to WGSL launches (see `shoal_core::tflite::lower`):
    /// `{ entryPoints: string[], params: Int32Array (32 per launch),
    /// threads: Uint32Array, consts: Uint32Array, arenaLen, input: {offset,
    /// len, flip, float}, output: {offset, len, flip, float} }` (`float`:
    /// the elements hold float32 bits, a DEQUANTIZE output). The page runs them with
    /// [`tfliteWgsl`](tflite_wgsl) on WebGPU.
    pub fn lowered(&self) -> Result<Object, JsError> {
        if self.shm.is_some() {
            return Err(JsError::new(".shm models run in wasm only"));
        }
        let m = shoal_core::tflite::Model::parse(&self.bytes).map_err(js_err)?;
        let l = m.lower().map_err(js_err)?;
        let obj = Object::new();
        let names = js_sys::Array::new();
        for s in &l.steps {
            names.push(&s.kernel.entry_point().into());
        }
        set(&obj, "entryPoints", names.into())?;
        let params: Vec<i32> = l.steps.iter().flat_map(|s| s.params).collect();
        set(&obj, "params", js_sys::Int32Array::from(&params[..]).into())?;
        let threads: Vec<u32> = l.steps.iter().map(|s| s.threads).collect();
        set(
            &obj,
            "threads",
            js_sys::Uint32Array::from(&threads[..]).into(),
        )?;
        set(
            &obj,
            "consts",
            js_sys::Uint32Array::from(&l.consts[..]).into(),
        )?;
        set(&obj, "arenaLen", (l.arena_len as f64).into())?;
        for (key, r) in [("input", l.input), ("output", l.output)] {
            let o = Object::new();
            set(&o, "offset", (r.offset as f64).into())?;
            set(&o, "len", (r.len as f64).into())?;
            set(&o, "flip", u32::from(r.flip).into())?;
            set(&o, "float", r.float.into())?;
            set(&obj, key, o.into())?;
        }
        Ok(obj)
    }
}

/// A fastText language identifier (`new LangId(bytes)` with `lid.176.ftz`
/// or any supervised `.bin`/`.ftz`); the same predictions as the native core.
/// The model is parsed once, into memory the instance owns.
#[wasm_bindgen]
pub struct LangId {
    model: shoal_core::fasttext::FastText<'static>,
}

#[wasm_bindgen]
impl LangId {
    /// Parses and validates a fastText model.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<LangId, JsError> {
        let m = shoal_core::fasttext::FastText::from_bytes(model)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(LangId {
            model: m.into_owned(),
        })
    }

    /// The `k` most probable labels of `text`: an array of `{label, prob}`.
    pub fn detect(&self, text: &str, k: usize) -> Result<js_sys::Array, JsError> {
        let m = &self.model;
        let preds = m
            .predict(text, k, 0.0)
            .map_err(|e| JsError::new(&e.to_string()))?;
        let out = js_sys::Array::new();
        let err = |_| JsError::new("building the result failed");
        for p in preds {
            let obj = Object::new();
            let label = m.label(p.label).unwrap_or("?");
            Reflect::set(&obj, &"label".into(), &label.into()).map_err(err)?;
            Reflect::set(&obj, &"prob".into(), &f64::from(p.prob).into()).map_err(err)?;
            out.push(&obj);
        }
        Ok(out)
    }
}

/// A compressed embedding table (`new EmbeddingTable(bytes)` with a `.she`
/// file from `shoal embed build`): single, batched and pooled lookups, the
/// same values as the native core. The table is copied into the instance.
#[wasm_bindgen]
pub struct EmbeddingTable {
    table: shoal_core::embed::Table<'static>,
}

#[wasm_bindgen]
impl EmbeddingTable {
    /// Parses and validates a `.she` file.
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<EmbeddingTable, JsError> {
        let t = shoal_core::embed::Table::from_bytes(bytes).map_err(js_err)?;
        Ok(EmbeddingTable {
            table: t.into_owned(),
        })
    }

    /// Number of rows.
    #[wasm_bindgen(getter)]
    pub fn rows(&self) -> usize {
        self.table.rows()
    }

    /// Row length.
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.table.dim()
    }

    /// The rows of `ids`, concatenated (`ids.length × dim` floats). An id
    /// out of range is an exception naming it; nothing is returned.
    pub fn lookup(&self, ids: &[u32]) -> Result<Vec<f32>, JsError> {
        let ids: Vec<u64> = ids.iter().map(|&i| u64::from(i)).collect();
        let mut out = vec![0.0f32; ids.len() * self.table.dim()];
        self.table.lookup_batch(&ids, &mut out).map_err(js_err)?;
        Ok(out)
    }

    /// Pooled lookups (EmbeddingBag): bag `k` holds `ids[offsets[k] ..
    /// offsets[k + 1]]` (the last runs to the end); `mean` averages instead
    /// of summing. Returns `offsets.length × dim` floats.
    pub fn bag(&self, ids: &[u32], offsets: &[u32], mean: bool) -> Result<Vec<f32>, JsError> {
        let ids: Vec<u64> = ids.iter().map(|&i| u64::from(i)).collect();
        let offsets: Vec<usize> = offsets.iter().map(|&o| o as usize).collect();
        let mut out = vec![0.0f32; offsets.len() * self.table.dim()];
        let mode = if mean {
            shoal_core::embed::Pool::Mean
        } else {
            shoal_core::embed::Pool::Sum
        };
        self.table
            .bag(&ids, &offsets, None, mode, &mut out)
            .map_err(js_err)?;
        Ok(out)
    }
}

/// The built-in sea-life catalogue (tab-separated: label, common name,
/// scientific name, commonly eaten, conservation note; `#` comments).
#[wasm_bindgen(js_name = seaLifeCatalog)]
pub fn sea_life_catalog() -> String {
    SEA_LIFE.to_string()
}

fn builtin_catalog() -> Vec<shoal_core::classify::CatalogEntry> {
    shoal_core::classify::parse_catalog(SEA_LIFE).unwrap_or_default()
}

/// Whether this build was compiled with wasm `simd128`.
#[wasm_bindgen(js_name = simdEnabled)]
pub fn simd_enabled() -> bool {
    cfg!(target_feature = "simd128")
}

/// Crate version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
