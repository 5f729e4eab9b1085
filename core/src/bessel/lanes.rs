//! Lane-generic f64 kernels: one body, instantiated for plain `f64` (the
//! scalar specification) and for SIMD vectors (`x86.rs`: AVX2 `__m256d`,
//! `wasm32.rs`: simd128 `f64x2`).
//!
//! Only correctly rounded IEEE operations are used (`+ - * /`, `sqrt`,
//! compare/select, bit extraction), never fused multiply-add, so every
//! instantiation returns bit-identical results; the tests check exactly that.
//! The logarithm is this module's own (`ln`, `log1p`), accurate to about one
//! ulp: `ln(1+f) = 2 atanh(f/(2+f))` on `[1/√2, √2)`, arranged so that the
//! largest part of the result is formed exactly.

use super::debye_table::{N as DEBYE_N, SUP as DEBYE_SUP, U as DEBYE_U};
use core::mem::MaybeUninit;

/// Operations a lane type offers. All are IEEE correctly rounded per lane.
pub(crate) trait Lanes: Copy {
    /// Lane mask from comparisons.
    type Mask: Copy;
    fn splat(x: f64) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn sqrt(self) -> Self;
    /// `self < o ? o : self` per lane (the larger for non-NaN lanes).
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Self::select(self.lt(o), o, self)
    }
    /// `o < self ? o : self` per lane (the smaller for non-NaN lanes).
    #[inline(always)]
    fn min(self, o: Self) -> Self {
        Self::select(o.lt(self), o, self)
    }
    fn lt(self, o: Self) -> Self::Mask;
    /// `self <= o` (false when either is NaN).
    fn le(self, o: Self) -> Self::Mask;
    /// `a && b` per lane.
    fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// `a && !b` per lane.
    fn and_not(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Every lane `b`.
    fn mask(b: bool) -> Self::Mask;
    /// Whether some lane is set.
    fn any(m: Self::Mask) -> bool;
    /// `m ? a : b` per lane.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Round to the nearest integer (ties to even), for `|x| < 2^51`:
    /// `(x + 1.5·2^52) - 1.5·2^52`.
    #[inline(always)]
    fn round(self) -> Self {
        let m = Self::splat(ROUND_MAGIC);
        self.add(m).sub(m)
    }
    /// `2^k` for integral `k` in `[-1022, 1023]` (built from the bits).
    fn pow2(self) -> Self;
    /// For positive normal finite lanes: `(e, m)` with `x = 2^e · m`,
    /// `m` in `[1, 2)`, `e` as an f64.
    fn frexp1(self) -> (Self, Self);
}

/// The methods a plain scalar (one lane; masks are `bool`) implements the
/// same way for [`Lanes`] (f64) and [`super::lanes_f32::LanesF32`] (f32):
/// IEEE arithmetic, `sqrt` from `$sqrt`, `<`, `<=`, selection and the
/// boolean mask operations.
macro_rules! scalar_methods {
    ($t:ty, $sqrt:path) => {
        #[inline(always)]
        fn splat(x: $t) -> Self {
            x
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            self + o
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            self - o
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            self * o
        }
        #[inline(always)]
        fn div(self, o: Self) -> Self {
            self / o
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            $sqrt(self)
        }
        #[inline(always)]
        fn lt(self, o: Self) -> bool {
            self < o
        }
        #[inline(always)]
        fn select(m: bool, a: Self, b: Self) -> Self {
            if m {
                a
            } else {
                b
            }
        }
        #[inline(always)]
        fn le(self, o: Self) -> bool {
            self <= o
        }
        #[inline(always)]
        fn and(a: bool, b: bool) -> bool {
            a && b
        }
        #[inline(always)]
        fn and_not(a: bool, b: bool) -> bool {
            a && !b
        }
        #[inline(always)]
        fn mask(b: bool) -> bool {
            b
        }
        #[inline(always)]
        fn any(m: bool) -> bool {
            m
        }
    };
}
pub(crate) use scalar_methods;

impl Lanes for f64 {
    type Mask = bool;
    scalar_methods!(f64, libm::sqrt);
    #[inline(always)]
    fn pow2(self) -> Self {
        let k = (self + ROUND_MAGIC)
            .to_bits()
            .wrapping_sub(ROUND_MAGIC.to_bits());
        f64::from_bits(k.wrapping_add(1023) << 52)
    }
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let bits = self.to_bits();
        // Exponent field as a float via the 2^52 trick (same as the SIMD impls).
        let e_field = f64::from_bits(((bits >> 52) & 0x7ff) | 0x4330_0000_0000_0000)
            - 4_503_599_627_370_496.0;
        let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
        (e_field - 1023.0, m)
    }
}

/// Two lane vectors side by side: twice the lanes, and two independent
/// dependency chains for the out-of-order core to overlap. Implements
/// [`Lanes`] here and [`super::lanes_f32::LanesF32`] there, each operation
/// applied to both halves.
#[derive(Clone, Copy)]
pub(crate) struct Pair<L>(pub(crate) L, pub(crate) L);

/// Methods of a [`Pair`] applied to both halves: `binary` ones
/// (`fn f(self, o: Self) -> Self`), `unary` ones (`fn f(self) -> Self`),
/// `mask` ones (`fn f(self, o: Self) -> Self::Mask`, a pair of masks).
macro_rules! pair_methods {
    (binary: $($b:ident),*; unary: $($u:ident),*; mask: $($m:ident),*) => {
        $(
            #[inline(always)]
            fn $b(self, o: Self) -> Self {
                Pair(self.0.$b(o.0), self.1.$b(o.1))
            }
        )*
        $(
            #[inline(always)]
            fn $u(self) -> Self {
                Pair(self.0.$u(), self.1.$u())
            }
        )*
        $(
            #[inline(always)]
            fn $m(self, o: Self) -> Self::Mask {
                (self.0.$m(o.0), self.1.$m(o.1))
            }
        )*
    };
}
pub(crate) use pair_methods;

/// The mask methods of a [`Pair`] over lane type `L` (masks are pairs):
/// `and`, `and_not`, `mask`, `any`.
macro_rules! pair_mask_methods {
    () => {
        #[inline(always)]
        fn and(a: Self::Mask, b: Self::Mask) -> Self::Mask {
            (L::and(a.0, b.0), L::and(a.1, b.1))
        }
        #[inline(always)]
        fn and_not(a: Self::Mask, b: Self::Mask) -> Self::Mask {
            (L::and_not(a.0, b.0), L::and_not(a.1, b.1))
        }
        #[inline(always)]
        fn mask(b: bool) -> Self::Mask {
            (L::mask(b), L::mask(b))
        }
        #[inline(always)]
        fn any(m: Self::Mask) -> bool {
            L::any(m.0) || L::any(m.1)
        }
    };
}
pub(crate) use pair_mask_methods;

