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
