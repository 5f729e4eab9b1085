//! Helpers shared by Shoal's integration tests: reference-table loading and
//! error measurement.
#![deny(missing_docs)]

pub mod flatbuf;

use std::path::{Path, PathBuf};

/// Root of the workspace (parent of `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared reference folder (`../shared/reference` next to the checkout),
/// when present: CI clones have it, a user's clone may not.
pub fn shared_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SHOAL_SHARED").map(PathBuf::from),
        Some(workspace_root().join("../shared")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_dir())
}

/// One row of a log-Bessel reference table.
#[derive(Clone, Copy, Debug)]
pub struct BesselRef {
    /// Order.
    pub v: f64,
    /// Argument.
    pub x: f64,
    /// `ln I_v(x)`.
    pub log_i: f64,
    /// `ln K_v(x)`.
    pub log_k: f64,
}

/// Reads a `v,x,log_iv,log_kv` CSV with a header line.
pub fn read_bessel_csv(path: &Path) -> Result<Vec<BesselRef>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<f64> = line
            .split(',')
            .map(|s| s.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        if f.len() != 4 {
            return Err(format!("{}:{}: expected 4 fields", path.display(), i + 1));
        }
        out.push(BesselRef {
            v: f[0],
            x: f[1],
            log_i: f[2],
            log_k: f[3],
        });
    }
    Ok(out)
}

/// The rows whose inputs are exact f32 values and whose results fit in f32
/// (the only ones an f32 kernel can be judged on).
pub fn f32_exact(rows: Vec<BesselRef>) -> Vec<BesselRef> {
    rows.into_iter()
        .filter(|r| (r.v as f32) as f64 == r.v && (r.x as f32) as f64 == r.x)
        .filter(|r| r.log_i.abs() < 3e38 && r.log_k.abs() < 3e38)
        .collect()
}

/// Error of a log value in the unit `eps · (1 + |ref| + v + x)`.
pub fn log_err_units(got: f64, reference: f64, v: f64, x: f64, eps: f64) -> f64 {
    if got == reference {
        return 0.0;
    }
    (got - reference).abs() / (eps * (1.0 + reference.abs() + v + x))
}

/// Decodes Python's `unicode_escape` text (`\xNN`, `\uNNNN`, `\UNNNNNNNN`,
/// `\t`, `\n`, `\r`, `\\`, `\'`) as written by the reference generators.
pub fn unescape_python(s: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let hex = |it: &mut std::str::Chars<'_>, n: usize| -> Result<char, String> {
            let h: String = it.take(n).collect();
            u32::from_str_radix(&h, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad escape \\{h} in {s}"))
        };
        match it.next() {
            Some('x') => out.push(hex(&mut it, 2)?),
            Some('u') => out.push(hex(&mut it, 4)?),
            Some('U') => out.push(hex(&mut it, 8)?),
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some('\'') => out.push('\''),
            other => return Err(format!("unknown escape {other:?} in {s}")),
        }
    }
    Ok(out)
}

/// `n` evenly spaced query rows of a `rows`-row table (the protocol shared
/// with `tests/ref/faiss_recall.py`).
pub fn query_ids(rows: usize, n: usize) -> Vec<usize> {
    let step = (rows / n.max(1)).max(1);
    (0..rows).step_by(step).take(n).collect()
}

/// The `k` nearest rows of `db` (row-major, `dim` columns) to `q` by squared
/// L2 distance in f64, excluding row `skip`; ties by row index.
pub fn knn(db: &[f32], dim: usize, q: &[f32], skip: usize, k: usize) -> Vec<usize> {
    let mut d: Vec<(f64, usize)> = db
        .chunks_exact(dim)
        .enumerate()
        .filter(|&(i, _)| i != skip)
        .map(|(i, r)| {
            let s = r
                .iter()
                .zip(q)
                .map(|(a, b)| {
                    let t = f64::from(*a) - f64::from(*b);
                    t * t
                })
                .sum::<f64>();
            (s, i)
        })
        .collect();
    let k = k.min(d.len());
    d.select_nth_unstable_by(k.saturating_sub(1), |a, b| {
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
    });
    d.truncate(k);
    d.into_iter().map(|p| p.1).collect()
}

/// Nearest-neighbour recall@k preserved by a compressed table: for each
/// query row, the share of its `k` nearest rows in `orig` that are also
/// among the `k` nearest rows of `decoded` to the original query vector.
pub fn recall_at_k(orig: &[f32], decoded: &[f32], dim: usize, queries: &[usize], k: usize) -> f64 {
    let mut hit = 0usize;
    for &qi in queries {
        let q = &orig[qi * dim..(qi + 1) * dim];
        let truth = knn(orig, dim, q, qi, k);
        let got = knn(decoded, dim, q, qi, k);
        hit += got.iter().filter(|g| truth.contains(g)).count();
    }
    hit as f64 / (queries.len() * k) as f64
}

/// Encodes `e` (`rows × dim`) with `method` (seed 0) and measures the
/// compression ratio (codebooks and factors included) and recall@10 on 500
/// query rows.
pub fn compression_quality(
    e: &[f32],
    rows: usize,
    dim: usize,
    method: shoal_core::embed::Method,
) -> Result<(f64, f64), shoal_core::embed::EmbedError> {
    let t = shoal_core::embed::Table::encode(e, rows, dim, method)?;
    let ids: Vec<u64> = (0..rows as u64).collect();
    let mut dec = vec![0.0f32; rows * dim];
    t.lookup_batch(&ids, &mut dec)?;
    Ok((
        t.compression(),
        recall_at_k(e, &dec, dim, &query_ids(rows, 500), 10),
    ))
}

