//! Instruction-set detection shared by the SIMD kernels: compile-time
//! `target_feature` first, then (with `std`) a cached run-time check, else
//! the scalar path.

/// Whether AVX2 can be used on this machine.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
pub(crate) fn avx2_available() -> bool {
    #[cfg(target_feature = "avx2")]
    {
        true
    }
    #[cfg(all(not(target_feature = "avx2"), feature = "std"))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
        match STATE.load(Ordering::Relaxed) {
            0 => {
                let yes = std::is_x86_feature_detected!("avx2");
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            s => s == 2,
        }
    }
    #[cfg(all(not(target_feature = "avx2"), not(feature = "std")))]
    {
        false
    }
}

/// Whether AVX2 with F16C and FMA can be used on this machine (every AVX2
/// processor shipped so far has all three).
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[inline]
pub(crate) fn f16c_available() -> bool {
    #[cfg(all(
        target_feature = "avx2",
        target_feature = "f16c",
        target_feature = "fma"
    ))]
    {
        true
    }
    #[cfg(all(
        not(all(
            target_feature = "avx2",
            target_feature = "f16c",
            target_feature = "fma"
        )),
        feature = "std"
    ))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 no, 2 yes
        match STATE.load(Ordering::Relaxed) {
            0 => {
                let yes = std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("f16c")
                    && std::is_x86_feature_detected!("fma");
                STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
                yes
            }
            s => s == 2,
        }
    }
    #[cfg(all(
        not(all(
            target_feature = "avx2",
            target_feature = "f16c",
            target_feature = "fma"
        )),
        not(feature = "std")
    ))]
    {
        false
    }
}