impl<L: Lanes> Lanes for Pair<L> {
    type Mask = (L::Mask, L::Mask);
    #[inline(always)]
    fn splat(x: f64) -> Self {
        Pair(L::splat(x), L::splat(x))
    }
    pair_methods!(binary: add, sub, mul, div, max, min; unary: sqrt, round, pow2; mask: lt, le);
    #[inline(always)]
    fn select(m: Self::Mask, a: Self, b: Self) -> Self {
        Pair(L::select(m.0, a.0, b.0), L::select(m.1, a.1, b.1))
    }
    pair_mask_methods!();
    #[inline(always)]
    fn frexp1(self) -> (Self, Self) {
        let (e0, m0) = self.0.frexp1();
        let (e1, m1) = self.1.frexp1();
        (Pair(e0, e1), Pair(m0, m1))
    }
}

/// ln 2 rounded to 32 significant bits, so that `e·LN2_HI` is exact.
/// 1.5·2^52: adding and subtracting it rounds to an integer.
pub(crate) const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// ln 2 - LN2_HI, rounded.
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const SQRT2: f64 = core::f64::consts::SQRT_2;

/// `R(z) = Σ_{j=1..10} 2 z^j / (2j+1)`, so that `2 atanh(s) = 2s + s·R(s²)`;
/// truncation below 2^-58 relative for `|s| <= 0.1716`.
#[inline(always)]
fn atanh_tail<L: Lanes>(z: L) -> L {
    const C: [f64; 10] = [
        2.0 / 3.0,
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
        2.0 / 21.0,
    ];
    let mut acc = L::splat(C[9]);
    for c in C.iter().rev().skip(1) {
        acc = acc.mul(z).add(L::splat(*c));
    }
    acc.mul(z)
}

/// `ln(1 + f)` for `f` with `1 + f` in `[1/√2, √2)`, plus `e·ln 2`:
/// `e·LN2_HI - ((h - (s·(h + R) + e·LN2_LO)) - f)`, `h = f²/2`, `s = f/(2+f)`.
#[inline(always)]
fn ln1p_reduced<L: Lanes>(f: L, e: L) -> L {
    let s = f.div(L::splat(2.0).add(f));
    let r = atanh_tail(s.mul(s));
    let h = L::splat(0.5).mul(f).mul(f);
    let inner = s.mul(h.add(r)).add(e.mul(L::splat(LN2_LO)));
    e.mul(L::splat(LN2_HI)).sub(h.sub(inner).sub(f))
}

/// Natural log of positive normal finite lanes (no special-value handling).
#[inline(always)]
pub(crate) fn ln<L: Lanes>(x: L) -> L {
    let (e, m) = x.frexp1();
    let big = L::splat(SQRT2).lt(m);
    let m = L::select(big, m.mul(L::splat(0.5)), m);
    let e = L::select(big, e.add(L::splat(1.0)), e);
    ln1p_reduced(m.sub(L::splat(1.0)), e)
}

/// Natural log of positive finite lanes, subnormal ones included (scaled
/// by 2^54 first).
#[inline(always)]
pub(crate) fn ln_positive<L: Lanes>(x: L) -> L {
    const TWO54: f64 = 18_014_398_509_481_984.0;
    let tiny = x.lt(L::splat(f64::MIN_POSITIVE));
    let zero = L::splat(0.0);
    let y = ln(L::select(tiny, x.mul(L::splat(TWO54)), x));
    // 54·LN2_HI is exact (LN2_HI has 11 trailing zero bits).
    y.sub(L::select(tiny, L::splat(54.0 * LN2_HI), zero))
        .sub(L::select(tiny, L::splat(54.0 * LN2_LO), zero))
}

/// `ln(1 + y)` for `y > -1` (finite), accurate for small `y`.
#[inline(always)]
pub(crate) fn log1p<L: Lanes>(y: L) -> L {
    // Direct reduction when 1 + y is already in [1/√2, √2): no rounding of 1 + y.
    let direct = ln1p_reduced(y, L::splat(0.0));
    let general = ln(L::splat(1.0).add(y));
    let lo = L::splat(-0.29).lt(y);
    let hi = y.lt(L::splat(0.41));
    L::select(lo, L::select(hi, direct, general), general)
}

/// `1/k!` for `k = 2..=13`: the Taylor coefficients of `(e^r − 1 − r)/r²`.
const EXP_TAYLOR: [f64; 12] = [
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
];

/// `e^x` for `x` in `[-708, 709]` (clamped there): `x = k ln 2 + r`,
/// `|r| <= ln2/2`, `e^r = 1 + (r + r²·P(r))` with the Taylor polynomial to
/// `r^13/13!` (by Estrin's scheme), scaled by `2^k` from the bits.
#[inline(always)]
pub(crate) fn exp<L: Lanes>(x: L) -> L {
    const C: [f64; 12] = EXP_TAYLOR;
    let x = x.max(L::splat(-708.0)).min(L::splat(709.0));
    let k = x.mul(L::splat(core::f64::consts::LOG2_E)).round();
    let r = x.sub(k.mul(L::splat(LN2_HI))).sub(k.mul(L::splat(LN2_LO)));
    // Estrin's scheme (pairs, then powers r², r⁴, r⁸): a dependency chain
    // of five products instead of Horner's eleven (measured when the
    // trapezoid rule took two exponentials per node: its region 9 -> 11 M/s).
    let c = |i: usize| L::splat(C[i]);
    let r2 = r.mul(r);
    let r4 = r2.mul(r2);
    let r8 = r4.mul(r4);
    let pair = |i: usize| c(i).add(c(i + 1).mul(r));
    let s0 = pair(0).add(pair(2).mul(r2));
    let s1 = pair(4).add(pair(6).mul(r2));
    let s2 = pair(8).add(pair(10).mul(r2));
    let p = s0.add(s1.mul(r4)).add(s2.mul(r8));
    let e = L::splat(1.0).add(r.add(r2.mul(p)));
    e.mul(k.pow2())
}

