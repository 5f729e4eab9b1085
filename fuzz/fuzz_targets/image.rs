//! The CLI's image path: decode (JPEG/PNG/BMP with pixel and byte caps) and
//! resize to the model input. The pixel cap is lowered to 2^12 (the CLI
//! allows 2^26) so that a few bytes declaring a large image (PNG and JPEG
//! compress flat areas to almost nothing) cannot slow every execution down;
//! the decoding code is the same.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((w, h, rgb)) = shoal_host_gpu::classify::decode_image_within(data, 1 << 12) {
        let _ = shoal_core::image::resize_rgb(&rgb, w as usize, h as usize, 32, 32);
    }
});
