//! Language identification throughput (texts/s, one core) with fastText's
//! lid.176.ftz on the 272 reference texts, against the official fastText
//! C++ code (`fasttext-predict`, `tests/benches/langid_peer.py`) measured in
//! the same run. `cargo bench -p shoal-tests --bench langid`.

use std::hint::black_box;
use std::time::Instant;

use shoal_core::fasttext::FastText;
use shoal_tests::{python_peer, unescape_python, workspace_root};

fn main() {
    let model = workspace_root().join("host-gpu/models/lid.176.ftz");
    let table = workspace_root().join("tests/ref/langid/lid176_ref.tsv");
    let bytes = std::fs::read(&model).unwrap();
    let t0 = Instant::now();
    let m = FastText::from_bytes(&bytes).unwrap();
    let load = t0.elapsed();
    let texts: Vec<String> = std::fs::read_to_string(&table)
        .unwrap()
        .lines()
        .map(|l| unescape_python(l.split('\t').next().unwrap()).unwrap())
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..6 {
        let t0 = Instant::now();
        for t in &texts {
            black_box(m.predict(t, 1, 0.0).unwrap());
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let ours = texts.len() as f64 / best;
    println!(
        "shoal langid: {:.0} texts/s ({} texts, model parsed in {:.2} ms)",
        ours,
        texts.len(),
        load.as_secs_f64() * 1e3
    );
    let peer = python_peer("tests/benches/langid_peer.py", &[&model, &table]);
    match peer {
        Some(out) => {
            let r: f64 = out.trim().parse().unwrap_or(f64::NAN);
            println!(
                "fastText (fasttext-predict): {r:.0} texts/s; shoal is {:.2}x",
                ours / r
            );
        }
        None => println!("peer not run (pip install fasttext-predict)"),
    }
}
