//! von Mises-Fisher: κ recovery from the exact mean resultant length in high
//! dimension, the normaliser against mpmath, the sampler against the fit.

use shoal_core::rng::Rng;
use shoal_core::vmf::{self, VmfError};

/// A_p(κ) from mpmath at 60 digits (tests/ref/gen_vmf_ref.py), as (p, κ, A_p(κ), ln C_p(κ)).
fn reference() -> Vec<(usize, f64, f64, f64)> {
    let path = shoal_tests::workspace_root().join("tests/ref/vmf_ref.csv");
    let text = std::fs::read_to_string(&path).expect("tests/ref/vmf_ref.csv is committed");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn kappa_recovered_from_exact_mean_resultant_length() {
    let mut worst: f64 = 0.0;
    for (p, kappa, a, _) in reference() {
        let fit = vmf::kappa_from_mean_resultant(p, a).unwrap();
        let rel = (fit.kappa - kappa).abs() / kappa;
        println!(
            "p={p:6} kappa={kappa:e}: rel err {rel:.2e} in {} steps",
            fit.iterations
        );
        worst = worst.max(rel);
    }
    assert!(worst <= 1e-12, "worst relative kappa error {worst:e}");
}

#[test]
fn mean_resultant_and_normalizer_match_mpmath() {
    for (p, kappa, a, lc) in reference() {
        let got_a = vmf::mean_resultant_length(p, kappa).unwrap();
        let got_c = vmf::log_normalizer(p, kappa).unwrap();
        let ea = ((got_a - a) / a).abs() / f64::EPSILON;
        let ec = (got_c - lc).abs() / (f64::EPSILON * (1.0 + lc.abs() + p as f64 + kappa));
        assert!(ea <= 8.0, "A_p({kappa}) p={p}: {ea} eps");
        assert!(ec <= 2.0, "ln C_p({kappa}) p={p}: {ec} units");
    }
}

#[test]
fn uniform_limit_and_errors() {
    // κ = 0: 1 / area of S^{p-1} = Γ(p/2) / (2 π^{p/2}); p = 3: 1/(4π).
    let c = vmf::log_normalizer(3, 0.0).unwrap();
    assert!((c - (1.0 / (4.0 * std::f64::consts::PI)).ln()).abs() < 1e-15);
    assert_eq!(
        vmf::log_normalizer(1, 1.0),
        Err(VmfError::DimensionTooSmall(1))
    );
    assert!(matches!(
        vmf::log_normalizer(3, -1.0),
        Err(VmfError::InvalidKappa(_))
    ));
    assert!(matches!(
        vmf::kappa_from_mean_resultant(3, 1.0),
        Err(VmfError::MeanResultantOutOfRange(_))
    ));
    let mut mean = [0.0; 3];
    assert_eq!(vmf::fit(&[], 3, &mut mean), Err(VmfError::NoSamples));
    assert!(matches!(
        vmf::fit(&[1.0, 0.0], 3, &mut mean),
        Err(VmfError::LengthMismatch { .. })
    ));
    assert_eq!(
        vmf::fit(&[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 3, &mut mean),
        Err(VmfError::ZeroVector)
    );
    let same = [0.0, 1.0, 0.0, 0.0, 2.0, 0.0];
    assert!(matches!(
        vmf::fit(&same, 3, &mut mean),
        Err(VmfError::MeanResultantOutOfRange(_))
    ));
    assert_eq!(
        vmf::fit(&[f64::NAN, 1.0, 0.0], 3, &mut mean),
        Err(VmfError::NonFinite)
    );
}

#[test]
fn sampler_at_p_32768_has_the_right_mean_resultant_and_direction() {
    let p = 32768;
    let kappa = 40_000.0;
    let mut mu = vec![0.0; p];
    // A direction with mu[0] < 0 exercises the second reflection.
    for (i, m) in mu.iter_mut().enumerate() {
        *m = ((i * 7919) % 101) as f64 - 50.0;
    }
    let n = 300;
    let mut rng = Rng::new(2024);
    let mut samples = vec![0.0; n * p];
    for row in samples.chunks_exact_mut(p) {
        vmf::sample(&mut rng, &mu, kappa, row).unwrap();
        let norm: f64 = row.iter().map(|a| a * a).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-12);
    }
    let inv: f64 = 1.0 / mu.iter().map(|a| a * a).sum::<f64>().sqrt();
    let mut mean = vec![0.0; p];
    let fit = vmf::fit(&samples, p, &mut mean).unwrap();
    let cos: f64 = mean.iter().zip(&mu).map(|(a, b)| a * b * inv).sum();
    let a = vmf::mean_resultant_length(p, kappa).unwrap();
    // E[μᵀx] = A_p(κ); its standard error over n samples is about sqrt(1 - A²... )/sqrt(n) small.
    let mean_w: f64 = samples
        .chunks_exact(p)
        .map(|r| r.iter().zip(&mu).map(|(x, m)| x * m * inv).sum::<f64>())
        .sum::<f64>()
        / n as f64;
    println!(
        "A_p = {a}, sample mean of mu.x = {mean_w}, fitted kappa = {}, cos = {cos}",
        fit.kappa
    );
    assert!((mean_w - a).abs() < 2e-3, "{mean_w} vs {a}");
    assert!(cos > 0.99);
}
