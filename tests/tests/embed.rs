//! Compressed embedding tables: per-element error bounds of the row-wise
//! methods, exact recovery of tables built the way each method assumes,
//! batched and bag lookups against f64 sums of the decoded rows for every
//! method, typed errors and one malformed file per error variant.

use shoal_core::embed::{splitmix64, Codec, EmbedError, Method, Pool, Table};
use shoal_core::quant::file::fnv1a64;
use shoal_core::rng::Rng;

const METHODS: [Method; 6] = [
    Method::F32,
    Method::F16,
    Method::Bf16,
    Method::Int8,
    Method::Int4,
    Method::Int2,
];

/// The other methods, at sizes that fit a 200 × 16 table.
const COMPOSITE: [Method; 5] = [
    Method::Pq {
        subspaces: 4,
        bits: 8,
    },
    Method::Pq {
        subspaces: 8,
        bits: 4,
    },
    Method::LowRank {
        rank: 6,
        factors: Codec::Int8,
    },
    Method::Hashed {
        buckets: 50,
        codec: Codec::F16,
    },
    Method::QuotientRemainder {
        modulus: 20,
        codec: Codec::F32,
    },
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
                Method::F32 => 0.0,
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
    for m in METHODS.into_iter().chain(COMPOSITE) {
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

fn max_err(t: &Table, e: &[f32]) -> f64 {
    let mut v = vec![0.0f32; t.dim()];
    let mut worst = 0.0f64;
    for (r, row) in e.chunks_exact(t.dim()).enumerate() {
        t.lookup(r as u64, &mut v).unwrap();
        for (a, b) in row.iter().zip(&v) {
            worst = worst.max((f64::from(*a) - f64::from(*b)).abs());
        }
    }
    worst
}

#[test]
fn tables_built_the_way_a_method_assumes_are_recovered() {
    let mut rng = Rng::new(11);
    let (rows, dim) = (300, 12);
    // PQ: every sub-vector is one of 16 patterns, so 16 centroids are exact.
    let pats: Vec<f32> = table(&mut rng, 16, dim);
    let e: Vec<f32> = (0..rows)
        .flat_map(|_| {
            let picks: Vec<usize> = (0..4).map(|_| (rng.next_u64() % 16) as usize).collect();
            (0..dim)
                .map(move |j| j / 3)
                .zip(0..dim)
                .map(move |(m, j)| (picks[m], j))
        })
        .map(|(p, j)| pats[p * dim + j])
        .collect();
    for bits in [4, 8] {
        let t = Table::encode(&e, rows, dim, Method::Pq { subspaces: 4, bits }).unwrap();
        assert!(max_err(&t, &e) < 1e-6, "PQ{bits}: {}", max_err(&t, &e));
    }
    // Low rank: an exactly rank-3 table.
    let a = table(&mut rng, rows, 3);
    let b = table(&mut rng, 3, dim);
    let e: Vec<f32> = (0..rows * dim)
        .map(|k| {
            (0..3)
                .map(|r| a[k / dim * 3 + r] * b[r * dim + k % dim])
                .sum()
        })
        .collect();
    let t = Table::encode(
        &e,
        rows,
        dim,
        Method::LowRank {
            rank: 3,
            factors: Codec::F32,
        },
    )
    .unwrap();
    assert!(max_err(&t, &e) < 1e-5, "low rank: {}", max_err(&t, &e));
    // Hashing trick: rows copied from buckets by the table's own hash.
    let seed = 99;
    let bk = table(&mut rng, 40, dim);
    let e: Vec<f32> = (0..rows * dim)
        .map(|k| bk[(splitmix64((k / dim) as u64 ^ seed) % 40) as usize * dim + k % dim])
        .collect();
    let t = Table::encode_with(
        &e,
        rows,
        dim,
        Method::Hashed {
            buckets: 40,
            codec: Codec::F32,
        },
        seed,
        &mut |_| {},
    )
    .unwrap();
    assert!(max_err(&t, &e) < 1e-6, "hashed: {}", max_err(&t, &e));
    // Quotient-remainder: Q[i / 25] ⊙ R[i mod 25], including a partial last block.
    let (q, r) = (table(&mut rng, 12, dim), table(&mut rng, 25, dim));
    let rows = 290;
    let e: Vec<f32> = (0..rows * dim)
        .map(|k| {
            let (i, j) = (k / dim, k % dim);
            q[i / 25 * dim + j] * r[i % 25 * dim + j]
        })
        .collect();
    let t = Table::encode(
        &e,
        rows,
        dim,
        Method::QuotientRemainder {
            modulus: 25,
            codec: Codec::F32,
        },
    )
    .unwrap();
    assert!(
        max_err(&t, &e) < 1e-5,
        "quotient-remainder: {}",
        max_err(&t, &e)
    );
}

/// Recomputes the header checksum after a deliberate edit (so the edit, not
/// the checksum, is what the parser sees).
fn resign(b: &mut [u8]) {
    let sum = fnv1a64(&b[..56]);
    b[56..64].copy_from_slice(&sum.to_le_bytes());
}

fn edited(good: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut b = good.to_vec();
    b[at..at + bytes.len()].copy_from_slice(bytes);
    resign(&mut b);
    b
}

#[test]
fn she_round_trip_for_every_method() {
    let mut rng = Rng::new(3);
    let e = table(&mut rng, 200, 16);
    for m in METHODS.into_iter().chain(COMPOSITE) {
        let t = Table::encode(&e, 200, 16, m).unwrap();
        let bytes = t.to_bytes();
        let back = Table::from_bytes(&bytes).unwrap();
        assert_eq!(back, t, "{m}");
        assert_eq!(back.method(), m);
        assert_eq!(back.clone().into_owned(), t);
        println!(
            "{m}: {} bytes on disk, {:.2}x smaller than f32",
            bytes.len(),
            t.compression()
        );
    }
}

#[test]
fn malformed_files_one_per_error_variant() {
    let mut rng = Rng::new(3);
    let e = table(&mut rng, 10, 9);
    let good = Table::encode(&e, 10, 9, Method::Int4).unwrap().to_bytes();
    let parse = |b: &[u8]| Table::from_bytes(b).map(|_| ());
    assert_eq!(parse(&good[..20]), Err(EmbedError::Truncated));
    assert_eq!(parse(&good[..good.len() - 1]), Err(EmbedError::Truncated));
    assert_eq!(parse(&edited(&good, 0, b"SHEX")), Err(EmbedError::BadMagic));
    let mut b = good.clone();
    b[9] ^= 1;
    assert_eq!(parse(&b), Err(EmbedError::Checksum), "header checksum");
    let mut b = good.clone();
    *b.last_mut().unwrap() ^= 1;
    assert_eq!(parse(&b), Err(EmbedError::Checksum), "section checksum");
    assert_eq!(parse(&edited(&good, 4, &[9])), Err(EmbedError::BadHeader));
    assert_eq!(parse(&edited(&good, 6, &[1])), Err(EmbedError::BadHeader));
    assert_eq!(
        parse(&edited(&good, 48, &[7])),
        Err(EmbedError::BadHeader),
        "7 sections"
    );
    assert_eq!(
        parse(&edited(&good, 8, &0u64.to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    // Counts of 2^32 x 2^32 and a shape overflow: rejected before allocating.
    assert_eq!(
        parse(&edited(&good, 8, &(1u64 << 32).to_le_bytes())),
        Err(EmbedError::BadSections)
    );
    assert_eq!(
        parse(&edited(&good, 8, &u64::MAX.to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    assert_eq!(
        parse(&edited(&good, 16, &(1u64 << 32).to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    // Section offsets: misaligned, overlapping the section table, past the end.
    assert_eq!(
        parse(&edited(&good, 64, &89u64.to_le_bytes())),
        Err(EmbedError::BadSections)
    );
    assert_eq!(
        parse(&edited(&good, 64, &80u64.to_le_bytes())),
        Err(EmbedError::BadSections)
    );
    assert_eq!(
        parse(&edited(&good, 72, &(1u64 << 40).to_le_bytes())),
        Err(EmbedError::Truncated)
    );
    assert_eq!(
        parse(&edited(&good, 72, &u64::MAX.to_le_bytes())),
        Err(EmbedError::BadSections)
    );
    assert_eq!(
        parse(&[good.clone(), vec![0]].concat()),
        Err(EmbedError::TrailingBytes(1))
    );
    // A PQ file with a NaN centroid, and with sub-spaces that do not fit the dimension.
    let pq = Table::encode(
        &table(&mut rng, 300, 8),
        300,
        8,
        Method::Pq {
            subspaces: 2,
            bits: 8,
        },
    )
    .unwrap()
    .to_bytes();
    let sec0 = u64::from_le_bytes(pq[64..72].try_into().unwrap()) as usize;
    let mut b = pq.clone();
    b[sec0..sec0 + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    let sum = fnv1a64(&b[sec0..sec0 + 8 * 256 * 4]);
    b[80..88].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(parse(&b), Err(EmbedError::NonFinite(0)));
    assert_eq!(
        parse(&edited(&pq, 24, &3u64.to_le_bytes())),
        Err(EmbedError::BadShape)
    );
    // A composite nested inside a composite is refused.
    let lr = Table::encode(
        &table(&mut rng, 30, 8),
        30,
        8,
        Method::LowRank {
            rank: 2,
            factors: Codec::F16,
        },
    )
    .unwrap()
    .to_bytes();
    let mut outer = edited(&lr, 4, &[18]); // hashed, whose bucket section is...
    outer[24..32].copy_from_slice(&0u64.to_le_bytes());
    resign(&mut outer);
    assert!(parse(&outer).is_err());
    // Every truncation and every single-byte flip: an error or a usable table, never a panic.
    for cut in 0..lr.len() {
        assert!(parse(&lr[..cut]).is_err());
    }
    for at in 0..lr.len() {
        let mut b = lr.clone();
        b[at] ^= 0x40;
        if let Ok(t) = Table::from_bytes(&b) {
            let mut v = vec![0.0f32; t.dim()];
            t.lookup(0, &mut v).unwrap();
        }
    }
}
