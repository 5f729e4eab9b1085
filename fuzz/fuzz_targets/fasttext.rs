//! fastText models (`.bin`, `.ftz`): parse, then predict on a fixed text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = shoal_core::fasttext::FastText::from_bytes(data) {
        let _ = m.predict("Grüße aus Köln, über 3 Brücken", 3, 0.0);
    }
});
