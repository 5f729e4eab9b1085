//! The pure-f32 kernels of [`super::scalar_f32`] written once over a lane
//! type, for SIMD (8 × f32 with AVX2).
//!
//! Every function here performs the same f32 operations in the same order as
//! its scalar twin, lane by lane: both sides of a branch are computed and the
//! lane's side is selected, and loops run until every lane has met its own
//! stopping rule while finished lanes stop accumulating. Adding `0` or
//! multiplying by `1` is never used to switch a lane off where it could
//! change a bit; selection is. So each lane's result is bit-identical to
//! [`super::scalar_f32::log_i`] / [`super::scalar_f32::log_k`] (tests:
//! `lanes_f32_equal_the_scalar_twin` here, the AVX2 instance in
//! `tests/tests/bessel.rs`).
//!
//! Special values (NaN, 0, ∞, subnormals) are not handled here: the slice
//! driver sends those to the scalar twin and only finite positive normal
//! inputs in one branch to the lanes.

use super::debye_table::{SUP as DEBYE_SUP, U as DEBYE_U};
use super::lanes::{first_holding, pair_mask_methods, pair_methods, scalar_methods, Pair};
use super::scalar::STRIP;
use super::scalar_f32::{
    DEBYE_TERMS_F32, LGAMMA2, RGAMMA_F32, SINC, SINHC, STEED_MAX_ITER, STEED_MIN_X, TEMME_MAX_X,
};

const TAIL: f32 = 1.490_116_1e-8;
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
const LN_2PI: f32 = 1.837_877_1;
const LN_PI_2: f32 = 0.451_582_7;
const SQRT2: f32 = core::f32::consts::SQRT_2;
const PI: f32 = core::f32::consts::PI;
const LOG2_E: f32 = core::f32::consts::LOG2_E;

/// Lane-wise f32 arithmetic with IEEE results per lane (no fused
/// multiply-add, no approximate reciprocals).
pub(crate) trait LanesF32: Copy {
    /// One boolean per lane.
    type Mask: Copy;
    fn splat(x: f32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    fn floor(self) -> Self;
    /// `self < o` (false when either is NaN).
    fn lt(self, o: Self) -> Self::Mask;
    /// `self <= o` (false when either is NaN).
    fn le(self, o: Self) -> Self::Mask;
    fn eq(self, o: Self) -> Self::Mask;
    /// `m ? a : b` per lane.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// `a && !b`.
    fn and_not(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Every lane `b`.
    fn mask(b: bool) -> Self::Mask;
    fn any(m: Self::Mask) -> bool;
    /// Unbiased exponent field (as f32) and the significand with the
    /// exponent field set to 0x7f (in `[1, 2)`), of a positive normal.
    fn split(self) -> (Self, Self);
    /// `2^k` for integer-valued `k` in `[-126, 127]`.
    fn pow2i(self) -> Self;
}

impl LanesF32 for f32 {
    type Mask = bool;
    scalar_methods!(f32, libm::sqrtf);
    #[inline(always)]
    fn abs(self) -> Self {
        libm::fabsf(self)
    }
    #[inline(always)]
    fn floor(self) -> Self {
        libm::floorf(self)
    }
    #[inline(always)]
    fn eq(self, o: Self) -> bool {
        self == o
    }
    #[inline(always)]
    fn split(self) -> (Self, Self) {
        let bits = self.to_bits();
        let e = ((bits >> 23) & 0xff) as i32 - 127;
        (e as f32, f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000))
    }
    #[inline(always)]
    fn pow2i(self) -> Self {
        f32::from_bits(((self as i32 + 127) as u32) << 23)
    }
}

impl<L: LanesF32> LanesF32 for Pair<L> {
    type Mask = (L::Mask, L::Mask);
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Pair(L::splat(x), L::splat(x))
    }
    pair_methods!(binary: add, sub, mul, div; unary: sqrt, abs, floor, pow2i; mask: lt, le, eq);
    #[inline(always)]
    fn select(m: Self::Mask, a: Self, b: Self) -> Self {
        Pair(L::select(m.0, a.0, b.0), L::select(m.1, a.1, b.1))
    }
    pair_mask_methods!();
    #[inline(always)]
    fn split(self) -> (Self, Self) {
        let (e0, m0) = self.0.split();
        let (e1, m1) = self.1.split();
        (Pair(e0, e1), Pair(m0, m1))
    }
}

#[inline(always)]
fn c<L: LanesF32>(x: f32) -> L {
    L::splat(x)
}

#[inline(always)]
fn max<L: LanesF32>(a: L, b: L) -> L {
    // f32::max for non-NaN operands (equal operands are the same value).
    L::select(a.lt(b), b, a)
}

