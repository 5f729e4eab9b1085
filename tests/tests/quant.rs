//! Group-wise quantized matrices: error bounds of every format, the GEMV
//! kernels against the scalar specification and against dense products,
//! shapes that are not multiples of the group size, and typed errors.

use shoal_core::quant::{
    scalar::gemv_abs, Bits, Format, QuantError, QuantMatrix, ScaleType, Scheme,
};
use shoal_core::rng::Rng;
use shoal_tests::{group_step, quant_error_and_noise_model, scale_unit as unit};

fn formats() -> Vec<Format> {
    let mut v = Vec::new();
    for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
        for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
            for group in [32, 64, 128] {
                for scale in [ScaleType::F16, ScaleType::Bf16] {
                    v.push(Format::new(bits, scheme, group, scale).unwrap());
                }
            }
        }
    }
    v
}

fn gaussian(rng: &mut Rng, n: usize, sigma: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.normal() * sigma) as f32).collect()
}

#[test]
fn every_element_within_half_a_step_plus_scale_rounding() {
    let mut rng = Rng::new(11);
    for f in formats() {
        for &(rows, cols) in &[(3, 1), (2, 31), (4, 33), (5, 100), (2, 129), (1, 256)] {
            let w = gaussian(&mut rng, rows * cols, 0.7);
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let mut row = vec![0.0f32; cols];
            for r in 0..rows {
                q.dequantize_row(r, &mut row).unwrap();
                for (g, (wg, dg)) in w[r * cols..(r + 1) * cols]
                    .chunks(f.group)
                    .zip(row.chunks(f.group))
                    .enumerate()
                {
                    let (lo, hi, step) = group_step(wg, f);
                    let bound = 0.5 * step * (1.0 + 2.0 * unit(f.scale))
                        + 2.0 * unit(f.scale) * (lo.abs() + hi.abs())
                        + 1e-6;
                    for (a, b) in wg.iter().zip(dg) {
                        let e = (f64::from(*a) - f64::from(*b)).abs();
                        assert!(
                            e <= bound,
                            "{f:?} {rows}x{cols} row {r} group {g}: error {e} > {bound}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn gaussian_error_matches_the_uniform_noise_model() {
    // Relative Frobenius error on a Gaussian 256 x 512 matrix, against the
    // prediction sqrt(Σ step²/12) of the uniform rounding-noise model.
    let mut rng = Rng::new(5);
    let (rows, cols) = (256, 512);
    let w = gaussian(&mut rng, rows * cols, 1.0);
    let norm: f64 = w.iter().map(|&a| f64::from(a).powi(2)).sum::<f64>().sqrt();
    for f in formats().into_iter().filter(|f| f.scale == ScaleType::F16) {
        let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
        let (err2, pred2) = quant_error_and_noise_model(&w, cols, &q);
        let (rel, pred) = (err2.sqrt() / norm, pred2.sqrt() / norm);
        println!(
            "{:?} {:?} g{:3}: {:.3} bits/weight, relative Frobenius error {rel:.5} (uniform-noise model {pred:.5})",
            f.bits,
            f.scheme,
            f.group,
            q.bits_per_weight()
        );
        // The model holds when steps are small against the spread of the
        // values; Q2 groups are too coarse for it (ternary / 4 levels).
        if f.bits != Bits::Q2 {
            assert!(
                rel > 0.8 * pred && rel < 1.2 * pred,
                "{f:?}: {rel} vs model {pred}"
            );
        } else {
            assert!(rel < 0.9 && rel < 1.2 * pred, "{f:?}: {rel}");
        }
    }
}

/// `Σ a_i b_i` in f64.
fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

/// `1 + Σ |a_i b_i|` in f64: the scale of a product's rounding error.
fn abs_dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) * f64::from(*y)).abs())
        .sum::<f64>()
        + 1.0
}

/// `Σ |w_j| s_b(j)`: twice the bound on what rounding the vector to int8
/// (blocks of 32, scales `s_b`) changes in `Σ w_j x_j`.
fn int8_rounding(w: &[f32], xq: &shoal_core::quant::Int8Vector) -> f64 {
    w.iter()
        .enumerate()
        .map(|(j, a)| f64::from(a.abs()) * f64::from(xq.scales()[j / 32]))
        .sum()
}

/// The SIMD kernel within `2^-20 · scale` of its scalar specification, and
/// the specification within the same of the dense product.
fn check_kernel(what: &str, simd: f32, spec: f32, dense: f64, scale: f64) {
    let tol = 2f64.powi(-20) * scale + 1e-30;
    let dv = (f64::from(simd) - f64::from(spec)).abs();
    assert!(dv <= tol, "{what}: simd {simd} scalar {spec}");
    let dd = (dense - f64::from(spec)).abs();
    assert!(dd <= tol, "{what}: spec {spec} dense {dense}");
}

#[test]
fn gemv_kernels_match_the_specification_and_the_dense_product() {
    let mut rng = Rng::new(8);
    for f in formats() {
        for &(rows, cols) in &[(1, 1), (7, 31), (5, 32), (9, 100), (3, 129), (17, 300)] {
            let w = gaussian(&mut rng, rows * cols, 0.3);
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let x = gaussian(&mut rng, cols, 1.0);
            let (mut ys, mut yv) = (vec![0.0f32; rows], vec![0.0f32; rows]);
            q.gemv_scalar(&x, &mut ys).unwrap();
            q.gemv(&x, &mut yv).unwrap();
            let mut row = vec![0.0f32; cols];
            for r in 0..rows {
                q.dequantize_row(r, &mut row).unwrap();
                let what = format!("{f:?} {rows}x{cols} row {r}");
                check_kernel(&what, yv[r], ys[r], dot64(&row, &x), gemv_abs(&q, r, &x));
            }
            // Batched product = row-by-row GEMV.
            let n = 3;
            let xb = gaussian(&mut rng, n * cols, 1.0);
            let mut yb = vec![0.0f32; n * rows];
            q.gemm(&xb, n, &mut yb).unwrap();
            let mut y1 = vec![0.0f32; rows];
            q.gemv(&xb[cols..2 * cols], &mut y1).unwrap();
            assert_eq!(&yb[rows..2 * rows], &y1[..]);
        }
    }
}

/// The panel GEMM (batches of 4 or more): equal bit for bit to its plain
/// specification (same summation order; AVX2 here), and within the float
/// bound of the exact product of the decoded matrix, on every format and
/// on shapes that are not multiples of the panel, block or group sizes.
#[test]
fn panel_gemm_matches_its_specification_and_the_dense_product() {
    use shoal_core::quant::gemm::{gemm_reference, BLOCK, PANEL};
    let mut rng = Rng::new(10);
    let mut checked = 0;
    for f in formats() {
        for &(rows, cols, n) in &[
            (1, 1, 4),
            (PANEL, 8, 5),
            (PANEL + 3, 37, BLOCK + 1),
            (17, 100, 9),
            (2 * PANEL, 129, 2 * BLOCK + 7),
            // A last panel of eight rows (its twelve-row tiles) and tails.
            (PANEL + PANEL / 2, 40, BLOCK + 13),
        ] {
            let w = gaussian(&mut rng, rows * cols, 0.3);
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let x = gaussian(&mut rng, n * cols, 1.0);
            let (mut y, mut ys) = (vec![0.0f32; n * rows], vec![0.0f32; n * rows]);
            q.gemm(&x, n, &mut y).unwrap();
            gemm_reference(&q, &x, n, &mut ys).unwrap();
            assert!(
                y.iter().zip(&ys).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{f:?} {rows}x{cols} n={n}: panel GEMM differs from its specification"
            );
            let mut row = vec![0.0f32; cols];
            for r in 0..rows {
                q.dequantize_row(r, &mut row).unwrap();
                for i in 0..n {
                    let xr = &x[i * cols..(i + 1) * cols];
                    let exact = dot64(&row, xr);
                    let abs: f64 = row
                        .iter()
                        .zip(xr)
                        .map(|(a, b)| f64::from(a * b).abs())
                        .sum();
                    let err = (f64::from(y[i * rows + r]) - exact).abs();
                    assert!(
                        err <= 1e-6 * abs + 1e-30,
                        "{f:?} {rows}x{cols} n={n} ({i}, {r}): {err} > 1e-6 · {abs}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(matches!(
        QuantMatrix::quantize(&[1.0; 64], 2, 32, formats()[0])
            .unwrap()
            .gemm(&[0.0; 31], 1, &mut [0.0; 2]),
        Err(shoal_core::quant::QuantError::LengthMismatch { .. })
    ));
    println!("{checked} outputs checked");
}

/// The integer GEMV (vector rounded to int8 per 32 columns): the AVX2 kernel
/// against its scalar specification (float summation order only), the
/// specification against the dense product with the rounded vector, and the
/// result against the f32 product within the vector's rounding error.
#[test]
fn int8_gemv_matches_its_specification_and_the_rounding_bound() {
    use shoal_core::quant::{int8, Int8Vector};
    let mut rng = Rng::new(9);
    let mut checked = 0;
    for f in formats() {
        for &(rows, cols) in &[
            (1, 1),
            (7, 31),
            (5, 32),
            (9, 100),
            (3, 129),
            (17, 300),
            (8, 512),
        ] {
            let w = gaussian(&mut rng, rows * cols, 0.3);
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let mut x = gaussian(&mut rng, cols, 1.0);
            if cols > 40 {
                x[40..cols.min(64)].fill(0.0); // an all-zero block
            }
            let xq = Int8Vector::quantize(&x).unwrap();
            let xhat = xq.dequantize();
            let (mut ys, mut yv, mut yf) =
                (vec![0.0f32; rows], vec![0.0f32; rows], vec![0.0f32; rows]);
            q.gemv_int8_scalar(&x, &mut ys).unwrap();
            q.gemv_int8(&x, &mut yv).unwrap();
            q.gemv_scalar(&x, &mut yf).unwrap();
            let mut row = vec![0.0f32; cols];
            for r in 0..rows {
                let scale = int8::gemv_abs(&q, &xq, r);
                q.dequantize_row(r, &mut row).unwrap();
                let what = format!("{f:?} {rows}x{cols} row {r} (int8)");
                check_kernel(&what, yv[r], ys[r], dot64(&row, &xhat), scale);
                // |Σ w (x - x̂)| <= Σ |w| s_b / 2, plus both kernels' rounding.
                let bound = int8_rounding(&row, &xq) / 2.0
                    + 2f64.powi(-20) * (scale + gemv_abs(&q, r, &x))
                    + 1e-30;
                let df = (f64::from(ys[r]) - f64::from(yf[r])).abs();
                assert!(
                    df <= bound,
                    "{f:?}: int8 {} f32 {} bound {bound}",
                    ys[r],
                    yf[r]
                );
                checked += 1;
            }
        }
    }
    // NaN in the vector: the f32 path runs and the NaN propagates.
    let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
    let q = QuantMatrix::quantize(&[1.0; 64], 2, 32, f).unwrap();
    let mut x = [1.0f32; 32];
    x[3] = f32::NAN;
    let mut y = [0.0f32; 2];
    q.gemv_int8(&x, &mut y).unwrap();
    assert!(y.iter().all(|v| v.is_nan()));
    assert_eq!(
        q.gemv_int8_scalar(&x, &mut y),
        Err(QuantError::NonFinite(3))
    );
    assert!(matches!(
        q.gemv_int8(&x[..31], &mut y),
        Err(QuantError::LengthMismatch { .. })
    ));
    println!(
        "int8 GEMV: {checked} rows within bounds over {} formats",
        formats().len()
    );
}

#[test]
fn typed_errors() {
    let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
    assert_eq!(
        Format::new(Bits::Q4, Scheme::Symmetric, 48, ScaleType::F16),
        Err(QuantError::BadGroup(48))
    );
    assert!(matches!(
        QuantMatrix::quantize(&[], 0, 4, f),
        Err(QuantError::BadShape { .. })
    ));
    assert!(matches!(
        QuantMatrix::quantize(&[1.0; 5], 2, 3, f),
        Err(QuantError::LengthMismatch {
            expected: 6,
            found: 5
        })
    ));
    assert_eq!(
        QuantMatrix::quantize(&[1.0, f32::NAN, 0.0], 1, 3, f),
        Err(QuantError::NonFinite(1))
    );
    assert!(matches!(
        QuantMatrix::quantize(&[1.0; 4], usize::MAX, 2, f),
        Err(QuantError::BadShape { .. })
    ));
    // 1e6 / 7 exceeds f16; bf16 holds it.
    let big = [1e6f32, -3.0];
    assert_eq!(
        QuantMatrix::quantize(&big, 1, 2, f),
        Err(QuantError::ScaleOverflow { row: 0, group: 0 })
    );
    let fb = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::Bf16).unwrap();
    let q = QuantMatrix::quantize(&big, 1, 2, fb).unwrap();
    let mut y = [0.0f32; 1];
    assert!(matches!(
        q.gemv(&[1.0], &mut y),
        Err(QuantError::LengthMismatch {
            expected: 2,
            found: 1
        })
    ));
    let mut row = [0.0f32; 2];
    assert_eq!(
        q.dequantize_row(1, &mut row),
        Err(QuantError::RowOutOfRange { row: 1, rows: 1 })
    );
    // All-zero and constant groups decode exactly.
    let q = QuantMatrix::quantize(&[0.0; 40], 1, 40, f).unwrap();
    let mut z = [1.0f32; 40];
    q.dequantize_row(0, &mut z).unwrap();
    assert!(z.iter().all(|&v| v == 0.0));
    assert!(QuantError::ScaleOverflow { row: 2, group: 3 }
        .to_string()
        .contains("bf16"));
}

#[test]
fn shq_round_trip_and_one_malformed_file_per_error() {
    use shoal_core::quant::ShqError;
    let mut rng = Rng::new(2);
    for f in formats() {
        let w = gaussian(&mut rng, 5 * 77, 1.0);
        let q = QuantMatrix::quantize(&w, 5, 77, f).unwrap();
        let b = q.to_bytes();
        assert_eq!(QuantMatrix::from_bytes(&b).unwrap(), q);
    }
    let f = Format::new(Bits::Q4, Scheme::Asymmetric, 32, ScaleType::F16).unwrap();
    let q = QuantMatrix::quantize(&gaussian(&mut rng, 3 * 40, 1.0), 3, 40, f).unwrap();
    let good = q.to_bytes();
    let with = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    let cases: Vec<(Vec<u8>, ShqError)> = vec![
        (good[..10].to_vec(), ShqError::Truncated),
        (good[..good.len() - 1].to_vec(), ShqError::Truncated),
        (with(0, b"SHQ2"), ShqError::BadMagic),
        (
            with(4, &2u16.to_le_bytes()),
            ShqError::UnsupportedVersion(2),
        ),
        (with(24, &[3]), ShqError::BadFormat),
        (with(28, &48u32.to_le_bytes()), ShqError::BadFormat),
        (with(8, &0u64.to_le_bytes()), ShqError::BadShape),
        // Counts of 2^32 x 2^32: rejected before anything is allocated.
        (with(8, &(1u64 << 32).to_le_bytes()), ShqError::BadShape),
        (with(16, &u64::MAX.to_le_bytes()), ShqError::BadShape),
        (with(60, &[0xff]), ShqError::Checksum("codes")),
        ([good.clone(), vec![0]].concat(), ShqError::TrailingBytes(1)),
    ];
    for (bytes, want) in cases {
        assert_eq!(QuantMatrix::from_bytes(&bytes), Err(want), "{want:?}");
    }
    // A declared shape larger than the file: truncated, not an allocation.
    let big = with(8, &(1u64 << 20).to_le_bytes());
    assert_eq!(QuantMatrix::from_bytes(&big), Err(ShqError::Truncated));
}

/// A random `n × n` orthogonal matrix (QR of a Gaussian by Gram-Schmidt).
fn orthogonal(rng: &mut Rng, n: usize) -> Vec<f64> {
    let mut q: Vec<f64> = (0..n * n).map(|_| rng.normal()).collect();
    for j in 0..n {
        for p in 0..j {
            let d: f64 = (0..n).map(|i| q[i * n + p] * q[i * n + j]).sum();
            for i in 0..n {
                q[i * n + j] -= d * q[i * n + p];
            }
        }
        let norm = (0..n).map(|i| q[i * n + j].powi(2)).sum::<f64>().sqrt();
        for i in 0..n {
            q[i * n + j] /= norm;
        }
    }
    q
}

#[test]
fn randomized_svd_error_is_close_to_the_svd_tail() {
    use shoal_core::quant::lowrank::randomized_svd;
    // A = X diag(s) Yᵀ with known singular values: the best rank-k error is
    // exactly sqrt(Σ_{i>k} s_i²) (Eckart-Young), independent of any oracle.
    let mut rng = Rng::new(21);
    let (m, n) = (60, 40);
    let x = orthogonal(&mut rng, m);
    let y = orthogonal(&mut rng, n);
    for decay in [0.5f64, 0.9] {
        let s: Vec<f64> = (0..n).map(|i| decay.powi(i as i32)).collect();
        let mut a = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|r| x[i * m + r] * s[r] * y[j * n + r]).sum();
            }
        }
        for k in [1, 4, 10] {
            let lr = randomized_svd(&a, m, n, k, 2, 7).unwrap();
            let err = (0..m * n)
                .map(|t| (lr.at(t / n, t % n) - a[t]).powi(2))
                .sum::<f64>()
                .sqrt();
            let tail = s[k..].iter().map(|v| v * v).sum::<f64>().sqrt();
            println!(
                "decay {decay} k {k}: error {err:.6e}, SVD tail {tail:.6e}, ratio {:.4}",
                err / tail
            );
            assert!(err <= 1.05 * tail, "rank-{k} error {err} vs optimal {tail}");
            for (r, sv) in lr.sigma.iter().enumerate() {
                assert!(
                    (sv - s[r]).abs() <= 1e-6 * s[0] + 0.05 * s[r],
                    "sigma {r}: {sv} vs {}",
                    s[r]
                );
            }
        }
    }
    assert!(randomized_svd(&[1.0; 6], 2, 3, 3, 1, 0).is_err());
    assert!(randomized_svd(&[1.0, f64::NAN, 0.0, 1.0], 2, 2, 1, 1, 0).is_err());
}

#[test]
fn gear_beats_the_plain_backbone_and_its_gemv_is_the_dense_product() {
    use shoal_core::quant::gear::GearMatrix;
    // Weights with a low-rank component and heavy-tailed outliers, the case
    // GEAR is built for.
    let mut rng = Rng::new(31);
    let (rows, cols) = (96, 160);
    let a: Vec<f64> = (0..rows * 3).map(|_| rng.normal()).collect();
    let b: Vec<f64> = (0..3 * cols).map(|_| rng.normal()).collect();
    let w: Vec<f32> = (0..rows * cols)
        .map(|t| {
            let (i, j) = (t / cols, t % cols);
            let lr: f64 = (0..3).map(|k| a[i * 3 + k] * b[k * cols + j]).sum::<f64>() * 0.3;
            let spike = if rng.next_f64() < 0.01 {
                8.0 * rng.normal()
            } else {
                0.0
            };
            (lr + 0.2 * rng.normal() + spike) as f32
        })
        .collect();
    let norm = w.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt();
    let f = Format::new(Bits::Q4, Scheme::Symmetric, 64, ScaleType::F16).unwrap();
    let rel_err = |dec: &dyn Fn(usize, &mut [f32])| {
        let mut row = vec![0.0f32; cols];
        let mut e = 0.0;
        for r in 0..rows {
            dec(r, &mut row);
            e += w[r * cols..(r + 1) * cols]
                .iter()
                .zip(&row)
                .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                .sum::<f64>();
        }
        e.sqrt() / norm
    };
    let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
    let e_q = rel_err(&|r, o| q.dequantize_row(r, o).unwrap());
    let g = GearMatrix::compress(&w, rows, cols, f, 4, 0.02).unwrap();
    let e_g = rel_err(&|r, o| g.dequantize_row(r, o).unwrap());
    let g0 = GearMatrix::compress(&w, rows, cols, f, 0, 0.02).unwrap();
    let e_s = rel_err(&|r, o| g0.dequantize_row(r, o).unwrap());
    println!(
        "Q4 g64: {:.4} ({:.2} bits/w); + 2% outliers: {:.4} ({:.2}); + rank 4: {:.4} ({:.2} bits/w)",
        e_q,
        q.bits_per_weight(),
        e_s,
        g0.bits_per_weight(),
        e_g,
        g.bits_per_weight()
    );
    assert!(e_s < 0.8 * e_q, "outliers should help: {e_s} vs {e_q}");
    assert!(
        e_g < e_s,
        "the low-rank residual should help: {e_g} vs {e_s}"
    );
    assert_eq!(
        g.outliers(),
        rows * 2 * ((0.02 * cols as f64 / 2.0) as usize)
    );
    // GEMV = dense product of the decoded matrix, SIMD and scalar.
    let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
    let (mut y1, mut y2) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    g.gemv(&x, &mut y1).unwrap();
    g.gemv_scalar(&x, &mut y2).unwrap();
    let mut y3 = vec![0.0f32; rows];
    g.gemv_int8(&x, &mut y3).unwrap();
    // The GEAR integer product (backbone, then the corrections; AVX2)
    // against the backbone's integer product plus the corrections taken
    // from the f32 path: the same terms, float reassociation only.
    let (mut yb, mut yq) = (vec![0.0f32; rows], vec![0.0f32; rows]);
    g.backbone().gemv_int8(&x, &mut yb).unwrap();
    g.backbone().gemv(&x, &mut yq).unwrap();
    for r in 0..rows {
        let want = f64::from(yb[r]) + f64::from(y1[r]) - f64::from(yq[r]);
        let mag = f64::from(y1[r].abs()) + f64::from(yq[r].abs()) + f64::from(yb[r].abs()) + 1.0;
        assert!(
            (f64::from(y3[r]) - want).abs() < 1e-5 * mag,
            "row {r}: integer product {} vs {want}",
            y3[r]
        );
    }
    let mut row = vec![0.0f32; cols];
    for r in 0..rows {
        g.dequantize_row(r, &mut row).unwrap();
        let dense = dot64(&row, &x);
        let scale = abs_dot64(&row, &x);
        assert!(
            (f64::from(y1[r]) - dense).abs() < 1e-4 * scale,
            "row {r}: {} vs {dense}",
            y1[r]
        );
        assert!((f64::from(y2[r]) - dense).abs() < 1e-4 * scale);
        // The int8 path: the backbone sees x rounded per block of 32.
        let xq = shoal_core::quant::Int8Vector::quantize(&x).unwrap();
        let rounding = int8_rounding(&row, &xq);
        assert!(
            (f64::from(y3[r]) - dense).abs() < 1e-4 * scale + rounding,
            "row {r}: int8 {} vs {dense}",
            y3[r]
        );
    }
    assert!(GearMatrix::compress(&w, rows, cols, f, 200, 0.02).is_err());
    assert!(GearMatrix::compress(&w, rows, cols, f, 2, 1.5).is_err());
}

/// GEAR products against the dense product of the decoded matrix where the
/// corrections' vector loops all run: many outliers per row (the sixteen-
/// and eight-wide steps and tails), a rank that is not a multiple of four,
/// rows not a multiple of four, and a matrix wider than 65,536 columns
/// (32-bit column indices).
#[test]
fn gear_products_with_many_outliers_and_wide_rows_are_the_dense_product() {
    use shoal_core::quant::gear::GearMatrix;
    let mut rng = Rng::new(43);
    let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
    for &(rows, cols, rank, frac) in &[(37, 160, 5, 0.3), (3, 70_001, 1, 0.02)] {
        let w = gaussian(&mut rng, rows * cols, 0.5);
        let g = GearMatrix::compress(&w, rows, cols, f, rank, frac).unwrap();
        assert!(g.outliers() >= rows * 40, "{} outliers", g.outliers());
        let x = gaussian(&mut rng, cols, 1.0);
        let (mut y1, mut y3) = (vec![0.0f32; rows], vec![0.0f32; rows]);
        g.gemv(&x, &mut y1).unwrap();
        g.gemv_int8(&x, &mut y3).unwrap();
        let xq = shoal_core::quant::Int8Vector::quantize(&x).unwrap();
        let mut row = vec![0.0f32; cols];
        for r in 0..rows {
            g.dequantize_row(r, &mut row).unwrap();
            let (dense, scale) = (dot64(&row, &x), abs_dot64(&row, &x));
            let rounding = int8_rounding(&row, &xq);
            let what = format!("{rows}x{cols} row {r}");
            assert!(
                (f64::from(y1[r]) - dense).abs() < 1e-5 * scale,
                "{what}: {} vs {dense}",
                y1[r]
            );
            assert!(
                (f64::from(y3[r]) - dense).abs() < 1e-5 * scale + rounding,
                "{what}: int8 {} vs {dense}",
                y3[r]
            );
        }
    }
}

#[test]
fn gear_shq_round_trip_and_malformed_gear_sections() {
    use shoal_core::quant::{gear::GearMatrix, ShqError};
    let mut rng = Rng::new(41);
    let (rows, cols) = (20, 50);
    let w = gaussian(&mut rng, rows * cols, 1.0);
    let f = Format::new(Bits::Q8, Scheme::Asymmetric, 32, ScaleType::Bf16).unwrap();
    let g = GearMatrix::compress(&w, rows, cols, f, 3, 0.1).unwrap();
    let b = g.to_bytes();
    assert_eq!(GearMatrix::from_bytes(&b).unwrap(), g);
    // A file with a GEAR section is not a plain matrix.
    assert!(QuantMatrix::from_bytes(&b).is_err());
    // A plain file reads as GEAR with rank 0 and no outliers, same bytes back.
    let plain = GearMatrix::compress(&w, rows, cols, f, 0, 0.0).unwrap();
    let pb = plain.to_bytes();
    assert_eq!(pb, plain.backbone().to_bytes());
    assert_eq!(GearMatrix::from_bytes(&pb).unwrap().to_bytes(), pb);
    let base = g.backbone().to_bytes().len(); // where the GEAR header starts
    let with = |at: usize, bytes: &[u8]| {
        let mut v = b.clone();
        v[at..at + bytes.len()].copy_from_slice(bytes);
        v
    };
    assert_eq!(
        GearMatrix::from_bytes(&with(base, &(1000u64).to_le_bytes())),
        Err(ShqError::BadGear("rank above min(rows, cols)"))
    );
    assert_eq!(
        GearMatrix::from_bytes(&with(base + 8, &(u64::MAX).to_le_bytes())),
        Err(ShqError::BadGear("more outliers than weights"))
    );
    assert_eq!(
        GearMatrix::from_bytes(&with(b.len() - 1, &[0x7f])),
        Err(ShqError::Checksum("gear"))
    );
    assert_eq!(
        GearMatrix::from_bytes(&b[..b.len() - 2]),
        Err(ShqError::Truncated)
    );
    assert_eq!(
        GearMatrix::from_bytes(&[b.clone(), vec![1, 2]].concat()),
        Err(ShqError::TrailingBytes(2))
    );
    // Row pointers [0, 2^26, ..., nnz]: one beyond the outliers while the
    // last is right, with a valid checksum (a panic found by fuzzing).
    let rank = g.rank();
    let rp_at = base + 24 + 2 * rows * rank + 2 * rank * cols;
    let mut v = with(rp_at + 4, &(1u32 << 26).to_le_bytes());
    let sum = shoal_core::quant::file::fnv1a64(&v[base + 24..]);
    v[base + 16..base + 24].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(
        GearMatrix::from_bytes(&v),
        Err(ShqError::BadGear("row pointer beyond the outliers"))
    );
}

#[test]
fn ldu_is_exact_at_the_rank_and_near_the_svd_tail_below_it() {
    use shoal_core::quant::lowrank::{ldu, randomized_svd};
    let (m, n) = (60, 20);
    // Exactly rank 5: recovered to rounding.
    let sig: Vec<f64> = (0..n)
        .map(|k| if k < 5 { 1.0 / (k + 1) as f64 } else { 0.0 })
        .collect();
    let a: Vec<f64> = shoal_tests::matrix_with_spectrum(m, n, &sig, 3)
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let f = ldu(&a, m, n, 5).unwrap();
    let worst = (0..m * n)
        .map(|p| (f.at(p / n, p % n) - a[p]).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-6, "rank-5 LDU error {worst}");
    // Unit diagonals of L and U on the pivots.
    for t in 0..f.k {
        assert!((f.l[f.pivot_rows[t] * f.k + t] - 1.0).abs() < 1e-12);
        assert!((f.u[t * n + f.pivot_cols[t]] - 1.0).abs() < 1e-12);
    }
    // Singular values 2^-k: the LDU error against the optimal (SVD) one.
    let sig: Vec<f64> = (0..n).map(|k| 0.5f64.powi(k as i32)).collect();
    let a: Vec<f64> = shoal_tests::matrix_with_spectrum(m, n, &sig, 4)
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    for k in [2, 4, 8] {
        let f = ldu(&a, m, n, k).unwrap();
        let s = randomized_svd(&a, m, n, k, 2, 1).unwrap();
        let err = |g: &dyn Fn(usize, usize) -> f64| {
            (0..m * n)
                .map(|p| (g(p / n, p % n) - a[p]).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let (el, es) = (err(&|i, j| f.at(i, j)), err(&|i, j| s.at(i, j)));
        println!(
            "LDU rank {k}: error {el:.3e}, SVD {es:.3e} ({:.2}x)",
            el / es
        );
        assert!(
            el >= es * (1.0 - 1e-6) && el <= 8.0 * es,
            "rank {k}: {el} vs {es}"
        );
    }
    assert!(ldu(&a, m, n, 0).is_err());
    assert!(ldu(&a[..10], m, n, 2).is_err());
}

#[test]
fn output_features_beat_the_weight_svd_on_the_layer_outputs() {
    use shoal_core::quant::lowrank::{output_features, randomized_svd};
    let mut rng = Rng::new(12);
    let (rows, cols, samples) = (40, 30, 300);
    let w: Vec<f64> = (0..rows * cols).map(|_| rng.normal()).collect();
    // Inputs concentrated near a 4-dimensional subspace plus an offset.
    let basis: Vec<f64> = (0..4 * cols).map(|_| rng.normal()).collect();
    let offset: Vec<f64> = (0..cols).map(|_| rng.normal()).collect();
    let x: Vec<f64> = (0..samples)
        .flat_map(|_| {
            let z: Vec<f64> = (0..4).map(|_| rng.normal()).collect();
            let noise: Vec<f64> = (0..cols).map(|_| 0.01 * rng.normal()).collect();
            (0..cols)
                .map(|j| {
                    offset[j] + noise[j] + (0..4).map(|t| z[t] * basis[t * cols + j]).sum::<f64>()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let out_err = |f: &dyn Fn(&[f64], &mut [f64])| -> f64 {
        let (mut e2, mut n2) = (0.0, 0.0);
        let mut y = vec![0.0; rows];
        for xr in x.chunks_exact(cols) {
            f(xr, &mut y);
            for (i, wr) in w.chunks_exact(cols).enumerate() {
                let t: f64 = wr.iter().zip(xr).map(|(a, b)| a * b).sum();
                e2 += (y[i] - t).powi(2);
                n2 += t * t;
            }
        }
        (e2 / n2).sqrt()
    };
    for k in [2, 4, 6] {
        let of = output_features(&w, rows, cols, &x, samples, k, 1).unwrap();
        let e_of = out_err(&|xr, y| of.apply(xr, y));
        let s = randomized_svd(&w, rows, cols, k, 2, 1).unwrap();
        let e_svd = out_err(&|xr, y| {
            for (i, yi) in y.iter_mut().enumerate() {
                *yi = (0..cols).map(|j| s.at(i, j) * xr[j]).sum();
            }
        });
        println!("rank {k}: output error {e_of:.2e} (output features) vs {e_svd:.2e} (weight SVD)");
        assert!(e_of < e_svd, "rank {k}");
        if k >= 4 {
            // Inputs in 4 dimensions (+1% noise) plus an offset: nearly exact.
            assert!(e_of < 0.02, "rank {k}: {e_of}");
        }
    }
}

/// `dequantize_all` (the factor decoded once) equals row-by-row decoding.
#[test]
fn gear_dequantize_all_equals_rows() {
    use shoal_core::quant::gear::GearMatrix;
    let mut rng = Rng::new(12);
    let (rows, cols) = (37, 70);
    let w = gaussian(&mut rng, rows * cols, 0.5);
    let f = Format::new(Bits::Q4, Scheme::Asymmetric, 32, ScaleType::F16).unwrap();
    let g = GearMatrix::compress(&w, rows, cols, f, 5, 0.04).unwrap();
    let mut all = vec![0.0f32; rows * cols];
    g.dequantize_all(&mut all).unwrap();
    let mut row = vec![0.0f32; cols];
    for (r, want) in all.chunks_exact(cols).enumerate() {
        g.dequantize_row(r, &mut row).unwrap();
        assert!(
            row.iter()
                .zip(want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "row {r}"
        );
    }
    assert!(g.dequantize_all(&mut all[1..]).is_err());
}
