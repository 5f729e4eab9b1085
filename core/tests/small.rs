//! Small end-to-end checks of the parsers and kernels, sized to run under
//! Miri too (`cargo +nightly miri test -p shoal-core --no-default-features
//! --features alloc --test small`, which takes the scalar paths): every
//! embedding method through its file form, `.npy` round trips and rejects,
//! a quantized GEMV (f32 and int8 vectors), the tiny TFLite model through
//! both runners, and a hand-built dense fastText model whose tokenizer output
//! is counted by hand.

use shoal_core::embed::{Codec, Method, Pool, Table};
use shoal_core::fasttext::FastText;

#[test]
fn every_embedding_method_round_trips_its_file() {
    let (rows, dim) = (12, 6);
    let e: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 37) % 23) as f32 * 0.1 - 1.0)
        .collect();
    for m in [
        Method::F32,
        Method::F16,
        Method::Int8,
        Method::Int4,
        Method::Int2,
        Method::Pq {
            subspaces: 3,
            bits: 4,
        },
        Method::LowRank {
            rank: 2,
            factors: Codec::Int8,
        },
        Method::Hashed {
            buckets: 5,
            codec: Codec::F16,
        },
        Method::QuotientRemainder {
            modulus: 4,
            codec: Codec::Bf16,
        },
    ] {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let bytes = t.to_bytes();
        let back = Table::from_bytes(&bytes).unwrap();
        assert_eq!(back, t);
        let mut a = vec![0.0f32; 2 * dim];
        let mut b = vec![0.0f32; 2 * dim];
        back.lookup_batch(&[3, 11], &mut a).unwrap();
        back.lookup_reference(3, &mut b[..dim]).unwrap();
        back.lookup_reference(11, &mut b[dim..]).unwrap();
        assert_eq!(a, b, "{m}");
        back.bag(&[3, 11, 0], &[0, 2], None, Pool::Mean, &mut a)
            .unwrap();
        assert!(Table::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    }
}

#[test]
fn npy_round_trip_and_rejects() {
    let v = [1.5f32, -2.0, 0.25, 8.0];
    let b = shoal_core::npy::write_f32(&[2, 2], &v).unwrap();
    let a = shoal_core::npy::read(&b).unwrap();
    assert_eq!((a.shape.clone(), a.to_f32()), (vec![2, 2], v.to_vec()));
    assert!(a.to_ids().is_err());
    for cut in 0..b.len() {
        assert!(shoal_core::npy::read(&b[..cut]).is_err());
    }
}

#[test]
fn quantized_gemv_matches_the_dequantized_product() {
    use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
    let (rows, cols) = (3, 40);
    let w: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7) % 11) as f32 * 0.2 - 1.0)
        .collect();
    let x: Vec<f32> = (0..cols).map(|i| i as f32 * 0.05).collect();
    let f = Format::new(Bits::Q4, Scheme::Asymmetric, 32, ScaleType::F16).unwrap();
    let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
    let mut y = vec![0.0f32; rows];
    q.gemv(&x, &mut y).unwrap();
    let mut row = vec![0.0f32; cols];
    for (r, yr) in y.iter().enumerate() {
        q.dequantize_row(r, &mut row).unwrap();
        let want: f64 = row
            .iter()
            .zip(&x)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!(
            (f64::from(*yr) - want).abs() < 1e-4,
            "row {r}: {yr} vs {want}"
        );
    }
    let back = QuantMatrix::from_bytes(&q.to_bytes()).unwrap();
    assert_eq!(back, q);
    // The integer kernel: its specification, within x's rounding of the f32 product.
    let mut y8 = vec![0.0f32; rows];
    q.gemv_int8(&x, &mut y8).unwrap();
    for (a, b) in y8.iter().zip(&y) {
        assert!((a - b).abs() < 0.05, "{a} vs {b}");
    }
}

/// The 2.3 KB TFLite model with every supported operator
/// (`tests/ref/tflite/tiny.tflite`): the arena runner equals the allocating
/// one, and LiteRT's softmax output for input 2 (`tiny__t10.npy`).
#[test]
fn tiny_tflite_model_runs_in_its_arena() {
    use shoal_core::tflite::Model;
    let bytes = include_bytes!("../../tests/ref/tflite/tiny.tflite");
    let inputs = include_bytes!("../../tests/ref/tflite/tiny_inputs.npy");
    let want = include_bytes!("../../tests/ref/tflite/tiny__t10.npy");
    let model = Model::parse(bytes).unwrap();
    let x = shoal_core::npy::read(inputs).unwrap();
    let x = &x.data[2 * 192..3 * 192];
    let want = shoal_core::npy::read(want).unwrap();
    let plan = model.plan().unwrap();
    let mut arena = vec![0u8; plan.arena_bytes()];
    let got = model.run_in(&plan, x, &mut arena).unwrap().to_vec();
    assert_eq!(got, &want.data[2 * 4..3 * 4]);
    assert_eq!(
        model.run_u8(x).unwrap().output(&model, 0).unwrap(),
        &got[..]
    );
}