/// `e^y − 1` for `|y| <= 0.125`, to about an ulp of itself: `y + y²·P(y)`
/// with the Taylor polynomial to `y^11/11!` (the first omitted term is below
/// 2^-60 of `y`).
#[inline(always)]
fn expm1_small<L: Lanes>(y: L) -> L {
    // Horner over 1/2! .. 1/11!.
    let mut acc = L::splat(0.0);
    for c in EXP_TAYLOR.iter().take(10).rev() {
        acc = acc.mul(y).add(L::splat(*c));
    }
    y.add(y.mul(y).mul(acc))
}

/// Integrand of `K_v(x) = ∫_0^∞ exp(-x cosh t) cosh(vt) dt` at nodes `t`,
/// divided by its value at the reference node: `exp(g(t) - g_ref)`,
/// `g(t) = ln cosh(vt) - x cosh t`. For `x >= 1e-6`, so that `cosh t` stays
/// far from overflow at every node the trapezoid rule visits.
#[inline(always)]
pub(crate) fn k_integrand<L: Lanes>(t: L, x: f64, v: f64, g_ref: f64) -> L {
    let e = exp(t);
    let xc = L::splat(0.5 * x).mul(e.add(L::splat(1.0).div(e)));
    let a = L::splat(v).mul(t);
    let lc = a
        .add(log1p(exp(L::splat(-2.0).mul(a))))
        .sub(L::splat(core::f64::consts::LN_2));
    exp(lc.sub(xc).sub(L::splat(g_ref)))
}

/// Distinct values [`debye_terms`] can return (`0..=N`).
pub(crate) const DEBYE_QUEUES: usize = DEBYE_N + 1;

/// Size of the first omitted term of the f64 Debye, Hankel, power-series
/// and Temme sums per unit of `1 + v` (Debye) or `1 + v + x` (the others):
/// 2^-57, so that it stays below `1/32` of the error unit
/// `eps·(1 + |ln| + v + x)` (the sums enter `ln I` and `ln K` as
/// `ln(1 + Σ)` or as a factor, so an omitted term is an absolute error of
/// its own relative size).
const UNIT_TAIL: f64 = 6.938893903907228e-18;

/// Whether `n` Debye terms suffice at order `v`: the first omitted term's
/// bound `SUP[n]·v^-(n+1)` (the power by repeated products with `1/v`) is
/// below `UNIT_TAIL·(1 + v)`.
const fn enough_terms(v: f64, n: usize) -> bool {
    let inv = 1.0 / v;
    let mut p = 1.0;
    let mut j = 0;
    while j <= n {
        p *= inv;
        j += 1;
    }
    DEBYE_SUP[n] * p < UNIT_TAIL * (1.0 + v)
}

