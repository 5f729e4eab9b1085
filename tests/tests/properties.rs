//! Property tests (proptest): quantization error bounds on arbitrary
//! matrices and formats, low-rank error against the SVD tail, exhaustive
//! f16/bf16 round trips, lookups with arbitrary (also out-of-range) ids,
//! and log-Bessel identities (Wronskian, three-term recurrences) over
//! orders 0..200 and arguments 1e-3..1e3.

use proptest::prelude::*;
use shoal_core::bessel::{log_bessel_i, log_bessel_k};
use shoal_core::embed::{EmbedError, Method, Pool, Table};
use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
use shoal_tests::{group_step, matrix_with_spectrum, scale_unit};

fn format() -> impl Strategy<Value = Format> {
    (
        prop_oneof![Just(Bits::Q8), Just(Bits::Q4), Just(Bits::Q2)],
        prop_oneof![Just(Scheme::Symmetric), Just(Scheme::Asymmetric)],
        prop_oneof![Just(32usize), Just(64), Just(128)],
        prop_oneof![Just(ScaleType::F16), Just(ScaleType::Bf16)],
    )
        .prop_map(|(b, s, g, t)| Format::new(b, s, g, t).unwrap())
}

fn matrix() -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    (1usize..5, 1usize..150, -3i32..4).prop_flat_map(|(r, c, e)| {
        let scale = 10f32.powi(e);
        (
            Just(r),
            Just(c),
            prop::collection::vec(-1.0f32..1.0, r * c)
                .prop_map(move |v| v.into_iter().map(|x| x * scale).collect()),
        )
    })
}

