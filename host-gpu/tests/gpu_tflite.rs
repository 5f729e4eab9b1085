//! Quantized TFLite models on the GPU against the CPU engine (the oracle,
//! itself bit-exact against LiteRT's reference kernels): every output byte
//! must be equal, on the writer-built models (every operator) and on every
//! Coral MobileNet with the bundled images.

mod common;

use shoal_core::{npy, tflite::Model};
use shoal_tests::{shared_dir, workspace_root};

fn load(path: &std::path::Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npy::read(&b).expect("npy").data.to_vec()
}

/// Runs `inputs` as one batch on the GPU (and, with capacity 1, one image
/// per submission) and compares with the CPU engine byte for byte.
fn check(gpu: &shoal_host_gpu::gpu::Gpu, name: &str, bytes: &[u8], inputs: &[&[u8]]) -> usize {
    let model = Model::parse(bytes).expect("parses");
    let want: Vec<Vec<u8>> = inputs
        .iter()
        .map(|x| model.run_u8(x).unwrap().output(&model, 0).unwrap().to_vec())
        .collect();
    let mut compared = 0;
    for batch in [inputs.len(), 1] {
        let on_gpu = gpu.load_tflite(&model, batch).expect("loads");
        let t0 = std::time::Instant::now();
        let got = on_gpu.run(inputs).expect("runs");
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        assert_eq!(got.len(), inputs.len());
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g == w,
                "{name}: image {k}, batch {batch}: GPU output differs from the CPU engine's"
            );
            compared += g.len();
        }
        println!(
            "{name}: {} images, batch {batch}: equal ({ms:.0} ms)",
            inputs.len()
        );
    }
    compared
}

#[test]
fn writer_built_models_equal_the_cpu_engine() {
    let Some(gpu) = common::gpu() else { return };
    let refdir = workspace_root().join("tests/ref/tflite");
    for (name, bytes) in [
        ("tiny", shoal_tests::flatbuf::tflite::tiny(0)),
        ("tiny2", shoal_tests::flatbuf::tflite::tiny2()),
        // HARD_SWISH on every uint8 value, CONCATENATION as copies.
        ("tiny3", shoal_tests::flatbuf::tflite::tiny3(false)),
    ] {
        let model = Model::parse(&bytes).unwrap();
        let n = model.tensors[model.inputs[0]].len();
        let inputs = load(&refdir.join(format!("{name}_inputs.npy")));
        let inputs: Vec<&[u8]> = inputs.chunks(n).collect();
        check(&gpu, name, &bytes, &inputs);
    }
    // A CONCATENATION that requantizes rounds in float: not lowered.
    let bytes = shoal_tests::flatbuf::tflite::tiny3(true);
    let err = gpu
        .load_tflite(&Model::parse(&bytes).unwrap(), 1)
        .unwrap_err();
    assert!(err.to_string().contains("CONCATENATION"), "{err}");
    // Float32 models run on the CPU only.
    let bytes = shoal_tests::flatbuf::tflite::tiny4();
    let err = gpu
        .load_tflite(&Model::parse(&bytes).unwrap(), 1)
        .unwrap_err();
    assert!(err.to_string().contains("float32"), "{err}");
}

#[test]
fn coral_mobilenets_equal_the_cpu_engine() {
    let Some(gpu) = common::gpu() else { return };
    let Some(shared) = shared_dir() else {
        println!("SKIPPED: ../shared/models/coral not present");
        return;
    };
    let refdir = workspace_root().join("tests/ref/tflite");
    for m in [
        "mobilenet_v1_0.25_128_quant",
        "mobilenet_v1_0.5_160_quant",
        "mobilenet_v1_0.75_192_quant",
        "mobilenet_v2_1.0_224_quant",
        "tf2_mobilenet_v2_1.0_224_ptq",
    ] {
        let bytes = std::fs::read(shared.join(format!("models/coral/{m}.tflite"))).unwrap();
        let model = Model::parse(&bytes).unwrap();
        let size = model.tensors[model.inputs[0]].shape[1];
        let imgs: Vec<Vec<u8>> = ["cat", "grace_hopper"]
            .iter()
            .map(|i| load(&refdir.join(format!("input_{size}_{i}.npy"))))
            .collect();
        let inputs: Vec<&[u8]> = imgs.iter().map(|v| &v[..]).collect();
        check(&gpu, m, &bytes, &inputs);
        // And LiteRT's own probabilities (committed references).
        let got = gpu.load_tflite(&model, 2).unwrap().run(&inputs).unwrap();
        for (g, img) in got.iter().zip(["cat", "grace_hopper"]) {
            assert!(
                g == &load(&refdir.join(format!("{m}__{img}.probs.npy"))),
                "{m} {img}"
            );
        }
    }
}

