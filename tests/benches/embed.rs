//! Embedding lookups (rows/s, one core) on a 1,048,576 × 64 table with
//! uniformly random ids, against peers measured in the same run: numpy's
//! f32 gather and FAISS's PQ and SQ8 gather + `sa_decode`
//! (`tests/benches/embed_peer.py`; skipped with a note when Python, numpy or
//! faiss is missing), and against the random-gather limit of each row size
//! (copying the stored rows without decoding them; and that plus writing the
//! f32 output rows that a batched lookup must write).
//! `cargo bench -p shoal-tests --bench embed`.

use std::hint::black_box;

use shoal_core::embed::{Method, Pool, Table};
use shoal_core::rng::Rng;
use shoal_tests::{best_rate, python_peer, workspace_root};

const ROWS: usize = 1 << 20;
const DIM: usize = 64;
const N: usize = 1 << 20;
const PQ_M: usize = 16;

/// The memory limits of a lookup reading `row_bytes`-byte rows at random
/// ids: copying the stored rows (gather), and copying them while also
/// writing the `DIM` f32 outputs a batched lookup must write.
fn gather_limits(row_bytes: usize, ids: &[u64], out: &mut [f32]) -> (f64, f64) {
    let store = vec![1u8; ROWS * row_bytes];
    let mut buf = vec![0u8; ids.len() * row_bytes];
    let gather = best_rate(ids.len(), || {
        for (&id, o) in ids.iter().zip(buf.chunks_exact_mut(row_bytes)) {
            let i = id as usize * row_bytes;
            o.copy_from_slice(&store[i..i + row_bytes]);
        }
        black_box(&buf);
    });
    let with_write = best_rate(ids.len(), || {
        for (&id, o) in ids.iter().zip(out.chunks_exact_mut(DIM)) {
            let i = id as usize * row_bytes;
            let v = f32::from(store[i]) + f32::from(store[i + row_bytes - 1]);
            o.fill(v);
        }
        black_box(&out);
    });
    (gather, with_write)
}

fn main() {
    let mut rng = Rng::new(1);
    let e: Vec<f32> = (0..ROWS * DIM).map(|_| rng.normal() as f32).collect();
    let ids: Vec<u64> = (0..N).map(|_| rng.next_u64() % ROWS as u64).collect();
    let mut out = vec![0.0f32; N * DIM];
    println!("table {ROWS} x {DIM}, {N} random ids per pass, best of 5, one thread\n");
    println!(
        "{:<34} {:>9} {:>7} {:>10} {:>14}",
        "lookup", "M rows/s", "GB/s", "vs gather", "vs gather+out"
    );
    let mut ours = Vec::new();
    for m in [
        Method::F32,
        Method::F16,
        Method::Int8,
        Method::Int4,
        Method::Pq {
            subspaces: PQ_M,
            bits: 8,
        },
    ] {
        let t = Table::encode_with(&e, ROWS, DIM, m, 0, &mut |_| {}).unwrap();
        let rb = (t.stored_bytes() as f64 / ROWS as f64).round() as usize;
        let r = best_rate(N, || t.lookup_batch(black_box(&ids), &mut out).unwrap());
        let (gather, with_out) = gather_limits(rb.max(1), &ids, &mut out);
        println!(
            "{:<34} {:>9.1} {:>7.2} {:>9.0}% {:>13.0}%",
            format!("shoal {m}"),
            r / 1e6,
            r * rb as f64 / 1e9,
            100.0 * r / gather,
            100.0 * r / with_out
        );
        if matches!(m, Method::Int8 | Method::Pq { .. }) {
            // The scalar specification, one row at a time.
            let mut row = vec![0.0f32; DIM];
            let s = best_rate(N, || {
                for &id in &ids {
                    t.lookup_reference(id, &mut row).unwrap();
                    black_box(&row);
                }
            });
            println!("{:<34} {:>9.1}", "  scalar spec, no prefetch", s / 1e6);
            // Bags of 20 ids, mean pooled.
            let offsets: Vec<usize> = (0..N / 20).map(|k| 20 * k).collect();
            let mut bags = vec![0.0f32; offsets.len() * DIM];
            let b = best_rate(N, || {
                t.bag(
                    black_box(&ids[..offsets.len() * 20]),
                    &offsets,
                    None,
                    Pool::Mean,
                    &mut bags,
                )
                .unwrap()
            });
            println!(
                "{:<34} {:>9.1} {:>7.2} {:>9.0}%",
                "  bags of 20, mean",
                b / 1e6,
                b * rb as f64 / 1e9,
                100.0 * b / gather
            );
        }
        ours.push((m, r));
    }
    // Peers in the same run.
    let dir = workspace_root().join("target/bench-embed");
    std::fs::create_dir_all(&dir).unwrap();
    let (tp, ip) = (dir.join("table.npy"), dir.join("ids.npy"));
    std::fs::write(&tp, shoal_core::npy::write_f32(&[ROWS, DIM], &e).unwrap()).unwrap();
    let idf: Vec<f64> = ids.iter().map(|&i| i as f64).collect();
    std::fs::write(&ip, shoal_core::npy::write_f64(&[N], &idf).unwrap()).unwrap();
    let m = PQ_M.to_string();
    let peers = python_peer(
        "tests/benches/embed_peer.py",
        &[tp.as_os_str(), ip.as_os_str(), m.as_ref()],
    );
    println!();
    match peers {
        Some(out) => {
            for line in out.lines() {
                let Some((name, r)) = line.split_once('\t') else {
                    continue;
                };
                let r: f64 = r.parse().unwrap_or(f64::NAN);
                let ours = |want: fn(&Method) -> bool| {
                    ours.iter().find(|(m, _)| want(m)).map_or(f64::NAN, |p| p.1)
                };
                let (mine, what) = if name.starts_with("numpy") {
                    (ours(|m| *m == Method::F32), "shoal f32")
                } else if name.contains("SQ8") {
                    (ours(|m| *m == Method::Int8), "shoal int8")
                } else {
                    (ours(|m| matches!(m, Method::Pq { .. })), "shoal pq")
                };
                println!(
                    "peer {name}: {:.1} M rows/s; {what} is {:.2}x",
                    r / 1e6,
                    mine / r
                );
            }
        }
        None => println!("peers not run (needs python3 with numpy and faiss-cpu)"),
    }
}
