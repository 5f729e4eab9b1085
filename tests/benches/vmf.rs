//! von Mises-Fisher fit time for 1000 samples (excluding I/O), and the
//! sampler's cost per draw, at several dimensions. Peer: SciPy's
//! `vonmises_fisher.fit` measured in the same run where SciPy is installed.
//! `cargo bench -p shoal-tests --bench vmf`.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use shoal_core::{rng::Rng, vmf};
use shoal_tests::best_rate;

fn main() {
    let n = 1000;
    println!(
        "{:>6} {:>10} {:>14} {:>14} {:>16}",
        "p", "kappa", "fit 1000 (ms)", "kappa fit", "sample (us/draw)"
    );
    for &(p, kappa) in &[
        (3usize, 10.0),
        (64, 100.0),
        (512, 1000.0),
        (2048, 4000.0),
        (32768, 40000.0),
    ] {
        let mut mu = vec![0.0; p];
        mu[p / 2] = 1.0;
        let mut rng = Rng::new(5);
        let mut samples = vec![0.0; n * p];
        let t0 = Instant::now();
        for row in samples.chunks_exact_mut(p) {
            vmf::sample(&mut rng, &mu, kappa, row).unwrap();
        }
        let per_draw = t0.elapsed().as_secs_f64() / n as f64;
        let mut mean = vec![0.0; p];
        let mut fitted = 0.0;
        let t = 1.0
            / best_rate(1, || {
                fitted = vmf::fit(black_box(&samples), p, &mut mean).unwrap().kappa;
            });
        println!(
            "{p:>6} {kappa:>10} {:>14.4} {fitted:>14.2} {:>16.2}",
            t * 1e3,
            per_draw * 1e6
        );
        if p == 64 {
            let path = std::env::temp_dir().join("shoal-vmf-bench.npy");
            let bytes = shoal_core::npy::write_f64(&[n, p], &samples).unwrap();
            if std::fs::write(&path, bytes).is_ok() {
                let script = "import sys,time,numpy as np\nfrom scipy.stats import vonmises_fisher\nx=np.load(sys.argv[1])\nvonmises_fisher.fit(x)\nt=time.perf_counter();r=[vonmises_fisher.fit(x) for _ in range(5)];dt=(time.perf_counter()-t)/5\nprint(f'{dt*1e3:.4f} {r[0][1]:.2f}')";
                match Command::new("python3")
                    .args(["-c", script])
                    .arg(&path)
                    .output()
                {
                    Ok(o) if o.status.success() => {
                        let s = String::from_utf8_lossy(&o.stdout);
                        let mut it = s.split_whitespace();
                        let ms: f64 = it.next().and_then(|a| a.parse().ok()).unwrap_or(f64::NAN);
                        println!("       SciPy vonmises_fisher.fit, same samples: {ms:.4} ms (kappa {}), Shoal is {:.1}x faster", it.next().unwrap_or("?"), ms / (t * 1e3));
                    }
                    _ => println!("       SciPy peer unavailable (pip install numpy scipy)"),
                }
            }
        }
    }
}
