//! The `.she` (version 2) container: header, section table, aligned
//! checksummed sections. See the module docs of [`super`] for the layout.

#![deny(clippy::indexing_slicing)]

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::{pq::Pq, Body, Codec, EmbedError, Rows, Table, MAX_DIM, MAX_RANK, MAX_TABLE_BYTES};
use crate::quant::file::{checksum_ok, fnv1a64};

const HEADER: usize = 64;
const ENTRY: usize = 24;
const MAX_SECTIONS: usize = 4;

const PQ: u8 = 16;
const LOW_RANK: u8 = 17;
const HASHED: u8 = 18;
const QUOT_REM: u8 = 19;

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn blob(
    method: u8,
    flags: u8,
    rows: usize,
    dim: usize,
    params: [u64; 3],
    sections: &[&[u8]],
) -> Vec<u8> {
    let mut o = Vec::new();
    o.extend_from_slice(b"SHE2");
    o.extend_from_slice(&[method, flags, 0, 0]);
    o.extend_from_slice(&(rows as u64).to_le_bytes());
    o.extend_from_slice(&(dim as u64).to_le_bytes());
    for p in params {
        o.extend_from_slice(&p.to_le_bytes());
    }
    o.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    o.extend_from_slice(&[0; 4]);
    let sum = fnv1a64(&o);
    o.extend_from_slice(&sum.to_le_bytes());
    let mut at = (HEADER + ENTRY * sections.len()) as u64;
    for s in sections {
        at = at.next_multiple_of(8);
        o.extend_from_slice(&at.to_le_bytes());
        o.extend_from_slice(&(s.len() as u64).to_le_bytes());
        o.extend_from_slice(&fnv1a64(s).to_le_bytes());
        at += s.len() as u64;
    }
    for s in sections {
        o.resize(o.len().next_multiple_of(8), 0);
        o.extend_from_slice(s);
    }
    o
}

fn rows_blob(r: &Rows<'_>) -> Vec<u8> {
    blob(r.codec.code(), 0, r.rows, r.dim, [0; 3], &[&r.data])
}

pub(super) fn write(t: &Table<'_>) -> Vec<u8> {
    let (rows, dim) = (t.rows(), t.dim());
    match t.body() {
        Body::Rows(r) => rows_blob(r),
        Body::Pq(p) => {
            let params = [p.nsub as u64, p.dsub as u64, u64::from(p.bits)];
            let cents = f32_bytes(&p.centroids);
            match &p.norms {
                None => blob(PQ, 0, rows, dim, params, &[&cents, &p.codes]),
                Some((nt, nc)) => {
                    let nt = f32_bytes(nt);
                    blob(PQ, 1, rows, dim, params, &[&cents, &p.codes, &nt, nc])
                }
            }
        }
        Body::LowRank { a, b } => blob(
            LOW_RANK,
            0,
            rows,
            dim,
            [a.dim as u64, 0, 0],
            &[&rows_blob(a), &f32_bytes(b)],
        ),
        Body::Hashed { buckets, seed } => {
            blob(HASHED, 0, rows, dim, [*seed, 0, 0], &[&rows_blob(buckets)])
        }
        Body::QuotRem { q, r, modulus } => blob(
            QUOT_REM,
            0,
            rows,
            dim,
            [*modulus as u64, 0, 0],
            &[&rows_blob(q), &rows_blob(r)],
        ),
    }
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(i..i + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn to_usize(v: u64) -> Result<usize, EmbedError> {
    usize::try_from(v).map_err(|_| EmbedError::BadShape)
}

/// `count × each` bytes, capped.
fn size(count: usize, each: usize) -> Result<usize, EmbedError> {
    count
        .checked_mul(each)
        .filter(|&n| n as u64 <= MAX_TABLE_BYTES)
        .ok_or(EmbedError::BadShape)
}

fn floats(s: &[u8], len: usize) -> Result<Vec<f32>, EmbedError> {
    if s.len() != size(len, 4)? {
        return Err(EmbedError::BadSections);
    }
    let v: Vec<f32> = s.chunks_exact(4).map(super::scalar::f32_le).collect();
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => Err(EmbedError::NonFinite(i)),
        None => Ok(v),
    }
}

fn exact(s: &[u8], len: usize) -> Result<&[u8], EmbedError> {
    if s.len() == len {
        Ok(s)
    } else {
        Err(EmbedError::BadSections)
    }
}

/// A nested, row-wise table of `rows × dim`.
fn nested<'a>(s: &'a [u8], rows: usize, dim: usize) -> Result<Rows<'a>, EmbedError> {
    let t = read(s, 1)?;
    match t.body {
        Body::Rows(r) if r.rows == rows && r.dim == dim => Ok(r),
        Body::Rows(_) => Err(EmbedError::BadShape),
        _ => Err(EmbedError::BadHeader),
    }
}

