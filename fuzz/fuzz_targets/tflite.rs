//! TFLite flatbuffers: parse and validate; run the model when all its
//! tensors together hold at most 16,384 values, which keeps each execution
//! short (a mutated shape could otherwise ask for minutes of arithmetic).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = shoal_core::tflite::Model::parse(data) {
        let total = m
            .tensors
            .iter()
            .try_fold(0usize, |a, t| a.checked_add(t.len()));
        if let (Some(&i), Some(total)) = (m.inputs.first(), total) {
            if total <= 16_384 {
                let _ = m.run_u8(&vec![128u8; m.tensors[i].len()]);
            }
        }
    }
});
