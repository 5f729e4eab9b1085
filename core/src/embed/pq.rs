//! Product quantization: `M` sub-spaces of `dsub` columns (the last one may
//! be narrower, as in fastText), each with its own codebook of 256 (8-bit
//! codes) or 16 (4-bit codes, two per byte, low nibble first) centroids,
//! trained by k-means (random distinct seeds, Lloyd iterations).
//!
//! Optionally each row also carries an 8-bit code into a 256-entry table of
//! row norms (fastText's `qnorm`): the decoded row is `norm · Σ centroids`.

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;

use super::{scalar, EmbedError, Progress};
use crate::rng::Rng;

/// A product-quantized table body.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pq<'a> {
    pub(crate) nsub: usize,
    pub(crate) dsub: usize,
    pub(crate) bits: u8,
    /// `dim × ksub` floats: sub-space `m` at `m·ksub·dsub`, centroid `i` of it
    /// at `+ i·width(m)`.
    pub(crate) centroids: Vec<f32>,
    pub(crate) codes: Cow<'a, [u8]>,
    /// Optional 256 norms and one norm code per row.
    pub(crate) norms: Option<(Vec<f32>, Cow<'a, [u8]>)>,
}

impl<'a> Pq<'a> {
    pub(crate) fn ksub(&self) -> usize {
        1 << self.bits
    }

    pub(crate) fn code_bytes(nsub: usize, bits: u8) -> usize {
        if bits == 4 {
            nsub.div_ceil(2)
        } else {
            nsub
        }
    }

    /// Checks the geometry: `(nsub − 1)·dsub < dim ≤ nsub·dsub`, 4 or 8 bits.
    pub(crate) fn check_shape(dim: usize, nsub: usize, dsub: usize, bits: u8) -> bool {
        (bits == 4 || bits == 8)
            && nsub > 0
            && dsub > 0
            && (nsub - 1)
                .checked_mul(dsub)
                .is_some_and(|lo| lo < dim && nsub.checked_mul(dsub).is_some_and(|hi| dim <= hi))
    }

    fn code(&self, row: usize, m: usize) -> usize {
        let cb = Self::code_bytes(self.nsub, self.bits);
        let byte = if self.bits == 4 { m / 2 } else { m };
        let c = self.codes.get(row * cb + byte).copied().unwrap_or(0);
        if self.bits == 4 {
            usize::from((c >> (4 * (m % 2))) & 15)
        } else {
            usize::from(c)
        }
    }

    pub(crate) fn norm(&self, row: usize) -> f32 {
        match &self.norms {
            Some((table, codes)) => codes
                .get(row)
                .and_then(|&c| table.get(usize::from(c)))
                .copied()
                .unwrap_or(0.0),
            None => 1.0,
        }
    }

    /// `out += w · row`.
    pub(crate) fn accumulate(&self, row: usize, w: f32, out: &mut [f32]) {
        let alpha = w * self.norm(row);
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        if self.bits == 8 && crate::arch::avx2_available() {
            let cb = self.nsub;
            if let Some(codes) = self.codes.get(row * cb..row * cb + cb) {
                // SAFETY: AVX2 was detected just above.
                unsafe {
                    super::x86::accumulate_pq8(&self.centroids, self.dsub, codes, alpha, out)
                };
                return;
            }
        }
        scalar::accumulate_pq(
            &self.centroids,
            self.ksub(),
            self.dsub,
            (0..self.nsub).map(|m| self.code(row, m)),
            alpha,
            out,
        );
    }

    /// The scalar path of [`Pq::accumulate`] (the specification of the SIMD kernel).
    pub(crate) fn accumulate_scalar(&self, row: usize, w: f32, out: &mut [f32]) {
        scalar::accumulate_pq(
            &self.centroids,
            self.ksub(),
            self.dsub,
            (0..self.nsub).map(|m| self.code(row, m)),
            w * self.norm(row),
            out,
        );
    }

    /// `norm · Σ_j x_j · centroid_j`, summed per sub-space in column order
    /// then scaled (the order of fastText's `mulcode`).
    pub(crate) fn dot(&self, row: usize, x: &[f32]) -> f32 {
        let ksub = self.ksub();
        let mut s = 0.0f32;
        for (m, xs) in x.chunks(self.dsub).enumerate().take(self.nsub) {
            let at = m * ksub * self.dsub + self.code(row, m) * xs.len();
            if let Some(c) = self.centroids.get(at..at + xs.len()) {
                for (a, b) in xs.iter().zip(c) {
                    s += a * b;
                }
            }
        }
        s * self.norm(row)
    }

    pub(crate) fn into_owned(self) -> Pq<'static> {
        Pq {
            nsub: self.nsub,
            dsub: self.dsub,
            bits: self.bits,
            centroids: self.centroids,
            codes: Cow::Owned(self.codes.into_owned()),
            norms: self.norms.map(|(t, c)| (t, Cow::Owned(c.into_owned()))),
        }
    }
}

