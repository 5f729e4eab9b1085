//! # shoal-core
//!
//! The `no_std` numerical core of Shoal: log-Bessel functions and the von
//! Mises-Fisher distribution, with scalar reference kernels that every SIMD
//! and GPU backend is tested against.
//!
//! * [`bessel`]: `ln I_v(x)`, `ln K_v(x)` and `I_{v+1}/I_v` for real order,
//!   without overflow, in f64 and f32.
//! * [`quant`] (`alloc`): group-wise Q8/Q4/Q2 matrices with f16/bf16 scales
//!   and products computed on the packed form.
//! * [`embed`] (`alloc`): compressed embedding tables (f16, bf16, int8/4/2
//!   row-wise, product quantization, low rank, hashing, quotient-remainder)
//!   with single, batched and bag lookups.
//! * [`fasttext`] (`alloc`): fastText `.bin`/`.ftz` supervised models
//!   (language identification with `lid.176.ftz`) on top of [`embed`].
//! * [`vmf`]: log normaliser, mean resultant length, maximum-likelihood fit
//!   and Wood's exact sampler for the von Mises-Fisher distribution on
//!   `S^{p-1}`, for `p` in the tens of thousands, without allocation.
//!
//! Features: `alloc` (heap-backed conveniences), `std` (implies `alloc`;
//! default). With `default-features = false` the crate builds for
//! `thumbv7em-none-eabihf`, `riscv32imac-unknown-none-elf` and
//! `wasm32-unknown-unknown`. No function here panics on input values.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]
// No panicking shortcuts anywhere in the library (tests may use them).
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod arch;
pub mod bessel;
#[cfg(feature = "alloc")]
pub mod classify;
#[cfg(feature = "alloc")]
pub mod embed;
#[cfg(feature = "alloc")]
pub mod fasttext;
#[cfg(feature = "alloc")]
pub mod image;
#[cfg(feature = "alloc")]
pub mod model;
#[cfg(feature = "alloc")]
pub mod npy;
#[cfg(feature = "alloc")]
pub mod quant;
pub mod rng;
#[cfg(feature = "alloc")]
pub mod tflite;
pub mod vmf;