#[inline(always)]
fn two_atanh<L: LanesF32>(s: L) -> L {
    let z = s.mul(s);
    let p = c::<L>(0.666_666_7)
        .add(z.mul(c::<L>(0.4).add(z.mul(c::<L>(0.285_714_3).add(z.mul(c(0.222_222_22)))))));
    c::<L>(2.0).mul(s).add(s.mul(z.mul(p)))
}

/// [`super::scalar_f32::ln`] for positive normal finite lanes; other lanes
/// get the twin's special values too.
#[inline(always)]
pub(crate) fn ln<L: LanesF32>(x: L) -> L {
    let (ef, r) = ln_parts(x);
    let y = ef.mul(c(LN2_HI)).add(r.add(ef.mul(c(LN2_LO))));
    let y = L::select(x.eq(c(f32::INFINITY)), c(f32::INFINITY), y);
    let y = L::select(x.lt(c(f32::MIN_POSITIVE)), c(f32::NEG_INFINITY), y);
    // NaN or negative: NaN (`x == x` is false for NaN).
    let ok = L::and_not(x.eq(x), x.lt(c(0.0)));
    L::select(ok, y, c(f32::NAN))
}

/// [`super::scalar_f32`]'s `ln_parts`: `(e, r)` with `ln x = e·ln 2 + r`.
#[inline(always)]
fn ln_parts<L: LanesF32>(x: L) -> (L, L) {
    let (e, m) = x.split();
    let big = c::<L>(SQRT2).lt(m);
    let m = L::select(big, m.mul(c(0.5)), m);
    let ef = L::select(big, e.add(c(1.0)), e);
    (ef, two_atanh(m.sub(c(1.0)).div(m.add(c(1.0)))))
}

/// `m ? a() : b()` per lane, evaluating a side only when some lane takes it
/// (the other lanes' values are discarded, so this is the same as
/// computing both).
#[inline(always)]
fn choose<L: LanesF32>(m: L::Mask, a: impl FnOnce() -> L, b: impl FnOnce() -> L) -> L {
    let none = L::splat(0.0);
    let all = L::mask(true);
    match (L::any(m), L::any(L::and_not(all, m))) {
        (true, true) => L::select(m, a(), b()),
        (true, false) => a(),
        (false, true) => b(),
        (false, false) => none,
    }
}

#[inline(always)]
fn log1p<L: LanesF32>(x: L) -> L {
    choose(
        x.abs().lt(c(0.25)),
        #[inline(always)]
        || two_atanh(x.div(c::<L>(2.0).add(x))),
        #[inline(always)]
        || ln(c::<L>(1.0).add(x)),
    )
}

#[inline(always)]
fn exp<L: LanesF32>(x: L) -> L {
    // Lanes outside [-103.97, 88.72] (and NaN lanes) get their special value
    // at the end; they compute with x = 0 meanwhile, so that dead lanes never
    // make subnormal intermediates (slow on x86) and the rare paths below
    // are skipped when no lane needs them. Live lanes are unaffected.
    let live = L::and_not(c::<L>(-103.97).le(x), c::<L>(88.72).lt(x));
    let xs = L::select(live, x, c(0.0));
    let k = xs.mul(c(LOG2_E)).add(c(0.5)).floor();
    let r = xs.sub(k.mul(c(LN2_HI))).sub(k.mul(c(LN2_LO)));
    let mut p = c::<L>(0.000_198_412_7);
    for q in [
        0.001_388_888_9,
        0.008_333_334,
        0.041_666_668,
        0.166_666_67,
        0.5,
        1.0,
        1.0,
    ] {
        p = c::<L>(q).add(r.mul(p));
    }
    let high = c::<L>(127.0).lt(k);
    let low = k.lt(c(-126.0));
    let mid = p.mul(clamp_exponent(k).pow2i());
    let y = choose(
        high,
        #[inline(always)]
        || p.mul(c(2.0)).mul(clamp_exponent(k.sub(c(1.0))).pow2i()),
        #[inline(always)]
        || {
            choose(
                low,
                #[inline(always)]
                || {
                    p.mul(clamp_exponent(k.add(c(64.0))).pow2i())
                        .mul(c(5.421_011e-20))
                },
                #[inline(always)]
                || mid,
            )
        },
    );
    let y = L::select(x.lt(c(-103.97)), c(0.0), y);
    let y = L::select(c::<L>(88.72).lt(x), c(f32::INFINITY), y);
    L::select(x.eq(x), y, x)
}

#[inline(always)]
fn hypot<L: LanesF32>(a: L, b: L) -> L {
    let m = max(a, b);
    let n = L::select(b.lt(a), b, a);
    let r = n.div(m);
    let h = m.mul(c::<L>(1.0).add(r.mul(r)).sqrt());
    L::select(m.eq(c(0.0)), c(0.0), h)
}

