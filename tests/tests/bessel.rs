//! Accuracy of the log-Bessel kernels against mpmath tables (the project's own
//! `tests/ref/bessel_ref.csv` and the independent shared grid), per branch.

use shoal_core::bessel::{
    self, bessel_i_ratio, log_bessel_i, log_bessel_i_f32, log_bessel_k, log_bessel_k_f32,
    scalar::branch, Branch,
};
use shoal_tests::{
    f32_exact, log_err_units, read_bessel_csv, shared_dir, workspace_root, BesselRef,
};

#[derive(Default)]
struct Stats {
    errs: Vec<f64>,
    worst: Option<(f64, f64, f64, f64)>, // err, v, x, got
}

impl Stats {
    fn push(&mut self, e: f64, v: f64, x: f64, got: f64) {
        if self.worst.is_none_or(|w| e > w.0) {
            self.worst = Some((e, v, x, got));
        }
        self.errs.push(e);
    }
    fn max(&self) -> f64 {
        self.worst.map_or(0.0, |w| w.0)
    }
    fn median(&self) -> f64 {
        let mut e = self.errs.clone();
        e.sort_by(f64::total_cmp);
        e.get(e.len() / 2).copied().unwrap_or(0.0)
    }
}

const BRANCHES: [Branch; 3] = [Branch::Debye, Branch::Hankel, Branch::Small];

/// Measures one function over a table; returns the max error over all branches.
fn measure(
    name: &str,
    rows: &[BesselRef],
    eps: f64,
    f: impl Fn(f64, f64) -> f64,
    pick: impl Fn(&BesselRef) -> f64,
) -> (f64, usize) {
    let mut per: Vec<Stats> = BRANCHES.iter().map(|_| Stats::default()).collect();
    let mut non_finite = 0;
    for r in rows {
        let got = f(r.v, r.x);
        let reference = pick(r);
        if !got.is_finite() {
            non_finite += 1;
            eprintln!("{name}: non-finite {got} at v={:e} x={:e}", r.v, r.x);
            continue;
        }
        let b = branch(r.v, r.x);
        let idx = BRANCHES.iter().position(|&c| c == b).unwrap_or(0);
        per[idx].push(log_err_units(got, reference, r.v, r.x, eps), r.v, r.x, got);
    }
    let mut overall: f64 = 0.0;
    for (b, s) in BRANCHES.iter().zip(&per) {
        if let Some((e, v, x, got)) = s.worst {
            println!(
                "{name:>28} {b:>7?}: n={:5} median={:.3} max={:.3} at v={v:e} x={x:e} (got {got:e} = {:#018x})",
                s.errs.len(),
                s.median(),
                s.max(),
                got.to_bits()
            );
            overall = overall.max(e);
        }
    }
    (overall, non_finite)
}

fn tables() -> Vec<(String, Vec<BesselRef>)> {
    let mut t = Vec::new();
    let own = workspace_root().join("tests/ref/bessel_ref.csv");
    t.push((
        "own mpmath".to_string(),
        read_bessel_csv(&own).expect("tests/ref/bessel_ref.csv is committed"),
    ));
    let own32 = workspace_root().join("tests/ref/bessel_ref_f32.csv");
    t.push((
        "own f32-exact".to_string(),
        read_bessel_csv(&own32).expect("tests/ref/bessel_ref_f32.csv is committed"),
    ));
    let small = workspace_root().join("tests/ref/bessel_ref_small_f32.csv");
    t.push((
        "own small-x f32-exact".to_string(),
        read_bessel_csv(&small).expect("tests/ref/bessel_ref_small_f32.csv is committed"),
    ));
    let mid = workspace_root().join("tests/ref/bessel_ref_mid.csv");
    t.push((
        "own mid-x".to_string(),
        read_bessel_csv(&mid).expect("tests/ref/bessel_ref_mid.csv is committed"),
    ));
    if let Some(shared) = shared_dir() {
        let p = shared.join("reference/bessel/ref_grid.csv");
        if p.is_file() {
            t.push((
                "shared grid".to_string(),
                read_bessel_csv(&p).expect("shared grid parses"),
            ));
        }
    } else {
        println!("shared reference grid not found: checking the committed table only");
    }
    t
}

