//! fastText language identification (`lid.176.ftz`, a real 50,000 × 16
//! product-quantized table) against the official fastText code
//! (`fasttext-predict`, `tests/ref/gen_langid_ref.py`): the same five labels
//! and the same f32 probabilities, bit for bit, on 272 texts in 32 locales
//! plus edge cases.

use shoal_core::fasttext::{FastText, FastTextError};
use shoal_tests::{unescape_python, workspace_root};

fn model_bytes() -> Vec<u8> {
    std::fs::read(workspace_root().join("host-gpu/models/lid.176.ftz")).expect("lid.176.ftz")
}

#[test]
fn predictions_equal_fasttext_bit_for_bit() {
    let bytes = model_bytes();
    let m = FastText::from_bytes(&bytes).unwrap();
    assert_eq!((m.dim(), m.labels(), m.input().rows()), (16, 176, 50_000));
    let refs = std::fs::read_to_string(workspace_root().join("tests/ref/langid/lid176_ref.tsv"))
        .expect("reference table");
    let (mut rows, mut top1, mut exact) = (0, 0, 0);
    for line in refs.lines() {
        let mut cols = line.split('\t');
        let text = unescape_python(cols.next().unwrap()).unwrap();
        let want: Vec<(&str, f64)> = cols
            .map(|c| {
                let (l, p) = c.rsplit_once(':').unwrap();
                (l, p.parse().unwrap())
            })
            .collect();
        let got = m.predict(&text, 5, 0.0).unwrap();
        rows += 1;
        assert_eq!(got.len(), want.len(), "{text:?}");
        top1 += usize::from(m.label(got[0].label) == Some(want[0].0));
        for (g, (l, p)) in got.iter().zip(&want) {
            assert_eq!(m.label(g.label), Some(*l), "{text:?}: {got:?}");
            assert_eq!(
                g.prob.to_bits(),
                (*p as f32).to_bits(),
                "{text:?} {l}: {} vs {p}",
                g.prob
            );
            exact += 1;
        }
    }
    println!("{rows} texts: top-1 agreement {top1}/{rows}, {exact} probabilities bit-identical");
    assert_eq!(rows, 272);
}

#[test]
fn malformed_models_are_typed_errors() {
    let bytes = model_bytes();
    assert_eq!(
        FastText::from_bytes(&bytes[..3]).unwrap_err(),
        FastTextError::Truncated("header")
    );
    let mut b = bytes.clone();
    b[0] ^= 1;
    assert_eq!(
        FastText::from_bytes(&b).unwrap_err(),
        FastTextError::BadMagic
    );
    let mut b = bytes.clone();
    b[4] = 13;
    assert_eq!(
        FastText::from_bytes(&b).unwrap_err(),
        FastTextError::UnsupportedVersion(13)
    );
    // A dictionary of 2^31 - 1 entries in a 1 MB file: refused before allocating.
    let mut b = bytes.clone();
    b[64..68].copy_from_slice(&i32::MAX.to_le_bytes());
    assert_eq!(
        FastText::from_bytes(&b).unwrap_err(),
        FastTextError::Truncated("dictionary")
    );
    let mut b = bytes.clone();
    b.push(0);
    assert_eq!(
        FastText::from_bytes(&b).unwrap_err(),
        FastTextError::TrailingBytes(1)
    );
    // A label count at fastText's tree sentinel (1e15) would make a node
    // its own child: refused (a never-ending prediction found by fuzzing).
    let tiny = std::fs::read(workspace_root().join("tests/ref/langid/tiny_dense.bin")).unwrap();
    let at = tiny.windows(11).position(|w| w == b"__label__a\0").unwrap() + 11;
    let mut b = tiny.clone();
    b[at..at + 8].copy_from_slice(&1_000_000_000_000_000i64.to_le_bytes());
    assert_eq!(
        FastText::from_bytes(&b).unwrap_err(),
        FastTextError::Invalid("label count")
    );
    b[at..at + 8].copy_from_slice(&(1_000_000_000_000_000i64 - 1).to_le_bytes());
    FastText::from_bytes(&b)
        .unwrap()
        .predict("fish", 2, 0.0)
        .unwrap();
    // Every truncation is an error, never a panic.
    for cut in (0..bytes.len()).step_by(997) {
        assert!(FastText::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    // Byte flips anywhere: an error or a model that still predicts.
    let mut rng = shoal_core::rng::Rng::new(5);
    for _ in 0..300 {
        let mut b = bytes.clone();
        let at = (rng.next_u64() % b.len() as u64) as usize;
        b[at] ^= 1 << (rng.next_u64() % 8);
        if let Ok(m) = FastText::from_bytes(&b) {
            m.predict("ein kleiner Test", 3, 0.0).unwrap();
        }
    }
}

#[test]
fn tiny_dense_and_quantized_models_equal_fasttext() {
    // A dense `.bin` input matrix, a PQ input with row norms, and word bigrams;
    // character n-grams 2..=4 (tests/ref/gen_tiny_fasttext_ref.py).
    let dir = workspace_root().join("tests/ref/langid");
    let refs = std::fs::read_to_string(dir.join("tiny_ref.tsv")).unwrap();
    let mut n = 0;
    for line in refs.lines() {
        let mut cols = line.split('\t');
        let file = cols.next().unwrap();
        let text = unescape_python(cols.next().unwrap()).unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let m = FastText::from_bytes(&bytes).unwrap();
        let got = m.predict(&text, 2, 0.0).unwrap();
        let want: Vec<(&str, f64)> = cols
            .map(|c| {
                let (l, p) = c.rsplit_once(':').unwrap();
                (l, p.parse().unwrap())
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{file} {text:?}");
        for (g, (l, p)) in got.iter().zip(&want) {
            assert_eq!(m.label(g.label), Some(*l), "{file} {text:?}");
            assert_eq!(g.prob.to_bits(), (*p as f32).to_bits(), "{file} {text:?}");
        }
        n += 1;
    }
    assert_eq!(n, 30);
}
