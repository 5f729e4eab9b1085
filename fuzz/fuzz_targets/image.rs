//! The CLI's image path: decode (JPEG/PNG/BMP with pixel and byte caps) and
//! resize to the model input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((w, h, rgb)) = shoal_host_gpu::classify::decode_image(data) {
        let _ = shoal_core::image::resize_rgb(&rgb, w as usize, h as usize, 32, 32);
    }
});