#[test]
fn log_bessel_f64_within_two_units() {
    for (name, rows) in tables() {
        let (ei, ni) = measure(
            &format!("{name} log I f64"),
            &rows,
            f64::EPSILON,
            log_bessel_i,
            |r| r.log_i,
        );
        let (ek, nk) = measure(
            &format!("{name} log K f64"),
            &rows,
            f64::EPSILON,
            log_bessel_k,
            |r| r.log_k,
        );
        assert_eq!(ni + nk, 0, "{name}: non-finite results");
        assert!(ei <= 2.0, "{name}: log I max error {ei} units");
        assert!(ek <= 2.0, "{name}: log K max error {ek} units");
    }
}

/// Checks a pair of f32 kernels on the f32-exact rows of every table.
fn check_f32(label: &str, fi: fn(f32, f32) -> f32, fk: fn(f32, f32) -> f32) {
    for (name, rows) in tables() {
        let rows = f32_exact(rows);
        let eps = f64::from(f32::EPSILON);
        let gi = |v: f64, x: f64| f64::from(fi(v as f32, x as f32));
        let gk = |v: f64, x: f64| f64::from(fk(v as f32, x as f32));
        let (ei, ni) = measure(&format!("{name} log I {label}"), &rows, eps, gi, |r| {
            r.log_i
        });
        let (ek, nk) = measure(&format!("{name} log K {label}"), &rows, eps, gk, |r| {
            r.log_k
        });
        assert_eq!(ni + nk, 0, "{name} {label}: non-finite results");
        assert!(ei <= 2.0 && ek <= 2.0, "{name}: {label} errors {ei} {ek}");
    }
}

#[test]
fn log_bessel_f32_within_two_units() {
    check_f32("f32", log_bessel_i_f32, log_bessel_k_f32);
}

#[test]
fn ratio_matches_log_difference_where_that_is_well_conditioned() {
    // Where ln I is small, exp(ln I_{v+1} - ln I_v) from the reference table
    // is itself accurate, so it checks the direct ratio.
    for (_, rows) in tables() {
        let mut worst: f64 = 0.0;
        let mut count = 0;
        for a in &rows {
            let Some(b) = rows.iter().find(|b| b.x == a.x && b.v == a.v + 1.0) else {
                continue;
            };
            if a.log_i.abs() > 50.0 || b.log_i.abs() > 50.0 {
                continue;
            }
            let want = (b.log_i - a.log_i).exp();
            let got = bessel_i_ratio(a.v, a.x);
            let cond = 1.0 + a.log_i.abs() + b.log_i.abs();
            let e = ((got - want) / want).abs() / (f64::EPSILON * cond);
            worst = worst.max(e);
            count += 1;
        }
        println!("ratio vs table difference: {count} pairs, max {worst:.3} units");
        assert!(worst <= 4.0, "ratio error {worst}");
    }
}

#[test]
fn special_values() {
    assert_eq!(log_bessel_i(0.0, 0.0), 0.0);
    assert_eq!(log_bessel_i(0.5, 0.0), f64::NEG_INFINITY);
    assert_eq!(log_bessel_k(0.5, 0.0), f64::INFINITY);
    assert!(log_bessel_i(-1.0, 1.0).is_nan());
    assert!(log_bessel_i(1.0, -1.0).is_nan());
    assert!(log_bessel_k(1.0, -1.0).is_nan());
    assert!(log_bessel_i(f64::NAN, 1.0).is_nan());
    assert!(log_bessel_k(1.0, f64::NAN).is_nan());
    assert_eq!(log_bessel_k(-2.5, 3.0), log_bessel_k(2.5, 3.0));
    assert_eq!(log_bessel_i(3.0, f64::INFINITY), f64::INFINITY);
    assert_eq!(log_bessel_k(3.0, f64::INFINITY), f64::NEG_INFINITY);
    assert_eq!(bessel_i_ratio(3.0, 0.0), 0.0);
    assert_eq!(bessel_i_ratio(3.0, f64::INFINITY), 1.0);
    // Extreme but finite inputs stay finite.
    for &(v, x) in &[
        (0.0, 5e-324),
        (1e5, 5e-324),
        (19.9, 1e-300),
        (1e300, 1.0),
        (0.0, 1e300),
        (1e6, 1e6),
    ] {
        assert!(log_bessel_i(v, x).is_finite(), "I({v},{x})");
        assert!(log_bessel_k(v, x).is_finite(), "K({v},{x})");
        let r = bessel_i_ratio(v, x);
        assert!((0.0..=1.0).contains(&r), "ratio({v},{x}) = {r}");
    }
}

