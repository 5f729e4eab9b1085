//! The TFLite engine against LiteRT's reference kernels: bit-exact raw
//! outputs (and the logits fed to SOFTMAX) for the Coral uint8 MobileNets on
//! the bundled images. Expected values: tests/ref/gen_tflite_ref.py.

use shoal_core::{npy, tflite::Model};
use shoal_tests::{shared_dir, workspace_root};

const MODELS: [&str; 5] = [
    "mobilenet_v1_0.25_128_quant",
    "mobilenet_v1_0.5_160_quant",
    "mobilenet_v1_0.75_192_quant",
    "mobilenet_v2_1.0_224_quant",
    // int8 with per-channel weights inside, uint8 at the edges.
    "tf2_mobilenet_v2_1.0_224_ptq",
];

fn load(path: &std::path::Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    npy::read(&b).expect("npy").data.to_vec()
}

#[test]
fn coral_mobilenets_are_bit_exact_against_litert_reference_kernels() {
    let Some(shared) = shared_dir() else {
        println!("SKIPPED: ../shared/models/coral not present");
        return;
    };
    let refdir = workspace_root().join("tests/ref/tflite");
    for m in MODELS {
        let bytes = std::fs::read(shared.join(format!("models/coral/{m}.tflite"))).expect("model");
        let model = Model::parse(&bytes).expect("parses");
        let size = model.tensors[model.inputs[0]].shape[1];
        for img in ["cat", "grace_hopper"] {
            let input = load(&refdir.join(format!("input_{size}_{img}.npy")));
            let t0 = std::time::Instant::now();
            let run = model.run_u8(&input).expect("runs");
            let ms = t0.elapsed().as_secs_f64() * 1e3;
            let probs = run.output(&model, 0).unwrap();
            let want_probs = load(&refdir.join(format!("{m}__{img}.probs.npy")));
            let softmax_in = model
                .ops
                .iter()
                .rev()
                .find_map(|op| match op {
                    shoal_core::tflite::Op::Softmax { input, .. } => Some(*input),
                    _ => None,
                })
                .expect("a SOFTMAX");
            let logits = run.tensor(softmax_in).unwrap();
            let want_logits = load(&refdir.join(format!("{m}__{img}.logits.npy")));
            let top = probs
                .iter()
                .enumerate()
                .max_by_key(|(_, &p)| p)
                .map(|(i, _)| i)
                .unwrap();
            let diff_l = logits
                .iter()
                .zip(&want_logits)
                .filter(|(a, b)| a != b)
                .count();
            let diff_p = probs
                .iter()
                .zip(&want_probs)
                .filter(|(a, b)| a != b)
                .count();
            println!("{m} {img}: top-1 {top}, {ms:.0} ms, logits differing {diff_l}, probabilities differing {diff_p}");
            assert_eq!(
                logits,
                &want_logits[..],
                "{m} {img}: logits differ from LiteRT"
            );
            assert_eq!(
                probs,
                &want_probs[..],
                "{m} {img}: softmax output differs from LiteRT"
            );
        }
    }
}

#[test]
fn malformed_models_are_typed_errors() {
    use shoal_core::tflite::TfliteError;
    assert_eq!(Model::parse(b"").unwrap_err(), TfliteError::BadIdentifier);
    assert!(matches!(
        Model::parse(b"\x10\0\0\0TFL3").unwrap_err(),
        TfliteError::Malformed(_)
    ));
    let Some(shared) = shared_dir() else { return };
    let good =
        std::fs::read(shared.join("models/coral/mobilenet_v1_0.25_128_quant.tflite")).unwrap();
    // Every truncation is an error, never a panic.
    for cut in [8, 100, 1000, good.len() / 2] {
        assert!(Model::parse(&good[..cut]).is_err(), "cut at {cut}");
    }
    // Flipping bytes across the file never panics.
    let mut bad = good.clone();
    for i in (0..bad.len()).step_by(997) {
        bad[i] ^= 0x5a;
        let _ = Model::parse(&bad).map(|m| {
            let n = m.tensors[m.inputs[0]].len();
            let _ = m.run_u8(&vec![128u8; n]);
        });
        bad[i] ^= 0x5a;
    }
    let model = Model::parse(&good).unwrap();
    assert!(matches!(
        model.run_u8(&[0u8; 10]),
        Err(TfliteError::InputSize { .. })
    ));
}

