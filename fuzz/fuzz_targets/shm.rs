//! Shoal model files (`.shm`): parse and validate.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = shoal_core::model::ShmModel::parse(data);
});
