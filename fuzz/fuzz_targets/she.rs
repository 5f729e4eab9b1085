//! Shoal embedding tables (`.she`): parse, then single, batched and bag
//! lookups (in range and out of range) on whatever parses.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shoal_core::embed::{Pool, Table};

fuzz_target!(|data: &[u8]| {
    if let Ok(t) = Table::from_bytes(data) {
        if t.dim() > 4096 {
            return;
        }
        let last = t.rows() as u64 - 1;
        let mut row = vec![0.0f32; t.dim()];
        let _ = t.lookup(0, &mut row);
        let _ = t.lookup(last, &mut row);
        let _ = t.lookup(last + 1, &mut row);
        let _ = t.dot(last, &row.clone());
        let mut out = vec![0.0f32; 2 * t.dim()];
        let _ = t.lookup_batch(&[0, last], &mut out);
        let _ = t.bag(&[0, last, 0], &[0, 1], None, Pool::Mean, &mut out);
    }
});
