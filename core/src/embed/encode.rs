//! Encoders: from a full f32 table to each method.

use alloc::vec;
use alloc::vec::Vec;

use super::{pq, Body, Codec, EmbedError, Method, Progress, Rows, Table, MAX_DIM, MAX_RANK};
use crate::quant::lowrank::randomized_svd;

pub(super) fn encode(
    e: &[f32],
    rows: usize,
    dim: usize,
    method: Method,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Table<'static>, EmbedError> {
    let n = rows
        .checked_mul(dim)
        .filter(|&n| n > 0 && dim <= MAX_DIM)
        .ok_or(EmbedError::BadShape)?;
    super::check_len(n, e.len())?;
    if let Some(i) = e.iter().position(|v| !v.is_finite()) {
        return Err(EmbedError::NonFinite(i));
    }
    let body = match method {
        Method::Pq { subspaces, bits } => {
            if subspaces == 0 || subspaces > dim {
                return Err(EmbedError::BadShape);
            }
            Body::Pq(pq::encode(e, rows, dim, subspaces, bits, seed, progress)?)
        }
        Method::LowRank { rank, factors } => low_rank(e, rows, dim, rank, factors, seed, progress)?,
        Method::Hashed { buckets, codec } => hashed(e, rows, dim, buckets, codec, seed)?,
        Method::QuotientRemainder { modulus, codec } => {
            quotient_remainder(e, rows, dim, modulus, codec)?
        }
        m => match m.codec() {
            Some(c) => Body::Rows(Rows::encode(e, rows, dim, c)?),
            None => return Err(EmbedError::BadShape),
        },
    };
    Ok(Table::from_body(rows, dim, body))
}

fn low_rank(
    e: &[f32],
    rows: usize,
    dim: usize,
    rank: usize,
    factors: Codec,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Body<'static>, EmbedError> {
    if rank == 0 || rank > rows.min(dim) || rank > MAX_RANK {
        return Err(EmbedError::BadShape);
    }
    progress(Progress {
        stage: "svd",
        done: 0,
        total: 1,
    });
    let a64: Vec<f64> = e.iter().map(|&v| f64::from(v)).collect();
    let lr = randomized_svd(&a64, rows, dim, rank, 2, seed).map_err(|_| EmbedError::BadShape)?;
    progress(Progress {
        stage: "svd",
        done: 1,
        total: 1,
    });
    let u: Vec<f32> = lr.u.iter().map(|&v| v as f32).collect();
    let b: Vec<f32> = lr.vt.iter().map(|&v| v as f32).collect();
    Ok(Body::LowRank {
        a: Rows::encode(&u, rows, rank, factors)?,
        b,
    })
}

/// Bucket means: the least-squares choice of bucket rows for a fixed hash.
fn hashed(
    e: &[f32],
    rows: usize,
    dim: usize,
    buckets: usize,
    codec: Codec,
    seed: u64,
) -> Result<Body<'static>, EmbedError> {
    if buckets == 0 || buckets > rows {
        return Err(EmbedError::BadShape);
    }
    let mut sums = vec![0.0f64; buckets * dim];
    let mut counts = vec![0u64; buckets];
    for (i, row) in e.chunks_exact(dim).enumerate() {
        let k = (super::splitmix64(i as u64 ^ seed) % buckets as u64) as usize;
        counts[k] += 1;
        for (s, v) in sums[k * dim..(k + 1) * dim].iter_mut().zip(row) {
            *s += f64::from(*v);
        }
    }
    let means: Vec<f32> = sums
        .chunks_exact(dim)
        .zip(&counts)
        .flat_map(|(s, &c)| s.iter().map(move |v| (v / c.max(1) as f64) as f32))
        .collect();
    Ok(Body::Hashed {
        buckets: Rows::encode(&means, buckets, dim, codec)?,
        seed,
    })
}

/// Per column `j`, the rank-1 least-squares fit `E[a·m + b, j] ≈ Q[a, j]·R[b, j]`
/// by power iteration over the complete blocks, the partial last block's
/// quotient rows by least squares on the entries they have.
fn quotient_remainder(
    e: &[f32],
    rows: usize,
    dim: usize,
    modulus: usize,
    codec: Codec,
) -> Result<Body<'static>, EmbedError> {
    if modulus == 0 || modulus > rows {
        return Err(EmbedError::BadShape);
    }
    let nq = rows.div_ceil(modulus);
    let at = |a: usize, b: usize, j: usize| -> Option<f64> {
        let i = a * modulus + b;
        (i < rows).then(|| f64::from(e[i * dim + j]))
    };
    let mut q = vec![0.0f32; nq * dim];
    let mut r = vec![0.0f32; modulus * dim];
    let mut qa = vec![0.0f64; nq];
    let mut rb = vec![0.0f64; modulus];
    for j in 0..dim {
        // Start from the column's root-mean-square in R.
        let rms = libm::sqrt(
            (0..rows)
                .map(|i| {
                    let x = f64::from(e[i * dim + j]);
                    x * x
                })
                .sum::<f64>()
                / rows as f64,
        );
        rb.iter_mut().for_each(|v| *v = libm::sqrt(rms).max(1e-30));
        // Power iteration on the complete blocks, then the partial last
        // block's quotient row by least squares on its entries.
        let full = rows / modulus;
        for _ in 0..30 {
            for (a, qv) in qa.iter_mut().enumerate().take(full) {
                let num: f64 = (0..modulus)
                    .filter_map(|b| Some(at(a, b, j)? * rb[b]))
                    .sum();
                let den: f64 = rb.iter().map(|r| r * r).sum();
                *qv = if den > 0.0 { num / den } else { 0.0 };
            }
            let den: f64 = qa[..full].iter().map(|q| q * q).sum();
            for (b, rv) in rb.iter_mut().enumerate() {
                let num: f64 = (0..full).filter_map(|a| Some(at(a, b, j)? * qa[a])).sum();
                *rv = if den > 0.0 { num / den } else { 0.0 };
            }
        }
        for (a, qv) in qa.iter_mut().enumerate().skip(full) {
            let (mut num, mut den) = (0.0, 0.0);
            for (b, &rv) in rb.iter().enumerate() {
                if let Some(x) = at(a, b, j) {
                    num += x * rv;
                    den += rv * rv;
                }
            }
            *qv = if den > 0.0 { num / den } else { 0.0 };
        }
        // Balance the two factors' magnitudes before rounding them.
        let nq2 = libm::sqrt(qa.iter().map(|v| v * v).sum::<f64>() / nq as f64);
        let nr2 = libm::sqrt(rb.iter().map(|v| v * v).sum::<f64>() / modulus as f64);
        let g = if nq2 > 0.0 && nr2 > 0.0 {
            libm::sqrt(nr2 / nq2)
        } else {
            1.0
        };
        for (a, v) in qa.iter().enumerate() {
            q[a * dim + j] = (v * g) as f32;
        }
        for (b, v) in rb.iter().enumerate() {
            r[b * dim + j] = (v / g) as f32;
        }
    }
    Ok(Body::QuotRem {
        q: Rows::encode(&q, nq, dim, codec)?,
        r: Rows::encode(&r, modulus, dim, codec)?,
        modulus,
    })
}
