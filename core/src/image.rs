//! Image resampling for the classifiers.
//!
//! ```
//! let src = vec![200u8; 4 * 4 * 3];
//! let out = shoal_core::image::resize_rgb(&src, 4, 4, 2, 2);
//! assert_eq!(out, vec![200u8; 2 * 2 * 3]);
//! ```

use alloc::vec;
use alloc::vec::Vec;

/// RGB8 from RGBA8 (straight, not premultiplied, alpha) composited over
/// white: `c·a/255 + 255·(1 − a/255)`, rounded to nearest. Cut-out photos
/// (transparent background) then look as they do on a white page, which is
/// how such pictures are usually seen, instead of taking whatever colour the
/// invisible pixels happen to store. A trailing partial pixel is dropped.
///
/// ```
/// let rgba = [10u8, 20, 30, 255, 10, 20, 30, 0, 0, 0, 0, 128];
/// let rgb = shoal_core::image::rgba_over_white(&rgba);
/// assert_eq!(rgb, vec![10, 20, 30, 255, 255, 255, 127, 127, 127]);
/// ```
pub fn rgba_over_white(rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        let a = u32::from(p[3]);
        for &c in &p[..3] {
            // (c·a + 255·(255 − a) + 127) / 255 <= 255: fits a byte.
            let v = (u32::from(c) * a + 255 * (255 - a) + 127) / 255;
            out.push(v as u8);
        }
    }
    out
}

/// Separable triangle-filter (antialiased bilinear) resize of an RGB8
/// image of `sw × sh` to `dw × dh`; the filter is widened by the downscale
/// factor, as in PIL's `BILINEAR`. Inputs shorter than `sw·sh·3` bytes give
/// black pixels where data is missing, never a panic.
pub fn resize_rgb(src: &[u8], sw: usize, sh: usize, dw: usize, dh: usize) -> Vec<u8> {
    fn weights(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
        let scale = src as f64 / dst.max(1) as f64;
        let support = if scale > 1.0 { scale } else { 1.0 };
        (0..dst)
            .map(|i| {
                let center = (i as f64 + 0.5) * scale;
                let lo = libm::floor(center - support).max(0.0) as usize;
                let hi = (libm::ceil(center + support) as usize).min(src);
                let mut w: Vec<f32> = (lo..hi)
                    .map(|j| {
                        let t = libm::fabs((j as f64 + 0.5) - center) / support;
                        (1.0 - t).max(0.0) as f32
                    })
                    .collect();
                let sum: f32 = w.iter().sum();
                if sum > 0.0 {
                    w.iter_mut().for_each(|x| *x /= sum);
                }
                (lo, w)
            })
            .collect()
    }
    let wx = weights(sw, dw);
    let wy = weights(sh, dh);
    let px = |i: usize| f32::from(src.get(i).copied().unwrap_or(0));
    let mut tmp = vec![0f32; sh * dw * 3];
    for y in 0..sh {
        for (x, (lo, w)) in wx.iter().enumerate() {
            for c in 0..3 {
                let mut acc = 0f32;
                for (k, wk) in w.iter().enumerate() {
                    acc += wk * px((y * sw + lo + k) * 3 + c);
                }
                tmp[(y * dw + x) * 3 + c] = acc;
            }
        }
    }
    let mut out = vec![0u8; dh * dw * 3];
    for (y, (lo, w)) in wy.iter().enumerate() {
        for x in 0..dw {
            for c in 0..3 {
                let mut acc = 0f32;
                for (k, wk) in w.iter().enumerate() {
                    acc += wk * tmp[((lo + k) * dw + x) * 3 + c];
                }
                out[(y * dw + x) * 3 + c] = libm::roundf(acc).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}
