//! Shoal model files (`.shm`): parse and validate; run the model when its
//! input is small enough to keep the executions fast.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = shoal_core::model::ShmModel::parse(data) {
        if m.size <= 16 {
            let _ = m.run(&vec![128u8; m.size * m.size * 3]);
        }
    }
});
