//! Helpers shared by Shoal's integration tests: reference-table loading and
//! error measurement.
#![deny(missing_docs)]

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