/// Most training points per sub-space (a uniform sample of the rows).
const MAX_TRAIN: usize = 65_536;

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn nearest(x: &[f32], cents: &[f32], width: usize) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (i, c) in cents.chunks_exact(width).enumerate() {
        let d = dist2(x, c);
        if d < best.1 {
            best = (i, d);
        }
    }
    best
}

/// k-means on `n` points of `width` floats: `k` distinct random points as
/// seeds, then `iters` Lloyd iterations; an emptied cluster takes the point farthest from its
/// centroid. Fewer distinct points than `k` leave repeated centroids.
pub(crate) fn kmeans(pts: &[f32], width: usize, k: usize, iters: usize, rng: &mut Rng) -> Vec<f32> {
    let n = pts.len() / width;
    let mut cents = vec![0.0f32; k * width];
    if n == 0 {
        return cents;
    }
    // Seeds: k distinct training points drawn uniformly (a partial
    // Fisher-Yates shuffle); FAISS seeds the same way. k-means++ seeding was
    // measured to keep fewer nearest neighbours here (recall@10 0.755 vs
    // 0.790 on lid.176 at M=8), by spending centroids on outliers.
    let mut order: Vec<usize> = (0..n).collect();
    for c in 0..k {
        let p = if c < n {
            let j = c + (rng.next_u64() % (n - c) as u64) as usize;
            order.swap(c, j);
            order[c]
        } else {
            order[c % n]
        };
        cents[c * width..(c + 1) * width].copy_from_slice(&pts[p * width..(p + 1) * width]);
    }
    let mut d2 = vec![0.0f32; n];
    let mut assign = vec![0usize; n];
    let mut sums = vec![0.0f64; k * width];
    let mut counts = vec![0usize; k];
    for _ in 0..iters {
        let mut changed = false;
        for (i, p) in pts.chunks_exact(width).enumerate() {
            let (a, d) = nearest(p, &cents, width);
            changed |= assign[i] != a;
            assign[i] = a;
            d2[i] = d;
        }
        sums.iter_mut().for_each(|s| *s = 0.0);
        counts.iter_mut().for_each(|c| *c = 0);
        for (p, &a) in pts.chunks_exact(width).zip(&assign) {
            counts[a] += 1;
            for (s, v) in sums[a * width..(a + 1) * width].iter_mut().zip(p) {
                *s += f64::from(*v);
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                for j in 0..width {
                    cents[c * width + j] = (sums[c * width + j] / counts[c] as f64) as f32;
                }
            } else if let Some((far, _)) = d2
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .filter(|(_, d)| **d > 0.0)
            {
                cents[c * width..(c + 1) * width]
                    .copy_from_slice(&pts[far * width..(far + 1) * width]);
                d2[far] = 0.0;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    cents
}

/// Trains codebooks on (a sample of) the rows and encodes every row.
pub(crate) fn encode(
    e: &[f32],
    rows: usize,
    dim: usize,
    nsub: usize,
    bits: u8,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Pq<'static>, EmbedError> {
    // Sub-spaces of ceil(dim / M) columns; an M that leaves one empty is refused.
    let dsub = dim.div_ceil(nsub.max(1));
    if !Pq::check_shape(dim, nsub, dsub, bits) {
        return Err(EmbedError::BadShape);
    }
    let ksub = 1usize << bits;
    let mut rng = Rng::new(seed);
    let sample: Vec<usize> = if rows <= MAX_TRAIN {
        (0..rows).collect()
    } else {
        (0..MAX_TRAIN)
            .map(|_| (rng.next_u64() % rows as u64) as usize)
            .collect()
    };
    let mut centroids = vec![0.0f32; dim * ksub];
    let cb = Pq::code_bytes(nsub, bits);
    let mut codes = vec![0u8; rows * cb];
    let iters = 25;
    for m in 0..nsub {
        let lo = m * dsub;
        let width = dsub.min(dim - lo);
        let pts: Vec<f32> = sample
            .iter()
            .flat_map(|&r| e[r * dim + lo..r * dim + lo + width].iter().copied())
            .collect();
        let cents = kmeans(&pts, width, ksub, iters, &mut rng);
        let at = m * ksub * dsub;
        centroids[at..at + ksub * width].copy_from_slice(&cents);
        for r in 0..rows {
            let (c, _) = nearest(&e[r * dim + lo..r * dim + lo + width], &cents, width);
            let byte = &mut codes[r * cb + if bits == 4 { m / 2 } else { m }];
            if bits == 4 {
                *byte |= (c as u8) << (4 * (m % 2));
            } else {
                *byte = c as u8;
            }
        }
        progress(Progress {
            stage: "k-means",
            done: m + 1,
            total: nsub,
        });
    }
    Ok(Pq {
        nsub,
        dsub,
        bits,
        centroids,
        codes: Cow::Owned(codes),
        norms: None,
    })
}
