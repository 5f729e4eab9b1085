//! The embedding quality table: nearest-neighbour recall@10 preserved by
//! each method at its compression ratio, on real tables (fastText lid.176's
//! input matrix; MovieLens-100k item factors when
//! `tests/ref/gen_movielens_factors.py` has made them), with FAISS's scalar
//! and product quantizers on the same tables and protocol when `faiss` is
//! importable.
//!
//!     cargo run --release -p shoal-tests --example embed_quality

use shoal_core::embed::{Codec, Method};
use shoal_tests::{compression_quality, lid176_table, python_peer, workspace_root};

fn methods(rows: usize, dim: usize) -> Vec<Method> {
    let mut v = vec![Method::F16, Method::Int8, Method::Int4, Method::Int2];
    for m in [dim / 2, dim / 4, dim / 8] {
        if m >= 1 {
            v.push(Method::Pq {
                subspaces: m,
                bits: 8,
            });
            v.push(Method::Pq {
                subspaces: m,
                bits: 4,
            });
        }
    }
    for r in [dim / 2, dim / 4] {
        v.push(Method::LowRank {
            rank: r.max(1),
            factors: Codec::Int8,
        });
    }
    v.push(Method::Hashed {
        buckets: rows / 4,
        codec: Codec::F16,
    });
    v.push(Method::QuotientRemainder {
        modulus: (rows as f64).sqrt().ceil() as usize,
        codec: Codec::F16,
    });
    v
}

fn report(name: &str, e: &[f32], rows: usize, dim: usize) {
    println!("\n## {name} ({rows} x {dim})\n");
    println!("| method | ratio vs f32 | recall@10 |");
    println!("|---|---:|---:|");
    for m in methods(rows, dim) {
        match compression_quality(e, rows, dim, m) {
            Ok((ratio, recall)) => println!("| shoal {m} | {ratio:.2}x | {recall:.3} |"),
            Err(err) => println!("| shoal {m} | - | {err} |"),
        }
    }
    let dir = workspace_root().join("target/embed-quality");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}.npy", name.replace(' ', "_")));
    std::fs::write(&path, shoal_core::npy::write_f32(&[rows, dim], e).unwrap()).unwrap();
    match python_peer("tests/ref/faiss_recall.py", &[&path]) {
        Some(out) => {
            for line in out.lines() {
                let c: Vec<&str> = line.split('\t').collect();
                if let [name, _, ratio, recall] = c[..] {
                    println!("| {name} | {ratio}x | {recall} |");
                }
            }
        }
        None => println!("(FAISS peer not run: `pip install faiss-cpu` for it)"),
    }
}

fn main() {
    let (e, rows, dim) = lid176_table();
    report("lid176 input", &e, rows, dim);
    let ml = workspace_root().join("target/embed-quality/movielens_items_d64.npy");
    match std::fs::read(&ml) {
        Ok(b) => {
            let a = shoal_core::npy::read(&b).unwrap();
            report("movielens items", &a.to_f32(), a.shape[0], a.shape[1]);
        }
        Err(_) => println!("\n(MovieLens factors missing: run tests/ref/gen_movielens_factors.py)"),
    }
}
