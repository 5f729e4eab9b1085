//! # shoal-host-gpu
//!
//! Shoal on desktops and edge boxes: the WGSL kernels run through `wgpu`
//! (Vulkan, Metal, DX12), with the `no_std` core as the CPU fallback and the
//! oracle every GPU result is tested against. The `shoal` binary is the
//! command-line front end.
//!
//! ```no_run
//! use shoal_host_gpu::{Backend, gpu::BesselKind};
//! let backend = Backend::auto();
//! let y = backend.log_bessel(BesselKind::I, &[0.5, 30.0], &[2.0, 1e-3]).unwrap();
//! assert_eq!(y.len(), 2);
//! ```
#![deny(missing_docs)]

pub mod classify;
pub mod gpu;
pub mod gpu_tflite;

/// fastText's `lid.176.ftz` language identifier (176 languages, CC BY-SA
/// 3.0; see `models/LICENSE.md`), the default model of `shoal langid`.
pub const LID176: &[u8] = include_bytes!("../models/lid.176.ftz");

use gpu::{BesselKind, Gpu, GpuError};

/// Where kernels run.
#[derive(Debug)]
pub enum Backend {
    /// The CPU core.
    Cpu,
    /// A wgpu device.
    Gpu(Box<Gpu>),
}

impl Backend {
    /// A GPU when one exists, else the CPU with the reason on stderr.
    pub fn auto() -> Backend {
        match Gpu::new() {
            Ok(g) => Backend::Gpu(Box::new(g)),
            Err(e) => {
                eprintln!("shoal: using the CPU backend ({e})");
                Backend::Cpu
            }
        }
    }

    /// Opens the backend named `cpu`, `gpu` or `auto`.
    ///
    /// # Errors
    /// `gpu` without an adapter is an error; an unknown name too.
    pub fn from_name(name: &str) -> Result<Backend, String> {
        match name {
            "cpu" => Ok(Backend::Cpu),
            "gpu" => Gpu::new()
                .map(|g| Backend::Gpu(Box::new(g)))
                .map_err(|e| format!("--backend gpu: {e}")),
            "auto" => Ok(Backend::auto()),
            other => Err(format!("unknown backend '{other}' (cpu, gpu or auto)")),
        }
    }

    /// Short description for logs.
    pub fn describe(&self) -> String {
        match self {
            Backend::Cpu => "cpu".to_string(),
            Backend::Gpu(g) => format!("gpu: {}", g.adapter_name()),
        }
    }

    /// `ln C_p(κ)`, the von Mises-Fisher log normaliser, for a batch of
    /// concentrations in dimension `p`: `ν ln κ − (ν + 1) ln 2π − ln I_ν(κ)`
    /// with `ν = p/2 − 1`, where `ln I_ν` runs on this backend (the WGSL
    /// kernel in f32 on the GPU, the core's f64 on the CPU) and the rest in
    /// f64 on the host. `κ = 0` gives the uniform density's value.
    ///
    /// # Errors
    /// [`GpuError::Unsupported`] for `p < 2` or a negative or non-finite
    /// `κ`; GPU failures.
    pub fn vmf_log_normalizer(&self, p: usize, kappa: &[f32]) -> Result<Vec<f64>, GpuError> {
        if p < 2 || kappa.iter().any(|k| !(k.is_finite() && *k >= 0.0)) {
            return Err(GpuError::Unsupported(
                "vMF needs p >= 2 and finite kappa >= 0",
            ));
        }
        let nu = 0.5 * p as f64 - 1.0;
        let ln_2pi = (2.0 * std::f64::consts::PI).ln();
        let log_i: Vec<f64> = match self {
            Backend::Gpu(g) => g
                .log_bessel(BesselKind::I, &vec![nu as f32; kappa.len()], kappa)?
                .into_iter()
                .map(f64::from)
                .collect(),
            Backend::Cpu => kappa
                .iter()
                .map(|&k| shoal_core::bessel::log_bessel_i(nu, f64::from(k)))
                .collect(),
        };
        Ok(kappa
            .iter()
            .zip(log_i)
            .map(|(&k, li)| {
                if k == 0.0 {
                    shoal_core::vmf::log_normalizer(p, 0.0).unwrap_or(f64::NAN)
                } else {
                    nu * f64::from(k).ln() - (nu + 1.0) * ln_2pi - li
                }
            })
            .collect())
    }

    /// `ln I` or `ln K` in f32 on this backend.
    ///
    /// # Errors
    /// Length mismatch, GPU failures.
    pub fn log_bessel(&self, kind: BesselKind, v: &[f32], x: &[f32]) -> Result<Vec<f32>, GpuError> {
        match self {
            Backend::Gpu(g) => g.log_bessel(kind, v, x),
            Backend::Cpu => {
                if v.len() != x.len() {
                    return Err(GpuError::LengthMismatch {
                        orders: v.len(),
                        args: x.len(),
                    });
                }
                let f = match kind {
                    BesselKind::I => shoal_core::bessel::log_bessel_i_f32,
                    BesselKind::K => shoal_core::bessel::log_bessel_k_f32,
                };
                Ok(v.iter().zip(x).map(|(&a, &b)| f(a, b)).collect())
            }
        }
    }
}