#[test]
fn vectorised_convolutions_equal_the_reference_loops_on_every_tensor() {
    let Some(shared) = shared_dir() else {
        println!("SKIPPED: ../shared/models/coral not present");
        return;
    };
    let refdir = workspace_root().join("tests/ref/tflite");
    for m in MODELS {
        let bytes = std::fs::read(shared.join(format!("models/coral/{m}.tflite"))).unwrap();
        let model = Model::parse(&bytes).unwrap();
        let size = model.tensors[model.inputs[0]].shape[1];
        let input = load(&refdir.join(format!("input_{size}_cat.npy")));
        let t0 = std::time::Instant::now();
        let fast = model.run_u8(&input).unwrap();
        let t_fast = t0.elapsed();
        let t0 = std::time::Instant::now();
        let slow = model.run_u8_reference(&input).unwrap();
        let t_ref = t0.elapsed();
        for i in 0..model.tensors.len() {
            assert_eq!(fast.tensor(i), slow.tensor(i), "{m}: tensor {i} differs");
        }
        println!("{m}: vectorised {t_fast:?}, reference loops {t_ref:?}, all tensors equal");
    }
}

/// The tiny models written by the project's FlatBuffers writer exercise
/// every operator the engine runs (tiny: CONV_2D, DEPTHWISE_CONV_2D, ADD,
/// AVERAGE_POOL_2D, RESHAPE, SOFTMAX; tiny2: PAD, CONV_2D, MEAN,
/// FULLY_CONNECTED; tiny3: HARD_SWISH on every uint8 value, CONCATENATION
/// copying and requantizing, DEQUANTIZE; tiny4: all of them in float32 and
/// a QUANTIZE from float32); every operator's output must equal LiteRT's
/// (tests/ref/gen_tiny_tflite_ref.py) on six inputs, on the vectorised and
/// the reference path. Runs without ../shared.
#[test]
fn tiny_models_match_litert_on_every_tensor() {
    let refdir = workspace_root().join("tests/ref/tflite");
    for (name, bytes, checked) in [
        (
            "tiny",
            shoal_tests::flatbuf::tflite::tiny(0),
            &[3usize, 6, 7, 8, 9, 10][..],
        ),
        (
            "tiny2",
            shoal_tests::flatbuf::tflite::tiny2(),
            &[2, 5, 7, 8, 11, 12][..],
        ),
        (
            "tiny3",
            shoal_tests::flatbuf::tflite::tiny3(true),
            &[1, 4, 5, 6, 7, 8][..],
        ),
        (
            "tiny4",
            shoal_tests::flatbuf::tflite::tiny4(),
            &[2, 5, 8, 9, 10, 11, 12, 14, 15, 18, 19, 20][..],
        ),
    ] {
        let committed = std::fs::read(refdir.join(format!("{name}.tflite"))).unwrap();
        assert!(
            bytes == committed,
            "the writer no longer reproduces tests/ref/tflite/{name}.tflite"
        );
        let model = Model::parse(&bytes).expect("parses");
        assert_eq!(model.ops.len(), checked.len());
        let inputs = load(&refdir.join(format!("{name}_inputs.npy")));
        let n = model.tensors[model.inputs[0]].byte_len();
        assert_eq!(inputs.len(), 6 * n);
        let mut compared = 0;
        for &k in checked {
            let want = load(&refdir.join(format!("{name}__t{k}.npy")));
            let per = model.tensors[k].byte_len();
            assert_eq!(want.len(), 6 * per);
            for (r, x) in inputs.chunks(n).enumerate() {
                for run in [model.run_u8(x).unwrap(), model.run_u8_reference(x).unwrap()] {
                    let got = run.tensor(k).unwrap();
                    assert_eq!(
                        got,
                        &want[r * per..(r + 1) * per],
                        "{name}: tensor {k}, input {r}"
                    );
                    compared += per;
                }
            }
        }
        println!("{name}: {compared} tensor values equal to LiteRT's");
    }
}

#[test]
fn unsupported_operator_is_named() {
    use shoal_core::tflite::TfliteError;
    // The tiny model with its ADD replaced by MUL (builtin 18).
    let bytes = shoal_tests::flatbuf::tflite::tiny(18);
    let err = Model::parse(&bytes).unwrap_err();
    assert_eq!(err, TfliteError::UnsupportedOperator(18));
    assert!(err.to_string().contains("MUL"), "{err}");
}

