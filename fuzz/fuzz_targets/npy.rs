//! `.npy` arrays: parse, then every conversion.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = shoal_core::npy::read(data) {
        let _ = a.to_f64();
        let _ = a.to_f32();
        let _ = a.to_ids();
    }
});