#[inline(always)]
fn lgamma1p<L: LanesF32>(v: L) -> L {
    let m = v.floor();
    let f = v.sub(m);
    let mut acc = c::<L>(0.0);
    for q in LGAMMA2.iter().rev() {
        acc = acc.mul(f).add(c(*q));
    }
    // v < 8 here: at most seven factors.
    let mut prod = c::<L>(1.0);
    let mut j = 1.0;
    while j <= 7.0 {
        prod = L::select(c::<L>(j).le(m), prod.mul(f.add(c(j))), prod);
        j += 1.0;
    }
    acc.mul(f).sub(log1p(f)).add(ln(prod))
}

/// The twin's test for `k + 1` Debye terms at order `v`: `sup_k·v^-(k+1)`
/// (the power by `k + 1` products with the rounded `1/v`) below `TAIL`.
const fn debye_enough(v: f32, k: usize) -> bool {
    let inv = 1.0 / v;
    let mut bound = 1.0f32;
    let mut j = 0;
    while j <= k {
        bound *= inv;
        j += 1;
    }
    (DEBYE_SUP[k] as f32) * bound < TAIL
}

/// `DEBYE_ORDER_F32[k]`: the smallest f32 order at which
/// [`debye_enough`]`(v, k)` holds (it holds for every larger order: `1/v`
/// and each rounded product only shrink as `v` grows), found by
/// [`first_holding!`]; infinite where it never holds below `f32::MAX`.
const DEBYE_ORDER_F32: [f32; DEBYE_TERMS_F32] = {
    let mut t = [0.0f32; DEBYE_TERMS_F32];
    let mut k = 0;
    while k < DEBYE_TERMS_F32 {
        t[k] = if debye_enough(1.0, k) {
            1.0
        } else if !debye_enough(f32::MAX, k) {
            f32::INFINITY
        } else {
            first_holding!(f32, 1.0, f32::MAX, |v| debye_enough(v, k))
        };
        k += 1;
    }
    t
};

/// The twin's number of Debye terms at order `v` (its first `k` with
/// [`debye_enough`]`(v, k)`) from the orders where each test starts to hold:
/// compares instead of a chain of products per lane.
#[inline(always)]
fn debye_count<L: LanesF32>(v: L) -> L {
    let mut n = c::<L>(DEBYE_TERMS_F32 as f32);
    for (k, &from) in DEBYE_ORDER_F32.iter().enumerate().rev() {
        n = L::select(c::<L>(from).le(v), c(k as f32), n);
    }
    n
}

/// Debye expansion, `v >= 8`.
#[inline(always)]
pub(crate) fn debye<L: LanesF32, const IS_K: bool>(v: L, x: L) -> L {
    let s = hypot(v, x);
    let vs = v.add(s);
    let q = x.div(vs);
    let ln_q = choose(
        q.lt(c(f32::MIN_POSITIVE)),
        #[inline(always)]
        || ln(x).sub(ln(vs)),
        #[inline(always)]
        || ln(q),
    );
    let v_eta = s.add(v.mul(ln_q));
    // −½ ln v − ¼ ln(1 + x²/v²) = −½ ln s.
    let half_ln_s = c::<L>(0.5).mul(ln(s));
    let t = v.div(s);
    let t2 = t.mul(t);
    let n = debye_count(v);
    let step = t.div(v);
    let mut pw = c::<L>(1.0);
    let mut sum = c::<L>(0.0);
    let mut sign = 1.0f32;
    for (k, row) in DEBYE_U.iter().take(DEBYE_TERMS_F32).enumerate() {
        let on = c::<L>(k as f32).lt(n);
        if !L::any(on) {
            break;
        }
        pw = pw.mul(step);
        sign = -sign;
        let mut acc = c::<L>(0.0);
        for q in row.iter().take(k + 2).rev() {
            acc = acc.mul(t2).add(c(*q as f32));
        }
        let term = pw.mul(acc);
        let term = if IS_K { c::<L>(sign).mul(term) } else { term };
        sum = L::select(on, sum.add(term), sum);
    }
    if IS_K {
        c::<L>(0.5 * LN_PI_2)
            .sub(half_ln_s)
            .sub(v_eta)
            .add(log1p(sum))
    } else {
        c::<L>(-0.5 * LN_2PI)
            .sub(half_ln_s)
            .add(v_eta)
            .add(log1p(sum))
    }
}

