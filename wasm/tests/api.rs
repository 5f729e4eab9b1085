//! wasm-bindgen tests of the JS API: run in Node, and in headless Chromium
//! with `WASM_BINDGEN_USE_BROWSER=1`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Float64Array, Reflect};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::wasm_bindgen_test;

fn arr(v: &[f64]) -> Float64Array {
    Float64Array::from(v)
}

#[wasm_bindgen_test]
fn log_bessel_matches_the_core() {
    let v = [0.0, 0.5, 100.0, 5000.0];
    let x = [1.0, 2.0, 1e-3, 1000.0];
    let i = shoal_wasm::log_bessel_i(&arr(&v), &arr(&x))
        .unwrap()
        .to_vec();
    let k = shoal_wasm::log_bessel_k(&arr(&v), &arr(&x))
        .unwrap()
        .to_vec();
    for j in 0..v.len() {
        assert_eq!(i[j], shoal_core::bessel::log_bessel_i(v[j], x[j]));
        assert_eq!(k[j], shoal_core::bessel::log_bessel_k(v[j], x[j]));
    }
    // I_0(1) from the series, to 1 ulp.
    assert!((i[0] - 1.2660658777520084f64.ln()).abs() < 4e-16);
}

#[wasm_bindgen_test]
fn simd_build_matches_the_scalar_kernel_bit_for_bit() {
    // Debye-region inputs go through f64x2 lanes in the simd128 build.
    let v: Vec<f64> = (0..203).map(|i| 20.0 + (i as f64) * 37.5).collect();
    let x: Vec<f64> = (0..203).map(|i| 1e-6 * 1.3f64.powi(i)).collect();
    let i = shoal_wasm::log_bessel_i(&arr(&v), &arr(&x))
        .unwrap()
        .to_vec();
    let k = shoal_wasm::log_bessel_k(&arr(&v), &arr(&x))
        .unwrap()
        .to_vec();
    for j in 0..v.len() {
        assert_eq!(
            i[j].to_bits(),
            shoal_core::bessel::log_bessel_i(v[j], x[j]).to_bits()
        );
        assert_eq!(
            k[j].to_bits(),
            shoal_core::bessel::log_bessel_k(v[j], x[j]).to_bits()
        );
    }
    let expect = if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "scalar"
    };
    assert_eq!(shoal_core::bessel::simd_backend(), expect);
}

#[wasm_bindgen_test]
fn simd_integrand_matches_scalar_lanes_bit_for_bit() {
    use shoal_core::bessel::scalar::{k_nodes4_dispatched, k_nodes4_scalar};
    for i in 0..500 {
        let v = (i % 20) as f64 + 0.37;
        let x = 1e-6 * 1.05f64.powi(i);
        let t = [0.1 * i as f64 % 5.0, 0.7, 1.9, 3.3];
        let a = k_nodes4_dispatched(&t, x, v, -1.5);
        let b = k_nodes4_scalar(&t, x, v, -1.5);
        for j in 0..4 {
            assert_eq!(a[j].to_bits(), b[j].to_bits());
        }
    }
}

#[wasm_bindgen_test]
fn errors_are_exceptions_and_the_instance_keeps_working() {
    assert!(shoal_wasm::log_bessel_i(&arr(&[1.0]), &arr(&[])).is_err());
    assert!(shoal_wasm::vmf_fit(&arr(&[1.0, 2.0]), 3).is_err());
    assert!(shoal_wasm::vmf_fit(&arr(&[f64::NAN, 0.0, 0.0]), 3).is_err());
    let ok = shoal_wasm::log_bessel_k(&arr(&[2.0]), &arr(&[3.0]))
        .unwrap()
        .to_vec();
    assert!(ok[0].is_finite());
}

#[wasm_bindgen_test]
fn vmf_fit_returns_an_object() {
    let s = [1.0, 0.1, 0.0, 0.9, -0.1, 0.1, 1.0, 0.0, -0.1];
    let o = shoal_wasm::vmf_fit(&arr(&s), 3).unwrap();
    let kappa = Reflect::get(&o, &JsValue::from_str("kappa"))
        .unwrap()
        .as_f64()
        .unwrap();
    assert!(kappa > 10.0);
}

