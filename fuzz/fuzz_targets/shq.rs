//! Quantized matrices (`.shq`, with or without GEAR): parse, then a GEMV when
//! the matrix is small.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = shoal_core::quant::gear::GearMatrix::from_bytes(data) {
        let (rows, cols) = (g.backbone().rows(), g.backbone().cols());
        if rows.saturating_mul(cols) <= 1 << 16 {
            let x = vec![1.0f32; cols];
            let mut y = vec![0.0f32; rows];
            let _ = g.gemv(&x, &mut y);
        }
    }
});
