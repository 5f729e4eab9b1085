//! AVX2 instantiations of the lane-generic kernels (4 × f64 or 8 × f32 per
//! `ymm` register, two registers per value), and what the AVX-512 ones in
//! [`super::x86_512`] share with them: the lane types' method macros and
//! [`lane_fill!`], which writes a backend's kernel entry points and its
//! slice `fill` from its group types. Chosen at run time with `std`
//! (cached), or at compile time when the target has `avx2`; the results are
//! bit-identical to the scalar instantiation.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::lanes::{self, Lanes, Pair};

#[derive(Clone, Copy)]
pub(crate) struct F64x4(__m256d);

/// The mask methods of an AVX lane type from its intrinsics: `and`,
/// `and_not` (`a && !b`), `mask` (every lane) and `any`.
macro_rules! mask_methods {
    ($m:ty, $and:ident, $andnot:ident, $movemask:ident, $cast:ident, $set1:ident) => {
        #[inline(always)]
        fn and(a: $m, b: $m) -> $m {
            // SAFETY: see the impl comment.
            unsafe { $and(a, b) }
        }
        #[inline(always)]
        fn and_not(a: $m, b: $m) -> $m {
            // SAFETY: see the impl comment.
            unsafe { $andnot(b, a) }
        }
        #[inline(always)]
        fn mask(b: bool) -> $m {
            // SAFETY: see the impl comment.
            unsafe { $cast($set1(if b { -1 } else { 0 })) }
        }
        #[inline(always)]
        fn any(m: $m) -> bool {
            // SAFETY: see the impl comment.
            unsafe { $movemask(m) != 0 }
        }
    };
}