/// Hankel expansion, `v < 8`, `x >= max(12, v²/2)`.
#[inline(always)]
pub(crate) fn hankel<L: LanesF32, const IS_K: bool>(v: L, x: L) -> L {
    let sign = c::<L>(if IS_K { 1.0 } else { -1.0 });
    let mu = c::<L>(4.0).mul(v).mul(v);
    let mut cc = c::<L>(1.0);
    let mut sum = c::<L>(0.0);
    let mut prev = c::<L>(f32::INFINITY);
    let mut active = L::mask(true);
    let mut k = 1.0f32;
    while k < 64.0 {
        let odd = 2.0 * k - 1.0;
        let d = c::<L>(8.0 * k).mul(x);
        cc = cc.mul(sign.mul(mu.sub(c(odd * odd))).div(d));
        let a = cc.abs();
        let go = L::and_not(active, prev.lt(a));
        sum = L::select(go, sum.add(cc), sum);
        let done = a.le(c::<L>(TAIL).mul(c::<L>(1.0).add(sum).abs()));
        active = L::and_not(go, done);
        prev = L::select(active, a, prev);
        if !L::any(active) {
            break;
        }
        k += 1.0;
    }
    let tail = log1p(sum);
    if IS_K {
        c::<L>(0.5).mul(c::<L>(LN_PI_2).sub(ln(x))).sub(x).add(tail)
    } else {
        x.sub(c::<L>(0.5).mul(c::<L>(LN_2PI).add(ln(x)))).add(tail)
    }
}

/// Power series of `I`, `v < 8` below the Hankel region.
#[inline(always)]
pub(crate) fn series_i<L: LanesF32>(v: L, x: L) -> L {
    let q = c::<L>(0.25).mul(x).mul(x);
    let mut term = c::<L>(1.0);
    let mut tail = c::<L>(0.0);
    let mut active = L::mask(true);
    let mut k = 1.0f32;
    while k < 128.0 {
        term = term.mul(q.div(c::<L>(k).mul(v.add(c(k)))));
        tail = L::select(active, tail.add(term), tail);
        let done = term.le(c::<L>(TAIL).mul(c::<L>(1.0).add(tail)));
        active = L::and_not(active, done);
        if !L::any(active) {
            break;
        }
        k += 1.0;
    }
    let prefix = v.mul(ln(x).sub(c(LN2_HI)).sub(c(LN2_LO))).sub(lgamma1p(v));
    let prefix = L::select(v.eq(c(0.0)), c(0.0), prefix);
    prefix.add(log1p(tail))
}

/// `ln` of the integrand of `K` at `t`: `-x·cosh t + ln cosh(v·t)`.
#[inline(always)]
fn k_log_integrand<L: LanesF32>(t: L, v: L, x: L, ln_half_x: L) -> L {
    let xc = choose(
        t.lt(c(30.0)),
        #[inline(always)]
        || {
            let e = exp(t);
            c::<L>(0.5).mul(x).mul(e.add(c::<L>(1.0).div(e)))
        },
        #[inline(always)]
        || exp(t.add(ln_half_x)),
    );
    let a = v.mul(t);
    let s = a
        .add(log1p(exp(c::<L>(-2.0).mul(a))))
        .sub(c(LN2_HI))
        .sub(c(LN2_LO));
    // `-xc + s` of the twin: the same IEEE operation as `s - xc`.
    s.sub(xc)
}

/// The integrand at node `j` relative to the peak: `exp(g(j·h) − g_ref)`.
#[inline(always)]
fn k_node<L: LanesF32>(j: L, h: L, v: L, x: L, ln_half_x: L, g_ref: L) -> L {
    exp(k_log_integrand(j.mul(h), v, x, ln_half_x).sub(g_ref))
}

#[inline(always)]
fn clamp_exponent<L: LanesF32>(e: L) -> L {
    max(c(-126.0), L::select(c::<L>(127.0).lt(e), c(127.0), e))
}

