//! Instruction-set detection shared by the SIMD kernels: compile-time
//! `target_feature` first, then (with `std`) a cached run-time check, else
//! the scalar path.

/// Defines `fn $name() -> bool`: whether every listed x86 feature can be
/// used — true at compile time when the target enables them all, else a
/// run-time check cached in a static (with `std`), else false.
macro_rules! detect {
    ($(#[$doc:meta])* $name:ident: $($feat:tt),+) => {
        $(#[$doc])*
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        #[inline]
        // (Builds without `alloc` lack the quantized kernels that ask some.)
        #[cfg_attr(not(feature = "alloc"), allow(dead_code))]
        pub(crate) fn $name() -> bool {
            #[cfg(all($(target_feature = $feat),+))]
            {
                true
            }
            #[cfg(all(not(all($(target_feature = $feat),+)), feature = "std"))]
            {
                use core::sync::atomic::{AtomicU8, Ordering};
                static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
                match STATE.load(Ordering::Relaxed) {
                    0 => {
                        let yes = true $(&& std::is_x86_feature_detected!($feat))+;
                        STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                        yes
                    }
                    s => s == 2,
                }
            }
            #[cfg(all(not(all($(target_feature = $feat),+)), not(feature = "std")))]
            {
                false
            }
        }
    };
}

detect!(
    /// Whether AVX2 can be used on this machine.
    avx2_available: "avx2"
);

detect!(
    /// Whether AVX-512F can be used on this machine.
    avx512_available: "avx512f"
);

detect!(
    /// Whether AVX2 with F16C and FMA can be used on this machine (every AVX2
    /// processor shipped so far has all three).
    f16c_available: "avx2", "f16c", "fma"
);

detect!(
    /// Whether [`f16c_available`] holds and the CPU also has AVX-512 VNNI
    /// with 256-bit forms (`vpdpbusd` on `ymm`: AVX512-VNNI + AVX512-VL,
    /// as on Ice Lake and later Intel cores and on AMD Zen 4 and later).
    vnni_available: "avx2", "f16c", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni"
);
