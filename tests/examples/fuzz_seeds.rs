//! Writes seed corpora for the fuzz targets (`fuzz/`) from valid fixtures:
//! `.she` tables of every method, `.shq` matrices with and without GEAR,
//! `.npy` arrays of every dtype, small BMP/PNG/JPEG images, a tiny TFLite model.
//!
//!     cargo run --release -p shoal-tests --example fuzz_seeds -- fuzz/corpus

use shoal_core::embed::{Codec, Method, Table};
use shoal_core::quant::gear::GearMatrix;
use shoal_core::quant::{Bits, Format, ScaleType, Scheme};
use shoal_core::rng::Rng;

fn main() {
    let root = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or("fuzz/corpus".into()));
    let put = |target: &str, name: &str, bytes: &[u8]| {
        let d = root.join(target);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(name), bytes).unwrap();
    };
    let mut rng = Rng::new(1);
    let (rows, dim) = (40, 12);
    let e: Vec<f32> = (0..rows * dim).map(|_| rng.normal() as f32).collect();
    for (i, m) in [
        Method::F32,
        Method::F16,
        Method::Bf16,
        Method::Int8,
        Method::Int4,
        Method::Int2,
        Method::Pq {
            subspaces: 4,
            bits: 8,
        },
        Method::Pq {
            subspaces: 6,
            bits: 4,
        },
        Method::LowRank {
            rank: 3,
            factors: Codec::Int8,
        },
        Method::Hashed {
            buckets: 8,
            codec: Codec::F16,
        },
        Method::QuotientRemainder {
            modulus: 7,
            codec: Codec::Int4,
        },
    ]
    .into_iter()
    .enumerate()
    {
        put(
            "she",
            &format!("t{i}.she"),
            &Table::encode(&e, rows, dim, m).unwrap().to_bytes(),
        );
    }
    for (i, (bits, scheme, rank, sparse)) in [
        (Bits::Q8, Scheme::Symmetric, 0, 0.0),
        (Bits::Q4, Scheme::Asymmetric, 2, 0.05),
        (Bits::Q2, Scheme::Asymmetric, 0, 0.1),
    ]
    .into_iter()
    .enumerate()
    {
        let f = Format::new(bits, scheme, 32, ScaleType::F16).unwrap();
        let w: Vec<f32> = (0..20 * 70).map(|_| rng.normal() as f32).collect();
        let g = GearMatrix::compress(&w, 20, 70, f, rank, sparse).unwrap();
        put("shq", &format!("m{i}.shq"), &g.to_bytes());
    }
    let v: Vec<f32> = (0..24).map(|i| i as f32 * 0.25 - 2.0).collect();
    put(
        "npy",
        "f32.npy",
        &shoal_core::npy::write_f32(&[4, 6], &v).unwrap(),
    );
    let v64: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
    put(
        "npy",
        "f64.npy",
        &shoal_core::npy::write_f64(&[24], &v64).unwrap(),
    );
    let mut ids = shoal_core::npy::write_f64(&[3], &[1.0, 2.0, 3.0]).unwrap();
    let at = ids.windows(4).position(|w| w == b"<f8'").unwrap();
    ids[at..at + 4].copy_from_slice(b"<i8'");
    put("npy", "i64.npy", &ids);
    // A 3 x 2 24-bit BMP.
    let (w, h) = (3u32, 2u32);
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut bmp = b"BM".to_vec();
    for v in [size, 0, 54, 40, w, h] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    for v in [0u32, row * h, 2835, 2835, 0, 0] {
        bmp.extend_from_slice(&v.to_le_bytes());
    }
    for y in 0..h {
        for x in 0..w {
            bmp.extend_from_slice(&[(x * 80) as u8, (y * 120) as u8, 200]);
        }
        bmp.extend(std::iter::repeat_n(0u8, (row - w * 3) as usize));
    }
    put("image", "tiny.bmp", &bmp);
    // The same pixels (grown to 8 x 8) as PNG and baseline JPEG.
    let px = image::RgbImage::from_fn(8, 8, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 30) as u8, 200])
    });
    for (name, fmt) in [
        ("tiny.png", image::ImageFormat::Png),
        ("tiny.jpg", image::ImageFormat::Jpeg),
    ] {
        let mut out = std::io::Cursor::new(Vec::new());
        px.write_to(&mut out, fmt).unwrap();
        put("image", name, &out.into_inner());
    }
    // Two TFLite models that use every supported operator between them (2.3
    // and 2.5 KB).
    put(
        "tflite",
        "tiny.tflite",
        &shoal_tests::flatbuf::tflite::tiny(0),
    );
    put(
        "tflite",
        "tiny2.tflite",
        &shoal_tests::flatbuf::tflite::tiny2(),
    );
    // Two small fastText models (the real lid.176.ftz is added by fuzz/run.sh):
    // dense input and output, and a quantized input with row norms.
    put("fasttext", "tiny_dense.bin", &tiny_fasttext(false, 1));
    put("fasttext", "tiny_quant.ftz", &tiny_fasttext(true, 1));
    put("fasttext", "tiny_bigrams.bin", &tiny_fasttext(false, 2));
    put("shm", "tiny.shm", &tiny_shm());
    println!("seeds written under {}", root.display());
}

