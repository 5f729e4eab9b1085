//! Quantized GEMV throughput (weights/s) on one core against a dense f32
//! GEMV written plainly in Rust and measured in the same run, for Q8 and Q4
//! at 4096 x 4096 and 11008 x 4096. `cargo bench -p shoal-tests --bench quant`.
//! (ggml is the named peer in the issue; it is not built here yet.)

use std::hint::black_box;

use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
use shoal_core::rng::Rng;
use shoal_tests::best_rate;

fn dense_gemv(w: &[f32], x: &[f32], y: &mut [f32]) {
    for (row, yr) in w.chunks_exact(x.len()).zip(y.iter_mut()) {
        let mut acc = [0.0f32; 8];
        for (wc, xc) in row.chunks_exact(8).zip(x.chunks_exact(8)) {
            for k in 0..8 {
                acc[k] += wc[k] * xc[k];
            }
        }
        *yr = acc.iter().sum();
    }
}

fn main() {
    let mut rng = Rng::new(1);
    for &(rows, cols) in &[(4096usize, 4096usize), (11008, 4096)] {
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.normal() as f32 * 0.02)
            .collect();
        let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
        let mut y = vec![0.0f32; rows];
        let n = rows * cols;
        let dense = best_rate(n, || dense_gemv(black_box(&w), &x, &mut y));
        println!(
            "{rows} x {cols}: dense f32 GEMV {:.2} G weights/s ({:.1} GB/s)",
            dense / 1e9,
            dense * 4.0 / 1e9
        );
        for (bits, name) in [(Bits::Q8, "q8"), (Bits::Q4, "q4")] {
            let f = Format::new(bits, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let simd = best_rate(n, || q.gemv(black_box(&x), &mut y).unwrap());
            let scalar = best_rate(n, || q.gemv_scalar(black_box(&x), &mut y).unwrap());
            println!(
                "  {name} g32: {:.2} G weights/s ({:.2}x dense f32, {:.1} GB/s of packed data), scalar spec {:.2} G weights/s",
                simd / 1e9,
                simd / dense,
                simd * q.bits_per_weight() / 8.0 / 1e9,
                scalar / 1e9
            );
        }
    }
}