/// The input matrix of fastText's lid.176 (50,000 × 16, decoded from its
/// product quantization), the real table of the quality checks.
pub fn lid176_table() -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(workspace_root().join("host-gpu/models/lid.176.ftz"))
        .expect("host-gpu/models/lid.176.ftz");
    let m = shoal_core::fasttext::FastText::from_bytes(&bytes).expect("lid.176 parses");
    let t = m.input();
    let ids: Vec<u64> = (0..t.rows() as u64).collect();
    let mut e = vec![0.0f32; t.rows() * t.dim()];
    t.lookup_batch(&ids, &mut e).expect("rows decode");
    (e, t.rows(), t.dim())
}

/// The relative rounding unit of a 16-bit scale type.
pub fn scale_unit(s: shoal_core::quant::ScaleType) -> f64 {
    match s {
        shoal_core::quant::ScaleType::F16 => 2f64.powi(-11),
        _ => 2f64.powi(-8),
    }
}

/// `(lo, hi, step)` of a group: its range and the ideal quantization step
/// of the format (before the 16-bit rounding of the scale).
pub fn group_step(wg: &[f32], f: shoal_core::quant::Format) -> (f64, f64, f64) {
    let lo = wg.iter().cloned().fold(f32::INFINITY, f32::min) as f64;
    let hi = wg.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let (levels, range) = match f.scheme {
        shoal_core::quant::Scheme::Symmetric => {
            (f64::from(f.max_code()) - 1.0, 2.0 * lo.abs().max(hi.abs()))
        }
        _ => (f64::from(f.max_code()), hi - lo),
    };
    (lo, hi, range / levels)
}

/// Items per second of `f` (which handles `n` items per call): one warm-up
/// call, then the fastest of five timed calls.
pub fn best_rate(n: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::INFINITY;
    let start = std::time::Instant::now();
    let mut reps = 0;
    // At least 5 runs and 0.3 s: short kernels on a shared machine need many
    // tries to see one undisturbed run.
    while reps < 5 || (start.elapsed().as_secs_f64() < 0.3 && reps < 1000) {
        let t0 = std::time::Instant::now();
        f();
        best = best.min(t0.elapsed().as_secs_f64());
        reps += 1;
    }
    n as f64 / best
}

/// A row-major `rows × dim` f32 matrix with singular values `sig` (`dim`
/// of them) and random orthonormal singular vectors (`rows >= dim`).
pub fn matrix_with_spectrum(rows: usize, dim: usize, sig: &[f64], seed: u64) -> Vec<f32> {
    let mut rng = shoal_core::rng::Rng::new(seed);
    let mut orth = |n: usize| -> Vec<Vec<f64>> {
        let mut q: Vec<Vec<f64>> = Vec::new();
        while q.len() < dim {
            let mut v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            for u in &q {
                let d: f64 = v.iter().zip(u).map(|(a, b)| a * b).sum();
                v.iter_mut().zip(u).for_each(|(a, b)| *a -= d * b);
            }
            let n2 = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            q.push(v.iter().map(|a| a / n2).collect());
        }
        q
    };
    let (u, v) = (orth(rows), orth(dim));
    (0..rows * dim)
        .map(|k| {
            (0..dim)
                .map(|s| sig[s] * u[s][k / dim] * v[s][k % dim])
                .sum::<f64>() as f32
        })
        .collect()
}

/// Squared quantization error of a matrix `w` (`rows × cols`) quantized as
/// `q`, and the uniform rounding-noise model's prediction `Σ step²/12` over
/// its groups: `(error², predicted²)`.
pub fn quant_error_and_noise_model(
    w: &[f32],
    cols: usize,
    q: &shoal_core::quant::QuantMatrix,
) -> (f64, f64) {
    let f = q.format();
    let mut row = vec![0.0f32; cols];
    let (mut err2, mut pred2) = (0.0, 0.0);
    for (r, wr) in w.chunks_exact(cols).enumerate() {
        q.dequantize_row(r, &mut row).expect("row in range");
        for (wg, dg) in wr.chunks(f.group).zip(row.chunks(f.group)) {
            let (_, _, step) = group_step(wg, f);
            pred2 += wg.len() as f64 * step * step / 12.0;
            err2 += wg
                .iter()
                .zip(dg)
                .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                .sum::<f64>();
        }
    }
    (err2, pred2)
}

/// Runs the Python peer `script` (relative to the workspace root) with
/// `args` and returns its standard output, or `None` when Python, one of the
/// packages it imports or the script fails (its stderr is passed through).
pub fn python_peer<S: AsRef<std::ffi::OsStr>>(script: &str, args: &[S]) -> Option<String> {
    let out = std::process::Command::new("python3")
        .arg(workspace_root().join(script))
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{script}: {}", String::from_utf8_lossy(&out.stderr).trim());
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The number after `"key": ` in a flat JSON object printed by a peer.
pub fn json_number(s: &str, key: &str) -> Option<f64> {
    s.split(&format!("\"{key}\": "))
        .nth(1)?
        .split([',', '}'])
        .next()?
        .trim()
        .parse()
        .ok()
}
