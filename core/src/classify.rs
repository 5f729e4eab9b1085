//! What a classifier's scores mean to a user: the top classes with their
//! labels and catalogue entries, and how sure the model is. Shared by the
//! `shoal classify` command and the browser package.
//!
//! ```
//! use shoal_core::classify::{parse_catalog, rank};
//! let catalog = parse_catalog("tench\tTench\tTinca tinca\tyes\tLeast Concern\n").unwrap();
//! let r = rank(&[0.1, 0.7, 0.2], 2);
//! assert_eq!(r.top, [1, 2]);
//! assert!((r.margin - 0.5).abs() < 1e-6);
//! assert_eq!(catalog[0].scientific, "Tinca tinca");
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// One catalogue entry (a tab-separated line: label, common name,
/// scientific name, commonly eaten, conservation note).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogEntry {
    /// Label it matches (first name in the model's label line).
    pub label: String,
    /// Common name.
    pub common: String,
    /// Scientific name.
    pub scientific: String,
    /// `yes`, `no` or `caution`.
    pub edible: String,
    /// Conservation note.
    pub conservation: String,
}

/// A catalogue line without its five tab-separated fields (1-based line
/// number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatalogError(pub usize);

impl core::fmt::Display for CatalogError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "catalogue line {}: expected 5 tab-separated fields",
            self.0
        )
    }
}

impl core::error::Error for CatalogError {}

/// Parses a catalogue (`#` comments and blank lines skipped).
///
/// # Errors
/// [`CatalogError`] naming the first bad line.
pub fn parse_catalog(text: &str) -> Result<Vec<CatalogEntry>, CatalogError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let [label, common, scientific, edible, conservation] = f[..] else {
            return Err(CatalogError(i + 1));
        };
        out.push(CatalogEntry {
            label: label.trim().to_string(),
            common: common.trim().to_string(),
            scientific: scientific.trim().to_string(),
            edible: edible.trim().to_string(),
            conservation: conservation.trim().to_string(),
        });
    }
    Ok(out)
}

/// The catalogue entry of a model label (`"tench, Tinca tinca"` matches
/// `tench`: the first name, compared without case).
pub fn lookup<'c>(catalog: &'c [CatalogEntry], label: &str) -> Option<&'c CatalogEntry> {
    let key = label.split(',').next().unwrap_or("").trim();
    catalog.iter().find(|c| c.label.eq_ignore_ascii_case(key))
}

/// Top classes and uncertainty of one set of scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// Class indices, best first (ties by index).
    pub top: Vec<usize>,
    /// Score margin between the two best classes (0: undecided, 1: certain
    /// for probabilities).
    pub margin: f32,
    /// Entropy of the non-negative scores normalised to sum 1, over
    /// `ln(classes)` (0: certain, 1: uniform).
    pub entropy: f32,
}

/// Ranks `scores` (probabilities, or any scores where higher is better) and
/// keeps the best `top` (at least one).
pub fn rank(scores: &[f32], top: usize) -> Ranked {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    let s = |i: usize| scores.get(i).copied().unwrap_or(f32::NEG_INFINITY);
    order.sort_by(|&a, &b| s(b).total_cmp(&s(a)).then(a.cmp(&b)));
    let margin = match (order.first(), order.get(1)) {
        (Some(&a), Some(&b)) => s(a) - s(b),
        (Some(&a), None) => s(a),
        _ => 0.0,
    };
    let total: f32 = scores.iter().map(|s| s.max(0.0)).sum();
    let entropy = if total > 0.0 && scores.len() > 1 {
        let h: f32 = scores
            .iter()
            .map(|s| s.max(0.0) / total)
            .filter(|&p| p > 0.0)
            .map(|p| -p * libm::logf(p))
            .sum();
        (h / libm::logf(scores.len() as f32)).clamp(0.0, 1.0)
    } else {
        1.0
    };
    order.truncate(top.max(1));
    Ranked {
        top: order,
        margin,
        entropy,
    }
}

/// Softmax of logits in f32 (max subtracted first).
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|&z| libm::expf(z - m)).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}
