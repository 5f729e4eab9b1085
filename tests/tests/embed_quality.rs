//! Nearest-neighbour recall@10 preserved on a real table (fastText lid.176's
//! 50,000 × 16 input matrix), against floors set from the seed study's
//! anchors and against FAISS on the same table and protocol
//! (`tests/ref/faiss_recall.py` → `tests/ref/embed_quality_faiss_lid176.tsv`).
//! The full table for every method is `--example embed_quality`.

use shoal_core::embed::{Codec, Method};
use shoal_tests::{compression_quality, lid176_table, workspace_root};

fn faiss(name: &str) -> f64 {
    let t =
        std::fs::read_to_string(workspace_root().join("tests/ref/embed_quality_faiss_lid176.tsv"))
            .expect("FAISS reference");
    t.lines()
        .find_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c[0] == name).then(|| c[3].parse().unwrap())
        })
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[test]
fn recall_at_10_on_lid176() {
    let (e, rows, dim) = lid176_table();
    let checks: [(Method, f64, &str); 6] = [
        (Method::F16, 0.995, "faiss SQfp16"),
        (Method::Int8, 0.97, "faiss SQ8"),
        (Method::Int4, 0.82, "faiss SQ4"),
        (
            Method::Pq {
                subspaces: 8,
                bits: 8,
            },
            0.0,
            "faiss PQ8x8",
        ),
        (
            Method::Pq {
                subspaces: 4,
                bits: 8,
            },
            0.0,
            "faiss PQ4x8",
        ),
        (
            Method::LowRank {
                rank: 8,
                factors: Codec::Int8,
            },
            0.3,
            "",
        ),
    ];
    for (m, floor, peer) in checks {
        let (ratio, recall) = compression_quality(&e, rows, dim, m).unwrap();
        let f = if peer.is_empty() {
            f64::NAN
        } else {
            faiss(peer)
        };
        println!("{m}: {ratio:.2}x, recall@10 {recall:.3} ({peer} {f:.3})");
        assert!(recall >= floor, "{m}: {recall} < {floor}");
        if let Method::Pq { .. } = m {
            // Same codes per row as FAISS's PQ: at least its recall, less 0.02.
            assert!(recall >= f - 0.02, "{m}: {recall} vs FAISS {f}");
        } else if !peer.is_empty() {
            // Row-wise int8/int4 beat FAISS's global-range scalar quantizers.
            assert!(recall >= f - 0.005, "{m}: {recall} vs FAISS {f}");
        }
    }
}