/// The arithmetic and comparison methods of an x86 lane type (a tuple
/// struct around one register) from its intrinsics, for `ymm` and `zmm`
/// alike: `splat`, `add`, `sub`, `mul`, `div`, `sqrt` (IEEE, one intrinsic
/// each), `lt` and `le` (ordered, quiet: false when either is NaN) giving
/// the type's mask `$m`.
macro_rules! avx_arith {
    ($t:ty, $m:ty, $set1:ident, $add:ident, $sub:ident, $mul:ident, $div:ident, $sqrt:ident, $cmp:ident) => {
        #[inline(always)]
        fn splat(x: $t) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $set1(x) })
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $add(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $sub(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $mul(self.0, o.0) })
        }
        #[inline(always)]
        fn div(self, o: Self) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $div(self.0, o.0) })
        }
        #[inline(always)]
        fn sqrt(self) -> Self {
            // SAFETY: see the impl comment.
            Self(unsafe { $sqrt(self.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> $m {
            // SAFETY: see the impl comment.
            unsafe { $cmp::<_CMP_LT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn le(self, o: Self) -> $m {
            // SAFETY: see the impl comment.
            unsafe { $cmp::<_CMP_LE_OQ>(self.0, o.0) }
        }
    };
}
pub(crate) use avx_arith;

/// The f64 lane methods built from bits (`pow2`, `frexp1`) for an x86 lane
/// type of f64 from its integer intrinsics (of either register width).
macro_rules! avx_f64_bits {
    ($castpd:ident, $castsi:ident, $addpd:ident, $subpd:ident, $set1pd:ident, $set1:ident, $add:ident, $sub:ident, $slli:ident, $srli:ident, $and:ident, $or:ident) => {
        #[inline(always)]
        fn pow2(self) -> Self {
            // SAFETY: see the impl comment.
            unsafe {
                let b = $castpd($addpd(self.0, $set1pd(lanes::ROUND_MAGIC)));
                let k = $sub(b, $castpd($set1pd(lanes::ROUND_MAGIC)));
                Self($castsi($slli::<52>($add(k, $set1(1023)))))
            }
        }
        #[inline(always)]
        fn frexp1(self) -> (Self, Self) {
            // SAFETY: see the impl comment.
            unsafe {
                let bits = $castpd(self.0);
                let field = $and($srli::<52>(bits), $set1(0x7ff));
                let magic = $set1(0x4330_0000_0000_0000);
                let e = $subpd($castsi($or(field, magic)), $set1pd(4_503_599_627_370_496.0));
                let mant = $or(
                    $and(bits, $set1(0x000f_ffff_ffff_ffff)),
                    $set1(0x3ff0_0000_0000_0000),
                );
                (Self($subpd(e, $set1pd(1023.0))), Self($castsi(mant)))
            }
        }
    };
}
pub(crate) use avx_f64_bits;

/// The f32 lane methods built from bits (`split`, `pow2i`) for an x86 lane
/// type of f32 from its integer intrinsics.
macro_rules! avx_f32_bits {
    ($castps:ident, $castsi:ident, $cvtps:ident, $cvttps:ident, $set1:ident, $add:ident, $sub:ident, $slli:ident, $srli:ident, $and:ident, $or:ident) => {
        #[inline(always)]
        fn split(self) -> (Self, Self) {
            // SAFETY: see the impl comment.
            unsafe {
                let bits = $castps(self.0);
                let field = $and($srli::<23>(bits), $set1(0xff));
                let e = $cvtps($sub(field, $set1(127)));
                let m = $or($and(bits, $set1(0x007f_ffff)), $set1(0x3f80_0000));
                (Self(e), Self($castsi(m)))
            }
        }
        #[inline(always)]
        fn pow2i(self) -> Self {
            // SAFETY: see the impl comment.
            unsafe {
                let k = $add($cvttps(self.0), $set1(127));
                Self($castsi($slli::<23>(k)))
            }
        }
    };
}
pub(crate) use avx_f32_bits;

// SAFETY (for every method): these are only reached from `debye4`, which is
// `#[target_feature(enable = "avx2")]` and only called after AVX2 was
// detected; `#[inline(always)]` places the intrinsics inside it.
impl Lanes for F64x4 {
    type Mask = __m256d;
    avx_arith!(
        f64,
        __m256d,
        _mm256_set1_pd,
        _mm256_add_pd,
        _mm256_sub_pd,
        _mm256_mul_pd,
        _mm256_div_pd,
        _mm256_sqrt_pd,
        _mm256_cmp_pd
    );
    mask_methods!(
        __m256d,
        _mm256_and_pd,
        _mm256_andnot_pd,
        _mm256_movemask_pd,
        _mm256_castsi256_pd,
        _mm256_set1_epi64x
    );
    #[inline(always)]
    fn select(m: __m256d, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F64x4(unsafe { _mm256_blendv_pd(b.0, a.0, m) })
    }
    avx_f64_bits!(
        _mm256_castpd_si256,
        _mm256_castsi256_pd,
        _mm256_add_pd,
        _mm256_sub_pd,
        _mm256_set1_pd,
        _mm256_set1_epi64x,
        _mm256_add_epi64,
        _mm256_sub_epi64,
        _mm256_slli_epi64,
        _mm256_srli_epi64,
        _mm256_and_si256,
        _mm256_or_si256
    );
}

/// A group of f64 lanes loaded from and stored to consecutive memory.
pub(crate) trait Block: Lanes {
    /// Lanes in the group.
    const N: usize;
    /// # Safety
    /// `p` readable for `N` f64; the group's instruction set.
    unsafe fn load(p: *const f64) -> Self;
    /// # Safety
    /// `p` writable for `N` f64; the group's instruction set.
    unsafe fn store(self, p: *mut f64);
    /// The mask as bits, lane `i` at bit `i`.
    fn bits(m: Self::Mask) -> u64;
}

impl Block for F64x4 {
    const N: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: the caller's contract.
        F64x4(unsafe { _mm256_loadu_pd(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's contract.
        unsafe { _mm256_storeu_pd(p, self.0) }
    }
    #[inline(always)]
    fn bits(m: __m256d) -> u64 {
        // SAFETY: reached only inside the kernels' AVX2 (or AVX-512)
        // functions (see the impl comment of `Lanes for F64x4`).
        u64::from(unsafe { _mm256_movemask_pd(m) } as u32)
    }
}

impl<L: Block> Block for Pair<L> {
    const N: usize = 2 * L::N;
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        // SAFETY: the caller's contract covers both halves.
        unsafe { Pair(L::load(p), L::load(p.add(L::N))) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's contract covers both halves.
        unsafe {
            self.0.store(p);
            self.1.store(p.add(L::N));
        }
    }
    #[inline(always)]
    fn bits(m: Self::Mask) -> u64 {
        L::bits(m.0) | L::bits(m.1) << L::N
    }
}

/// `B` loaded from an array of its size.
///
/// # Safety
/// The group's instruction set.
#[inline(always)]
pub(crate) unsafe fn load<B: Block, const N: usize>(a: &[f64; N]) -> B {
    const { assert!(B::N == N) };
    // SAFETY: `N` f64 (checked above); the instruction set (caller).
    unsafe { B::load(a.as_ptr()) }
}

/// `y` stored to an array of its size.
///
/// # Safety
/// The group's instruction set.
#[inline(always)]
pub(crate) unsafe fn store<B: Block, const N: usize>(y: B) -> [f64; N] {
    const { assert!(B::N == N) };
    let mut out = [0.0; N];
    // SAFETY: `N` f64 (checked above); the instruction set (caller).
    unsafe { y.store(out.as_mut_ptr()) };
    out
}

/// A mask as one boolean per lane.
#[inline(always)]
pub(crate) fn bools<B: Block, const N: usize>(m: B::Mask) -> [bool; N] {
    let bits = B::bits(m);
    core::array::from_fn(|i| bits >> i & 1 == 1)
}

/// A SIMD backend's f64 slice path, written once for AVX2 and AVX-512:
/// the lane kernels' entry points compiled for `$feat` (each loads its
/// arrays into a group, runs the lane-generic kernel and stores the
/// results) and `fill`, which hands them to [`super::fill_lanes`] — Debye's
/// and Hankel's expansions on `$wide` groups of `$w` lanes, the
/// small-argument kernels (I's power series; K's Temme series, trapezoid
/// rule, Steed's fraction) on `$narrow` groups of `$w2`.
macro_rules! lane_fill {
    ($feat:literal, $wide:ty, $w:literal, $narrow:ty, $w2:literal) => {
        /// Debye `ln I` or (`IS_K`) `ln K` for lanes of `n` terms each.
        ///
        /// # Safety
        /// The CPU must support the instruction set (checked by the caller).
        #[target_feature(enable = $feat)]
        unsafe fn debye_lanes<B: Block, const N: usize, const IS_K: bool>(
            v: &[f64; N],
            x: &[f64; N],
            n: usize,
        ) -> [f64; N] {
            // SAFETY: the instruction set (caller).
            unsafe { store::<B, N>(lanes::debye::<B, IS_K>(load(v), load(x), n)) }
        }

        /// `ln K` for lanes with `x > 1` in argument bin `bin` (see
        /// [`lanes::k_above_one`]) and whether each lane's value is valid.
        ///
        /// # Safety
        /// The CPU must support the instruction set (checked by the caller).
        #[target_feature(enable = $feat)]
        unsafe fn above_one_lanes<B: Block, const N: usize>(
            v: &[f64; N],
            x: &[f64; N],
            bin: usize,
        ) -> ([f64; N], [bool; N]) {
            // SAFETY: the instruction set (caller).
            unsafe {
                let (y, ok) = lanes::k_above_one::<B>(load(v), load(x), bin);
                (store::<B, N>(y), bools::<B, N>(ok))
            }
        }

        /// The Hankel expansion's logs (see [`lanes::hankel_log`]).
        ///
        /// # Safety
        /// The CPU must support the instruction set (checked by the caller).
        #[target_feature(enable = $feat)]
        unsafe fn hankel_lanes<B: Block, const N: usize>(
            v: &[f64; N],
            x: &[f64; N],
            sign: f64,
        ) -> [f64; N] {
            // SAFETY: the instruction set (caller).
            unsafe { store::<B, N>(lanes::hankel_log::<B>(load(v), load(x), sign)) }
        }

        /// Temme's `ln K` (see [`lanes::temme_k`]) and whether each lane's
        /// value is valid.
        ///
        /// # Safety
        /// The CPU must support the instruction set (checked by the caller).
        #[target_feature(enable = $feat)]
        unsafe fn temme_lanes<B: Block, const N: usize>(
            v: &[f64; N],
            x: &[f64; N],
        ) -> ([f64; N], [bool; N]) {
            // SAFETY: the instruction set (caller).
            unsafe {
                let (y, ok) = lanes::temme_k::<B>(load(v), load(x));
                (store::<B, N>(y), bools::<B, N>(ok))
            }
        }

        /// The power series' logs given `ln Γ(v + 1)` (see
        /// [`lanes::series_log`]).
        ///
        /// # Safety
        /// The CPU must support the instruction set (checked by the caller).
        #[target_feature(enable = $feat)]
        unsafe fn series_lanes<B: Block, const N: usize>(
            v: &[f64; N],
            x: &[f64; N],
            lg: &[f64; N],
        ) -> [f64; N] {
            // SAFETY: the instruction set (caller).
            unsafe { store::<B, N>(lanes::series_log::<B>(load(v), load(x), load(lg))) }
        }

        /// [`super::fill`] with this module's kernels (see [`lane_fill!`]).
        ///
        /// The caller has checked the instruction set.
        pub(crate) fn fill<T: Copy>(
            v: &[T],
            x: &[T],
            out: &mut [T],
            which: super::Which,
            to_f64: fn(T) -> f64,
            from_f64: fn(f64) -> T,
        ) {
            let run = |v: &[f64; $w], x: &[f64; $w], n: usize| {
                // SAFETY: the caller checked the instruction set.
                unsafe {
                    if which == super::Which::I {
                        debye_lanes::<$wide, $w, false>(v, x, n)
                    } else {
                        debye_lanes::<$wide, $w, true>(v, x, n)
                    }
                }
            };
            // SAFETY: as above.
            let above = |v: &[f64; $w2], x: &[f64; $w2], bin: usize| unsafe {
                above_one_lanes::<$narrow, $w2>(v, x, bin)
            };
            // SAFETY: as above.
            let hankel = |v: &[f64; $w], x: &[f64; $w], sign: f64| unsafe {
                hankel_lanes::<$wide, $w>(v, x, sign)
            };
            // SAFETY: as above.
            let series = |v: &[f64; $w2], x: &[f64; $w2], lg: &[f64; $w2]| unsafe {
                series_lanes::<$narrow, $w2>(v, x, lg)
            };
            // SAFETY: as above.
            let temme =
                |v: &[f64; $w2], x: &[f64; $w2]| unsafe { temme_lanes::<$narrow, $w2>(v, x) };
            super::fill_lanes::<T, $w, $w2>(
                v,
                x,
                out,
                which,
                to_f64,
                from_f64,
                run,
                Some((above, hankel, series, temme)),
            );
        }
    };
}
pub(crate) use lane_fill;

// Eight lanes (two `ymm` per value) for every kernel.
lane_fill!("avx2", Pair<F64x4>, 8, Pair<F64x4>, 8);

/// Four trapezoid nodes of the K integral (see [`lanes::k_integrand`]).
///
/// # Safety
/// The CPU must support AVX2 (checked by the caller).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn k_nodes4(t: &[f64; 4], x: f64, v: f64, g_ref: f64) -> [f64; 4] {
    debug_assert!(avx2_available());
    // SAFETY: the array holds four f64; unaligned load and store.
    unsafe {
        let f = lanes::k_integrand(F64x4(_mm256_loadu_pd(t.as_ptr())), x, v, g_ref);
        let mut out = [0.0; 4];
        _mm256_storeu_pd(out.as_mut_ptr(), f.0);
        out
    }
}

pub(crate) use crate::arch::avx2_available;

/// Eight f32 lanes for the pure-f32 kernels ([`super::lanes_f32`]).
#[derive(Clone, Copy)]
pub(crate) struct F32x8(__m256);

// SAFETY (for every method): only reached from `pure_f32_16`, which is
// `#[target_feature(enable = "avx2")]` and only called after AVX2 was
// detected; `#[inline(always)]` places the intrinsics inside it.
impl super::lanes_f32::LanesF32 for F32x8 {
    type Mask = __m256;
    avx_arith!(
        f32,
        __m256,
        _mm256_set1_ps,
        _mm256_add_ps,
        _mm256_sub_ps,
        _mm256_mul_ps,
        _mm256_div_ps,
        _mm256_sqrt_ps,
        _mm256_cmp_ps
    );
    #[inline(always)]
    fn abs(self) -> Self {
        // SAFETY: see the impl comment.
        F32x8(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
    }
    #[inline(always)]
    fn floor(self) -> Self {
        // SAFETY: see the impl comment.
        F32x8(unsafe { _mm256_floor_ps(self.0) })
    }
    #[inline(always)]
    fn eq(self, o: Self) -> __m256 {
        // SAFETY: see the impl comment.
        unsafe { _mm256_cmp_ps::<_CMP_EQ_OQ>(self.0, o.0) }
    }
    #[inline(always)]
    fn select(m: __m256, a: Self, b: Self) -> Self {
        // SAFETY: see the impl comment.
        F32x8(unsafe { _mm256_blendv_ps(b.0, a.0, m) })
    }
    mask_methods!(
        __m256,
        _mm256_and_ps,
        _mm256_andnot_ps,
        _mm256_movemask_ps,
        _mm256_castsi256_ps,
        _mm256_set1_epi32
    );
    avx_f32_bits!(
        _mm256_castps_si256,
        _mm256_castsi256_ps,
        _mm256_cvtepi32_ps,
        _mm256_cvttps_epi32,
        _mm256_set1_epi32,
        _mm256_add_epi32,
        _mm256_sub_epi32,
        _mm256_slli_epi32,
        _mm256_srli_epi32,
        _mm256_and_si256,
        _mm256_or_si256
    );
}

/// Sixteen f32 lanes: two [`F32x8`] side by side.
type F32x16 = super::lanes::Pair<F32x8>;

/// One branch of the pure-f32 kernels on sixteen lanes of finite positive
/// normal inputs (see [`super::lanes_f32`]).
///
/// # Safety
/// The CPU must support AVX2 (checked by the caller).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn pure_f32_16(
    kernel: super::lanes_f32::Kernel,
    v: &[f32; 16],
    x: &[f32; 16],
) -> [f32; 16] {
    debug_assert!(avx2_available());
    // SAFETY: the arrays hold sixteen f32 each; unaligned loads and stores.
    unsafe {
        let vv: F32x16 = super::lanes::Pair(
            F32x8(_mm256_loadu_ps(v.as_ptr())),
            F32x8(_mm256_loadu_ps(v.as_ptr().add(8))),
        );
        let xx: F32x16 = super::lanes::Pair(
            F32x8(_mm256_loadu_ps(x.as_ptr())),
            F32x8(_mm256_loadu_ps(x.as_ptr().add(8))),
        );
        let y = super::lanes_f32::run(kernel, vv, xx);
        let mut out = [0.0; 16];
        _mm256_storeu_ps(out.as_mut_ptr(), (y.0).0);
        _mm256_storeu_ps(out.as_mut_ptr().add(8), (y.1).0);
        out
    }
}
