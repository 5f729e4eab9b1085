//! Quantization error on real weights: every 1×1 convolution and the
//! classifier of EfficientNet-Lite0 (BN folded; `python3 tools/effnet_lite0.py
//! export target/effl-export` first), per format and for GEAR, as relative
//! Frobenius error over all those weights (and the uniform-noise model's
//! prediction for plain quantization). Then the same for MobileNetV2 1.0 (the
//! Coral uint8 model in ../shared/models/coral, its 1×1 convolutions
//! dequantized to f32 — those weights were already on a 256-level grid, so
//! the Q8 rows there mostly measure grid mismatch).
//!
//!     cargo run --release -p shoal-tests --example quant_real [DIR]

use shoal_core::quant::gear::GearMatrix;
use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
use shoal_tests::{quant_error_and_noise_model, workspace_root};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/effl-export"));
    let mut mats: Vec<(Vec<f32>, usize, usize)> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run tools/effnet_lite0.py export first)",
                dir.display()
            )
        })
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with("_w.npy"))
        .collect();
    names.sort();
    for p in names {
        let b = std::fs::read(&p).unwrap();
        let a = shoal_core::npy::read(&b).unwrap();
        // 1×1 convolutions (out, in, 1, 1) and the classifier (out, in).
        let (rows, cols) = match a.shape[..] {
            [o, i, 1, 1] if i > 1 => (o, i),
            [o, i] => (o, i),
            _ => continue,
        };
        mats.push((a.to_f32(), rows, cols));
    }
    table("EfficientNet-Lite0", &mats);
    if let Some(shared) = shoal_tests::shared_dir() {
        let path = shared.join("models/coral/mobilenet_v2_1.0_224_quant.tflite");
        let bytes = std::fs::read(&path).unwrap();
        let model = shoal_core::tflite::Model::parse(&bytes).unwrap();
        let mut mats = Vec::new();
        for op in &model.ops {
            if let shoal_core::tflite::Op::Conv2d { filter, .. } = op {
                let t = &model.tensors[*filter];
                if let ([o, 1, 1, i], Some(d)) = (&t.shape[..], t.data) {
                    let w = d
                        .iter()
                        .map(|&q| (i32::from(q) - t.zero_point) as f32 * t.scale)
                        .collect();
                    mats.push((w, *o, *i));
                }
            }
        }
        println!();
        table("MobileNetV2 1.0 (Coral uint8, dequantized)", &mats);
    }
}

fn table(model: &str, mats: &[(Vec<f32>, usize, usize)]) {
    let weights: usize = mats.iter().map(|m| m.0.len()).sum();
    let norm2: f64 = mats
        .iter()
        .flat_map(|m| m.0.iter())
        .map(|&v| f64::from(v).powi(2))
        .sum();
    println!(
        "{model}: {} matrices (1×1 convolutions and the classifier), {weights} weights\n",
        mats.len()
    );
    println!("| format | bits/weight | relative Frobenius error | uniform-noise model |");
    println!("|---|---:|---:|---:|");
    for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            for group in [32, 64, 128] {
                let f = Format::new(bits, scheme, group, ScaleType::F16).unwrap();
                let (mut err2, mut pred2, mut bitsum) = (0.0f64, 0.0f64, 0.0f64);
                for (w, rows, cols) in mats {
                    let q = QuantMatrix::quantize(w, *rows, *cols, f).unwrap();
                    bitsum += q.bits_per_weight() * w.len() as f64;
                    let (e2, p2) = quant_error_and_noise_model(w, *cols, &q);
                    err2 += e2;
                    pred2 += p2;
                }
                println!(
                    "| {bits:?} {scheme:?} g{group} | {:.3} | {:.5} | {:.5} |",
                    bitsum / weights as f64,
                    (err2 / norm2).sqrt(),
                    (pred2 / norm2).sqrt()
                );
            }
        }
    }
    println!("\n| GEAR (Q4 asym g64 backbone) | bits/weight | relative Frobenius error |");
    println!("|---|---:|---:|");
    let f = Format::new(Bits::Q4, Scheme::Asymmetric, 64, ScaleType::F16).unwrap();
    for (rank, outliers) in [(0, 0.0), (0, 0.01), (8, 0.0), (8, 0.01), (32, 0.01)] {
        let (mut err2, mut bitsum) = (0.0f64, 0.0f64);
        for (w, rows, cols) in mats {
            let r = rank.min((*rows).min(*cols));
            let g = GearMatrix::compress(w, *rows, *cols, f, r, outliers).unwrap();
            bitsum += g.bits_per_weight() * w.len() as f64;
            let mut row = vec![0.0f32; *cols];
            for i in 0..*rows {
                g.dequantize_row(i, &mut row).unwrap();
                err2 += w[i * cols..(i + 1) * cols]
                    .iter()
                    .zip(&row)
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>();
            }
        }
        println!(
            "| rank {rank}, {:.0}% outliers | {:.3} | {:.5} |",
            outliers * 100.0,
            bitsum / weights as f64,
            (err2 / norm2).sqrt()
        );
    }
}