/// A dense (`.bin`-style) supervised model: dim 4, words `</s>` and `fish`,
/// labels a, b, c, 8 buckets, character n-grams of 2..=3, word bigrams,
/// hierarchical softmax.
fn tiny_fasttext() -> Vec<u8> {
    let mut b = Vec::new();
    let i32s =
        |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    i32s(&mut b, &[793_712_314, 12]);
    // dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate
    i32s(&mut b, &[4, 5, 5, 1, 5, 2, 1, 3, 8, 2, 3, 100]);
    b.extend_from_slice(&1e-4f64.to_le_bytes());
    i32s(&mut b, &[5, 2, 3]);
    b.extend_from_slice(&100i64.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    for (w, count, kind) in [
        ("</s>", 50i64, 0u8),
        ("fish", 20, 0),
        ("__label__a", 9, 1),
        ("__label__b", 5, 1),
        ("__label__c", 2, 1),
    ] {
        b.extend_from_slice(w.as_bytes());
        b.push(0);
        b.extend_from_slice(&count.to_le_bytes());
        b.push(kind);
    }
    b.push(0); // dense input
    b.extend_from_slice(&10i64.to_le_bytes());
    b.extend_from_slice(&4i64.to_le_bytes());
    for k in 0..40 {
        b.extend_from_slice(&(((k * 13) % 7) as f32 * 0.3 - 0.9).to_le_bytes());
    }
    b.push(0); // dense output
    b.extend_from_slice(&3i64.to_le_bytes());
    b.extend_from_slice(&4i64.to_le_bytes());
    for k in 0..12 {
        b.extend_from_slice(&(((k * 5) % 9) as f32 * 0.25 - 1.0).to_le_bytes());
    }
    b
}

#[test]
fn dense_fasttext_model_tokenizes_and_predicts() {
    let bytes = tiny_fasttext();
    let m = FastText::from_bytes(&bytes).unwrap();
    // "fish": its id, 5 bigrams and 4 trigrams of "<fish>", then </s>, then
    // the word bigram (fish, </s>): 12 rows, all inside the 10-row matrix.
    let ids = m.input_ids("fish");
    assert_eq!(ids.len(), 12, "{ids:?}");
    assert_eq!((ids[0], ids[10]), (1, 0));
    assert!(ids.iter().all(|&i| i < 10));
    // An unknown word: only its n-grams ("<a", "ab", "b>", "<ab", "ab>"), </s>, one bigram.
    assert_eq!(m.input_ids("ab").len(), 5 + 1 + 1);
    let p = m.predict("fish", 3, 0.0).unwrap();
    assert_eq!(p.len(), 3);
    let total: f32 = p.iter().map(|p| p.prob).sum();
    assert!((total - 1.0).abs() < 1e-3, "{total}");
    assert!(p.windows(2).all(|w| w[0].prob >= w[1].prob));
    assert_eq!(m.label(p[0].label).map(|l| l.len()), Some(1));
    for cut in 0..bytes.len() {
        assert!(FastText::from_bytes(&bytes[..cut]).is_err());
    }
}

/// The log-Bessel kernels' scalar paths whose scratch arrays start
/// uninitialised (Debye's Horner chains, the trapezoid rule's terms) and the
/// other small-argument kernels, against rows of `tests/ref/bessel_ref.csv`
/// (mpmath, `tests/ref/gen_bessel_ref.py`), within the crate's 2-unit bound
/// `eps·(1 + |ref| + v + x)`; sized for Miri.
#[test]
// The references are the table's digits as written (each rounds to its f64).
#[allow(clippy::excessive_precision)]
fn log_bessel_scalar_kernels_match_mpmath_rows() {
    use shoal_core::bessel::{log_bessel_i, log_bessel_k};
    // (v, x, ln I, ln K)
    let rows: [(f64, f64, f64, f64); 6] = [
        (
            20.0,
            2.0,
            -42.28804880716626819759103,
            38.59418205873403795675505,
        ),
        (
            20.0,
            3.1622776601683795,
            -33.05398141923570044116912,
            29.35272676897302185829171,
        ),
        (
            1.5,
            2.0,
            0.09483114566134280236527168,
            -1.715317129527080840367505,
        ),
        (
            1.5,
            3.1622776601683795,
            1.291005566226761529829275,
            -3.23736268836381826338101,
        ),
        (
            0.0,
            17.78279410038923,
            15.43197952443489470515292,
            -19.00296072011515470259637,
        ),
        (
            0.0,
            1e-08,
            2.500000000000000088987804e-17,
            2.919747817422440051845183,
        ),
    ];
    for (v, x, li, lk) in rows {
        for (got, want) in [(log_bessel_i(v, x), li), (log_bessel_k(v, x), lk)] {
            let unit = f64::EPSILON * (1.0 + want.abs() + v + x);
            assert!(
                (got - want).abs() <= 2.0 * unit,
                "v {v} x {x}: {got} vs {want}"
            );
        }
    }
}