/// ln(e^a + e^b) without overflow.
fn lse(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

proptest! {
    // A fixed seed keeps CI deterministic; with random seeds, 9,000 cases per
    // property passed when these bounds were set.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5_40a1),
        ..ProptestConfig::default()
    })]

    #[test]
    fn quantized_elements_stay_within_half_a_step((rows, cols, w) in matrix(), f in format()) {
        let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
        let mut row = vec![0.0f32; cols];
        for r in 0..rows {
            q.dequantize_row(r, &mut row).unwrap();
            for (wg, dg) in w[r * cols..(r + 1) * cols].chunks(f.group).zip(row.chunks(f.group)) {
                let (lo, hi, step) = group_step(wg, f);
                let u = scale_unit(f.scale);
                // f16 scales and minimums below 2^-14 are subnormal: their
                // rounding is absolute (2^-25), not relative, so a code c
                // carries up to c·2^-25 more (found by this test at ranges ~1e-3).
                let sub = if f.scale == ScaleType::F16 {
                    (f64::from(f.max_code()) + 1.0) * 2f64.powi(-25)
                } else {
                    0.0
                };
                let bound = 0.5 * step * (1.0 + 2.0 * u) + 2.0 * u * (lo.abs() + hi.abs()) + sub + 1e-30;
                for (a, b) in wg.iter().zip(dg) {
                    let e = (f64::from(*a) - f64::from(*b)).abs();
                    prop_assert!(e <= bound, "{f:?}: {a} -> {b}, error {e} > {bound}");
                }
            }
        }
    }

    #[test]
    fn low_rank_error_is_the_svd_tail(rank in 1usize..6, decay in 0.2f64..0.9, seed in 0u64..1000) {
        // A 40 x 12 matrix with singular values decay^k and random singular vectors.
        let (rows, dim) = (40usize, 12usize);
            let sig: Vec<f64> = (0..dim).map(|k| decay.powi(k as i32)).collect();
    let e = matrix_with_spectrum(rows, dim, &sig, seed);
        let t = Table::encode(&e, rows, dim, Method::LowRank { rank, factors: shoal_core::embed::Codec::F32 }).unwrap();
        let mut row = vec![0.0f32; dim];
        let mut err2 = 0.0f64;
        for i in 0..rows {
            t.lookup(i as u64, &mut row).unwrap();
            for (a, b) in e[i * dim..(i + 1) * dim].iter().zip(&row) {
                err2 += (f64::from(*a) - f64::from(*b)).powi(2);
            }
        }
        let tail = sig[rank..].iter().map(|s| s * s).sum::<f64>().sqrt();
        // Randomized SVD (2 power iterations) on a slowly decaying spectrum
        // lands slightly above the exact tail: 0.21% was seen at decay 0.9.
        prop_assert!((err2.sqrt() - tail).abs() <= 1e-2 * tail + 2e-6, "rank {rank}: {} vs {tail}", err2.sqrt());
    }

    #[test]
    fn lookups_reject_exactly_the_out_of_range_ids(ids in prop::collection::vec(0u64..60, 0..40), cut in 0usize..40) {
        let (rows, dim) = (40usize, 5usize);
        let e: Vec<f32> = (0..rows * dim).map(|i| i as f32 * 0.1).collect();
        let t = Table::encode(&e, rows, dim, Method::Int8).unwrap();
        let mut out = vec![7.0f32; ids.len() * dim];
        let first_bad = ids.iter().copied().find(|&i| i >= rows as u64);
        match (t.lookup_batch(&ids, &mut out), first_bad) {
            (Ok(()), None) => {}
            (Err(EmbedError::OutOfRange { id, rows: r }), Some(b)) => {
                prop_assert_eq!((id, r), (b, rows));
                prop_assert!(out.iter().all(|&v| v == 7.0), "nothing written on error");
            }
            (got, want) => prop_assert!(false, "{got:?} with first bad id {want:?}"),
        }
        let offsets = [0, cut.min(ids.len())];
        let mut bags = vec![7.0f32; 2 * dim];
        let r = t.bag(&ids, &offsets, None, Pool::Mean, &mut bags);
        prop_assert_eq!(r.is_ok(), first_bad.is_none());
    }

    #[test]
    fn wronskian_and_recurrences_hold(v in 1.0f64..200.0, lx in -3.0f64..3.0) {
        let x = 10f64.powf(lx);
        let (i0, i1, im) = (log_bessel_i(v, x), log_bessel_i(v + 1.0, x), log_bessel_i(v - 1.0, x));
        let (k0, k1, km) = (log_bessel_k(v, x), log_bessel_k(v + 1.0, x), log_bessel_k(v - 1.0, x));
        // The accuracy contract's unit: eps · (1 + |ln f| + v + x) per value.
        let eps = f64::EPSILON * (1.0 + v + x);
        // I_v K_{v+1} + I_{v+1} K_v = 1/x.
        let w = lse(i0 + k1, i1 + k0);
        let tol = 16.0 * eps * (1.0 + i0.abs() + k1.abs() + i1.abs() + k0.abs());
        prop_assert!((w + x.ln()).abs() <= tol, "Wronskian v={v} x={x}: {w} vs {}", -x.ln());
        // K_{v+1} = K_{v-1} + (2v/x) K_v and I_{v-1} = I_{v+1} + (2v/x) I_v: positive terms only.
        let c = (2.0 * v / x).ln();
        let tk = 16.0 * eps * (1.0 + km.abs() + k0.abs() + c.abs());
        prop_assert!((k1 - lse(km, c + k0)).abs() <= tk, "K recurrence v={v} x={x}");
        let ti = 16.0 * eps * (1.0 + i1.abs() + i0.abs() + c.abs());
        prop_assert!((im - lse(i1, c + i0)).abs() <= ti, "I recurrence v={v} x={x}");
    }
}

#[test]
fn f16_and_bf16_round_trip_every_pattern() {
    for (m, name) in [(Method::F16, "f16"), (Method::Bf16, "bf16")] {
        let mut finite = 0;
        for bits in 0..=u16::MAX {
            let v = match m {
                Method::F16 => half::f16::from_bits(bits).to_f32(),
                _ => half::bf16::from_bits(bits).to_f32(),
            };
            let r = Table::encode(&[v], 1, 1, m);
            if !v.is_finite() {
                assert_eq!(r, Err(EmbedError::NonFinite(0)), "{name} {bits:#06x}");
                continue;
            }
            let mut out = [0.0f32];
            r.unwrap().lookup(0, &mut out).unwrap();
            // Values round-trip exactly; the lookup adds into +0, so -0 reads as +0.
            assert!(
                out[0] == v && (v != 0.0 || out[0].to_bits() == 0),
                "{name} {bits:#06x}: {v} -> {}",
                out[0]
            );
            finite += 1;
        }
        println!("{name}: {finite} finite patterns round-trip exactly");
    }
}