#[test]
fn wronskian_and_recurrence_identities() {
    // I_v K_{v+1} + I_{v+1} K_v = 1/x  <=>  ln K_{v+1} + ln I_v + ln(1 + r K_v/K_{v+1}) = -ln x.
    let mut worst: f64 = 0.0;
    for &v in &[
        0.0, 0.3, 1.0, 2.5, 7.0, 18.5, 19.5, 20.0, 45.0, 300.0, 5000.0,
    ] {
        for &x in &[1e-6, 0.01, 0.7, 3.0, 24.0, 26.0, 90.0, 400.0, 2e4] {
            let r = bessel_i_ratio(v, x);
            let lk0 = log_bessel_k(v, x);
            let lk1 = log_bessel_k(v + 1.0, x);
            let lhs = lk1 + log_bessel_i(v, x) + (r * (lk0 - lk1).exp()).ln_1p();
            let e =
                (lhs + x.ln()).abs() / (f64::EPSILON * (1.0 + v + x + lk1.abs() + x.ln().abs()));
            worst = worst.max(e);
        }
    }
    println!("Wronskian max {worst:.3} units");
    assert!(worst < 8.0, "Wronskian {worst}");
}

/// Large orders at arguments so small that `x/(v + s)` leaves the normal
/// range (the Debye kernel's `v·η` term): there `x²/v` is below 1e-200, so
/// `ln I_v(x) = v ln(x/2) − ln Γ(v + 1)` and `ln K_v(x) = ln Γ(v) − ln 2 +
/// v ln(2/x)` hold to the last bit of f64; `ln Γ` from Stirling's series
/// (three terms, error below 1e-18 for `z >= 1000`). Slices give the same
/// bits as single calls.
#[test]
fn debye_at_tiny_arguments_follows_the_leading_term_in_f64_and_f32() {
    let ln_gamma = |z: f64| {
        let r = 1.0 / z;
        (z - 0.5) * z.ln() - z
            + 0.5 * (2.0 * std::f64::consts::PI).ln()
            + r * (1.0 / 12.0 - r * r * (1.0 / 360.0 - r * r / 1260.0))
    };
    let ln2 = std::f64::consts::LN_2;
    let (mut vs, mut xs) = (Vec::new(), Vec::new());
    let mut worst: f64 = 0.0;
    for v in [1e3f64, 1e6, 1e12, 1e20, 1e100, 1e300] {
        for x in [1e-200f64, 1e-250, 1e-290, 2e-290, 1e-300, 1e-310, 5e-324] {
            // ln Γ(v + 1) = ln Γ(v) + ln v.
            let lg = ln_gamma(v);
            let want_i = v * (x.ln() - ln2) - (lg + v.ln());
            let want_k = lg - ln2 + v * (ln2 - x.ln());
            for (got, want) in [(log_bessel_i(v, x), want_i), (log_bessel_k(v, x), want_k)] {
                let e = (got - want).abs() / (f64::EPSILON * (1.0 + v + x + want.abs()));
                assert!(
                    e < 4.0,
                    "v = {v:e}, x = {x:e}: {got:e} against {want:e} ({e:.1} units)"
                );
                worst = worst.max(e);
            }
            vs.push(v);
            xs.push(x);
        }
    }
    println!("tiny-x Debye max {worst:.3} units");
    // The pure-f32 kernel at normal f32 arguments whose x/(v + s) is not
    // normal, against the f64 values just checked (within 2 f32 units),
    // and its slices bit for bit.
    let (mut v32, mut x32) = (Vec::new(), Vec::new());
    for v in [8.5f32, 100.0, 1e4, 1e10, 1e30] {
        for x in [1e-37f32, 2e-38, 1.2e-38, 1e-30] {
            for (got, want) in [
                (
                    bessel::scalar_f32::log_i(v, x),
                    log_bessel_i(v.into(), x.into()),
                ),
                (
                    bessel::scalar_f32::log_k(v, x),
                    log_bessel_k(v.into(), x.into()),
                ),
            ] {
                let (v, x) = (f64::from(v), f64::from(x));
                let e = (f64::from(got) - want).abs()
                    / (f64::from(f32::EPSILON) * (1.0 + v + x + want.abs()));
                assert!(
                    e < 2.0,
                    "f32 v = {v:e}, x = {x:e}: {got:e} against {want:e}"
                );
            }
            v32.push(v);
            x32.push(x);
        }
    }
    type Slice = fn(&[f32], &[f32], &mut [f32]) -> Result<(), bessel::BesselError>;
    let mut out = vec![0.0f32; v32.len()];
    for (slice, twin) in [
        (
            bessel::log_bessel_i_slice_f32_pure as Slice,
            bessel::scalar_f32::log_i as fn(f32, f32) -> f32,
        ),
        (
            bessel::log_bessel_k_slice_f32_pure,
            bessel::scalar_f32::log_k,
        ),
    ] {
        slice(&v32, &x32, &mut out).unwrap();
        for ((&v, &x), &y) in v32.iter().zip(&x32).zip(&out) {
            assert_eq!(y.to_bits(), twin(v, x).to_bits(), "v = {v:e}, x = {x:e}");
        }
    }
    let mut out = vec![0.0; vs.len()];
    bessel::log_bessel_i_slice(&vs, &xs, &mut out).unwrap();
    for ((&v, &x), &y) in vs.iter().zip(&xs).zip(&out) {
        assert_eq!(
            y.to_bits(),
            log_bessel_i(v, x).to_bits(),
            "v = {v:e}, x = {x:e}"
        );
    }
}

