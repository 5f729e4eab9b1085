//! The float convolutions of `.shm` models (TF `SAME` padding): the stem's
//! full convolution and the depthwise convolutions.
//!
//! [`conv_plain`] and [`depthwise_plain`] are the specification: every
//! output starts from its bias, then `acc = acc + x·f` for each filter tap
//! inside the image, taps in the order (row, column, input channel), as one
//! fused multiply-add (one rounding) where the machine has the AVX2 path
//! (x86 with AVX2, FMA and F16C, the rule of the packed products), else a
//! product then a sum; then the optional clamp. The AVX2 kernels do the same
//! operations in the same order on eight channels per instruction, so they
//! give the same bits; they differ in what is kept in registers:
//!
//! * [`convolution`] goes output row by output row (the input rows it reads
//!   stay in the L2 cache), and within a row through the channels in groups
//!   of up to 32, each group over the row: its sums stay in registers across
//!   the taps (four independent sums per pixel, so that each sum's chain of
//!   additions does not wait on the previous one), and what it reads (its
//!   filter taps, a few input rows of those channels) stays in the L1
//!   cache. Depthwise 3 x 3 rows (and wide 5 x 5 rows of stride 1) take the
//!   pixels whose window columns are inside the image in blocks of eight
//!   (or four), eight channels at a time: the block's sums stay in
//!   registers and each filter tap is loaded once for all of them. The plain
//!   loops go pixel by pixel over all channels; for the wide layers a
//!   pixel's window is larger than the L1 cache.
//!   The full convolution (the stem) is done the same way, 32 output
//!   channels of a pixel in registers over its taps, each input value
//!   broadcast once.

// Float engine: every index below is bounded by shapes `parse` validated
// (the dispatchers check the slice lengths before the unchecked kernels).
#![allow(clippy::indexing_slicing)]

use super::{out_size, pad_before};
// Whether this machine fuses each tap's multiply-add (x86 with AVX2, FMA
// and F16C), and the step as the specification states it: the packed
// products' rule.
use crate::quant::gemm::{fused, madd};

/// A convolution's shape: input `h × w × c` (channels innermost), square
/// kernel `k`, stride `s`, `cout` outputs per pixel (`c` for depthwise).
#[derive(Clone, Copy, Debug)]
pub(super) struct Geom {
    pub h: usize,
    pub w: usize,
    pub c: usize,
    pub k: usize,
    pub s: usize,
    pub cout: usize,
}

/// A convolution's operands: input (`h × w × c`), shape, filter, biases
/// (`cout`) and the optional clamp after the sums.
#[derive(Clone, Copy, Debug)]
pub(super) struct Operands<'a> {
    pub x: &'a [f32],
    pub g: Geom,
    pub f: &'a [f32],
    pub bias: &'a [f32],
    pub clamp: Option<(f32, f32)>,
}

impl Geom {
    fn oh(&self) -> usize {
        out_size(self.h, self.s)
    }
    fn ow(&self) -> usize {
        out_size(self.w, self.s)
    }
    /// Output values.
    #[cfg(any(test, target_arch = "x86_64"))]
    pub fn out_len(&self) -> usize {
        self.oh() * self.ow() * self.cout
    }
    /// The filter taps `lo..hi` (along one axis) that fall inside an input
    /// of `n` for output coordinate `o` with `pad` before.
    #[inline(always)]
    fn taps(&self, o: usize, pad: usize, n: usize) -> (usize, usize) {
        let start = o * self.s;
        let lo = pad.saturating_sub(start);
        let hi = self.k.min((n + pad).saturating_sub(start));
        (lo, hi.max(lo))
    }
}

/// The specification loop: each output pixel starts from the biases, then
/// `tap(out, input_pixel, ky, kx)` for each tap inside the image, in order.
#[inline(always)]
fn convolve(
    o: &Operands<'_>,
    y: &mut [f32],
    mut tap: impl FnMut(&mut [f32], &[f32], usize, usize),
) {
    let Operands { x, g, bias, .. } = *o;
    let (oh, ow) = (g.oh(), g.ow());
    let (pt, pl) = (pad_before(g.h, g.k, g.s), pad_before(g.w, g.k, g.s));
    for oy in 0..oh {
        let (ky0, ky1) = g.taps(oy, pt, g.h);
        for ox in 0..ow {
            let (kx0, kx1) = g.taps(ox, pl, g.w);
            let out = &mut y[(oy * ow + ox) * g.cout..][..g.cout];
            out.copy_from_slice(bias);
            for ky in ky0..ky1 {
                let iy = oy * g.s + ky - pt;
                for kx in kx0..kx1 {
                    let ix = ox * g.s + kx - pl;
                    tap(out, &x[(iy * g.w + ix) * g.c..][..g.c], ky, kx);
                }
            }
        }
    }
}

