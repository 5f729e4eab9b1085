use std::time::Instant;
fn main() {
    for &(v, x) in &[
        (0.0, 1e-8),
        (0.5, 1e-8),
        (5.0, 1e-8),
        (19.0, 1e-8),
        (0.001, 1e-3),
        (10.0, 1.0),
        (3.0, 10.0),
        (19.0, 150.0),
        (0.0, 20.0),
    ] {
        let t = Instant::now();
        let mut s = 0.0;
        for _ in 0..1000 {
            s += shoal_core::bessel::log_bessel_k(std::hint::black_box(v), std::hint::black_box(x));
        }
        println!(
            "v={v} x={x}: {:.0} ns ({s})",
            t.elapsed().as_nanos() as f64 / 1000.0
        );
    }
}