#[test]
fn slices_check_lengths_and_fill() {
    let v = [0.0, 1.0, 2.0];
    let x = [1.0, 2.0, 3.0];
    let mut out = [0.0; 3];
    bessel::log_bessel_i_slice(&v, &x, &mut out).unwrap();
    assert_eq!(out[1], log_bessel_i(1.0, 2.0));
    let mut short = [7.0; 2];
    let e = bessel::log_bessel_k_slice(&v, &x, &mut short).unwrap_err();
    assert_eq!(short, [7.0; 2]);
    assert!(e.to_string().contains("3 orders"));
}

#[test]
fn pure_f32_twin_of_the_wgsl_kernel_within_two_units() {
    use shoal_core::bessel::scalar_f32;
    check_f32("f32 twin", scalar_f32::log_i, scalar_f32::log_k);
}

/// Mixed inputs: every branch, special values, orders needing 2..14 Debye
/// terms side by side in one SIMD group, and a length that leaves partial
/// groups.
fn mixed_inputs() -> (Vec<f64>, Vec<f64>) {
    let mut rng = shoal_core::rng::Rng::new(99);
    let mut v = Vec::new();
    let mut x = Vec::new();
    for i in 0..20_011 {
        let a = match i % 7 {
            0 => 20.0 + 30.0 * rng.next_f64(),
            1 => 10f64.powf(1.3 + 4.0 * rng.next_f64()),
            2 => 25.0 * rng.next_f64(),
            3 => 1e5 * rng.next_f64(),
            4 => [0.0, -3.0, f64::NAN, f64::INFINITY, 1e301][i % 5],
            _ => 10f64.powf(-3.0 + 8.0 * rng.next_f64()),
        };
        let b = match i % 5 {
            0 => 10f64.powf(-300.0 + 600.0 * rng.next_f64()),
            1 => a * (0.5 + rng.next_f64()),
            4 => [0.0, -1.0, f64::INFINITY, 1e-295, 5e-324][i % 5],
            _ => 10f64.powf(-8.0 + 13.0 * rng.next_f64()),
        };
        v.push(a);
        x.push(b);
    }
    (v, x)
}