/// `v.clamp(lo, hi)` over `y` when `clamp` is given.
fn clamp_all(y: &mut [f32], clamp: Option<(f32, f32)>) {
    if let Some((lo, hi)) = clamp {
        y.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
}

/// The full convolution's specification. `f` is `[cout][ky][kx][c]`.
pub(super) fn conv_plain(o: &Operands<'_>, y: &mut [f32]) {
    let Operands { g, f, clamp, .. } = *o;
    let fused = fused();
    let ft = transpose_filter(f, &g);
    let (k, c, cout) = (g.k, g.c, g.cout);
    convolve(o, y, |out, px, ky, kx| {
        for (ci, &xv) in px.iter().enumerate() {
            let row = &ft[((ky * k + kx) * c + ci) * cout..][..cout];
            for (v, &fw) in out.iter_mut().zip(row) {
                *v = madd(xv, fw, *v, fused);
            }
        }
    });
    clamp_all(y, clamp);
}

/// The filter with output channels innermost (`[ky][kx][c][cout]`), so that
/// each input value updates consecutive output channels.
fn transpose_filter(f: &[f32], g: &Geom) -> alloc::vec::Vec<f32> {
    let taps = g.k * g.k * g.c;
    let mut ft = alloc::vec![0.0f32; taps * g.cout];
    for o in 0..g.cout {
        for t in 0..taps {
            ft[t * g.cout + o] = f[o * taps + t];
        }
    }
    ft
}

/// The depthwise convolution's specification. `f` is `[ky][kx][c]`.
pub(super) fn depthwise_plain(o: &Operands<'_>, y: &mut [f32]) {
    let Operands { g, f, clamp, .. } = *o;
    let fused = fused();
    let (k, c) = (g.k, g.c);
    convolve(o, y, |out, px, ky, kx| {
        let fk = &f[(ky * k + kx) * c..][..c];
        for ((v, a), b) in out.iter_mut().zip(px).zip(fk) {
            *v = madd(*a, *b, *v, fused);
        }
    });
    clamp_all(y, clamp);
}

/// Whether the slices fit the shape (the kernels below index without
/// checks).
#[cfg(target_arch = "x86_64")]
fn fits(o: &Operands<'_>, f_len: usize, y: &[f32]) -> bool {
    let Operands { x, g, f, bias, .. } = *o;
    x.len() >= g.h * g.w * g.c
        && f.len() >= f_len
        && bias.len() == g.cout
        && y.len() >= g.out_len()
        && g.k >= 1
        && g.s >= 1
}

/// [`depthwise_plain`] (when `depthwise`) or [`conv_plain`], by the AVX2
/// kernel where the CPU has AVX2, FMA and F16C ([`fused`]) and the output
/// channels are a multiple of eight (the same bits).
pub(super) fn convolution(depthwise: bool, o: &Operands<'_>, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if fused() && o.g.cout.is_multiple_of(8) {
        let g = o.g;
        let taps = g.k * g.k * if depthwise { g.c } else { g.c * g.cout };
        if depthwise && g.cout == g.c && fits(o, taps, y) {
            // SAFETY: AVX2 was checked, and the slice lengths.
            unsafe { convolution_avx2::<true>(o, y) };
            return;
        }
        if !depthwise && fits(o, taps, y) {
            let ft = transpose_filter(o.f, &g);
            // SAFETY: as above; `ft` is the transposed filter.
            unsafe { convolution_avx2::<false>(&Operands { f: &ft, ..*o }, y) };
            return;
        }
    }
    match depthwise {
        true => depthwise_plain(o, y),
        false => conv_plain(o, y),
    }
}

#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::{
    __m256, _mm256_broadcast_ss, _mm256_fmadd_ps, _mm256_loadu_ps, _mm256_max_ps, _mm256_min_ps,
    _mm256_set1_ps, _mm256_storeu_ps,
};

