use shoal_core::embed::{Codec, Method};
fn main() {
    let (e, rows, dim) = shoal_tests::lid176_table();
    for m in [
        Method::Int8,
        Method::Pq {
            subspaces: 8,
            bits: 8,
        },
        Method::Pq {
            subspaces: 8,
            bits: 4,
        },
        Method::LowRank {
            rank: 8,
            factors: Codec::Int8,
        },
        Method::QuotientRemainder {
            modulus: 224,
            codec: Codec::F16,
        },
    ] {
        let t0 = std::time::Instant::now();
        let t = shoal_core::embed::Table::encode(&e, rows, dim, m).unwrap();
        let t1 = t0.elapsed();
        let ids: Vec<u64> = (0..rows as u64).collect();
        let mut dec = vec![0.0f32; rows * dim];
        t.lookup_batch(&ids, &mut dec).unwrap();
        let r = shoal_tests::recall_at_k(&e, &dec, dim, &shoal_tests::query_ids(rows, 500), 10);
        println!(
            "{m}: encode {:?}, total {:?}, recall {r:.3}",
            t1,
            t0.elapsed()
        );
    }
}
