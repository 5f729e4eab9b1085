//! The von Mises-Fisher distribution on the unit sphere `S^{p-1}` of `R^p`,
//! with density `C_p(κ) exp(κ μᵀx)`, for dimensions in the tens of thousands.
//!
//! Nothing here allocates: samples are row-major `n × p` slices and outputs go
//! to caller-provided buffers, so the module works in `no_std` without `alloc`.
//!
//! ```
//! use shoal_core::rng::Rng;
//! use shoal_core::vmf;
//!
//! let p = 4096;
//! let mut mu = vec![0.0; p];
//! mu[3] = 1.0;
//! let kappa = 2000.0;
//! let n = 200;
//! let mut rng = Rng::new(7);
//! let mut samples = vec![0.0; n * p];
//! for row in samples.chunks_exact_mut(p) {
//!     vmf::sample(&mut rng, &mu, kappa, row).unwrap();
//! }
//! let mut mean = vec![0.0; p];
//! let fit = vmf::fit(&samples, p, &mut mean).unwrap();
//! assert!((fit.kappa / kappa - 1.0).abs() < 0.1);
//! assert!(mean[3] > 0.9);
//! ```
//!
//! Formulas (`ν = p/2 - 1`): `ln C_p(κ) = ν ln κ - (p/2) ln 2π - ln I_ν(κ)`,
//! with the `ν ln κ` cancelled analytically
//! ([`crate::bessel::scalar::log_i_over_pow`]); mean resultant length
//! `A_p(κ) = I_{p/2}(κ)/I_{ν}(κ)` from the direct ratio
//! ([`crate::bessel::bessel_i_ratio`]); the maximum-likelihood κ solves
//! `A_p(κ) = R̄` by Newton's method from Banerjee et al.'s start, safeguarded
//! by Tanabe et al.'s bracket `R̄(p-2)/(1-R̄²) <= κ <= R̄p/(1-R̄²)`; sampling is
//! Wood's (1994) rejection scheme for the component along μ, a uniform
//! direction for the rest, and one Householder reflection (O(p), no p×p
//! matrix).

use crate::bessel::{bessel_i_ratio, scalar::log_i_over_pow};
use crate::rng::Rng;

const LN_2PI: f64 = 1.8378770664093453;

/// Errors of the vMF functions.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum VmfError {
    /// `p` must be at least 2.
    DimensionTooSmall(usize),
    /// κ must be finite and `>= 0`.
    InvalidKappa(f64),
    /// A slice has the wrong length for the dimension.
    LengthMismatch {
        /// Required length (or a multiple of it, for sample matrices).
        expected: usize,
        /// Length given.
        found: usize,
    },
    /// No samples were given.
    NoSamples,
    /// A sample or the mean direction contains NaN or infinity.
    NonFinite,
    /// A sample or the mean direction is the zero vector.
    ZeroVector,
    /// The mean resultant length is not in `[0, 1)`: all samples point the
    /// same way (κ would be infinite), or it was given out of range.
    MeanResultantOutOfRange(f64),
}

impl core::fmt::Display for VmfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VmfError::DimensionTooSmall(p) => write!(f, "dimension p = {p} is below 2"),
            VmfError::InvalidKappa(k) => write!(f, "kappa = {k} is not finite and >= 0"),
            VmfError::LengthMismatch { expected, found } => {
                write!(f, "slice of length {found} where {expected} was needed")
            }
            VmfError::NoSamples => write!(f, "no samples"),
            VmfError::NonFinite => write!(f, "input contains NaN or infinity"),
            VmfError::ZeroVector => write!(f, "zero vector where a direction was needed"),
            VmfError::MeanResultantOutOfRange(r) => write!(
                f,
                "mean resultant length {r} is not in [0, 1) (identical samples give infinite kappa)"
            ),
        }
    }
}

impl core::error::Error for VmfError {}

fn check_p(p: usize) -> Result<f64, VmfError> {
    if p < 2 {
        Err(VmfError::DimensionTooSmall(p))
    } else {
        Ok(p as f64)
    }
}

fn check_kappa(kappa: f64) -> Result<(), VmfError> {
    if (0.0..f64::INFINITY).contains(&kappa) {
        Ok(())
    } else {
        Err(VmfError::InvalidKappa(kappa))
    }
}

/// `ln C_p(κ)`, the log normaliser (`κ = 0` gives the uniform density
/// `Γ(p/2) / (2 π^{p/2})`).
///
/// # Errors
/// [`VmfError::DimensionTooSmall`], [`VmfError::InvalidKappa`].
pub fn log_normalizer(p: usize, kappa: f64) -> Result<f64, VmfError> {
    let pf = check_p(p)?;
    check_kappa(kappa)?;
    Ok(-0.5 * pf * LN_2PI - log_i_over_pow(0.5 * pf - 1.0, kappa))
}