/// The optional clamp in registers: `min(hi, max(lo, v))`, which is
/// `v.clamp(lo, hi)` including NaN (kept) and signed zeros (`max` returns
/// its second operand when they compare equal).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Clamp8 {
    on: bool,
    lo: __m256,
    hi: __m256,
}

#[cfg(target_arch = "x86_64")]
impl Clamp8 {
    #[inline(always)]
    fn new(clamp: Option<(f32, f32)>) -> Self {
        let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        // SAFETY: the callers are compiled with AVX2.
        unsafe {
            Clamp8 {
                on: clamp.is_some(),
                lo: _mm256_set1_ps(lo),
                hi: _mm256_set1_ps(hi),
            }
        }
    }

    #[inline(always)]
    fn apply(&self, v: __m256) -> __m256 {
        // SAFETY: the callers are compiled with AVX2.
        unsafe {
            match self.on {
                true => _mm256_min_ps(self.hi, _mm256_max_ps(self.lo, v)),
                false => v,
            }
        }
    }

    /// Stores `NV` vectors of sums at `out`, clamped.
    ///
    /// # Safety
    /// `8·NV` floats writable at `out`; AVX2.
    #[inline(always)]
    unsafe fn store<const NV: usize>(&self, out: *mut f32, acc: &[__m256; NV]) {
        for (v, a) in acc.iter().enumerate() {
            // SAFETY: inside the `8·NV` floats (caller).
            unsafe { _mm256_storeu_ps(out.add(8 * v), self.apply(*a)) };
        }
    }
}

/// `NV` vectors of eight floats from `p`.
///
/// # Safety
/// `8·NV` floats readable at `p`; AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn load8s<const NV: usize>(p: *const f32) -> [__m256; NV] {
    // SAFETY: inside the `8·NV` floats (caller).
    core::array::from_fn(|v| unsafe { _mm256_loadu_ps(p.add(8 * v)) })
}

/// The AVX2 kernels: the depthwise convolution (`DW`) or the full one.
///
/// # Safety
/// AVX2; `g.cout % 8 == 0`, the slices fit `g` ([`fits`]); for `DW`
/// `g.cout == g.c`, else `f` is the transposed filter ([`transpose_filter`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn convolution_avx2<const DW: bool>(o: &Operands<'_>, y: &mut [f32]) {
    let Operands { g, .. } = *o;
    // Output row by output row (its input rows stay in the L2 cache), and
    // within a row output group by output group (in the L1 cache): four
    // (then two, one) vectors of outputs per pixel, four independent sums
    // hiding the latency of each sum's chain of adds.
    let ow = g.ow();
    // 3 x 3 depthwise rows, and 5 x 5 ones with stride 1 and at least 16
    // pixels whose windows are inside the image, go by blocks of pixels,
    // eight channels at a time (measured: 5 x 5 rows of 14 pixels or with
    // stride 2 are faster in groups of 32 channels).
    let inner = inner_pixels(&g).len();
    let blocks = DW && ((g.k == 3 && inner >= 4) || (g.k == 5 && g.s == 1 && inner >= 16));
    for oy in 0..g.oh() {
        if blocks {
            for c0 in (0..g.c).step_by(8) {
                // SAFETY: channels c0..c0 + 8 exist (caller).
                unsafe {
                    match (g.k, g.s) {
                        (3, 1) => depthwise_row::<3, 1>(o, y, oy, c0),
                        (3, _) => depthwise_row::<3, 2>(o, y, oy, c0),
                        _ => depthwise_row::<5, 1>(o, y, oy, c0),
                    }
                }
            }
            continue;
        }
        let mut o0 = 0;
        while o0 + 32 <= g.cout {
            // SAFETY: outputs o0..o0 + 32 exist (caller).
            unsafe { group::<4, DW>(o, y, oy, o0, 0..ow) };
            o0 += 32;
        }
        if o0 + 16 <= g.cout {
            // SAFETY: outputs o0..o0 + 16 exist (caller).
            unsafe { group::<2, DW>(o, y, oy, o0, 0..ow) };
            o0 += 16;
        }
        if o0 < g.cout {
            // SAFETY: as above, the last eight.
            unsafe { group::<1, DW>(o, y, oy, o0, 0..ow) };
        }
    }
}

