//! Compressed embedding tables: per-element error bounds of every method,
//! batched and bag lookups against f64 sums of the decoded rows, typed errors
//! and malformed files.

use shoal_core::embed::{EmbedError, Method, Pool, Table};
use shoal_core::rng::Rng;

const METHODS: [Method; 5] = [
    Method::F16,
    Method::Bf16,
    Method::Int8,
    Method::Int4,
    Method::Int2,
];

fn table(rng: &mut Rng, rows: usize, dim: usize) -> Vec<f32> {
    (0..rows * dim).map(|_| rng.normal() as f32 * 0.3).collect()
}

#[test]
fn decoded_rows_are_within_the_quantization_step() {
    let mut rng = Rng::new(1);
    let (rows, dim) = (50, 37);
    let e = table(&mut rng, rows, dim);
    for m in METHODS {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let mut v = vec![0.0f32; dim];
        let mut worst = 0.0f64;
        for r in 0..rows {
            t.lookup(r as u64, &mut v).unwrap();
            let row = &e[r * dim..(r + 1) * dim];
            let lo = row.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
            let hi = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let bound = match m {
                Method::F16 => 2f64.powi(-11) * lo.abs().max(hi.abs()),
                Method::Bf16 => 2f64.powi(-8) * lo.abs().max(hi.abs()),
                Method::Int8 => (hi - lo) / 255.0 * 0.51 + 2f64.powi(-10) * (lo.abs() + hi.abs()),
                Method::Int4 => (hi - lo) / 15.0 * 0.51 + 2f64.powi(-10) * (lo.abs() + hi.abs()),
                _ => (hi - lo) / 3.0 * 0.51 + 2f64.powi(-10) * (lo.abs() + hi.abs()),
            } + 1e-7;
            for (a, b) in row.iter().zip(&v) {
                let err = (f64::from(*a) - f64::from(*b)).abs();
                worst = worst.max(err / bound);
                assert!(err <= bound, "{m:?} row {r}: {err} > {bound}");
            }
        }
        println!(
            "{m:?}: {:.2}x smaller than f32, worst error {:.2} of its bound",
            t.compression(),
            worst
        );
    }
}

#[test]
fn batches_and_bags_match_f64_sums_of_the_decoded_rows() {
    let mut rng = Rng::new(2);
    let (rows, dim) = (200, 16);
    let e = table(&mut rng, rows, dim);
    for m in METHODS {
        let t = Table::encode(&e, rows, dim, m).unwrap();
        let ids: Vec<u64> = (0..40).map(|_| rng.next_u64() % rows as u64).collect();
        let mut batch = vec![0.0f32; ids.len() * dim];
        t.lookup_batch(&ids, &mut batch).unwrap();
        let offsets = [0usize, 3, 3, 17, 39];
        let w: Vec<f32> = (0..ids.len()).map(|i| 0.5 + i as f32 * 0.1).collect();
        for (mode, weights) in [
            (Pool::Sum, None),
            (Pool::Mean, None),
            (Pool::Sum, Some(&w[..])),
        ] {
            let mut out = vec![0.0f32; offsets.len() * dim];
            t.bag(&ids, &offsets, weights, mode, &mut out).unwrap();
            for k in 0..offsets.len() {
                let (a, b) = (offsets[k], offsets.get(k + 1).copied().unwrap_or(ids.len()));
                for d in 0..dim {
                    let mut s = 0.0f64;
                    for j in a..b {
                        s += f64::from(weights.map_or(1.0, |w| w[j]))
                            * f64::from(batch[j * dim + d]);
                    }
                    if mode == Pool::Mean && b > a {
                        s /= (b - a) as f64;
                    }
                    let got = f64::from(out[k * dim + d]);
                    assert!(
                        (got - s).abs() <= 1e-5 * (1.0 + s.abs()),
                        "{m:?} {mode:?} bag {k}: {got} vs {s}"
                    );
                }
            }
        }
    }
}

#[test]
fn errors_name_the_problem() {
    let t = Table::encode(&[1.0, 2.0, 3.0, 4.0], 2, 2, Method::Int4).unwrap();
    let mut v = [0.0f32; 2];
    assert_eq!(
        t.lookup(7, &mut v),
        Err(EmbedError::OutOfRange { id: 7, rows: 2 })
    );
    assert!(t
        .lookup(u64::MAX, &mut v)
        .unwrap_err()
        .to_string()
        .contains(&u64::MAX.to_string()));
    let mut b = [9.0f32; 4];
    assert_eq!(
        t.lookup_batch(&[0, 5], &mut b),
        Err(EmbedError::OutOfRange { id: 5, rows: 2 })
    );
    assert_eq!(b, [9.0; 4], "nothing written when an id is bad");
    let mut o = [0.0f32; 4];
    assert_eq!(
        t.bag(&[0, 1], &[1, 0], None, Pool::Sum, &mut o),
        Err(EmbedError::BadOffsets)
    );
    assert_eq!(
        t.bag(&[0, 1], &[0, 3], None, Pool::Sum, &mut o),
        Err(EmbedError::BadOffsets)
    );
    assert!(matches!(
        t.bag(&[0, 1], &[0], Some(&[1.0]), Pool::Sum, &mut o[..2]),
        Err(EmbedError::LengthMismatch { .. })
    ));
    assert_eq!(
        Table::encode(&[1.0, f32::NAN], 1, 2, Method::Int8),
        Err(EmbedError::NonFinite(1))
    );
    assert_eq!(
        Table::encode(&[1e6, -1e6], 1, 2, Method::Int8),
        Err(EmbedError::OutOfF16Range(0))
    );
    assert_eq!(
        Table::encode(&[], 0, 2, Method::F16),
        Err(EmbedError::BadShape)
    );
}

#[test]
fn she_round_trip_and_malformed_files() {
    let mut rng = Rng::new(3);
    let e = table(&mut rng, 10, 9);
    for m in METHODS {
        let t = Table::encode(&e, 10, 9, m).unwrap();
        assert_eq!(Table::from_bytes(&t.to_bytes()).unwrap(), t);
    }
    let good = Table::encode(&e, 10, 9, Method::Int4).unwrap().to_bytes();
    let with = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    assert_eq!(Table::from_bytes(&good[..20]), Err(EmbedError::Truncated));
    assert_eq!(
        Table::from_bytes(&good[..good.len() - 1]),
        Err(EmbedError::Truncated)
    );
    assert_eq!(
        Table::from_bytes(&with(0, b"SHEX")),
        Err(EmbedError::BadMagic)
    );
    assert_eq!(
        Table::from_bytes(&with(4, &[9])),
        Err(EmbedError::BadHeader)
    );
    assert_eq!(
        Table::from_bytes(&with(8, &0u64.to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    // Counts of 2^32 x 2^32: rejected before anything is allocated.
    assert_eq!(
        Table::from_bytes(&with(8, &(1u64 << 32).to_le_bytes())),
        Err(EmbedError::Truncated)
    );
    assert_eq!(
        Table::from_bytes(&with(8, &u64::MAX.to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    assert_eq!(
        Table::from_bytes(&with(40, &[0xff])),
        Err(EmbedError::Checksum)
    );
    assert_eq!(
        Table::from_bytes(&[good.clone(), vec![0]].concat()),
        Err(EmbedError::TrailingBytes(1))
    );
}