/// `A_p(κ) = I_{p/2}(κ) / I_{p/2-1}(κ)`, the expected `μᵀx`.
///
/// # Errors
/// [`VmfError::DimensionTooSmall`], [`VmfError::InvalidKappa`].
pub fn mean_resultant_length(p: usize, kappa: f64) -> Result<f64, VmfError> {
    let pf = check_p(p)?;
    check_kappa(kappa)?;
    Ok(bessel_i_ratio(0.5 * pf - 1.0, kappa))
}

/// Log-density `ln C_p(κ) + κ μᵀx / ‖μ‖` at the point `x` (taken as given:
/// it should have unit norm).
///
/// # Errors
/// Length mismatch, non-finite or zero `mean`, bad κ or p.
pub fn log_density(x: &[f64], mean: &[f64], kappa: f64) -> Result<f64, VmfError> {
    let p = mean.len();
    if x.len() != p {
        return Err(VmfError::LengthMismatch {
            expected: p,
            found: x.len(),
        });
    }
    let inv = inv_norm(mean)?;
    let dot: f64 = x.iter().zip(mean).map(|(a, b)| a * b).sum();
    Ok(log_normalizer(p, kappa)? + kappa * dot * inv)
}

/// `Σ a²` with eight independent partial sums (no serial dependency chain,
/// so the compiler can keep the FPU busy and vectorise).
fn sum_sq(v: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (s, a) in acc.iter_mut().zip(c) {
            *s += a * a;
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|a| a * a).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

fn inv_norm(v: &[f64]) -> Result<f64, VmfError> {
    let ss = sum_sq(v);
    if ss.is_finite() && ss >= f64::MIN_POSITIVE {
        return Ok(1.0 / libm::sqrt(ss));
    }
    // Rare paths: non-finite input, zero vector, or squares that overflow or
    // underflow: rescale by the largest magnitude.
    let mut big: f64 = 0.0;
    for &a in v {
        if !a.is_finite() {
            return Err(VmfError::NonFinite);
        }
        big = big.max(libm::fabs(a));
    }
    if big == 0.0 {
        return Err(VmfError::ZeroVector);
    }
    let scaled: f64 = v.iter().map(|a| (a / big) * (a / big)).sum();
    Ok(1.0 / (big * libm::sqrt(scaled)))
}

/// Result of [`fit`] and [`kappa_from_mean_resultant`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VmfFit {
    /// Maximum-likelihood concentration κ.
    pub kappa: f64,
    /// `R̄ = ‖mean of the (normalised) samples‖`.
    pub mean_resultant_length: f64,
    /// `ln C_p(κ)` at the fitted κ.
    pub log_normalizer: f64,
    /// Newton steps taken.
    pub iterations: u32,
}

/// Maximum-likelihood fit from `samples` (row-major `n × p`). Each row is
/// normalised to unit length first. The mean direction goes to `mean_out`
/// (length `p`).
///
/// # Errors
/// [`VmfError::NoSamples`], [`VmfError::LengthMismatch`] (length of `samples`
/// not a multiple of `p`, or `mean_out` not of length `p`),
/// [`VmfError::NonFinite`], [`VmfError::ZeroVector`] (a zero row, or samples
/// that cancel exactly), [`VmfError::MeanResultantOutOfRange`] (all samples
/// identical).
pub fn fit(samples: &[f64], p: usize, mean_out: &mut [f64]) -> Result<VmfFit, VmfError> {
    check_p(p)?;
    if mean_out.len() != p {
        return Err(VmfError::LengthMismatch {
            expected: p,
            found: mean_out.len(),
        });
    }
    if !samples.len().is_multiple_of(p) {
        return Err(VmfError::LengthMismatch {
            expected: p * (samples.len() / p + 1),
            found: samples.len(),
        });
    }
    let n = samples.len() / p;
    if n == 0 {
        return Err(VmfError::NoSamples);
    }
    mean_out.iter_mut().for_each(|m| *m = 0.0);
    for row in samples.chunks_exact(p) {
        let inv = inv_norm(row)?;
        for (m, &a) in mean_out.iter_mut().zip(row) {
            *m += a * inv;
        }
    }
    let scale = 1.0 / n as f64;
    mean_out.iter_mut().for_each(|m| *m *= scale);
    let inv = inv_norm(mean_out)?;
    let r = 1.0 / inv;
    mean_out.iter_mut().for_each(|m| *m *= inv);
    kappa_from_mean_resultant(p, r)
}