pub(super) fn read(b: &[u8], depth: u8) -> Result<Table<'_>, EmbedError> {
    let head: &[u8; HEADER] = b
        .get(..HEADER)
        .and_then(|h| h.try_into().ok())
        .ok_or(EmbedError::Truncated)?;
    if &head[..4] != b"SHE2" {
        return Err(EmbedError::BadMagic);
    }
    if !checksum_ok(&head[..56], u64_at(head, 56)) {
        return Err(EmbedError::Checksum);
    }
    let (method, flags) = (head[4], head[5]);
    let nsec = u32::from_le_bytes([head[48], head[49], head[50], head[51]]) as usize;
    if head[6..8] != [0, 0] || head[52..56] != [0; 4] || nsec == 0 || nsec > MAX_SECTIONS {
        return Err(EmbedError::BadHeader);
    }
    let (rows, dim) = (to_usize(u64_at(head, 8))?, to_usize(u64_at(head, 16))?);
    let params = [u64_at(head, 24), u64_at(head, 32), u64_at(head, 40)];
    if rows == 0 || dim == 0 || dim > MAX_DIM {
        return Err(EmbedError::BadShape);
    }
    // Section table: aligned, in order, no overlap, no gap beyond the
    // alignment padding, inside the file, and ending it.
    let entries = b
        .get(HEADER..HEADER + ENTRY * nsec)
        .ok_or(EmbedError::Truncated)?;
    let mut sections: [&[u8]; MAX_SECTIONS] = [&[]; MAX_SECTIONS];
    let mut end = (HEADER + ENTRY * nsec) as u64;
    for (k, e) in entries.chunks_exact(ENTRY).enumerate() {
        let (off, len, sum) = (u64_at(e, 0), u64_at(e, 8), u64_at(e, 16));
        if off % 8 != 0 || off < end || off - end >= 8 {
            return Err(EmbedError::BadSections);
        }
        end = off.checked_add(len).ok_or(EmbedError::BadSections)?;
        if end > b.len() as u64 {
            return Err(EmbedError::Truncated);
        }
        let s = b
            .get(off as usize..end as usize)
            .ok_or(EmbedError::Truncated)?;
        if !checksum_ok(s, sum) {
            return Err(EmbedError::Checksum);
        }
        if let Some(slot) = sections.get_mut(k) {
            *slot = s;
        }
    }
    if (b.len() as u64) > end {
        return Err(EmbedError::TrailingBytes(b.len() - end as usize));
    }
    let sec = sections.get(..nsec).unwrap_or(&[]);
    let body = match (method, sec) {
        (c, [data]) if c < PQ => {
            let codec = Codec::from_code(c).ok_or(EmbedError::BadHeader)?;
            if flags != 0 || params != [0; 3] {
                return Err(EmbedError::BadHeader);
            }
            let data = exact(data, size(rows, codec.row_bytes(dim))?)?;
            Body::Rows(Rows {
                rows,
                dim,
                codec,
                data: Cow::Borrowed(data),
            })
        }
        _ if depth > 0 => return Err(EmbedError::BadHeader),
        (PQ, [cents, codes, rest @ ..]) => {
            let (nsub, dsub) = (to_usize(params[0])?, to_usize(params[1])?);
            let bits = u8::try_from(params[2]).map_err(|_| EmbedError::BadShape)?;
            if !Pq::check_shape(dim, nsub, dsub, bits) {
                return Err(EmbedError::BadShape);
            }
            let norms = match (flags, rest) {
                (0, []) => None,
                (1, [nt, nc]) => Some((floats(nt, 256)?, Cow::Borrowed(exact(nc, rows)?))),
                _ => return Err(EmbedError::BadHeader),
            };
            let cb = Pq::code_bytes(nsub, bits);
            Body::Pq(Pq {
                nsub,
                dsub,
                bits,
                centroids: floats(cents, size(dim, 1 << bits)?)?,
                codes: Cow::Borrowed(exact(codes, size(rows, cb)?)?),
                norms,
            })
        }
        (LOW_RANK, [a, bm]) if flags == 0 => {
            let rank = to_usize(params[0])?;
            if rank == 0 || rank > MAX_RANK || rank > dim {
                return Err(EmbedError::BadShape);
            }
            Body::LowRank {
                a: nested(a, rows, rank)?,
                b: floats(bm, size(rank, dim)?)?,
            }
        }
        (HASHED, [bk]) if flags == 0 => {
            let t = read(bk, 1)?;
            match t.body {
                Body::Rows(r) if r.dim == dim => Body::Hashed {
                    buckets: r,
                    seed: params[0],
                },
                _ => return Err(EmbedError::BadShape),
            }
        }
        (QUOT_REM, [q, r]) if flags == 0 => {
            let modulus = to_usize(params[0])?;
            if modulus == 0 || modulus > rows {
                return Err(EmbedError::BadShape);
            }
            Body::QuotRem {
                q: nested(q, rows.div_ceil(modulus), dim)?,
                r: nested(r, modulus, dim)?,
                modulus,
            }
        }
        _ => return Err(EmbedError::BadHeader),
    };
    Ok(Table::from_body(rows, dim, body))
}