#[test]
fn wrong_input_size_is_an_error_and_the_model_keeps_working() {
    let Some(gpu) = common::gpu() else { return };
    let bytes = shoal_tests::flatbuf::tflite::tiny(0);
    let model = Model::parse(&bytes).unwrap();
    let on_gpu = gpu.load_tflite(&model, 4).unwrap();
    let err = on_gpu.run(&[&[0u8; 5]]).unwrap_err();
    assert!(err.to_string().contains("input has 5 bytes"), "{err}");
    let n = model.tensors[model.inputs[0]].len();
    let x = vec![7u8; n];
    let want = model
        .run_u8(&x)
        .unwrap()
        .output(&model, 0)
        .unwrap()
        .to_vec();
    assert_eq!(on_gpu.run(&[&x]).unwrap(), vec![want]);
}

/// The WGSL fixed-point helpers (64-bit products from 16-bit halves,
/// rounding shifts, the softmax's exp and reciprocal) against the CPU
/// engine's on edge cases and 60,000 seeded random triples. Rounding ties
/// are rare inside whole networks, so they are checked here directly.
#[test]
fn fixed_point_helpers_equal_the_cpu_definitions() {
    use shoal_core::tflite::kernels as k;
    let Some(gpu) = common::gpu() else { return };
    let edges = [
        0,
        1,
        -1,
        2,
        -2,
        i32::MIN,
        i32::MAX,
        i32::MIN + 1,
        1 << 30,
        -(1 << 30),
        (1 << 30) + 1,
        -(1 << 30) - 1,
        (1 << 30) - 1,
        1 << 16,
        -(1 << 16),
        65_535,
        -65_537,
        46_341,
        -46_341,
    ];
    let mut abe: Vec<[i32; 3]> = Vec::new();
    for &a in &edges {
        for &b in &edges {
            for e in [-40, -31, -5, -1, 0, 1, 2, 15, 30, 31, 32, 40] {
                abe.push([a, b, e]);
            }
        }
    }
    let mut rng = shoal_core::rng::Rng::new(7);
    while abe.len() < 64_000 {
        let r = rng.next_u64();
        let (a, b) = (r as i32, (r >> 32) as i32);
        // Small operands too, where ties in the rounding are frequent.
        let s = (rng.next_u64() % 31) as u32;
        let e = (rng.next_u64() % 72) as i32 - 36;
        abe.push([a >> s, b, e]);
    }
    let got = gpu.tflite_fixed_point_probe(&abe).expect("probe runs");
    let mut ties = 0;
    for (&[a, b, e], g) in abe.iter().zip(&got) {
        let want = [
            k::srdhm(a, b),
            k::rounding_divide_by_pot(a, e),
            k::multiply_by_quantized_multiplier(a, b, e),
            k::exp_negative(-(a & i32::MAX)),
            k::one_over_one_plus_x(a & i32::MAX),
        ];
        assert_eq!(*g, want, "a = {a}, b = {b}, e = {e}");
        ties += usize::from((i64::from(a) * i64::from(b)) & 0x7fff_ffff == 1 << 30);
    }
    println!("{} triples equal ({ties} exact srdhm ties)", abe.len());
    assert!(ties > 100, "too few rounding ties exercised: {ties}");
}