#[wasm_bindgen_test]
fn twin_and_wgsl_source_are_exported() {
    let t = shoal_wasm::log_bessel_i_f32_twin(&arr(&[3.0]), &arr(&[2.0]))
        .unwrap()
        .to_vec();
    let f = f64::from(shoal_core::bessel::log_bessel_i_f32(3.0, 2.0));
    assert!((t[0] - f).abs() < 1e-5);
    assert!(shoal_wasm::log_bessel_wgsl().contains("fn log_bessel_i"));
    assert_eq!(shoal_wasm::simd_enabled(), cfg!(target_feature = "simd128"));
}

#[wasm_bindgen_test]
fn embedding_lookups_equal_the_scalar_spec() {
    // With simd128 the int8 rows go through the vector kernel: bit-identical.
    use shoal_core::embed::{Method, Table};
    let (rows, dim) = (30, 37);
    let e: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    for m in [
        Method::Int8,
        Method::Int4,
        Method::Pq {
            subspaces: 5,
            bits: 8,
        },
    ] {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let ids: Vec<u64> = (0..rows as u64).rev().collect();
        let mut a = vec![0.0f32; rows * dim];
        t.lookup_batch(&ids, &mut a).unwrap();
        for (&id, a) in ids.iter().zip(a.chunks_exact(dim)) {
            let mut b = vec![0.0f32; dim];
            t.lookup_reference(id, &mut b).unwrap();
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{m:?} {id}"
            );
        }
    }
}

#[wasm_bindgen_test]
fn embedding_table_class_loads_a_she_file_and_looks_up() {
    use shoal_core::embed::{Method, Pool, Table};
    let (rows, dim) = (40, 12);
    let e: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 31) % 97) as f32 / 40.0 - 1.2)
        .collect();
    let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
    let js = shoal_wasm::EmbeddingTable::new(&t.to_bytes()).unwrap();
    assert_eq!((js.rows(), js.dim()), (rows, dim));
    let ids = [3u32, 0, 39, 3];
    let got = js.lookup(&ids).unwrap();
    let mut want = vec![0.0f32; ids.len() * dim];
    t.lookup_batch(&[3, 0, 39, 3], &mut want).unwrap();
    assert_eq!(got, want);
    let got = js.bag(&ids, &[0, 1], true).unwrap();
    let mut want = vec![0.0f32; 2 * dim];
    t.bag(&[3, 0, 39, 3], &[0, 1], None, Pool::Mean, &mut want)
        .unwrap();
    assert_eq!(got, want);
    assert!(js.lookup(&[40]).is_err(), "id 40 is out of range");
    assert!(js.bag(&ids, &[3, 1], false).is_err());
    assert!(shoal_wasm::EmbeddingTable::new(&[0u8; 10]).is_err());
    assert_eq!(js.lookup(&[1]).unwrap().len(), dim);
}

#[wasm_bindgen_test]
fn classify_results_carry_labels_catalogue_and_uncertainty() {
    use shoal_wasm::Classifier;
    let get = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).unwrap();
    let mut c = Classifier::new(&shoal_tests::flatbuf::tflite::tiny(0)).unwrap();
    c.set_labels("tench, Tinca tinca\ngoldfish\nlobster\nnothing");
    c.set_top(2);
    let raw = [10u8, 200, 30, 15];
    let r: JsValue = c.from_raw(&raw).unwrap().into();
    let top = js_sys::Array::from(&get(&r, "top"));
    assert_eq!(top.length(), 2);
    let first = top.get(0);
    assert_eq!(get(&first, "index").as_f64(), Some(1.0));
    assert_eq!(
        get(&first, "label").as_string().as_deref(),
        Some("goldfish")
    );
    let cat = get(&first, "catalog");
    assert_eq!(
        get(&cat, "scientific").as_string().as_deref(),
        Some("Carassius auratus")
    );
    let scores = js_sys::Float32Array::from(get(&r, "scores")).to_vec();
    let want = shoal_core::classify::rank(&scores, 2);
    assert_eq!(get(&r, "margin").as_f64(), Some(f64::from(want.margin)));
    assert_eq!(get(&r, "entropy").as_f64(), Some(f64::from(want.entropy)));
    // A label without an entry has catalog null; bad catalogues are errors.
    assert!(get(&top.get(1), "catalog").is_null());
    assert!(c.set_catalog("only\ttwo").is_err());
}