/// A supervised fastText model of dimension 4: words `</s>`, `fish`,
/// `boat`; labels a and b; 6 buckets; character n-grams of 2..=4, word
/// n-grams up to `word_ngrams`; hierarchical
/// softmax; the input matrix dense or product-quantized (2 sub-spaces of 2,
/// with a norm code per row).
fn tiny_fasttext(quant: bool, word_ngrams: i32) -> Vec<u8> {
    let mut b = Vec::new();
    let i32s =
        |b: &mut Vec<u8>, v: &[i32]| v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes()));
    i32s(
        &mut b,
        &[
            793_712_314,
            12,
            4,
            5,
            5,
            1,
            5,
            word_ngrams,
            1,
            3,
            6,
            2,
            4,
            100,
        ],
    );
    b.extend_from_slice(&1e-4f64.to_le_bytes());
    i32s(&mut b, &[5, 3, 2]);
    b.extend_from_slice(&64i64.to_le_bytes());
    b.extend_from_slice(&(-1i64).to_le_bytes());
    for (w, c, k) in [
        ("</s>", 30i64, 0u8),
        ("fish", 9, 0),
        ("boat", 7, 0),
        ("__label__a", 5, 1),
        ("__label__b", 3, 1),
    ] {
        b.extend_from_slice(w.as_bytes());
        b.push(0);
        b.extend_from_slice(&c.to_le_bytes());
        b.push(k);
    }
    let rows: i32 = 3 + 6;
    b.push(u8::from(quant));
    if quant {
        b.push(1); // qnorm
        b.extend_from_slice(&i64::from(rows).to_le_bytes());
        b.extend_from_slice(&4i64.to_le_bytes());
        i32s(&mut b, &[rows * 2]);
        b.extend((0..rows * 2).map(|i| (i * 37 % 256) as u8));
        i32s(&mut b, &[4, 2, 2, 2]);
        for k in 0..4 * 256 {
            b.extend_from_slice(&((k % 17) as f32 * 0.1 - 0.8).to_le_bytes());
        }
        b.extend((0..rows).map(|i| (i * 91 % 256) as u8));
        i32s(&mut b, &[1, 1, 1, 1]);
        for k in 0..256 {
            b.extend_from_slice(&(k as f32 / 128.0).to_le_bytes());
        }
    } else {
        b.extend_from_slice(&i64::from(rows).to_le_bytes());
        b.extend_from_slice(&4i64.to_le_bytes());
        for k in 0..rows * 4 {
            b.extend_from_slice(&((k % 5) as f32 * 0.2 - 0.4).to_le_bytes());
        }
    }
    b.push(0);
    b.extend_from_slice(&2i64.to_le_bytes());
    b.extend_from_slice(&4i64.to_le_bytes());
    for k in 0..8 {
        b.extend_from_slice(&((k % 3) as f32 * 0.5 - 0.5).to_le_bytes());
    }
    b
}

/// A Shoal model of four layers on 8 x 8 RGB images: a 3x3 stride-2 stem
/// (4 channels), a 3x3 depthwise layer, a Q8 pointwise layer (6 channels)
/// and a Q4 classifier of 5 classes with a rank-1 residual. It must parse
/// and run (checked here), so that the fuzzer starts from a valid model.
fn tiny_shm() -> Vec<u8> {
    use shoal_core::model::{Kind, LayerSpec, ShmModel, Weights};
    let dense =
        |n: usize| Weights::Dense((0..n).map(|i| ((i * 7) % 11) as f32 * 0.1 - 0.5).collect());
    let packed = |rows: usize, cols: usize, bits: Bits, rank: usize| {
        let w: Vec<f32> = (0..rows * cols)
            .map(|i| ((i * 5) % 13) as f32 * 0.1 - 0.6)
            .collect();
        let f = Format::new(bits, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
        Weights::Packed(Box::new(
            GearMatrix::compress(&w, rows, cols, f, rank, 0.0).unwrap(),
        ))
    };
    let layer = |kind, stride, kernel, flags, cin: u32, cout: u32, weights| LayerSpec {
        kind,
        stride,
        kernel,
        flags,
        cin,
        cout,
        weights,
        bias: (0..cout).map(|i| i as f32 * 0.01).collect(),
    };
    let layers = [
        layer(Kind::Conv, 2, 3, 1, 3, 4, dense(4 * 3 * 3 * 3)),
        layer(Kind::Depthwise, 1, 3, 5, 4, 4, dense(3 * 3 * 4)),
        layer(Kind::Pointwise, 1, 1, 0, 4, 6, packed(6, 4, Bits::Q8, 0)),
        layer(Kind::Classifier, 1, 1, 0, 6, 5, packed(5, 6, Bits::Q4, 1)),
    ];
    let bytes = shoal_core::model::write(8, 5, 127.0, 128.0, &layers);
    let m = ShmModel::parse(&bytes).expect("the tiny model parses");
    let logits = m.run(&[100u8; 8 * 8 * 3]).expect("and runs");
    assert_eq!(logits.len(), 5);
    bytes
}
