//! The WGSL log-Bessel kernel against its scalar twin and the mpmath tables,
//! on whatever adapter wgpu finds (llvmpipe in CI). Skips without an adapter
//! unless `SHOAL_REQUIRE_GPU=1`.

use shoal_core::bessel::scalar_f32;
mod common;

use common::gpu;
use shoal_host_gpu::gpu::{BesselKind, GpuError};
use shoal_tests::{
    f32_exact, log_err_units, read_bessel_csv, shared_dir, workspace_root, BesselRef,
};

fn f32_rows() -> Vec<BesselRef> {
    let mut paths = vec![
        workspace_root().join("tests/ref/bessel_ref_f32.csv"),
        workspace_root().join("tests/ref/bessel_ref.csv"),
    ];
    if let Some(s) = shared_dir() {
        paths.push(s.join("reference/bessel/ref_grid.csv"));
    }
    paths
        .iter()
        .filter(|p| p.is_file())
        .flat_map(|p| f32_exact(read_bessel_csv(p).expect("reference table parses")))
        .collect()
}

#[test]
fn wgsl_matches_twin_and_reference() {
    let Some(g) = gpu() else { return };
    let rows = f32_rows();
    assert!(rows.len() > 300, "too few reference rows: {}", rows.len());
    let v: Vec<f32> = rows.iter().map(|r| r.v as f32).collect();
    let x: Vec<f32> = rows.iter().map(|r| r.x as f32).collect();
    let eps = f64::from(f32::EPSILON);
    for (kind, twin, pick) in [
        (
            BesselKind::I,
            scalar_f32::log_i as fn(f32, f32) -> f32,
            (|r: &BesselRef| r.log_i) as fn(&BesselRef) -> f64,
        ),
        (BesselKind::K, scalar_f32::log_k, |r: &BesselRef| r.log_k),
    ] {
        let got = g.log_bessel(kind, &v, &x).expect("kernel runs");
        let (mut vs_twin, mut vs_ref) = (0.0f64, 0.0f64);
        let mut worst = (0.0, 0.0);
        for ((r, &gv), (&vi, &xi)) in rows.iter().zip(&got).zip(v.iter().zip(&x)) {
            let tv = twin(vi, xi);
            assert!(gv.is_finite(), "{kind:?}({vi}, {xi}) = {gv} on the GPU");
            let et = log_err_units(f64::from(gv), f64::from(tv), r.v, r.x, eps);
            let er = log_err_units(f64::from(gv), pick(r), r.v, r.x, eps);
            vs_twin = vs_twin.max(et);
            if er > vs_ref {
                vs_ref = er;
                worst = (r.v, r.x);
            }
        }
        println!(
            "{kind:?}: {} points, max |gpu - twin| {vs_twin:.3} units, max |gpu - mpmath| {vs_ref:.3} units (at v={}, x={})",
            rows.len(),
            worst.0,
            worst.1
        );
        assert!(
            vs_twin <= 2.0,
            "{kind:?}: GPU differs from the scalar twin by {vs_twin} units"
        );
        assert!(
            vs_ref <= 2.0,
            "{kind:?}: GPU error {vs_ref} units against mpmath"
        );
    }
}

#[test]
fn wgsl_special_values_and_chunking() {
    let Some(g) = gpu() else { return };
    let v = [
        0.0,
        0.5,
        1.0,
        -1.0,
        f32::NAN,
        2.0,
        3.0,
        f32::INFINITY,
        1e-40,
        // Debye at normal arguments whose x/(v + s) is not normal.
        100.0,
        1e10,
        8.5,
    ];
    let x = [
        0.0,
        0.0,
        f32::INFINITY,
        1.0,
        1.0,
        -1.0,
        1e-40,
        1.0,
        1.0,
        1e-37,
        2e-38,
        1.2e-38,
    ];
    let gi = g.log_bessel(BesselKind::I, &v, &x).unwrap();
    let gk = g.log_bessel(BesselKind::K, &v, &x).unwrap();
    for i in 0..v.len() {
        let (ti, tk) = (scalar_f32::log_i(v[i], x[i]), scalar_f32::log_k(v[i], x[i]));
        let same = |a: f32, b: f32| {
            (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 * (1.0 + b.abs())
        };
        assert!(
            same(gi[i], ti),
            "I({}, {}): gpu {} twin {}",
            v[i],
            x[i],
            gi[i],
            ti
        );
        assert!(
            same(gk[i], tk),
            "K({}, {}): gpu {} twin {}",
            v[i],
            x[i],
            gk[i],
            tk
        );
    }
    assert!(matches!(
        g.log_bessel(BesselKind::I, &[1.0], &[]),
        Err(GpuError::LengthMismatch { .. })
    ));
    // A batch larger than one workgroup row, not a multiple of 64.
    let n = 100_003;
    let v: Vec<f32> = (0..n).map(|i| (i % 97) as f32 * 0.37).collect();
    let x: Vec<f32> = (0..n).map(|i| 1e-3 + (i % 89) as f32 * 1.3).collect();
    let got = g.log_bessel(BesselKind::K, &v, &x).unwrap();
    assert_eq!(got.len(), n);
    for i in (0..n).step_by(997) {
        let t = scalar_f32::log_k(v[i], x[i]);
        assert!(
            (got[i] - t).abs() <= 4.0 * f32::EPSILON * (1.0 + t.abs() + v[i] + x[i]),
            "K({}, {})",
            v[i],
            x[i]
        );
    }
}

/// vMF log normalisers for a batch of concentrations at p = 3 ... 32768
/// through the GPU log-Bessel kernel, against the core's f64 `ln C_p(κ)`:
/// within the f32 kernel's error carried through (a few f32 units of
/// `ln I` and of `ν ln κ`, which cancel in part).
#[test]
fn vmf_log_normalizers_through_the_gpu_kernel() {
    let Some(g) = gpu() else { return };
    let b = shoal_host_gpu::Backend::Gpu(Box::new(g));
    let kappas: Vec<f32> = [0.0f32, 0.5, 3.0, 40.0, 394.5, 2000.0, 30000.0].to_vec();
    let eps = f64::from(f32::EPSILON);
    let mut worst: f64 = 0.0;
    for p in [3usize, 64, 1280, 8192, 32768] {
        let got = b.vmf_log_normalizer(p, &kappas).unwrap();
        for (&k, &c) in kappas.iter().zip(&got) {
            let want = shoal_core::vmf::log_normalizer(p, f64::from(k)).unwrap();
            let nu = 0.5 * p as f64 - 1.0;
            let li = shoal_core::bessel::log_bessel_i(nu, f64::from(k));
            let scale =
                1.0 + li.abs() + (nu * f64::from(k).max(1e-30).ln()).abs() + nu + f64::from(k);
            let units = (c - want).abs() / (eps * scale);
            worst = worst.max(units);
            assert!(
                units <= 4.0,
                "p {p} kappa {k}: {c} vs {want} ({units} units)"
            );
        }
    }
    println!("vMF log normaliser via the GPU: worst {worst:.2} f32 units");
    assert!(b.vmf_log_normalizer(1, &[1.0]).is_err());
    assert!(b.vmf_log_normalizer(3, &[-1.0]).is_err());
}