/// Solves `A_p(κ) = R̄` for κ (the maximum-likelihood κ given the mean
/// resultant length of the samples).
///
/// # Errors
/// [`VmfError::DimensionTooSmall`], [`VmfError::MeanResultantOutOfRange`].
pub fn kappa_from_mean_resultant(p: usize, r: f64) -> Result<VmfFit, VmfError> {
    let pf = check_p(p)?;
    if !(0.0..1.0).contains(&r) {
        return Err(VmfError::MeanResultantOutOfRange(r));
    }
    let nu = 0.5 * pf - 1.0;
    let one_minus_r2 = (1.0 - r) * (1.0 + r);
    let mut lo = r * (pf - 2.0) / one_minus_r2;
    let mut hi = r * pf / one_minus_r2;
    let mut kappa = r * (pf - r * r) / one_minus_r2;
    let mut iterations = 0;
    if r > 0.0 {
        while iterations < 200 {
            iterations += 1;
            let a = bessel_i_ratio(nu, kappa);
            let f = a - r;
            if f == 0.0 {
                break;
            }
            if f < 0.0 {
                lo = kappa;
            } else {
                hi = kappa;
            }
            let da = 1.0 - a * a - (pf - 1.0) * a / kappa;
            let mut next = kappa - f / da;
            if !(next > lo && next < hi) {
                next = 0.5 * (lo + hi);
            }
            let step = libm::fabs(next - kappa);
            kappa = next;
            if step <= 2.0 * f64::EPSILON * kappa || hi - lo <= 2.0 * f64::EPSILON * kappa {
                break;
            }
        }
    }
    Ok(VmfFit {
        kappa,
        mean_resultant_length: r,
        log_normalizer: log_normalizer(p, kappa)?,
        iterations,
    })
}

/// Component `w = μᵀx` of a vMF sample, by Wood's (1994) rejection scheme.
fn wood_w(rng: &mut Rng, pf: f64, kappa: f64) -> f64 {
    let m1 = pf - 1.0;
    let b = m1 / (2.0 * kappa + libm::sqrt(4.0 * kappa * kappa + m1 * m1));
    let x0 = (1.0 - b) / (1.0 + b);
    let c = kappa * x0 + m1 * libm::log((1.0 - x0) * (1.0 + x0));
    let half = 0.5 * m1;
    loop {
        let z = rng.beta(half, half);
        let w = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z);
        let u = rng.next_f64_open0();
        if kappa * w + m1 * libm::log(1.0 - x0 * w) - c >= libm::log(u) {
            return w;
        }
    }
}

/// Draws one exact sample from vMF(μ = `mean`/‖`mean`‖, κ) into `out`
/// (length `p = mean.len()`), in O(p) time and no extra memory.
///
/// # Errors
/// Length mismatch, non-finite or zero `mean`, bad κ, `p < 2`.
pub fn sample(rng: &mut Rng, mean: &[f64], kappa: f64, out: &mut [f64]) -> Result<(), VmfError> {
    let p = mean.len();
    let pf = check_p(p)?;
    check_kappa(kappa)?;
    if out.len() != p {
        return Err(VmfError::LengthMismatch {
            expected: p,
            found: out.len(),
        });
    }
    let inv = inv_norm(mean)?;
    let w = wood_w(rng, pf, kappa);
    // Uniform direction orthogonal to e1, scaled by sqrt(1 - w²).
    let (first, rest) = out.split_at_mut(1);
    let mut ss = 0.0;
    while ss == 0.0 {
        ss = 0.0;
        for o in rest.iter_mut() {
            *o = rng.normal();
            ss += *o * *o;
        }
    }
    let scale = libm::sqrt((1.0 - w) * (1.0 + w) / ss);
    rest.iter_mut().for_each(|o| *o *= scale);
    if let Some(f) = first.first_mut() {
        *f = w;
    }
    // Rotate e1 onto μ with one reflection. With μ1 >= 0 reflect along
    // u = μ + e1 (maps e1 to -μ) and negate; otherwise along u = e1 - μ. Both
    // keep |u|² = 2(1 ± μ1) free of cancellation.
    let mu1 = mean.first().copied().unwrap_or(0.0) * inv;
    let (sign, uu) = if mu1 >= 0.0 {
        (1.0, 2.0 * (1.0 + mu1))
    } else {
        (-1.0, 2.0 * (1.0 - mu1))
    };
    let u_at = |i: usize, m: f64| {
        let e = if i == 0 { 1.0 } else { 0.0 };
        m * inv * sign + e
    };
    let dot: f64 = out
        .iter()
        .zip(mean)
        .enumerate()
        .map(|(i, (o, &m))| o * u_at(i, m))
        .sum();
    let k = 2.0 * dot / uu;
    for (i, (o, &m)) in out.iter_mut().zip(mean).enumerate() {
        let y = *o - k * u_at(i, m);
        *o = if sign > 0.0 { -y } else { y };
    }
    Ok(())
}