/// The output columns whose window columns are all inside the image:
/// `ox·s >= pad` and `ox·s + k <= w + pad`.
#[cfg(target_arch = "x86_64")]
fn inner_pixels(g: &Geom) -> core::ops::Range<usize> {
    let pl = pad_before(g.w, g.k, g.s);
    let first = pl.div_ceil(g.s);
    let last = ((g.w + pl).saturating_sub(g.k) / g.s + 1).min(g.ow());
    first.min(last)..last
}

/// Eight channels `c0..c0 + 8` of output row `oy` of a `K x K` depthwise
/// convolution with stride `S`: the pixels whose window columns are all
/// inside the image in blocks of eight (then four) by [`depthwise_block`],
/// the others by [`group`].
///
/// # Safety
/// As [`group`] with `NV = 1` and `DW`, `g.k == K`, `g.s == S`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn depthwise_row<const K: usize, const S: usize>(
    o: &Operands<'_>,
    y: &mut [f32],
    oy: usize,
    c0: usize,
) {
    let ow = o.g.ow();
    let inner = inner_pixels(&o.g);
    let mut ox = inner.start;
    // SAFETY: the blocks' pixels are inner pixels of the row; the rest are
    // pixels of the row (caller).
    unsafe {
        group::<1, true>(o, y, oy, c0, 0..ox);
        while ox + 8 <= inner.end {
            depthwise_block::<K, S, 8>(o, y, oy, c0, ox);
            ox += 8;
        }
        if ox + 4 <= inner.end {
            depthwise_block::<K, S, 4>(o, y, oy, c0, ox);
            ox += 4;
        }
        group::<1, true>(o, y, oy, c0, ox..ow);
    }
}

/// Channels `c0..c0 + 8` of `P` output pixels `ox0..ox0 + P` of row `oy`
/// of a `K x K` depthwise convolution with stride `S`, whose window
/// columns are all inside the image: the `P` sums stay in registers, and
/// each tap is loaded once for all of them (the rows outside the image are
/// skipped, as in the specification; the taps come in its order).
///
/// # Safety
/// As [`group`] with `NV = 1` and `DW`, `g.k == K`, `g.s == S`,
/// `ox0 + P <= g.ow()`, and `(ox0 + p)·S + kx − pad` inside `0..g.w` for
/// every pixel `p` and tap column `kx`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn depthwise_block<const K: usize, const S: usize, const P: usize>(
    o: &Operands<'_>,
    y: &mut [f32],
    oy: usize,
    c0: usize,
    ox0: usize,
) {
    let Operands {
        x,
        g,
        f,
        bias,
        clamp,
    } = *o;
    let (ow, c) = (g.ow(), g.c);
    let (pt, pl) = (pad_before(g.h, K, S), pad_before(g.w, K, S));
    let cl = Clamp8::new(clamp);
    let (ky0, ky1) = g.taps(oy, pt, g.h);
    // SAFETY (every pointer below): rows `ky0..ky1` are inside the image,
    // the columns too (caller), channels inside `c`, taps inside the
    // filter, outputs inside the row.
    unsafe {
        let b = _mm256_loadu_ps(bias.as_ptr().add(c0));
        let mut acc = [b; P];
        for ky in ky0..ky1 {
            let iy = oy * S + ky - pt;
            let xp = x.as_ptr().add((iy * g.w + ox0 * S - pl) * c + c0);
            let fp = f.as_ptr().add(ky * K * c + c0);
            for kx in 0..K {
                let t = _mm256_loadu_ps(fp.add(kx * c));
                for (p, a) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(xp.add((p * S + kx) * c));
                    *a = _mm256_fmadd_ps(xv, t, *a);
                }
            }
        }
        for (p, a) in acc.iter().enumerate() {
            cl.store(y.as_mut_ptr().add((oy * ow + ox0 + p) * c + c0), &[*a]);
        }
    }
}

