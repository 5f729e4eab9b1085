//! log-Bessel throughput on one core against SciPy (`log(ive(v,x))+x`,
//! `log(kve(v,x))-x`) measured in the same run on the same inputs: the
//! reference grid's distribution (shared grid when present, else the
//! project's own table), then five rounds alternating with SciPy (median
//! per-round ratio and range). `cargo bench -p shoal-tests --bench bessel`.

use std::hint::black_box;
use std::time::Instant;

use shoal_core::bessel::{self, scalar::branch, scalar_f32, Branch};
use shoal_tests::{json_number, python_peer, read_bessel_csv, shared_dir, workspace_root};

fn rate(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = Instant::now();
        let mut reps = 0;
        while t0.elapsed().as_secs_f64() < 0.3 {
            f();
            reps += 1;
        }
        best = best.min(t0.elapsed().as_secs_f64() / f64::from(reps));
    }
    n as f64 / best
}

fn scipy(path: &std::path::Path) -> Option<(f64, f64, String)> {
    let s = python_peer("tests/benches/scipy_bessel.py", &[path])?;
    Some((
        json_number(&s, "log_i")?,
        json_number(&s, "log_k")?,
        s.trim().to_string(),
    ))
}

fn main() {
    let path = shared_dir()
        .map(|s| s.join("reference/bessel/ref_grid.csv"))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| workspace_root().join("tests/ref/bessel_ref.csv"));
    let rows = read_bessel_csv(&path).expect("reference table");
    let v: Vec<f64> = rows.iter().map(|r| r.v).collect();
    let x: Vec<f64> = rows.iter().map(|r| r.x).collect();
    let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    let x32: Vec<f32> = x.iter().map(|&a| a as f32).collect();
    let n = v.len();
    println!("inputs: {} ({n} points)", path.display());
    let mut out = vec![0.0; n];
    let mut out32 = vec![0.0f32; n];
    let fi = rate(n, || {
        bessel::log_bessel_i_slice(black_box(&v), black_box(&x), &mut out).unwrap()
    });
    let fk = rate(n, || {
        bessel::log_bessel_k_slice(black_box(&v), black_box(&x), &mut out).unwrap()
    });
    let gi = rate(n, || {
        bessel::log_bessel_i_slice_f32(black_box(&v32), black_box(&x32), &mut out32).unwrap()
    });
    let gk = rate(n, || {
        bessel::log_bessel_k_slice_f32(black_box(&v32), black_box(&x32), &mut out32).unwrap()
    });
    let pi_ = rate(n, || {
        bessel::log_bessel_i_slice_f32_pure(black_box(&v32), black_box(&x32), &mut out32).unwrap()
    });
    let pk_ = rate(n, || {
        bessel::log_bessel_k_slice_f32_pure(black_box(&v32), black_box(&x32), &mut out32).unwrap()
    });
    let ti = rate(n, || {
        for ((o, &a), &b) in out32.iter_mut().zip(&v32).zip(&x32) {
            *o = scalar_f32::log_i(black_box(a), black_box(b));
        }
    });
    let tk = rate(n, || {
        for ((o, &a), &b) in out32.iter_mut().zip(&v32).zip(&x32) {
            *o = scalar_f32::log_k(black_box(a), black_box(b));
        }
    });
    // Per branch, f64.
    for b in [Branch::Debye, Branch::Hankel, Branch::Small] {
        let idx: Vec<usize> = (0..n).filter(|&i| branch(v[i], x[i]) == b).collect();
        let (bv, bx): (Vec<f64>, Vec<f64>) = idx.iter().map(|&i| (v[i], x[i])).unzip();
        let mut o = vec![0.0; bv.len()];
        let ri = rate(bv.len(), || {
            bessel::log_bessel_i_slice(black_box(&bv), black_box(&bx), &mut o).unwrap()
        });
        let rk = rate(bv.len(), || {
            bessel::log_bessel_k_slice(black_box(&bv), black_box(&bx), &mut o).unwrap()
        });
        let (bv32, bx32): (Vec<f32>, Vec<f32>) = idx.iter().map(|&i| (v32[i], x32[i])).unzip();
        let mut o32 = vec![0.0f32; bv.len()];
        let si = rate(bv.len(), || {
            bessel::log_bessel_i_slice_f32_pure(black_box(&bv32), black_box(&bx32), &mut o32)
                .unwrap()
        });
        let sk = rate(bv.len(), || {
            bessel::log_bessel_k_slice_f32_pure(black_box(&bv32), black_box(&bx32), &mut o32)
                .unwrap()
        });
        println!(
            "  branch {b:?}: {} points, f64: log I {:.2} M/s, log K {:.2} M/s; pure f32 slices: log I {:.2} M/s, log K {:.2} M/s",
            bv.len(),
            ri / 1e6,
            rk / 1e6,
            si / 1e6,
            sk / 1e6
        );
    }
    // Slices of mixed inputs by length (the grid shuffled by a fixed
    // permutation, then cut into slices): each call's last groups are
    // padded, which short slices pay for; the SIMD path depends on length.
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let (sv, sx): (Vec<f64>, Vec<f64>) = order.iter().map(|&i| (v[i], x[i])).unzip();
    let (sv32, sx32): (Vec<f32>, Vec<f32>) = order.iter().map(|&i| (v32[i], x32[i])).unzip();
    println!("shuffled grid inputs in slices of one length (M evals/s):");
    for len in [8usize, 32, 128, 512, 4096] {
        let chunks = n / len;
        let mut o = vec![0.0; len];
        let mut o32 = vec![0.0f32; len];
        let a = rate(chunks * len, || {
            for c in 0..chunks {
                let r = c * len..(c + 1) * len;
                bessel::log_bessel_i_slice(black_box(&sv[r.clone()]), &sx[r], &mut o).unwrap();
            }
        });
        let b = rate(chunks * len, || {
            for c in 0..chunks {
                let r = c * len..(c + 1) * len;
                bessel::log_bessel_i_slice_f32_pure(
                    black_box(&sv32[r.clone()]),
                    &sx32[r],
                    &mut o32,
                )
                .unwrap();
            }
        });
        println!(
            "  length {len:5}: f64 log I {:7.2}, pure f32 log I {:7.2}",
            a / 1e6,
            b / 1e6
        );
    }
    let peer = scipy(&path);
    if peer.is_none() {
        println!("SciPy peer unavailable (pip install numpy scipy): no ratios");
    }
    let show = |name: &str, r: f64, p: Option<f64>| match p {
        Some(p) => println!(
            "{name:<34} {:8.2} M evals/s   {:6.2}x SciPy",
            r / 1e6,
            r / p
        ),
        None => println!("{name:<34} {:8.2} M evals/s", r / 1e6),
    };
    let (pi, pk) = match &peer {
        Some((a, b, raw)) => {
            println!("SciPy (same run): {raw}");
            (Some(*a), Some(*b))
        }
        None => (None, None),
    };
    show("log I f64 slice", fi, pi);
    show("log K f64 slice", fk, pk);
    show("log I f32 (f64 rounded)", gi, pi);
    show("log K f32 (f64 rounded)", gk, pk);
    show("log I f32 twin (pure f32, scalar)", ti, pi);
    show("log K f32 twin (pure f32, scalar)", tk, pk);
    let simd = bessel::simd_backend();
    show(&format!("log I pure f32 slice ({simd})"), pi_, pi);
    show(&format!("log K pure f32 slice ({simd})"), pk_, pk);
    if peer.is_none() {
        return;
    }
    // The machine's speed drifts from minute to minute: five rounds that
    // alternate which side runs first, the median of the per-round ratios
    // and their range.
    let mut ratios: [Vec<f64>; 4] = Default::default();
    for round in 0..5 {
        let mut ours = [0.0f64; 4];
        let mut theirs = None;
        for shoal_now in [round % 2 == 0, round % 2 == 1] {
            if !shoal_now {
                theirs = scipy(&path);
                continue;
            }
            ours = [
                rate(n, || {
                    bessel::log_bessel_i_slice(black_box(&v), black_box(&x), &mut out).unwrap()
                }),
                rate(n, || {
                    bessel::log_bessel_k_slice(black_box(&v), black_box(&x), &mut out).unwrap()
                }),
                rate(n, || {
                    bessel::log_bessel_i_slice_f32_pure(
                        black_box(&v32),
                        black_box(&x32),
                        &mut out32,
                    )
                    .unwrap()
                }),
                rate(n, || {
                    bessel::log_bessel_k_slice_f32_pure(
                        black_box(&v32),
                        black_box(&x32),
                        &mut out32,
                    )
                    .unwrap()
                }),
            ];
        }
        if let Some((a, b, _)) = theirs {
            for (r, (o, p)) in ratios.iter_mut().zip(ours.iter().zip([a, b, a, b])) {
                r.push(o / p);
            }
        }
    }
    println!("alternating rounds against SciPy (median per-round ratio, range):");
    for (name, r) in [
        "log I f64 slice",
        "log K f64 slice",
        "log I pure f32 slice",
        "log K pure f32 slice",
    ]
    .iter()
    .zip(ratios.iter_mut())
    {
        if r.is_empty() {
            continue;
        }
        r.sort_by(f64::total_cmp);
        println!(
            "  {name:<22} {:6.2}x  ({:.2}-{:.2}x over {} rounds)",
            r[r.len() / 2],
            r[0],
            r[r.len() - 1],
            r.len()
        );
    }
}