/// Trapezoid integral of `K`, `v < 8` below the Hankel region.
#[inline(always)]
pub(crate) fn integral_k<L: LanesF32>(v: L, x: L) -> L {
    let w = hypot(x, v);
    let mut h = c::<L>(0.0);
    for &(d, one_minus_cos, minus_ln_cos) in STRIP.iter() {
        let growth = w
            .mul(c(one_minus_cos as f32))
            .add(v.mul(c(minus_ln_cos as f32)));
        let y = c::<L>(2.0 * PI * d as f32).div(c::<L>(18.0).add(growth));
        h = max(h, y);
    }
    let q = v.div(x);
    let mid = ln(q.add(q.mul(q).add(c(1.0)).sqrt()));
    let far = ln(c::<L>(2.0).mul(v)).sub(ln(x));
    let t_peak = L::select(
        v.mul(v).le(x),
        c(0.0),
        L::select(v.lt(c::<L>(1e4).mul(x)), mid, far),
    );
    let ln_half_x = ln(x).sub(c(LN2_HI)).sub(c(LN2_LO));
    // (A function, not a closure: a closure that is not inlined may be
    // compiled without the caller's target features.)
    let j0 = t_peak.div(h).add(c(0.5)).floor();
    let g_ref = k_log_integrand(j0.mul(h), v, x, ln_half_x);
    let zero = c::<L>(0.0);
    let mut sum = L::select(j0.eq(zero), c(0.5), c(1.0));
    // Nodes are evaluated four at a time (independent work, so the CPU
    // overlaps them) and then added one by one in the twin's order, each
    // lane stopping at its own rule: the same sums as one node per step.
    const UNROLL: usize = 4;
    let limit = j0.add(c(4096.0));
    let mut j = j0.add(c(1.0));
    let mut active = j.lt(limit);
    let mut steps = 0;
    while L::any(active) && steps < 4096 {
        let mut f = [g_ref; UNROLL];
        for (u, f) in f.iter_mut().enumerate() {
            *f = k_node(j.add(c(u as f32)), h, v, x, ln_half_x, g_ref);
        }
        for f in f {
            sum = L::select(active, sum.add(f), sum);
            let done = f.le(c::<L>(TAIL).mul(sum));
            j = j.add(c(1.0));
            active = L::and(L::and_not(active, done), j.lt(limit));
        }
        steps += UNROLL;
    }
    let floor = j0.sub(c(4096.0));
    let mut j = j0.sub(c(1.0));
    let mut active = L::and(zero.le(j), floor.lt(j));
    let mut steps = 0;
    while L::any(active) && steps < 4096 {
        let mut f = [g_ref; UNROLL];
        for (u, f) in f.iter_mut().enumerate() {
            *f = k_node(j.sub(c(u as f32)), h, v, x, ln_half_x, g_ref);
        }
        for f in f {
            let wgt = L::select(j.eq(zero), c(0.5), c(1.0));
            let f = f.mul(wgt);
            sum = L::select(active, sum.add(f), sum);
            let done = f.le(c::<L>(TAIL).mul(sum));
            j = j.sub(c(1.0));
            active = L::and(L::and_not(active, done), L::and(zero.le(j), floor.lt(j)));
        }
        steps += UNROLL;
    }
    g_ref.add(ln(h.mul(sum)))
}

/// Horner's rule, lowest coefficient first (the twin's `poly`).
#[inline(always)]
fn poly<L: LanesF32>(z: L, coefficients: &[f32]) -> L {
    let mut acc = c::<L>(0.0);
    for a in coefficients.iter().rev() {
        acc = acc.mul(z).add(c(*a));
    }
    acc
}

/// The upward recurrence of the twin's `upward`: from order `μ + 1` (with
/// `ρ = K_μ/K_{μ+1}`) to `v`, `prod` times each step's `D` (`OVER_X`:
/// `D/x`), and the number of steps.
#[inline(always)]
fn upward<L: LanesF32, const OVER_X: bool>(mu: L, v: L, x: L, rho: L, prod: L) -> (L, L) {
    let one = c::<L>(1.0);
    let (mut rho, mut prod, mut steps) = (rho, prod, c::<L>(0.0));
    let mut order = mu.add(one);
    let top = v.sub(c(0.25));
    // At most seven steps (v < 8).
    for _ in 0..7 {
        let up = order.lt(top);
        if !L::any(up) {
            break;
        }
        let d = c::<L>(2.0).mul(order).add(x.mul(rho));
        let f = if OVER_X { d.div(x) } else { d };
        prod = L::select(up, prod.mul(f), prod);
        rho = L::select(up, x.div(d), rho);
        steps = L::select(up, steps.add(one), steps);
        order = order.add(one);
    }
    (prod, steps)
}

