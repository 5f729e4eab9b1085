//! The WGSL GEMV on group-quantized matrices against the scalar
//! specification, for every format, on shapes that are not multiples of the
//! group size. Skips without an adapter unless `SHOAL_REQUIRE_GPU=1`.

mod common;

use common::gpu;
use shoal_core::quant::{scalar::gemv_abs, Bits, Format, QuantMatrix, ScaleType, Scheme};
use shoal_core::rng::Rng;

#[test]
fn wgsl_gemv_matches_the_scalar_spec() {
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(17);
    let mut worst: f64 = 0.0;
    for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            for group in [32, 64, 128] {
                for scale in [ScaleType::F16, ScaleType::Bf16] {
                    let f = Format::new(bits, scheme, group, scale).unwrap();
                    // 3 x 4200: the four-words-in-flight loop and its tail.
                    for &(rows, cols) in &[(1, 1), (13, 33), (70, 129), (5, 300), (3, 4200)] {
                        let w: Vec<f32> = (0..rows * cols)
                            .map(|_| rng.normal() as f32 * 0.5 + 0.1)
                            .collect();
                        let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
                        let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
                        let got = g.quant_gemv(&q, &x).unwrap();
                        let mut want = vec![0.0f32; rows];
                        q.gemv_scalar(&x, &mut want).unwrap();
                        for r in 0..rows {
                            let scale = gemv_abs(&q, r, &x);
                            let e =
                                (f64::from(got[r]) - f64::from(want[r])).abs() / scale.max(1e-30);
                            worst = worst.max(e);
                            assert!(
                                e <= 2f64.powi(-18),
                                "{f:?} {rows}x{cols} row {r}: gpu {} spec {}",
                                got[r],
                                want[r]
                            );
                        }
                    }
                }
            }
        }
    }
    println!("max |gpu - spec| / Σ|terms| = {worst:.3e}");
    assert!(g
        .quant_gemv(
            &QuantMatrix::quantize(
                &[1.0; 4],
                2,
                2,
                Format::new(Bits::Q8, Scheme::Symmetric, 32, ScaleType::F16).unwrap()
            )
            .unwrap(),
            &[1.0]
        )
        .is_err());
}

/// The batched product (GEMM) on the GPU: every vector of the batch equals
/// its own GEMV on the GPU bit for bit, and the scalar specification
/// within the same bound; a binding cap forces row chunks and batch parts.
#[test]
fn wgsl_gemm_equals_the_gemv_per_vector() {
    let Some(mut g) = gpu() else { return };
    let mut rng = Rng::new(19);
    let f = Format::new(Bits::Q4, Scheme::Asymmetric, 32, ScaleType::F16).unwrap();
    let (rows, cols, n) = (70, 129, 9);
    let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
    let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
    let x: Vec<f32> = (0..n * cols).map(|_| rng.normal() as f32).collect();
    for cap in [None, Some(2048u64)] {
        if let Some(c) = cap {
            g.limit_storage_binding(c);
        }
        let y = g.quant_gemm(&q, &x, n).unwrap();
        for (i, xr) in x.chunks_exact(cols).enumerate() {
            let one = g.quant_gemv(&q, xr).unwrap();
            assert!(
                one.iter()
                    .zip(&y[i * rows..(i + 1) * rows])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "vector {i}, cap {cap:?}"
            );
            let mut want = vec![0.0f32; rows];
            q.gemv_scalar(xr, &mut want).unwrap();
            for r in 0..rows {
                let e = (f64::from(one[r]) - f64::from(want[r])).abs();
                assert!(e <= 2f64.powi(-18) * gemv_abs(&q, r, xr).max(1e-30));
            }
        }
    }
    assert!(g.quant_gemm(&q, &x[1..], n).is_err());
}

/// GEAR on the GPU (backbone GEMV, then the low-rank and outlier kernels)
/// against the scalar specification: within 2^-18 of Σ|terms| per row of
/// the decoded matrix, with and without rank or outliers.
#[test]
fn wgsl_gear_matches_the_scalar_spec() {
    use shoal_core::quant::gear::GearMatrix;
    let Some(g) = gpu() else { return };
    let mut rng = Rng::new(21);
    let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
    let mut worst: f64 = 0.0;
    for &(rows, cols, rank, frac) in &[
        (70, 129, 4, 0.02),
        (33, 64, 0, 0.05),
        (50, 100, 3, 0.0),
        (5, 300, 2, 0.1),
    ] {
        let w: Vec<f32> = (0..rows * cols).map(|_| rng.normal() as f32).collect();
        let gm = GearMatrix::compress(&w, rows, cols, f, rank, frac).unwrap();
        let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
        let got = g.gear_gemv(&gm, &x).unwrap();
        let mut want = vec![0.0f32; rows];
        gm.gemv_scalar(&x, &mut want).unwrap();
        let mut row = vec![0.0f32; cols];
        for r in 0..rows {
            gm.dequantize_row(r, &mut row).unwrap();
            let mag: f64 = row
                .iter()
                .zip(&x)
                .map(|(a, b)| (f64::from(*a) * f64::from(*b)).abs())
                .sum::<f64>()
                + 1.0;
            let e = (f64::from(got[r]) - f64::from(want[r])).abs() / mag;
            worst = worst.max(e);
            assert!(
                e <= 2f64.powi(-18),
                "{rows}x{cols} rank {rank} row {r}: gpu {} spec {}",
                got[r],
                want[r]
            );
        }
    }
    println!("GEAR on the GPU: max |gpu - spec| / Σ|terms| = {worst:.3e}");
}