/// Outputs `o0..o0 + 8·NV` of output pixels `oxs` of row `oy`: each from
/// its bias, then for every tap inside the image in order its products
/// (`DW`: channel by channel; else each input channel broadcast against the
/// transposed filter's row), then the clamp.
///
/// # Safety
/// As [`convolution_avx2`], `oy < g.oh()`, `oxs.end <= g.ow()` and
/// `o0 + 8·NV <= g.cout`.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn group<const NV: usize, const DW: bool>(
    o: &Operands<'_>,
    y: &mut [f32],
    oy: usize,
    o0: usize,
    oxs: core::ops::Range<usize>,
) {
    let Operands {
        x,
        g,
        f,
        bias,
        clamp,
    } = *o;
    let (ow, c, cout) = (g.ow(), g.c, g.cout);
    let (pt, pl) = (pad_before(g.h, g.k, g.s), pad_before(g.w, g.k, g.s));
    let clamp = Clamp8::new(clamp);
    // SAFETY (every pointer below): taps inside the image, channels inside
    // `c`, filter taps inside the filter, outputs inside `oh × ow × cout`
    // (caller).
    unsafe {
        let b = load8s::<NV>(bias.as_ptr().add(o0));
        let (ky0, ky1) = g.taps(oy, pt, g.h);
        let mut oxs = oxs;
        while let Some(ox) = oxs.next() {
            let (kx0, kx1) = g.taps(ox, pl, g.w);
            // Two pixels with the same taps at once (twice the independent
            // sums, each filter vector loaded once for both); each output's
            // operations are unchanged.
            if oxs.start < oxs.end && g.taps(ox + 1, pl, g.w) == (kx0, kx1) {
                let (mut a0, mut a1) = (b, b);
                let step = g.s * c;
                for ky in ky0..ky1 {
                    let iy = oy * g.s + ky - pt;
                    let ix = ox * g.s + kx0 - pl;
                    if DW {
                        let mut xp = x.as_ptr().add((iy * g.w + ix) * c + o0);
                        let mut fp = f.as_ptr().add((ky * g.k + kx0) * c + o0);
                        for _ in kx0..kx1 {
                            for v in 0..NV {
                                let fv = _mm256_loadu_ps(fp.add(8 * v));
                                let x0 = _mm256_loadu_ps(xp.add(8 * v));
                                let x1 = _mm256_loadu_ps(xp.add(step + 8 * v));
                                a0[v] = _mm256_fmadd_ps(x0, fv, a0[v]);
                                a1[v] = _mm256_fmadd_ps(x1, fv, a1[v]);
                            }
                            xp = xp.add(c);
                            fp = fp.add(c);
                        }
                    } else {
                        let xp = x.as_ptr().add((iy * g.w + ix) * c);
                        let fp = f.as_ptr().add((ky * g.k + kx0) * c * cout + o0);
                        for t in 0..(kx1 - kx0) * c {
                            let x0 = _mm256_broadcast_ss(&*xp.add(t));
                            let x1 = _mm256_broadcast_ss(&*xp.add(step + t));
                            for v in 0..NV {
                                let fv = _mm256_loadu_ps(fp.add(t * cout + 8 * v));
                                a0[v] = _mm256_fmadd_ps(x0, fv, a0[v]);
                                a1[v] = _mm256_fmadd_ps(x1, fv, a1[v]);
                            }
                        }
                    }
                }
                clamp.store(y.as_mut_ptr().add((oy * ow + ox) * cout + o0), &a0);
                clamp.store(y.as_mut_ptr().add((oy * ow + ox + 1) * cout + o0), &a1);
                oxs.next();
                continue;
            }
            let mut acc = b;
            for ky in ky0..ky1 {
                let iy = oy * g.s + ky - pt;
                let ix = ox * g.s + kx0 - pl;
                if DW {
                    let mut xp = x.as_ptr().add((iy * g.w + ix) * c + o0);
                    let mut fp = f.as_ptr().add((ky * g.k + kx0) * c + o0);
                    for _ in kx0..kx1 {
                        for (v, a) in acc.iter_mut().enumerate() {
                            let xv = _mm256_loadu_ps(xp.add(8 * v));
                            *a = _mm256_fmadd_ps(xv, _mm256_loadu_ps(fp.add(8 * v)), *a);
                        }
                        xp = xp.add(c);
                        fp = fp.add(c);
                    }
                } else {
                    let xp = x.as_ptr().add((iy * g.w + ix) * c);
                    let fp = f.as_ptr().add((ky * g.k + kx0) * c * cout + o0);
                    for t in 0..(kx1 - kx0) * c {
                        let xv = _mm256_broadcast_ss(&*xp.add(t));
                        for (v, a) in acc.iter_mut().enumerate() {
                            let fv = _mm256_loadu_ps(fp.add(t * cout + 8 * v));
                            *a = _mm256_fmadd_ps(xv, fv, *a);
                        }
                    }
                }
            }
            clamp.store(y.as_mut_ptr().add((oy * ow + ox) * cout + o0), &acc);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// Random values with a few NaN, infinities and signed zeros.
    fn values(rng: &mut crate::rng::Rng, n: usize, specials: bool) -> Vec<f32> {
        (0..n)
            .map(|i| match (specials, i % 97) {
                (true, 5) => f32::NAN,
                (true, 11) => -0.0,
                (true, 23) => f32::INFINITY,
                _ => rng.next_f64() as f32 - 0.5,
            })
            .collect()
    }

    /// The dispatched convolution against its plain loops, bit for bit, on
    /// random operands of shape `g` (special values in the input when
    /// `specials`).
    fn check(
        rng: &mut crate::rng::Rng,
        depthwise: bool,
        g: Geom,
        specials: bool,
        clamp: Option<(f32, f32)>,
    ) {
        let taps = g.k * g.k * if depthwise { g.c } else { g.c * g.cout };
        let x = values(rng, g.h * g.w * g.c, specials);
        let f = values(rng, taps, false);
        let bias = values(rng, g.cout, false);
        let o = Operands {
            x: &x,
            g,
            f: &f,
            bias: &bias,
            clamp,
        };
        let mut a = vec![0.0; g.out_len()];
        let mut b = vec![1.0; g.out_len()];
        convolution(depthwise, &o, &mut a);
        match depthwise {
            true => depthwise_plain(&o, &mut b),
            false => conv_plain(&o, &mut b),
        }
        assert!(
            a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()),
            "{g:?} {clamp:?}"
        );
    }

    /// The dispatched depthwise convolution equals the plain loops bit for
    /// bit: strides 1 and 2, 3 x 3 and 5 x 5, odd and even sides, rows of
    /// one to three pixel blocks, channel
    /// counts that are and are not multiples of 8 and 16, with and without
    /// the clamp, special values included.
    #[test]
    fn depthwise_dispatch_equals_plain_loops() {
        let mut rng = crate::rng::Rng::new(21);
        for (h, w, c, k, s) in [
            (9usize, 9usize, 16usize, 3usize, 1usize),
            (10, 7, 24, 5, 2),
            (7, 7, 13, 3, 2),
            (12, 5, 40, 3, 1),
            (11, 11, 75, 5, 1),
            (6, 6, 5, 3, 1),
            (1, 3, 8, 5, 1),
            (14, 14, 32, 3, 2),
            // Rows of several pixel blocks (8, 8, 4 and the rest).
            (5, 22, 16, 3, 1),
            (6, 37, 8, 3, 2),
            (6, 24, 16, 5, 1),
        ] {
            for (specials, clamp) in [
                (false, Some((0.0, 6.0))),
                (true, None),
                (true, Some((-0.1, 0.2))),
            ] {
                let g = Geom {
                    h,
                    w,
                    c,
                    k,
                    s,
                    cout: c,
                };
                check(&mut rng, true, g, specials, clamp);
            }
        }
    }

    /// The dispatched full convolution equals the plain loops bit for bit
    /// (the stem's 3 input channels and others; 8 to 40 outputs, so every
    /// register group; strides 1 and 2).
    #[test]
    fn conv_dispatch_equals_plain_loops() {
        let mut rng = crate::rng::Rng::new(22);
        for (h, w, c, k, s, cout) in [
            (16usize, 16usize, 3usize, 3usize, 2usize, 32usize),
            (9, 7, 3, 3, 1, 40),
            (8, 8, 4, 5, 2, 24),
            (5, 6, 2, 3, 1, 16),
            (7, 7, 3, 3, 2, 8),
            (6, 6, 3, 3, 1, 12),
        ] {
            for (specials, clamp) in [
                (false, Some((0.0, 6.0))),
                (true, None),
                (true, Some((0.0, 6.0))),
            ] {
                let g = Geom {
                    h,
                    w,
                    c,
                    k,
                    s,
                    cout,
                };
                check(&mut rng, false, g, specials, clamp);
            }
        }
    }
}