/// Temme's series of `K` and the upward ratio recurrence, `v < 8`,
/// `x <= TEMME_MAX_X` (the twin's `temme_k`).
#[inline(always)]
pub(crate) fn temme_k<L: LanesF32>(v: L, x: L) -> L {
    let one = c::<L>(1.0);
    let n = v.add(c(0.5)).floor();
    let mu = v.sub(n);
    let m2 = mu.mul(mu);
    let (mut g1, mut g2) = (c::<L>(0.0), c::<L>(0.0));
    for pair in RGAMMA_F32.chunks_exact(2).rev() {
        g2 = g2.mul(m2).add(c(pair[0]));
        g1 = g1.mul(m2).sub(c(pair[1]));
    }
    let rg_plus = g2.sub(mu.mul(g1));
    let rg_minus = g2.add(mu.mul(g1));
    let (e, r) = ln_parts(x);
    let ln_x = e.mul(c(LN2_HI)).add(r.add(e.mul(c(LN2_LO))));
    let k = one.sub(e);
    let ln_2_over_x = k.mul(c(LN2_HI)).add(k.mul(c(LN2_LO)).sub(r));
    let sigma = mu.mul(ln_2_over_x);
    let e_sigma = exp(sigma);
    let inv_e = one.div(e_sigma);
    let sinhc = choose(
        sigma.abs().lt(one),
        #[inline(always)]
        || poly(sigma.mul(sigma), &SINHC),
        #[inline(always)]
        || c::<L>(0.5).mul(e_sigma.sub(inv_e)).div(sigma),
    );
    let pimu = c::<L>(PI).mul(mu);
    let fact = one.div(poly(pimu.mul(pimu), &SINC));
    let cosh = c::<L>(0.5).mul(e_sigma.add(inv_e));
    let mut f = fact.mul(cosh.mul(g1).add(sinhc.mul(ln_2_over_x).mul(g2)));
    let mut p = c::<L>(0.5).mul(e_sigma).div(rg_plus);
    let mut q = c::<L>(0.5).mul(inv_e).div(rg_minus);
    let q2 = c::<L>(0.25).mul(x).mul(x);
    let mut cc = one;
    let mut sum_f = f;
    let mut sum_h = p;
    let mut active = L::mask(true);
    let mut kk = 1.0f32;
    while kk < 64.0 {
        let kl = c::<L>(kk);
        f = kl.mul(f).add(p).add(q).div(kl.mul(kl).sub(m2));
        p = p.div(kl.sub(mu));
        q = q.div(kl.add(mu));
        cc = cc.mul(q2.div(kl));
        let df = cc.mul(f);
        sum_f = L::select(active, sum_f.add(df), sum_f);
        sum_h = L::select(active, sum_h.add(cc.mul(p.sub(kl.mul(f)))), sum_h);
        let done = df.abs().le(c::<L>(TAIL).mul(sum_f));
        active = L::and_not(active, done);
        if !L::any(active) {
            break;
        }
        kk += 1.0;
    }
    let rho = x.mul(sum_f).div(c::<L>(2.0).mul(sum_h));
    let (prod, steps) = upward::<L, false>(mu, v, x, rho, one);
    let up = ln_2_over_x.add(ln(sum_h.mul(prod))).sub(steps.mul(ln_x));
    L::select(n.eq(c(0.0)), ln(sum_f), up)
}

/// Steed's continued fraction for `K`, `v < 8`, `STEED_MIN_X < x` below the
/// Hankel region (the twin's `steed_k`).
#[inline(always)]
pub(crate) fn steed_k<L: LanesF32>(v: L, x: L) -> L {
    let one = c::<L>(1.0);
    let n = v.add(c(0.5)).floor();
    let mu = v.sub(n);
    let m2 = mu.mul(mu);
    let mut b = c::<L>(2.0).mul(one.add(x));
    let mut d = one.div(b);
    let mut dh = d;
    let mut h = d;
    let mut a_prev = m2.sub(c(0.25));
    let mut u_prev = c::<L>(0.0);
    let mut u = c::<L>(0.25).sub(m2);
    let mut big_q = u;
    let mut s = dh.mul(big_q);
    let mut active = L::mask(true);
    let mut kk = 1.0f32;
    while kk < STEED_MAX_ITER {
        let kl = c::<L>(kk);
        let half = c::<L>(kk + 0.5);
        // −((k + ½)² − μ²): negation is exact, as in the twin.
        let a = c::<L>(0.0).sub(half.mul(half).sub(m2));
        let u_next = b.mul(u).add(a_prev.mul(u_prev).div(kl)).div(c(kk + 1.0));
        u_prev = u;
        u = u_next;
        a_prev = a;
        big_q = big_q.add(u);
        b = b.add(c(2.0));
        d = one.div(b.add(a.mul(d)));
        dh = dh.mul(b.mul(d).sub(one));
        h = L::select(active, h.add(dh), h);
        let ds = dh.mul(big_q);
        s = L::select(active, s.add(ds), s);
        let done = L::and(
            ds.abs().le(c::<L>(TAIL).mul(one.add(s).abs())),
            dh.abs().le(c::<L>(TAIL).mul(h.abs())),
        );
        active = L::and_not(active, done);
        if !L::any(active) {
            break;
        }
        kk += 1.0;
    }
    let ln_x = ln(x);
    let ln_k_mu = c::<L>(0.5)
        .mul(c::<L>(LN_PI_2).sub(ln_x))
        .sub(x)
        .sub(log1p(s));
    let r = mu.add(c(0.5)).add(x).add(m2.sub(c(0.25)).mul(h)).div(x);
    let (prod, _) = upward::<L, true>(mu, v, x, one.div(r), r);
    L::select(n.eq(c(0.0)), ln_k_mu, ln_k_mu.add(ln(prod)))
}