/// The first value of float type `$t` in `(lo, hi]` at which `test` holds,
/// for a test that fails at `lo`, holds at `hi` and stays true once true:
/// bisection over the bit patterns of positive floats, which are ordered as
/// the values. Usable in constants.
macro_rules! first_holding {
    ($t:ty, $lo:expr, $hi:expr, |$v:ident| $test:expr) => {{
        let (mut lo, mut hi) = (<$t>::to_bits($lo), <$t>::to_bits($hi));
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let $v = <$t>::from_bits(mid);
            if $test {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        <$t>::from_bits(hi)
    }};
}
pub(crate) use first_holding;

/// `DEBYE_ORDER[n]`: the smallest order at which `n` terms suffice (by
/// [`enough_terms`]; [`first_holding!`] between 1 and 1e30).
static DEBYE_ORDER: [f64; DEBYE_N] = {
    let mut t = [0.0; DEBYE_N];
    let mut n = 0;
    while n < DEBYE_N {
        t[n] = first_holding!(f64, 1.0, 1e30, |v| enough_terms(v, n));
        n += 1;
    }
    t
};

/// Number of Debye terms for order `v` (as in the scalar kernel): the first
/// `n` with `v >= DEBYE_ORDER[n]` — compares only (a chain of up to twenty
/// products per input cost a fifth of the f64 Debye slices).
#[inline]
pub(crate) fn debye_terms(v: f64) -> usize {
    DEBYE_ORDER.iter().position(|&t| v >= t).unwrap_or(DEBYE_N)
}

/// `Σ_k u_k(t)/v^k` (I) or `Σ_k (-1)^k u_k(t)/v^k` (K) over `k = 1..=n`
/// in every lane (the callers group lanes by their number of terms), with
/// `step = t/v` (`= 1/hypot(v, x)`).
#[inline(always)]
pub(crate) fn debye_sum<L: Lanes, const IS_K: bool>(t: L, step: L, n: usize) -> L {
    let t2 = t.mul(t);
    // P_{k+1}(t²) by Horner (degree k+1, so k+2 coefficients), all k at
    // once: degree by degree, so that the independent chains overlap in the
    // CPU instead of running one after the other. Each chain performs the
    // same operations as its own Horner loop.
    // Chain k starts at degree k + 1 with its leading coefficient (what
    // `0·t² + c` gives): the array is written there before it is read, so it
    // needs no zeroing (20 values of up to 32 lanes: a memset of 5 KB per
    // call, a tenth of the Debye slices' time at 32 lanes).
    let nmax = n.min(DEBYE_N);
    let mut acc = [MaybeUninit::<L>::uninit(); DEBYE_N];
    for d in (0..=nmax).rev() {
        let first = d.saturating_sub(1);
        for (k, (a, row)) in acc
            .iter_mut()
            .zip(&DEBYE_U)
            .enumerate()
            .take(nmax)
            .skip(first)
        {
            let c = L::splat(row[d]);
            if k + 1 == d {
                a.write(c);
            } else {
                // SAFETY: chain k was written at degree k + 1 > d.
                let prev = unsafe { a.assume_init() };
                a.write(prev.mul(t2).add(c));
            }
        }
    }
    let mut pw = L::splat(1.0);
    let mut sum = L::splat(0.0);
    for (k, acc) in acc.iter().take(nmax).enumerate() {
        pw = pw.mul(step);
        // SAFETY: every chain below `nmax` was written at degree k + 1 <= nmax.
        let term = pw.mul(unsafe { acc.assume_init() });
        sum = if IS_K && k % 2 == 0 {
            sum.sub(term)
        } else {
            sum.add(term)
        };
    }
    sum
}

/// Debye expansion for lanes with `v >= 20`, `1e-290 <= x <= 1e300`,
/// `v <= 1e300`, `x >= 1e-300·v` (`scalar::lanes_ok`); every lane sums `n`
/// terms.
/// Returns `log I` or (`IS_K`) `log K`:
///
/// `ln I = v·η − ½ ln 2π − ½ ln s + ln(1 + Σ)`,
/// `ln K = −v·η + ½ ln(π/2) − ½ ln s + ln(1 + Σ')`, with `s = hypot(v, x)`
/// (the usual `−½ ln v − ¼ ln(1 + x²/v²)` is `−½ ln s`). For `v >= 20` the
/// sums are below 0.005 in magnitude (test
/// `debye_sums_stay_in_the_direct_log1p_range`), so `ln(1 + Σ)` takes the
/// reduction-free form.
#[inline(always)]
pub(crate) fn debye<L: Lanes, const IS_K: bool>(v: L, x: L, n: usize) -> L {
    let one = L::splat(1.0);
    let mx = v.max(x);
    let mn = v.min(x);
    let q = mn.div(mx);
    let s = mx.mul(one.add(q.mul(q)).sqrt()); // hypot(v, x)
    let inv_s = one.div(s);
    // v·η = s + v·ln(x / (v + s)).
    let v_eta = s.add(v.mul(ln(x.div(v.add(s)))));
    let sum = debye_sum::<L, IS_K>(v.mul(inv_s), inv_s, n);
    let half_ln_s = L::splat(0.5).mul(ln(s));
    let tail = ln1p_reduced(sum, L::splat(0.0));
    if IS_K {
        L::splat(0.5 * super::scalar::LN_PI_OVER_2)
            .sub(half_ln_s)
            .sub(v_eta)
            .add(tail)
    } else {
        v_eta
            .sub(L::splat(0.5 * super::scalar::LN_2PI))
            .sub(half_ln_s)
            .add(tail)
    }
}

/// Iteration budget of [`steed_fraction`].
pub(crate) const STEED_MAX_ITER: f64 = 2000.0;
/// 2^-55: a quarter of an ulp of both of Steed's results.
const STEED_TOL: f64 = 2.7755575615628914e-17;

/// The continued-fraction pass of `scalar::steed_k` for lanes of
/// `(v, x)`: `(S, h, settled)` — the normalisation sum `S`, the fraction
/// `h = z_1/z_0`, and whether the lane's two stopping rules were met within
/// [`STEED_MAX_ITER`] terms. Lanes run in step; a lane that has settled
/// keeps its `S` and `h` while the others go on (the scalar instance stops
/// at the same term), so every instance gives the same bits.
#[inline(always)]
pub(crate) fn steed_fraction<L: Lanes>(v: L, x: L) -> (L, L, L::Mask) {
    let one = L::splat(1.0);
    let mu = v.sub(v.round());
    let m2 = mu.mul(mu);
    // k = 1: D_1 = 1/b_1, Δh_1 = D_1; C_1 = −a_1 = ¼ − μ², q_1 = 1.
    let mut b = L::splat(2.0).mul(one.add(x));
    let mut d = one.div(b);
    let mut dh = d;
    let mut h = d;
    // u_k = C_k q_k, one product (C_k grows like k! and q_k shrinks alike):
    // u_{k+1} = (b_k u_k + a_k u_{k−1}/k)/(k + 1), u_0 = 0, u_1 = C_1 = −a_1,
    // the divisions by k and k + 1 as products with their reciprocals, so
    // that the fraction's `d` holds the only division per term.
    let mut a_prev = m2.sub(L::splat(0.25));
    let (mut u_prev, mut u) = (L::splat(0.0), L::splat(0.25).sub(m2));
    let mut big_q = u;
    let mut s = dh.mul(big_q);
    let mut active = L::mask(true);
    let mut k = 1.0;
    while k < STEED_MAX_ITER {
        // a_{k+1} = −((k + ½)² − μ²) (negation is exact), then k + 1.
        let a = L::splat(0.0).sub(L::splat((k + 0.5) * (k + 0.5)).sub(m2));
        let u_next = b
            .mul(u)
            .add(a_prev.mul(u_prev).mul(L::splat(1.0 / k)))
            .mul(L::splat(1.0 / (k + 1.0)));
        u_prev = u;
        u = u_next;
        a_prev = a;
        big_q = big_q.add(u);
        b = b.add(L::splat(2.0));
        d = one.div(b.add(a.mul(d)));
        dh = dh.mul(b.mul(d).sub(one));
        h = L::select(active, h.add(dh), h);
        let ds = dh.mul(big_q);
        s = L::select(active, s.add(ds), s);
        let tol = L::splat(STEED_TOL);
        let done = L::and(
            abs(ds).le(tol.mul(abs(one.add(s)))),
            abs(dh).le(tol.mul(abs(h))),
        );
        active = L::and_not(active, done);
        if !L::any(active) {
            break;
        }
        k += 1.0;
    }
    // Settled: every lane that met its rules (not the ones that ran out).
    (s, h, L::and_not(L::mask(true), active))
}

/// `ln K_v(x)` for lanes with `v < 20`, `x > 12` (`scalar::above_one_k`):
/// Steed's fraction, then `K_μ = √(π/(2x)) e^{−x}/(1 + S)`,
/// `K_{μ+1}/K_μ = (μ + ½ + x + (μ² − ¼) h)/x` and the upward recurrence to
/// `v`; and whether each lane's value is valid (its fraction settled with
/// `−1 < S < ∞` and a finite `h`; else the caller takes the order-`v`
/// trapezoid rule).
#[inline(always)]
pub(crate) fn steed_k<L: Lanes>(v: L, x: L) -> (L, L::Mask) {
    let (s, h, settled) = steed_fraction(v, x);
    let inf = L::splat(f64::INFINITY);
    let ok = L::and(
        L::and(settled, abs(h).lt(inf)),
        L::and(L::splat(-1.0).lt(s), s.lt(inf)),
    );
    // Invalid lanes go on with S = 0 and h = 0 (their values are unused;
    // measured ~10% faster in Steed's region than without the selects).
    let s = L::select(ok, s, L::splat(0.0));
    let h = L::select(ok, h, L::splat(0.0));
    // μ as in the fraction (nearest integer, ties to even).
    let n = v.round();
    let mu = v.sub(n);
    let m2 = mu.mul(mu);
    let r = mu
        .add(L::splat(0.5))
        .add(x)
        .add(m2.sub(L::splat(0.25)).mul(h))
        .div(x);
    // K_v/K_μ = m 2^e (m = 1, e = 0 where v = μ); ln K_μ's own factor
    // 1/(1 + S) joins m in one logarithm, as in the other finishes.
    let (m, e) = k_upward(L::splat(1.0), r, mu, v, L::splat(2.0).div(x));
    let up = L::splat(0.0).lt(n);
    let m = L::select(up, m, L::splat(1.0));
    let e = L::select(up, e, L::splat(0.0));
    let y = ln_k_prefix(x, ln(x))
        .add(ln(m.div(L::splat(1.0).add(s))))
        .add(e.mul(L::splat(core::f64::consts::LN_2)));
    (y, ok)
}

/// The argument bin of the trapezoid rule for `1 < x` ([`k_above_one`]):
/// `0..TRAPEZOID_BINS` for `x <= 12`, `TRAPEZOID_BINS` (Steed's fraction)
/// beyond.
pub(crate) fn k_bin(x: f64) -> usize {
    super::trapezoid_table::X_HI
        .iter()
        .take_while(|&&hi| hi < x)
        .count()
}

/// Argument bins of the trapezoid rule.
pub(crate) const TRAPEZOID_BINS: usize = super::trapezoid_table::X_HI.len();

/// `ln K_v(x)` for lanes with `v < 20`, `x > 1` whose arguments all lie in
/// bin `bin` ([`k_bin`]), and whether each lane's value is valid: the
/// trapezoid rule for `x <= 12`, Steed's fraction ([`steed_k`]) beyond.
#[inline(always)]
pub(crate) fn k_above_one<L: Lanes>(v: L, x: L, bin: usize) -> (L, L::Mask) {
    if bin < TRAPEZOID_BINS {
        trapezoid_k(v, x, bin)
    } else {
        steed_k(v, x)
    }
}

/// `ln K_v(x)` for lanes with `v < 20` and `x` in trapezoid bin `bin`
/// (`1 < x <= 12`), and whether each lane's value is valid: `K_μ` and
/// `K_{μ+1}` (`μ = v − round(v)`, `|μ| <= ½`) from the trapezoid rule on
/// `K_ν(x) = e^{−x} ∫_0^∞ e^{−x (cosh t − 1)} cosh(ν t) dt` with the bin's
/// step and nodes (`trapezoid_table.rs`, whose generator bounds the rule's
/// error below 2^-56), then the upward recurrence to `v`.
///
/// Each node is `e^{−x c_k}·e^{±μ t_k}` (one exponential per node, the
/// second factor by a recurrence in `k`), so both sums are sums of positive
/// terms, added smallest first:
/// `2 S_ν = 1 + Σ_k e^{−x c_k} (e^{μ t_k} e^{s t_k} + e^{−μ t_k} e^{−s t_k})`
/// with `s = 0` for `K_μ` and `s = 1` for `K_{μ+1}`. Replaces Steed's fraction
/// there, whose 50–150 terms each waited on a division: about 20 nodes.
#[inline(always)]
pub(crate) fn trapezoid_k<L: Lanes>(v: L, x: L, bin: usize) -> (L, L::Mask) {
    use super::trapezoid_table as tt;
    let (Some(&h), Some(&n), Some(c), Some(ep), Some(em)) = (
        tt::STEP.get(bin),
        tt::NODES.get(bin),
        tt::COSH_M1.get(bin),
        tt::EXP_T.get(bin),
        tt::EXP_MINUS_T.get(bin),
    ) else {
        return (L::splat(f64::NAN), L::mask(false));
    };
    let zero = L::splat(0.0);
    let one = L::splat(1.0);
    let nx = zero.sub(x);
    let n_up = v.round();
    let mu = v.sub(n_up);
    // e^{±μ t_k} by the recurrence P_k = P_{k−1} + P_{k−1}·(e^{±μh} − 1)
    // from P_0 = 1: the small factor e^{±μh} − 1 is accurate to an ulp of
    // itself (|μh| <= 0.11), so a step adds about half an ulp, and each
    // node needs one exponential, `e^{−x c_k}`, instead of two.
    let step = mu.mul(L::splat(h));
    let (em1, fm1) = (expm1_small(step), expm1_small(zero.sub(step)));
    let (mut p, mut q) = (one, one);
    // The terms, kept to be added smallest first (uninitialised: each of
    // the first `n` is written below before it is read, and zeroing all of
    // them cost a memset of up to 5 KB per call).
    let n = n.min(tt::WIDTH);
    let mut terms = [MaybeUninit::<(L, L)>::uninit(); tt::WIDTH];
    for (k, slot) in terms.iter_mut().enumerate().take(n) {
        let (Some(&ck), Some(&epk), Some(&emk)) = (c.get(k), ep.get(k), em.get(k)) else {
            slot.write((zero, zero));
            continue;
        };
        p = p.add(p.mul(em1));
        q = q.add(q.mul(fm1));
        let w = exp(nx.mul(L::splat(ck)));
        let (up, down) = (w.mul(p), w.mul(q));
        slot.write((
            up.add(down),
            up.mul(L::splat(epk)).add(down.mul(L::splat(emk))),
        ));
    }
    let (mut s0, mut s1) = (zero, zero);
    for slot in terms.iter().take(n).rev() {
        // SAFETY: the loop above wrote every slot below `n`.
        let (a, b) = unsafe { slot.assume_init() };
        s0 = s0.add(a);
        s1 = s1.add(b);
    }
    let (s0, s1) = (one.add(s0), one.add(s1));
    let ok = L::and(
        s0.lt(L::splat(f64::INFINITY)),
        s1.lt(L::splat(f64::INFINITY)),
    );
    // K_μ = e^{−x} (h/2) 2S_μ; K_{μ+1}/K_μ = S_{μ+1}/S_μ; K_v/K_μ = m 2^e;
    // one logarithm.
    let (m, e) = k_upward(one, s1.div(s0), mu, v, L::splat(2.0).div(x));
    let up = zero.lt(n_up);
    let m = L::select(up, m, one);
    let e = L::select(up, e, zero);
    let y = ln(L::splat(0.5 * h).mul(s0).mul(m))
        .add(e.mul(L::splat(core::f64::consts::LN_2)))
        .sub(x);
    (y, ok)
}

/// `½ ln(π/(2x)) − x` from `ln x`: the logarithm of `K`'s large-argument
/// factor `√(π/(2x)) e^{−x}` (Hankel's expansion, Steed's `K_μ`).
#[inline(always)]
fn ln_k_prefix<L: Lanes>(x: L, ln_x: L) -> L {
    L::splat(0.5)
        .mul(L::splat(super::scalar::LN_PI_OVER_2).sub(ln_x))
        .sub(x)
}

/// `|y|` as `max(y, −y)` (the same for every instance; NaN stays NaN).
#[inline(always)]
fn abs<L: Lanes>(y: L) -> L {
    y.max(L::splat(0.0).sub(y))
}

/// The sum of `scalar::hankel`'s asymptotic series for lanes of `(v, x)`
/// (`sign` −1 for I, +1 for K): each lane stops at its smallest term or
/// once its terms fall below `tol` relative to `1 + Σ`; lanes run in step
/// and a stopped lane keeps its sum.
#[inline(always)]
pub(crate) fn hankel_sum<L: Lanes>(v: L, x: L, sign: f64, tol: L) -> L {
    let mu = L::splat(4.0).mul(v).mul(v);
    let inv_x = L::splat(1.0).div(x);
    let mut c = L::splat(1.0);
    let mut sum = L::splat(0.0);
    let mut prev = L::splat(f64::INFINITY);
    let mut active = L::mask(true);
    let mut k = 1.0;
    while k < 200.0 {
        let odd = 2.0 * k - 1.0;
        // c_k/c_{k-1} = sign·(μ − (2k−1)²)/(8k x), with one division per
        // lane for the whole sum (1/x) and `sign/(8k)` a scalar.
        let ratio = mu
            .sub(L::splat(odd * odd))
            .mul(L::splat(sign / (8.0 * k)))
            .mul(inv_x);
        c = c.mul(ratio);
        let a = abs(c);
        // The asymptotic series started to diverge: stop at its smallest term.
        active = L::and_not(active, prev.lt(a));
        sum = L::select(active, sum.add(c), sum);
        let small = a.le(tol.mul(abs(L::splat(1.0).add(sum))));
        active = L::and_not(active, small);
        if !L::any(active) {
            break;
        }
        prev = a;
        k += 1.0;
    }
    sum
}

/// The Hankel expansion's `ln I` (`sign` −1) or `ln K` (+1) for lanes with
/// `x >= 25`: `x − ½ ln(2πx) + ln(1 + Σ)` or `½ ln(π/(2x)) − x + ln(1 + Σ)`.
/// The sum stops below `2^-57·(1 + v + x)` relative to `1 + Σ`: an omitted
/// term is an absolute error of its own size in `ln(1 + Σ)`, so at most
/// `1/32` of the error unit `eps·(1 + |ln| + v + x)`.
#[inline(always)]
pub(crate) fn hankel_log<L: Lanes>(v: L, x: L, sign: f64) -> L {
    let tol = L::splat(UNIT_TAIL).mul(L::splat(1.0).add(v).add(x));
    let tail = log1p(hankel_sum(v, x, sign, tol));
    let ln_x = ln(x);
    if sign < 0.0 {
        x.sub(L::splat(0.5).mul(L::splat(super::scalar::LN_2PI).add(ln_x)))
            .add(tail)
    } else {
        ln_k_prefix(x, ln_x).add(tail)
    }
}

/// The tail `Σ_{k>=1} t_k` of `scalar::series_i`'s power series for lanes of
/// `(v, x)` (`t_k = t_{k-1}·(x²/4)/(k(v + k))`, `t_0 = 1`), each lane
/// stopping once its term falls below `tol·(1 + tail)`; lanes run in step
/// and a stopped lane keeps its sum.
#[inline(always)]
pub(crate) fn series_tail<L: Lanes>(v: L, x: L, tol: L) -> L {
    let q = L::splat(0.25).mul(x).mul(x);
    let mut term = L::splat(1.0);
    let mut tail = L::splat(0.0);
    let mut active = L::mask(true);
    let mut k = 1.0;
    while k < 1000.0 {
        let kl = L::splat(k);
        term = term.mul(q.div(kl.mul(v.add(kl))));
        tail = L::select(active, tail.add(term), tail);
        let small = term.le(tol.mul(L::splat(1.0).add(tail)));
        active = L::and_not(active, small);
        if !L::any(active) {
            break;
        }
        k += 1.0;
    }
    tail
}

/// The power series' `ln I_v(x) = v·ln(x/2) − ln Γ(v + 1) + ln(1 + tail)`
/// for lanes with `0 < x`, `v < 20`, given `lg = ln Γ(v + 1)` (the prefix
/// is exactly 0 at `v = 0`). The tail stops below `2^-57·(1 + v + x)`
/// relative to `1 + tail`, `1/32` of the error unit (as the Hankel sum).
#[inline(always)]
pub(crate) fn series_log<L: Lanes>(v: L, x: L, lg: L) -> L {
    let tol = L::splat(UNIT_TAIL).mul(L::splat(1.0).add(v).add(x));
    let tail = series_tail(v, x, tol);
    let zero = L::splat(0.0);
    let ln_half = ln_positive(x).sub(L::splat(core::f64::consts::LN_2));
    let prefix = L::select(v.le(zero), zero, v.mul(ln_half).sub(lg));
    prefix.add(log1p(tail))
}

/// `sinh(s)/s = Σ s^(2k)/(2k+1)!` in powers of `s²` for `|s| < 1`
/// (the first omitted term is below 2^-75).
pub(crate) const SINHC: [f64; 11] = [
    1.0,
    1.0 / 6.0,
    1.0 / 120.0,
    1.0 / 5040.0,
    1.0 / 362_880.0,
    1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
    1.0 / 121_645_100_408_832_000.0,
    1.0 / 51_090_942_171_709_440_000.0,
];

/// `sin(y)/y = Σ (−1)^k y^(2k)/(2k+1)!` in powers of `y²` for `|y| <= π/2`
/// (the first omitted term is below 2^-59).
pub(crate) const SINC: [f64; 12] = [
    1.0,
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
    -1.0 / 121_645_100_408_832_000.0,
    1.0 / 51_090_942_171_709_440_000.0,
    -1.0 / 25_852_016_738_884_976_640_000.0,
];

/// Horner's rule, lowest coefficient first.
#[inline(always)]
fn poly<L: Lanes>(z: L, c: &[f64]) -> L {
    let mut acc = L::splat(0.0);
    for a in c.iter().rev() {
        acc = acc.mul(z).add(L::splat(*a));
    }
    acc
}

/// `scalar::temme_k` for lanes of `(v, x)` with `v < 20`, `0 < x <= 1`:
/// Temme's series for `K_μ`, `K_{μ+1}` and the upward recurrence, with this
/// module's `ln` and `exp`, `sinh(σ)/σ` and `πμ/sin(πμ)` from their series.
/// The mask marks the lanes whose result is valid: the others (`x` below
/// `4·f64::MIN_POSITIVE`, or so small that `2/x` nearly overflows) need
/// the trapezoid rule. Lanes run in step; finished lanes keep their sums.
#[inline(always)]
pub(crate) fn temme_k<L: Lanes>(v: L, x: L) -> (L, L::Mask) {
    let one = L::splat(1.0);
    let zero = L::splat(0.0);
    let n = v.round();
    let mu = v.sub(n);
    let m2 = mu.mul(mu);
    // Γ1(μ) = (1/Γ(1-μ) - 1/Γ(1+μ)) / (2μ), Γ2(μ) = (1/Γ(1-μ) + 1/Γ(1+μ)) / 2.
    let (mut g1, mut g2) = (zero, zero);
    for pair in super::scalar::RGAMMA.chunks_exact(2).rev() {
        g2 = g2.mul(m2).add(L::splat(pair[0]));
        g1 = g1.mul(m2).sub(L::splat(pair[1]));
    }
    let rg_plus = g2.sub(mu.mul(g1));
    let rg_minus = g2.add(mu.mul(g1));
    let tiny = x.lt(L::splat(4.0 * f64::MIN_POSITIVE));
    // ln(2/x) = −ln(x/2), x/2 exact (the tiny lanes compute with x = 1).
    let xs = L::select(tiny, one, x);
    let ln_2_over_x = zero.sub(ln(L::splat(0.5).mul(xs)));
    let sigma = mu.mul(ln_2_over_x);
    // (x/2)^{∓μ} = e^{±σ}.
    let e_sigma = exp(sigma);
    let inv_e = one.div(e_sigma);
    let sinhc = L::select(
        abs(sigma).lt(one),
        poly(sigma.mul(sigma), &SINHC),
        L::splat(0.5).mul(e_sigma.sub(inv_e)).div(sigma),
    );
    let pimu = L::splat(core::f64::consts::PI).mul(mu);
    let fact = one.div(poly(pimu.mul(pimu), &SINC));
    let cosh = L::splat(0.5).mul(e_sigma.add(inv_e));
    let mut f = fact.mul(cosh.mul(g1).add(sinhc.mul(ln_2_over_x).mul(g2)));
    let mut p = L::splat(0.5).mul(e_sigma).div(rg_plus);
    let mut q = L::splat(0.5).div(e_sigma.mul(rg_minus));
    let q2 = L::splat(0.25).mul(xs).mul(xs);
    // Terms stop below 2^-57·(1 + v + x) relative to Σ_f, 1/32 of the
    // error unit (as the Debye, Hankel and power-series sums).
    let tol = L::splat(UNIT_TAIL).mul(one.add(v).add(x));
    let mut c = one;
    let (mut sum_f, mut sum_h) = (f, p);
    let mut active = L::mask(true);
    let mut k = 1.0;
    while k < 60.0 {
        let kl = L::splat(k);
        // One division per term, off the chain of `f`: 1/(k² − μ²), whose
        // products with k ± μ are 1/(k ∓ μ); 1/k is a scalar.
        let r_f = one.div(L::splat(k * k).sub(m2));
        f = kl.mul(f).add(p).add(q).mul(r_f);
        p = p.mul(kl.add(mu).mul(r_f));
        q = q.mul(kl.sub(mu).mul(r_f));
        c = c.mul(q2.mul(L::splat(1.0 / k)));
        let df = c.mul(f);
        sum_f = L::select(active, sum_f.add(df), sum_f);
        sum_h = L::select(active, sum_h.add(c.mul(p.sub(kl.mul(f)))), sum_h);
        active = L::and_not(active, abs(df).le(tol.mul(sum_f)));
        if !L::any(active) {
            break;
        }
        k += 1.0;
    }
    // K_μ = Σ_f, K_{μ+1} = (2/x) Σ_h, then up to v.
    let two_over_x = L::splat(2.0).div(xs);
    let r = two_over_x.mul(sum_h.div(sum_f));
    let up = zero.lt(n);
    // r finite and 2v/x far from overflow (else the trapezoid rule).
    let fits = L::and(
        r.lt(L::splat(f64::INFINITY)),
        L::splat(40.0).mul(two_over_x).lt(L::splat(1e300)),
    );
    let ok = L::and_not(L::and_not(L::mask(true), tiny), L::and_not(up, fits));
    let rs = L::select(L::and(up, fits), r, one);
    // K_v = (2/x) Σ_h · m 2^e, or K_μ = Σ_f: one logarithm.
    let (m, e) = k_upward(one.div(rs), one, mu, v, L::select(up, two_over_x, one));
    let z = L::select(up, sum_h.mul(m), sum_f);
    let off = L::select(
        up,
        ln_2_over_x.add(e.mul(L::splat(core::f64::consts::LN_2))),
        zero,
    );
    (ln(z).add(off), ok)
}

/// `c·K_v = m·2^e` as `(m, e)` from `lo = c·K_μ`, `hi = c·K_{μ+1}`
/// (`hi >= 1`) by the upward recurrence `K_{ν+1} = (2ν/x) K_ν + K_{ν−1}`
/// from order `μ + 1` to `v`, the values kept in `[1, 2)` with the binary
/// exponent split off after every step (at most 19 steps, `v < 20`); a lane
/// that takes no step (`v = μ + 1`) gives `(hi, 0)`. The callers fold `m`
/// into the argument of their one logarithm.
#[inline(always)]
fn k_upward<L: Lanes>(lo: L, hi: L, mu: L, v: L, two_over_x: L) -> (L, L) {
    let (mut lo, mut hi, mut exp2) = (lo, hi, L::splat(0.0));
    let mut order = mu.add(L::splat(1.0));
    let top = v.sub(L::splat(0.25));
    // Where every lane has 2/x < 2^44, no value can leave the normal range
    // (each step multiplies by less than 2^49, at most 20 times, from values
    // no smaller than 2^-46), and steps on values scaled by a common power
    // of two round exactly as the unscaled ones: the plain recurrence, with
    // the exponent split off once at the end, gives the scaled loop's bits
    // without its per-step split.
    if !L::any(L::splat(17592186044416.0).le(two_over_x)) {
        let stepped = order.lt(top);
        for _ in 0..20 {
            let step = order.lt(top);
            if !L::any(step) {
                break;
            }
            let next = order.mul(two_over_x).mul(hi).add(lo);
            lo = L::select(step, hi, lo);
            hi = L::select(step, next, hi);
            order = order.add(L::splat(1.0));
        }
        let (e, m) = L::select(stepped, hi, L::splat(1.0)).frexp1();
        return (L::select(stepped, m, hi), e);
    }
    for _ in 0..20 {
        let step = order.lt(top);
        if !L::any(step) {
            break;
        }
        let next = order.mul(two_over_x).mul(hi).add(lo);
        let (e, m) = L::select(step, next, L::splat(1.0)).frexp1();
        exp2 = L::select(step, exp2.add(e), exp2);
        lo = L::select(step, hi.mul(L::splat(0.0).sub(e).pow2()), lo);
        hi = L::select(step, m, hi);
        order = order.add(L::splat(1.0));
    }
    (hi, exp2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The term count from the thresholds equals the first `n` that
    /// [`enough_terms`] accepts, for orders across the Debye region and on
    /// both sides of every threshold.
    #[test]
    fn debye_terms_from_thresholds_equal_the_rule() {
        let first = |v: f64| {
            (0..DEBYE_N)
                .find(|&n| enough_terms(v, n))
                .unwrap_or(DEBYE_N)
        };
        let mut rng = crate::rng::Rng::new(3);
        let mut orders: alloc::vec::Vec<f64> = (0..100_000)
            .map(|_| libm::exp(rng.next_f64() * 14.0 + 2.9))
            .collect();
        for t in DEBYE_ORDER {
            let b = t.to_bits();
            orders.extend((b - 3..=b + 3).map(f64::from_bits));
        }
        for v in orders {
            assert_eq!(debye_terms(v), first(v), "v = {v:e}");
        }
    }

    /// [`debye`] takes `ln(1 + Σ)` without range reduction, which needs
    /// `1 + Σ` in `[1/√2, √2)`: the sum's bound `Σ_k SUP[k]·v^-(k+1)`
    /// (`t = v/s <= 1`) at the smallest Debye order is below 0.005.
    #[test]
    fn debye_sums_stay_in_the_direct_log1p_range() {
        let inv = 1.0 / super::super::scalar::DEBYE_MIN_ORDER;
        let mut p = 1.0;
        let bound: f64 = DEBYE_SUP
            .iter()
            .map(|s| {
                p *= inv;
                s * p
            })
            .sum();
        assert!(bound < 0.005, "bound {bound}");
    }

    /// The trapezoid rule and Steed's continued fraction, two independent
    /// methods, agree on `ln K_v(x)` across the trapezoid's bins (each bin
    /// edge, its ends' neighbours and a dense sweep; `v = μ` and `v = μ + 7`
    /// with the upward recurrence), within 1.5 of the project's error unit
    /// `eps·(1 + |ln K| + v + x)`; and the node table is what its generator
    /// states: `t_k = k h`, `cosh t_k − 1 = 2 sinh²(t_k/2)` and `e^{±t_k}`
    /// within a few ulp of libm's.
    #[test]
    fn trapezoid_and_steed_agree_and_the_node_table_holds() {
        use super::super::trapezoid_table as tt;
        for bin in 0..TRAPEZOID_BINS {
            let h = tt::STEP[bin];
            for k in 0..tt::NODES[bin] {
                let t = h * (k + 1) as f64;
                let near =
                    |got: f64, want: f64| (got - want).abs() <= want.abs() * 4.0 * f64::EPSILON;
                let s = libm::sinh(0.5 * t);
                assert!(near(tt::COSH_M1[bin][k], 2.0 * s * s), "bin {bin} node {k}");
                assert!(near(tt::EXP_T[bin][k], libm::exp(t)), "bin {bin} node {k}");
                assert!(
                    near(tt::EXP_MINUS_T[bin][k], libm::exp(-t)),
                    "bin {bin} node {k}"
                );
            }
        }
        let mut xs: alloc::vec::Vec<f64> = (1..=1100).map(|i| 1.0 + f64::from(i) * 0.01).collect();
        for &hi in tt::X_HI.iter() {
            xs.extend([
                hi,
                f64::from_bits(hi.to_bits() + 1),
                f64::from_bits(hi.to_bits() - 1),
            ]);
        }
        xs.push(f64::from_bits(1.0f64.to_bits() + 1));
        let mut worst = 0.0f64;
        for &x in xs.iter().filter(|&&x| x > 1.0 && x <= 12.0) {
            for j in 0..=20 {
                let mu = -0.5 + f64::from(j) * 0.05;
                for v in [mu.abs(), mu + 7.0] {
                    let (a, ok_a) = trapezoid_k::<f64>(v, x, k_bin(x));
                    let (b, ok_b) = steed_k::<f64>(v, x);
                    assert!(ok_a && ok_b, "v {v} x {x}");
                    let e = (a - b).abs() / (f64::EPSILON * (1.0 + b.abs() + v + x));
                    worst = worst.max(e);
                    assert!(e <= 1.5, "v {v} x {x}: trapezoid {a}, Steed {b}");
                }
            }
        }
        assert!(worst > 0.0);
        std::println!("trapezoid vs Steed: worst {worst:.2}");
    }

    /// The upward recurrence's two forms give the same bits: a lane alone
    /// (2/x < 2^44: the unscaled steps) against the same lane paired with
    /// one whose 2/x forces the per-step split, over orders, starting
    /// ratios and arguments up to the threshold.
    #[test]
    fn upward_recurrence_forms_agree_bit_for_bit() {
        let mut rng = crate::rng::Rng::new(11);
        let big = 2.0f64.powi(44);
        for i in 0..20_000 {
            let v = rng.next_f64() * 20.0;
            let mu = v - libm::round(v);
            let two_over_x = if i % 4 == 0 {
                big * (1.0 - rng.next_f64() * 1e-3)
            } else {
                libm::exp(rng.next_f64() * 30.0 - 5.0)
            };
            let r = (mu + 0.5 + 2.0 / two_over_x) * two_over_x * (0.5 + rng.next_f64());
            let one = k_upward::<f64>(1.0, r, mu, v, two_over_x);
            let p = k_upward::<Pair<f64>>(
                Pair(1.0, 1.0),
                Pair(r, r),
                Pair(mu, mu),
                Pair(v, v),
                Pair(two_over_x, 2.0 * big),
            );
            let same = (one.0.to_bits(), one.1.to_bits()) == (p.0 .0.to_bits(), p.1 .0.to_bits());
            assert!(same, "v {v} 2/x {two_over_x} r {r}");
        }
    }
}