/// `run_in` (planned arena, reference loops, no allocation) gives the same
/// output bytes as `run_u8`; the arena is refused when too small.
#[test]
fn arena_runs_equal_the_allocating_runs() {
    use shoal_core::tflite::TfliteError;
    let mut models = vec![
        ("tiny".to_string(), shoal_tests::flatbuf::tflite::tiny(0)),
        ("tiny2".to_string(), shoal_tests::flatbuf::tflite::tiny2()),
        (
            "tiny3".to_string(),
            shoal_tests::flatbuf::tflite::tiny3(true),
        ),
        ("tiny4".to_string(), shoal_tests::flatbuf::tflite::tiny4()),
    ];
    if let Some(shared) = shared_dir() {
        for m in MODELS {
            let b = std::fs::read(shared.join(format!("models/coral/{m}.tflite"))).unwrap();
            models.push((m.to_string(), b));
        }
    }
    let refdir = workspace_root().join("tests/ref/tflite");
    for (name, bytes) in &models {
        let model = Model::parse(bytes).unwrap();
        let plan = model.plan().unwrap();
        let n = model.tensors[model.inputs[0]].byte_len();
        let input: Vec<u8> = if name.starts_with("tiny") {
            load(&refdir.join(format!("{name}_inputs.npy")))[2 * n..3 * n].to_vec()
        } else {
            let size = model.tensors[model.inputs[0]].shape[1];
            load(&refdir.join(format!("input_{size}_cat.npy")))
        };
        let want = model
            .run_u8(&input)
            .unwrap()
            .output(&model, 0)
            .unwrap()
            .to_vec();
        let total: usize = model
            .tensors
            .iter()
            .filter(|t| t.data.is_none())
            .map(|t| t.byte_len())
            .sum();
        let mut arena = vec![0xa5u8; plan.arena_bytes()];
        let got = model.run_in(&plan, &input, &mut arena).unwrap().to_vec();
        assert_eq!(got, want, "{name}");
        // A second run on the dirty arena gives the same bytes, and so do
        // the vectorised kernels with prepared filters in the arena.
        assert_eq!(model.run_in(&plan, &input, &mut arena).unwrap(), &want[..]);
        let prepared = model.prepare();
        for _ in 0..2 {
            assert_eq!(
                model
                    .run_in_prepared(&plan, &prepared, &input, &mut arena)
                    .unwrap(),
                &want[..],
                "{name}: prepared kernels in the arena"
            );
        }
        // The same through a Runner (filters, plan and arena kept), twice.
        let mut runner = shoal_core::tflite::Runner::new(&model).unwrap();
        for _ in 0..2 {
            assert_eq!(
                runner.run(&model, &input).unwrap(),
                &want[..],
                "{name}: runner"
            );
        }
        println!(
            "{name}: arena {} bytes (all activations together: {total})",
            plan.arena_bytes()
        );
        assert!(plan.arena_bytes() < total || model.ops.len() < 3);
        let mut small = vec![0u8; plan.arena_bytes() - 1];
        assert_eq!(
            model.run_in(&plan, &input, &mut small),
            Err(TfliteError::ArenaTooSmall {
                needed: plan.arena_bytes(),
                given: plan.arena_bytes() - 1
            })
        );
    }
}

/// Builds a one-operator depthwise model: input `h x w x ic`, filter
/// `f x f`, multiplier `m`, stride `s`, SAME (`same`) or VALID padding,
/// ReLU6; filter bytes and biases from simple formulas; uint8.
fn depthwise_model(h: i32, w: i32, ic: i32, f: i32, m: i32, s: i32, same: bool) -> Vec<u8> {
    depthwise_model_with(h, w, ic, f, m, s, same, 1, false)
}