/// One lane kernel: a branch of `ln I` or `ln K`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kernel {
    DebyeI,
    DebyeK,
    HankelI,
    HankelK,
    SeriesI,
    TemmeK,
    SteedK,
    IntegralK,
}

/// Runs `kernel` on lanes of finite positive normal inputs of its branch.
#[inline(always)]
pub(crate) fn run<L: LanesF32>(kernel: Kernel, v: L, x: L) -> L {
    match kernel {
        Kernel::DebyeI => debye::<L, false>(v, x),
        Kernel::DebyeK => debye::<L, true>(v, x),
        Kernel::HankelI => hankel::<L, false>(v, x),
        Kernel::HankelK => hankel::<L, true>(v, x),
        Kernel::SeriesI => series_i(v, x),
        Kernel::TemmeK => temme_k(v, x),
        Kernel::SteedK => steed_k(v, x),
        Kernel::IntegralK => integral_k(v, x),
    }
}

/// Where the lane kernels with long loops split their inputs by argument
/// (a group runs until its slowest lane stops): I's power series (2 terms
/// at `x = 1e-4`, about 40 near 12), K's Steed fraction (65 terms at 0.5,
/// about 15 near 12) and the Hankel sums (about 20 terms near 12, a few
/// beyond 1000). Measured on the reference grid: +4-9% for I and K.
const SERIES_SPLIT_X: f32 = 1.0;
const STEED_SPLIT_X: f32 = 2.0;
const HANKEL_SPLIT_X: f32 = 100.0;

/// The queue (0 Debye, 1 Hankel (`x <= 100`), 2 small arguments (I:
/// `x <= 1`), 3 Temme's series and 4 Steed's fraction (`x <= 2`) for K, 5
/// I's power series for `x > 1` or Steed's fraction for `x > 2`, 6 Hankel
/// beyond 100) for `(v, x)` (with
/// `v` already `|v|` for K), or `None` when the scalar twin must take it
/// (zero, subnormal, negative, NaN or infinite inputs: the special values).
#[inline(always)]
fn queue_of(v: f32, x: f32, is_k: bool) -> Option<usize> {
    // Both finite and normal (NaN is outside the range), or v exactly 0.
    let normal = f32::MIN_POSITIVE..f32::INFINITY;
    if !normal.contains(&x) || !(normal.contains(&v) || v == 0.0) {
        return None;
    }
    Some(if v >= 8.0 {
        0
    } else if x >= 12f32.max(0.5 * v * v) {
        if x > HANKEL_SPLIT_X {
            6
        } else {
            1
        }
    } else if is_k && x <= TEMME_MAX_X {
        3
    } else if is_k && x > STEED_MIN_X {
        if x > STEED_SPLIT_X {
            5
        } else {
            4
        }
    } else if !is_k && x > SERIES_SPLIT_X {
        5
    } else {
        2
    })
}

