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

use crate::vmf::{self, VmfError};

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

/// An out-of-distribution score from the von Mises-Fisher distribution on
/// the unit sphere of penultimate features: each class `c` is a vMF with
/// mean direction the normalised classifier row `μ_c` (the class
/// prototype) and a shared concentration `κ`, and the score of a feature
/// vector `f` is the log-density of `u = f/|f|` under their equal mixture,
/// `ln C_p(κ) + ln((1/K) Σ_c exp(κ μ_c·u))` (nats). Features far from
/// every prototype score low. `ln C_p(κ)` needs `ln I_{p/2-1}(κ)` at orders
/// in the hundreds, where `I` itself overflows f64: the log-Bessel module
/// computes it directly.
///
/// `κ` is estimated from in-distribution features by the vMF moment
/// equation `A_p(κ) = mean_i max_c μ_c·u_i` ([`VmfOod::fit_kappa`]).
#[derive(Clone, Debug, PartialEq)]
pub struct VmfOod {
    mu: Vec<f64>,
    classes: usize,
    p: usize,
    kappa: f64,
    log_c: f64,
}

impl VmfOod {
    /// From `classes × p` prototype rows (normalised here) and `κ`.
    ///
    /// # Errors
    /// [`VmfError::DimensionTooSmall`] for `p < 2`; [`VmfError::LengthMismatch`]
    /// when the rows do not fill `classes × p`; [`VmfError::ZeroVector`] or
    /// [`VmfError::NonFinite`] for such a row; [`VmfError::InvalidKappa`].
    pub fn new(prototypes: &[f32], classes: usize, p: usize, kappa: f64) -> Result<Self, VmfError> {
        let mu = unit_rows(prototypes, classes, p)?;
        let log_c = vmf::log_normalizer(p, kappa)?;
        Ok(VmfOod {
            mu,
            classes,
            p,
            kappa,
            log_c,
        })
    }

    /// `κ` from in-distribution feature vectors (one per image, `p` each):
    /// the mean over images of the largest prototype cosine is the mean
    /// resultant length `A_p(κ)`, inverted for `κ`.
    ///
    /// # Errors
    /// As [`VmfOod::new`]; [`VmfError::MeanResultantOutOfRange`] when the
    /// mean cosine is not in `[0, 1)`.
    pub fn fit_kappa(
        prototypes: &[f32],
        classes: usize,
        p: usize,
        features: &[&[f32]],
    ) -> Result<f64, VmfError> {
        let mu = unit_rows(prototypes, classes, p)?;
        let mut sum = 0.0;
        for f in features {
            let u = unit(f, p)?;
            sum += mu
                .chunks_exact(p)
                .map(|m| dot(m, &u))
                .fold(f64::NEG_INFINITY, f64::max);
        }
        let r = sum / features.len().max(1) as f64;
        Ok(vmf::kappa_from_mean_resultant(p, r.max(0.0))?.kappa)
    }

    /// The concentration `κ`.
    pub fn kappa(&self) -> f64 {
        self.kappa
    }

    /// Log-density (nats) of the direction of `features` under the mixture.
    ///
    /// # Errors
    /// [`VmfError::LengthMismatch`] for a vector of the wrong length,
    /// [`VmfError::ZeroVector`], [`VmfError::NonFinite`].
    pub fn log_density(&self, features: &[f32]) -> Result<f64, VmfError> {
        let u = unit(features, self.p)?;
        let z: Vec<f64> = self
            .mu
            .chunks_exact(self.p)
            .map(|m| self.kappa * dot(m, &u))
            .collect();
        let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = z.iter().map(|&v| libm::exp(v - top)).sum();
        Ok(self.log_c + top + libm::log(s) - libm::log(self.classes as f64))
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `f / |f|` in f64.
fn unit(f: &[f32], p: usize) -> Result<Vec<f64>, VmfError> {
    if f.len() != p {
        return Err(VmfError::LengthMismatch {
            expected: p,
            found: f.len(),
        });
    }
    let n = libm::sqrt(f.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>());
    if !n.is_finite() {
        return Err(VmfError::NonFinite);
    }
    if n == 0.0 {
        return Err(VmfError::ZeroVector);
    }
    Ok(f.iter().map(|&v| f64::from(v) / n).collect())
}

fn unit_rows(rows: &[f32], classes: usize, p: usize) -> Result<Vec<f64>, VmfError> {
    if p < 2 {
        return Err(VmfError::DimensionTooSmall(p));
    }
    let want = classes.saturating_mul(p);
    if classes == 0 || rows.len() != want {
        return Err(VmfError::LengthMismatch {
            expected: want.max(p),
            found: rows.len(),
        });
    }
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.chunks_exact(p) {
        out.extend(unit(r, p)?);
    }
    Ok(out)
}

/// The vMF out-of-distribution calibration of Shoal's built-in model
/// (`host-gpu/models/efficientnet-lite0.shm`): `κ` fitted on the features of
/// the six bundled reference photos (`tests/ref/effl`: cat, Grace Hopper,
/// parrot, each also mirrored; re-derived by the test
/// `vmf_ood_score_separates_photos_from_synthetic_inputs`), the lowest
/// log-density among them, and the threshold below which a photo reads as
/// unlike anything the model was trained on: half-way between that lowest
/// photo and the highest of four synthetic non-images (noise, flat grey, a
/// ramp, stripes). Six photos are a small calibration set: treat the flag
/// as a hint. (Features differ in the last bits between builds with and
/// without fused multiply-add; the test allows 1e-5 relative in `κ`.)
pub mod builtin_ood {
    /// Shared concentration `κ` of the class vMFs (p = 1280).
    pub const KAPPA: f64 = 394.527_27;
    /// Lowest log-density of the reference photos (nats).
    pub const REFERENCE_MIN: f64 = 2781.95;
    /// Log-densities below this are flagged (nats).
    pub const THRESHOLD: f64 = 2770.0;
    /// FNV-1a 64 of the model file these constants belong to
    /// ([`crate::quant::file::fnv1a64`]).
    pub const MODEL_FNV1A64: u64 = 0xf3b7_c588_079a_51d7;

    /// The out-of-distribution scorer of `model` when `bytes` are the
    /// built-in model's file (else `None`: other models are not calibrated).
    pub fn scorer(bytes: &[u8], model: &crate::model::ShmModel) -> Option<super::VmfOod> {
        if crate::quant::file::fnv1a64(bytes) != MODEL_FNV1A64 {
            return None;
        }
        let protos = model.prototypes().ok()?;
        let p = protos.len() / model.classes.max(1);
        super::VmfOod::new(&protos, model.classes, p, KAPPA).ok()
    }
}