/// [`depthwise_model`] with dilation `d` and a choice of int8 tensors
/// (`int8`, other zero points) instead of uint8.
#[allow(clippy::too_many_arguments)]
fn depthwise_model_with(
    h: i32,
    w: i32,
    ic: i32,
    f: i32,
    m: i32,
    s: i32,
    same: bool,
    d: i32,
    int8: bool,
) -> Vec<u8> {
    use shoal_tests::flatbuf::tflite::{model, op, tensor};
    use shoal_tests::flatbuf::Val;
    let le = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
    let oc = ic * m;
    let span = (f - 1) * d + 1;
    let (oh, ow) = if same {
        ((h + s - 1) / s, (w + s - 1) / s)
    } else {
        ((h - span) / s + 1, (w - span) / s + 1)
    };
    // TensorType UINT8 = 3, INT8 = 9; zero points shifted into range.
    let (ty, shift) = if int8 { (9, -128) } else { (3, 0) };
    let tensors = vec![
        tensor(&[1, h, w, ic], ty, 0, 0.02, 120 + shift),
        tensor(&[1, f, f, oc], ty, 1, 0.01, 130 + shift),
        tensor(&[oc], 2, 2, 0.0002, 0),
        tensor(&[1, oh, ow, oc], ty, 0, 0.03, 100 + shift),
    ];
    let ops = vec![op(
        0,
        &[0, 1, 2],
        &[3],
        Some((
            2,
            vec![
                (0, Val::U8(if same { 0 } else { 1 })),
                (1, Val::I32(s)),
                (2, Val::I32(s)),
                (3, Val::I32(m)),
                (4, Val::U8(3)),
                (5, Val::I32(d)),
                (6, Val::I32(d)),
            ],
        )),
    )];
    let filter: Vec<u8> = (0..f * f * oc).map(|i| (i * 97 % 256) as u8).collect();
    let bias: Vec<i32> = (0..oc).map(|i| (i * 7919 % 4001) - 2000).collect();
    model(
        &[4],
        tensors,
        &[0],
        &[3],
        ops,
        vec![vec![], filter, le(&bias)],
    )
}

/// The vectorised path, the prepared path and the allocation-free path of
/// a one-operator model equal the reference loops byte for byte on 20
/// inputs.
fn paths_equal_reference_loops(bytes: &[u8]) {
    let m = Model::parse(bytes).expect("parses");
    let plan = m.plan().unwrap();
    let prepared = m.prepare();
    let mut arena = vec![0u8; plan.arena_bytes()];
    let n = m.tensors[m.inputs[0]].len();
    for k in 0..20u32 {
        let x: Vec<u8> = (0..n as u32)
            .map(|i| ((i * 31 + k * 17) % 256) as u8)
            .collect();
        let want = m
            .run_u8_reference(&x)
            .unwrap()
            .output(&m, 0)
            .unwrap()
            .to_vec();
        assert_eq!(m.run_u8(&x).unwrap().output(&m, 0).unwrap(), &want[..]);
        assert_eq!(
            m.run_prepared(&prepared, &x)
                .unwrap()
                .output(&m, 0)
                .unwrap(),
            &want[..]
        );
        assert_eq!(m.run_in(&plan, &x, &mut arena).unwrap(), &want[..]);
        assert_eq!(
            m.run_in_prepared(&plan, &prepared, &x, &mut arena).unwrap(),
            &want[..]
        );
    }
}

/// A depthwise convolution with depth multiplier 2 (no bundled model has
/// one) on every path against the reference loops.
#[test]
fn depth_multiplier_two_equals_the_reference_loops() {
    let bytes = depthwise_model(5, 4, 3, 3, 2, 1, true);
    let m = Model::parse(&bytes).expect("parses");
    assert!(matches!(
        m.ops[0],
        shoal_core::tflite::Op::DepthwiseConv2d { multiplier: 2, .. }
    ));
    paths_equal_reference_loops(&bytes);
}

/// Depthwise convolutions the AVX2 register kernel takes (multiplier 1,
/// channels a multiple of 8: groups of 16 and a last group of 8) and one it
/// does not (12 channels): 3 x 3 and 5 x 5 windows (odd tap counts),
/// strides 1 and 2, SAME and VALID padding; each against the reference loops.
#[test]
fn depthwise_sixteen_channel_kernel_equals_the_reference_loops() {
    for (h, w, ic, f, s, same) in [
        (7, 6, 16, 3, 1, true),
        (9, 8, 48, 3, 2, true),
        (8, 7, 32, 5, 1, true),
        (11, 9, 16, 5, 2, false),
        (6, 6, 24, 3, 1, true),
        (5, 5, 8, 3, 2, true),
        (6, 7, 12, 3, 1, true),
    ] {
        paths_equal_reference_loops(&depthwise_model(h, w, ic, f, 1, s, same));
    }
    // Dilated windows and int8 tensors (sign-extended inputs), with
    // a last group of eight channels and odd pixel counts.
    for (h, w, ic, f, s, same, d, int8) in [
        (9, 8, 24, 3, 1, true, 2, false),
        (11, 10, 16, 3, 2, false, 3, false),
        (7, 5, 24, 3, 1, true, 1, true),
        (9, 9, 40, 5, 2, true, 1, true),
        (10, 9, 8, 3, 1, true, 2, true),
    ] {
        paths_equal_reference_loops(&depthwise_model_with(h, w, ic, f, 1, s, same, d, int8));
    }
}
