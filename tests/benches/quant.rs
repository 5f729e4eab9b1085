//! Quantized GEMV throughput (weights/s) on one core, for Q8 and Q4 (groups
//! of 32, f16 scales: the same 8.5 and 4.5 bits per weight as ggml's q8_0
//! and q4_0) at 4096 x 4096 and 11008 x 4096, against:
//! - ggml's CPU kernel, built from source by `tests/benches/ggml/build.sh`
//!   and measured in the same run (`ggml_peer`: quantize x to q8_0, one
//!   vec_dot per row, one thread), in five rounds alternating with Shoal's
//!   kernel; the median ratio is printed, with the range — skipped with a
//!   note when it cannot be built;
//! - a dense f32 GEMV written plainly in Rust.
//!
//! Also the GEAR composite (rank 4 + 2% outliers on Q4) against plain Q4.
//! `cargo bench -p shoal-tests --bench quant`.

use std::hint::black_box;
use std::process::Command;

use shoal_core::quant::gear::GearMatrix;
use shoal_core::quant::{Bits, Format, QuantMatrix, ScaleType, Scheme};
use shoal_core::rng::Rng;
use shoal_tests::{best_rate, json_number, workspace_root};

fn dense_gemv(w: &[f32], x: &[f32], y: &mut [f32]) {
    for (row, yr) in w.chunks_exact(x.len()).zip(y.iter_mut()) {
        let mut acc = [0.0f32; 8];
        for (wc, xc) in row.chunks_exact(8).zip(x.chunks_exact(8)) {
            for k in 0..8 {
                acc[k] += wc[k] * xc[k];
            }
        }
        *yr = acc.iter().sum();
    }
}

/// ggml's weights/s for (q8_0, q4_0), or why there are none.
fn ggml(rows: usize, cols: usize) -> Result<(f64, f64), String> {
    let script = workspace_root().join("tests/benches/ggml/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "ggml build failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let bin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let run = Command::new(&bin)
        .args([rows.to_string(), cols.to_string(), "30".into()])
        .output()
        .map_err(|e| e.to_string())?;
    let s = String::from_utf8_lossy(&run.stdout);
    match (json_number(&s, "q8_0"), json_number(&s, "q4_0")) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(format!("unexpected ggml_peer output: {s}")),
    }
}

fn main() {
    let mut rng = Rng::new(1);
    for &(rows, cols) in &[(4096usize, 4096usize), (11008, 4096)] {
        let w: Vec<f32> = (0..rows * cols)
            .map(|_| rng.normal() as f32 * 0.02)
            .collect();
        let x: Vec<f32> = (0..cols).map(|_| rng.normal() as f32).collect();
        let mut y = vec![0.0f32; rows];
        let n = rows * cols;
        let dense = best_rate(n, || dense_gemv(black_box(&w), &x, &mut y));
        println!(
            "{rows} x {cols}: dense f32 GEMV {:.2} G weights/s ({:.1} GB/s)",
            dense / 1e9,
            dense * 4.0 / 1e9
        );
        let formats = [(Bits::Q8, "q8", "q8_0"), (Bits::Q4, "q4", "q4_0")];
        let qs: Vec<QuantMatrix> = formats
            .iter()
            .map(|&(bits, ..)| {
                let f = Format::new(bits, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
                QuantMatrix::quantize(&w, rows, cols, f).unwrap()
            })
            .collect();
        // Five rounds, each ggml (its own process, best of 10) then Shoal
        // (best of at least 5 runs and 0.3 s), so that both sides of a
        // ratio see the machine in the same state; the median ratio counts.
        let mut rounds: Vec<[(f64, f64); 2]> = Vec::new();
        let mut peer_error = None;
        for _ in 0..5 {
            let peer = match ggml(rows, cols) {
                Ok(p) => p,
                Err(e) => {
                    peer_error = Some(e);
                    break;
                }
            };
            let mut round = [(0.0, 0.0); 2];
            for (k, q) in qs.iter().enumerate() {
                let ours = best_rate(n, || q.gemv_int8(black_box(&x), &mut y).unwrap());
                round[k] = (ours, if k == 0 { peer.0 } else { peer.1 });
            }
            rounds.push(round);
        }
        if let Some(e) = &peer_error {
            println!("  ggml: not measured ({e})");
        }
        for (k, (&(_, name, ggml_name), q)) in formats.iter().zip(&qs).enumerate() {
            let simd = best_rate(n, || q.gemv(black_box(&x), &mut y).unwrap());
            let scalar = best_rate(n, || q.gemv_int8_scalar(black_box(&x), &mut y).unwrap());
            let int8 = if rounds.is_empty() {
                best_rate(n, || q.gemv_int8(black_box(&x), &mut y).unwrap())
            } else {
                rounds.iter().map(|r| r[k].0).fold(0.0, f64::max)
            };
            let vs = if rounds.is_empty() {
                String::new()
            } else {
                let mut ratios: Vec<f64> = rounds.iter().map(|r| r[k].0 / r[k].1).collect();
                ratios.sort_by(f64::total_cmp);
                let peer = rounds.iter().map(|r| r[k].1).fold(0.0, f64::max);
                format!(
                    " = {:.2}x ggml {ggml_name} (median of {} alternating rounds, range {:.2}-{:.2}x; \
                     ggml best {:.2} G weights/s)",
                    ratios[ratios.len() / 2],
                    ratios.len(),
                    ratios[0],
                    ratios[ratios.len() - 1],
                    peer / 1e9
                )
            };
            println!(
                "  {name} g32 ({:.1} bits): int8-vector kernel {:.2} G weights/s{vs} ({:.1} GB/s of packed data); \
                 f32-vector kernel {:.2}; int8 scalar spec {:.2}; {:.2}x dense f32",
                q.bits_per_weight(),
                int8 / 1e9,
                int8 * q.bits_per_weight() / 8.0 / 1e9,
                simd / 1e9,
                scalar / 1e9,
                int8 / dense
            );
        }
        if rows == 4096 {
            let f = Format::new(Bits::Q4, Scheme::Symmetric, 32, ScaleType::F16).unwrap();
            let g = GearMatrix::compress(&w, rows, cols, f, 4, 0.02).unwrap();
            // Plain Q4 and GEAR measured in alternation (best of five rounds
            // each), so that both see the same machine state.
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let (mut plain, mut gear) = (0.0f64, 0.0f64);
            for _ in 0..5 {
                plain = plain.max(best_rate(n, || q.gemv_int8(black_box(&x), &mut y).unwrap()));
                gear = gear.max(best_rate(n, || g.gemv_int8(black_box(&x), &mut y).unwrap()));
            }
            println!(
                "  GEAR q4 g32 + rank 4 + 2% outliers ({:.2} bits): {:.2} G weights/s, overhead {:.0}% over plain q4",
                g.bits_per_weight(),
                gear / 1e9,
                (plain / gear - 1.0) * 100.0
            );
        }
    }
}