/// Fills `out` (lengths checked by the caller) with the twin's `ln I` or
/// `ln K`: inputs are queued per kernel and `run_lanes` takes `W` at a time;
/// special values go through the scalar twin.
pub(crate) fn fill<const W: usize>(
    v: &[f32],
    x: &[f32],
    out: &mut [f32],
    is_k: bool,
    run_lanes: impl Fn(Kernel, &[f32; W], &[f32; W]) -> [f32; W],
) {
    // (Queues 3 and 4 are never used for I.)
    let kernels = if is_k {
        [
            Kernel::DebyeK,
            Kernel::HankelK,
            Kernel::IntegralK,
            Kernel::TemmeK,
            Kernel::SteedK,
            Kernel::SteedK,
            Kernel::HankelK,
        ]
    } else {
        [
            Kernel::DebyeI,
            Kernel::HankelI,
            Kernel::SeriesI,
            Kernel::SeriesI,
            Kernel::SeriesI,
            Kernel::SeriesI,
            Kernel::HankelI,
        ]
    };
    // Seven separate queues rather than an array of them: each queue's
    // length can then stay in a register (with an array indexed by the
    // queue number it went through memory on every input, and that chain
    // cost a third of the Debye slices' time).
    let mut q0 = super::Queue::<f32, W>::new();
    let mut q1 = super::Queue::<f32, W>::new();
    let mut q2 = super::Queue::<f32, W>::new();
    let mut q3 = super::Queue::<f32, W>::new();
    let mut q4 = super::Queue::<f32, W>::new();
    let mut q5 = super::Queue::<f32, W>::new();
    let mut q6 = super::Queue::<f32, W>::new();
    let n = v.len().min(x.len()).min(out.len());
    let (v, x, out) = (&v[..n], &x[..n], &mut out[..n]);
    let mut put = |i: usize, y: f32| {
        if let Some(o) = out.get_mut(i) {
            *o = y;
        }
    };
    for (i, (&a, &b)) in v.iter().zip(x).enumerate() {
        let a = if is_k { libm::fabsf(a) } else { a };
        let q = queue_of(a, b, is_k);
        let queue = match q {
            Some(0) => &mut q0,
            Some(1) => &mut q1,
            Some(2) => &mut q2,
            Some(3) => &mut q3,
            Some(4) => &mut q4,
            Some(5) => &mut q5,
            Some(_) => &mut q6,
            None => {
                put(
                    i,
                    if is_k {
                        super::scalar_f32::log_k(a, b)
                    } else {
                        super::scalar_f32::log_i(a, b)
                    },
                );
                continue;
            }
        };
        if queue.push(i, a, b) {
            let kernel = kernels[q.unwrap_or(0).min(6)];
            queue.flush(|v, x| run_lanes(kernel, v, x), &mut put);
        }
    }
    for (q, queue) in [q0, q1, q2, q3, q4, q5, q6].iter_mut().enumerate() {
        queue.flush(|v, x| run_lanes(kernels[q], v, x), &mut put);
    }
}

#[cfg(test)]
mod tests {
    use super::super::scalar_f32;
    use super::*;

    /// The lane-generic code instantiated with plain `f32` is the scalar
    /// twin, bit for bit, in every branch.
    #[test]
    fn lanes_f32_equal_the_scalar_twin() {
        let mut rng = crate::rng::Rng::new(11);
        let mut checked = 0;
        for _ in 0..20_000 {
            let v = (rng.next_f64() * 40.0) as f32 * if rng.next_f64() < 0.5 { 1.0 } else { 0.2 };
            let x = libm::exp(rng.next_f64() * 18.0 - 9.0) as f32;
            let (i, k) = if v >= 8.0 {
                (debye::<f32, false>(v, x), debye::<f32, true>(v, x))
            } else if x >= 12f32.max(0.5 * v * v) {
                (hankel::<f32, false>(v, x), hankel::<f32, true>(v, x))
            } else if x <= TEMME_MAX_X {
                (series_i(v, x), temme_k(v, x))
            } else if x > STEED_MIN_X {
                (series_i(v, x), steed_k(v, x))
            } else {
                (series_i(v, x), integral_k(v, x))
            };
            assert_eq!(
                i.to_bits(),
                scalar_f32::log_i(v, x).to_bits(),
                "I v={v} x={x}"
            );
            assert_eq!(
                k.to_bits(),
                scalar_f32::log_k(v, x).to_bits(),
                "K v={v} x={x}"
            );
            checked += 1;
        }
        assert_eq!(checked, 20_000);
        // The Debye term counts from the threshold orders equal the twin's
        // chain of products around every threshold and across the region.
        let loop_count = |v: f32| {
            (0..DEBYE_TERMS_F32)
                .find(|&k| debye_enough(v, k))
                .unwrap_or(DEBYE_TERMS_F32)
        };
        let table_count = |v: f32| debye_count::<f32>(v) as usize;
        let mut probes = 0;
        for &from in DEBYE_ORDER_F32.iter().filter(|f| f.is_finite()) {
            let b = from.to_bits();
            for v in (b.saturating_sub(20_000)..b + 20_000).map(f32::from_bits) {
                assert_eq!(loop_count(v), table_count(v), "v = {v:e}");
                probes += 1;
            }
        }
        for _ in 0..200_000 {
            let v = libm::exp(rng.next_f64() * 80.0) as f32 + 8.0;
            assert_eq!(loop_count(v), table_count(v), "v = {v:e}");
            probes += 1;
        }
        assert!(probes > 400_000);
        for x in [
            1e-30f32,
            0.5,
            3.0,
            1e3,
            f32::INFINITY,
            0.0,
            -1.0,
            f32::NAN,
            1e-40,
        ] {
            let a = ln(x);
            let b = scalar_f32::ln(x);
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "ln {x}"
            );
        }
        for x in [
            -200.0f32,
            -103.0,
            -90.0,
            -87.5,
            0.0,
            1.0,
            88.0,
            88.7,
            89.0,
            f32::NAN,
        ] {
            let a = exp(x);
            let b = scalar_f32::exp(x);
            assert!(
                a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                "exp {x}"
            );
        }
    }
}