#[wasm_bindgen_test]
fn langid_matches_fasttext_in_wasm() {
    // Labels and f32 probabilities from fastText itself
    // (tests/ref/gen_langid_ref.py), bit for bit.
    let model = include_bytes!("../../host-gpu/models/lid.176.ftz");
    let refs = include_str!("../../tests/ref/langid/lid176_ref.tsv");
    let lid = shoal_wasm::LangId::new(model).unwrap();
    let mut checked = 0;
    for line in refs.lines() {
        let mut cols = line.split('\t');
        let text = shoal_tests::unescape_python(cols.next().unwrap()).unwrap();
        let got = lid.detect(&text, 5).unwrap();
        for (i, c) in cols.enumerate() {
            let (label, p) = c.rsplit_once(':').unwrap();
            let g = got.get(i as u32);
            assert_eq!(
                Reflect::get(&g, &"label".into())
                    .unwrap()
                    .as_string()
                    .unwrap(),
                label
            );
            let prob = Reflect::get(&g, &"prob".into()).unwrap().as_f64().unwrap();
            assert_eq!(
                (prob as f32).to_bits(),
                (p.parse::<f64>().unwrap() as f32).to_bits(),
                "{text}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 272);
    assert!(shoal_wasm::LangId::new(&model[..100]).is_err());
}

#[wasm_bindgen_test]
fn quantized_gemv_matches_the_scalar_spec() {
    // With simd128, Q8/Q4 go through the vector kernel: within the
    // summation-order bound 2^-20 · Σ|terms| of the scalar specification.
    use shoal_core::quant::{scalar::gemv_abs, Bits, Format, QuantMatrix, ScaleType, Scheme};
    let (rows, cols) = (7, 203);
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f32 / 500.0 - 1.0)
        .collect();
    let x: Vec<f32> = (0..cols)
        .map(|i| ((i * 31) % 17) as f32 / 8.0 - 1.0)
        .collect();
    for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            for group in [32, 64, 128] {
                let f = Format::new(bits, scheme, group, ScaleType::F16).unwrap();
                let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
                let (mut a, mut b) = (vec![0.0f32; rows], vec![0.0f32; rows]);
                q.gemv(&x, &mut a).unwrap();
                q.gemv_scalar(&x, &mut b).unwrap();
                for r in 0..rows {
                    let e = (f64::from(a[r]) - f64::from(b[r])).abs();
                    assert!(
                        e <= 2f64.powi(-20) * gemv_abs(&q, r, &x) + 1e-30,
                        "{f:?} row {r}"
                    );
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn classifier_lowers_tflite_for_webgpu_and_runs_the_built_in_shm_model() {
    use shoal_wasm::Classifier;
    let get = |o: &JsValue, k: &str| Reflect::get(o, &k.into()).unwrap();
    // A writer-built uint8 model (8 x 8 x 3, six operators).
    let bytes = shoal_tests::flatbuf::tflite::tiny(0);
    let c = Classifier::new(&bytes).unwrap();
    assert!(c.gpu_capable());
    let l: JsValue = c.lowered().unwrap().into();
    let model = shoal_core::tflite::Model::parse(&bytes).unwrap();
    let want = model.lower().unwrap();
    let names = js_sys::Array::from(&get(&l, "entryPoints"));
    assert_eq!(names.length() as usize, want.steps.len());
    let params = js_sys::Int32Array::from(get(&l, "params")).to_vec();
    let flat: Vec<i32> = want.steps.iter().flat_map(|s| s.params).collect();
    assert_eq!(params, flat);
    assert_eq!(
        js_sys::Uint32Array::from(get(&l, "consts")).to_vec(),
        want.consts
    );
    // fromRaw of the wasm run's raw output is the same result.
    let px: Vec<u8> = (0..8 * 8 * 4).map(|i| (i * 37 % 251) as u8).collect();
    let r: JsValue = c.classify(&px, 8, 8).unwrap().into();
    let raw = js_sys::Uint8Array::from(get(&r, "raw")).to_vec();
    let again: JsValue = c.from_raw(&raw).unwrap().into();
    assert_eq!(
        js_sys::Float32Array::from(get(&again, "scores")).to_vec(),
        js_sys::Float32Array::from(get(&r, "scores")).to_vec()
    );
    assert!(c.from_raw(&raw[1..]).is_err());
    // A model ending in DEQUANTIZE: float32 scores, the raw bytes their
    // little-endian encoding, and the lowering says so.
    let b3 = shoal_tests::flatbuf::tflite::tiny3(false);
    let c3 = Classifier::new(&b3).unwrap();
    let l3: JsValue = c3.lowered().unwrap().into();
    assert_eq!(get(&get(&l3, "output"), "float").as_bool(), Some(true));
    let px: Vec<u8> = (0..4 * 4 * 3).map(|i| (i * 53 % 256) as u8).collect();
    let r3: JsValue = c3.classify(&px, 4, 4).unwrap().into();
    let m3 = shoal_core::tflite::Model::parse(&b3).unwrap();
    let want = m3.run_u8(&px).unwrap().output(&m3, 0).unwrap().to_vec();
    assert_eq!(js_sys::Uint8Array::from(get(&r3, "raw")).to_vec(), want);
    let s3 = js_sys::Float32Array::from(get(&r3, "scores")).to_vec();
    assert_eq!(s3.len(), 160);
    assert_eq!(s3[0].to_le_bytes().to_vec(), want[..4].to_vec());
    assert!(shoal_wasm::tflite_wgsl().contains("fn q_conv"));
    // The built-in .shm model: scores sum to one; no WebGPU lowering.
    let shm = Classifier::new(include_bytes!(
        "../../host-gpu/models/efficientnet-lite0.shm"
    ))
    .unwrap();
    assert!(!shm.gpu_capable());
    assert_eq!(shm.classes(), 1000);
    assert!(shm.lowered().is_err());
    let px = vec![128u8; 32 * 32 * 3];
    let r: JsValue = shm.classify(&px, 32, 32).unwrap().into();
    let s = js_sys::Float32Array::from(get(&r, "scores")).to_vec();
    assert_eq!(s.len(), 1000);
    assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-3);
}

/// The pure-f32 log-Bessel slices (simd128 lanes in the simd128 build, the
/// scalar twin otherwise) equal the scalar twin bit for bit, special values
/// and every branch included.
#[wasm_bindgen_test]
fn pure_f32_slices_equal_the_twin() {
    use shoal_core::bessel::{self, scalar_f32};
    let mut v = Vec::new();
    let mut x = Vec::new();
    let mut s = 12345u32;
    let mut next = || {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (s >> 8) as f32 / 16_777_216.0
    };
    for i in 0..3000 {
        let a = match i % 6 {
            0 => 8.0 * next(),
            1 => 8.0 + 500.0 * next(),
            2 => -(5.0 * next()),
            3 => [0.0, f32::NAN, f32::INFINITY, 1e-40, 3.0][i % 5],
            _ => 20.0 * next(),
        };
        let b = match i % 5 {
            0 => 10f32.powf(-7.0 + 9.0 * next()),
            1 => 300.0 * next(),
            2 => [0.0, -1.0, f32::INFINITY, 2e-39, 1.0][i % 5],
            _ => 30.0 * next(),
        };
        v.push(a);
        x.push(b);
    }
    let mut oi = vec![0.0f32; v.len()];
    let mut ok = vec![0.0f32; v.len()];
    bessel::log_bessel_i_slice_f32_pure(&v, &x, &mut oi).unwrap();
    bessel::log_bessel_k_slice_f32_pure(&v, &x, &mut ok).unwrap();
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    for i in 0..v.len() {
        assert!(
            same(oi[i], scalar_f32::log_i(v[i], x[i])),
            "I({}, {})",
            v[i],
            x[i]
        );
        assert!(
            same(ok[i], scalar_f32::log_k(v[i], x[i])),
            "K({}, {})",
            v[i],
            x[i]
        );
    }
}
