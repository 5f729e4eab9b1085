//! TFLite flatbuffers: parse and validate; run the model when its input is
//! small enough to keep the executions fast.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = shoal_core::tflite::Model::parse(data) {
        if let Some(&i) = m.inputs.first() {
            let n = m.tensors[i].len();
            if n <= 4096 {
                let _ = m.run_u8(&vec![128u8; n]);
            }
        }
    }
});