#[test]
fn pure_f32_slices_are_bit_identical_to_the_twin() {
    use shoal_core::bessel::scalar_f32;
    let (v, x) = mixed_inputs();
    let mut v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    let mut x32: Vec<f32> = x.iter().map(|&a| a as f32).collect();
    // Small orders and arguments (series, integral and Hankel branches of
    // the f32 kernel), negative orders for K, subnormal f32 values.
    let mut rng = shoal_core::rng::Rng::new(7);
    for i in 0..20_000 {
        v32.push(match i % 9 {
            0 => -(8.0 * rng.next_f64()) as f32,
            1 => 1e-40,
            2 => (rng.next_f64() * 3.0).floor() as f32,
            _ => (9.0 * rng.next_f64()) as f32,
        });
        x32.push(match i % 11 {
            0 => 2e-39,
            1 => (200.0 * rng.next_f64()) as f32,
            _ => 10f64.powf(-7.0 + 9.0 * rng.next_f64()) as f32,
        });
    }
    let rows = read_bessel_csv(&workspace_root().join("tests/ref/bessel_ref.csv")).unwrap();
    v32.extend(rows.iter().map(|r| r.v as f32));
    x32.extend(rows.iter().map(|r| r.x as f32));
    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    println!(
        "SIMD backend: {} ({} inputs)",
        bessel::simd_backend(),
        v32.len()
    );
    for len in [v32.len(), 1, 3, 8, 9, 17] {
        let mut oi = vec![0.0f32; len];
        let mut ok = vec![0.0f32; len];
        bessel::log_bessel_i_slice_f32_pure(&v32[..len], &x32[..len], &mut oi).unwrap();
        bessel::log_bessel_k_slice_f32_pure(&v32[..len], &x32[..len], &mut ok).unwrap();
        for i in 0..len {
            let (a, b) = (v32[i], x32[i]);
            let (si, sk) = (scalar_f32::log_i(a, b), scalar_f32::log_k(a, b));
            assert!(same(si, oi[i]), "I({a:e}, {b:e}): {} vs twin {si}", oi[i]);
            assert!(same(sk, ok[i]), "K({a:e}, {b:e}): {} vs twin {sk}", ok[i]);
        }
    }
    let mut short = [0.0f32; 2];
    assert!(bessel::log_bessel_i_slice_f32_pure(&v32[..3], &x32[..3], &mut short).is_err());
}

#[test]
fn simd_slices_are_bit_identical_to_the_scalar_kernel() {
    let (v, x) = mixed_inputs();
    println!("SIMD backend: {}", bessel::simd_backend());
    for len in [v.len(), 1, 2, 3, 5, 7] {
        let mut oi = vec![0.0; len];
        let mut ok = vec![0.0; len];
        bessel::log_bessel_i_slice(&v[..len], &x[..len], &mut oi).unwrap();
        bessel::log_bessel_k_slice(&v[..len], &x[..len], &mut ok).unwrap();
        for i in 0..len {
            let (si, sk) = (log_bessel_i(v[i], x[i]), log_bessel_k(v[i], x[i]));
            assert!(
                si.to_bits() == oi[i].to_bits() || (si.is_nan() && oi[i].is_nan()),
                "I({:e}, {:e}): slice {:#x} single {:#x}",
                v[i],
                x[i],
                oi[i].to_bits(),
                si.to_bits()
            );
            assert!(
                sk.to_bits() == ok[i].to_bits() || (sk.is_nan() && ok[i].is_nan()),
                "K({:e}, {:e}): slice {:#x} single {:#x}",
                v[i],
                x[i],
                ok[i].to_bits(),
                sk.to_bits()
            );
        }
    }
    let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    let x32: Vec<f32> = x.iter().map(|&a| a as f32).collect();
    let mut o32 = vec![0.0f32; v.len()];
    bessel::log_bessel_i_slice_f32(&v32, &x32, &mut o32).unwrap();
    for i in 0..v.len() {
        let s = log_bessel_i_f32(v32[i], x32[i]);
        assert!(s.to_bits() == o32[i].to_bits() || (s.is_nan() && o32[i].is_nan()));
    }
}

#[test]
fn simd_integrand_nodes_are_bit_identical_to_scalar_lanes() {
    use shoal_core::bessel::scalar::{k_nodes4_dispatched, k_nodes4_scalar};
    let mut rng = shoal_core::rng::Rng::new(3);
    for _ in 0..20_000 {
        let v = 20.0 * rng.next_f64();
        let x = 10f64.powf(-6.0 + 8.0 * rng.next_f64());
        let t0 = 8.0 * rng.next_f64();
        let h = 0.03 + 0.3 * rng.next_f64();
        let t = [t0, t0 + h, t0 + 2.0 * h, t0 + 3.0 * h];
        let g_ref = -x * t0.cosh() + (v * t0).cosh().ln();
        let a = k_nodes4_dispatched(&t, x, v, g_ref);
        let b = k_nodes4_scalar(&t, x, v, g_ref);
        for j in 0..4 {
            assert_eq!(a[j].to_bits(), b[j].to_bits(), "v={v} x={x} t={}", t[j]);
        }
    }
}
