//! Batched products `Y = X Wᵀ` on the compressed form, for many input rows
//! (the pixels of a 1 x 1 convolution): panels of [`PANEL`] weight rows are
//! decoded to f32 (`PANEL · cols` floats, column-major; all panels of the
//! layer once when there is more than one block of [`BLOCK`] input rows,
//! else one at a time) and applied to [`TILE`] input rows at a time as outer
//! products: for each column, the panel's sixteen weights times each input
//! row's value, added into sixteen accumulators per row.
//!
//! Summation order, fixed by this code: every output is a sequential sum
//! over the columns in order, `acc = w·x + acc`, starting from zero. Where
//! the CPU has fused multiply-add (x86 with AVX2 and FMA, detected at run
//! time) each step is one fused operation, elsewhere a product then a sum;
//! [`gemm_reference`] states both with plain loops (`fmaf` for the fused
//! one), and each build equals its own statement bit for bit.

#![allow(clippy::indexing_slicing)] // shapes are checked by the callers

use alloc::vec;
use alloc::vec::Vec;

use super::{QuantError, QuantMatrix};

/// Weight rows decoded together (two 8-lane vectors per column).
pub const PANEL: usize = 16;
/// Input rows that share one decoded panel (a multiple of [`TILE`], so that
/// only the last tile of a product can be partial).
pub const BLOCK: usize = 60;
/// Input rows computed together (2 · TILE accumulators in registers).
pub const TILE: usize = 6;
/// Input rows computed together against a panel of eight weight rows.
#[cfg(target_arch = "x86_64")]
const HALF_TILE: usize = 2 * TILE;

/// What happens to each output after its sum, in this order: `+ bias[r]`
/// (the output's row of the weight matrix, i.e. its channel), the clamp
/// `v.clamp(lo, hi)`, `+ res[i]` (the value at the output's own index).
/// Empty slices and `None` skip a step. It is applied as each tile of
/// outputs is stored, so the products write their outputs once.
#[derive(Clone, Copy, Debug, Default)]
pub struct Epilogue<'a> {
    /// Per-output-row bias (`rows` values), or empty.
    pub bias: &'a [f32],
    /// Clamp bounds `(lo, hi)` with `lo <= hi`, or `None`.
    pub clamp: Option<(f32, f32)>,
    /// A residual of the output's shape (`n · rows` values), or empty.
    pub res: &'a [f32],
}

impl Epilogue<'_> {
    /// No steps: the products' plain sums.
    pub const NONE: Epilogue<'static> = Epilogue {
        bias: &[],
        clamp: None,
        res: &[],
    };

    /// Whether every step is skipped.
    pub fn is_none(&self) -> bool {
        self.bias.is_empty() && self.clamp.is_none() && self.res.is_empty()
    }

    /// Applies the steps to `y`, an `n × rows` block whose first value has
    /// index `at` in the output (and in `res`): one pass, each value's steps
    /// in order. The specification of the vector epilogue.
    ///
    /// # Errors
    /// [`QuantError::LengthMismatch`] when `bias` does not have `rows` values
    /// or `res` does not cover `at..at + y.len()`; [`QuantError::BadClamp`].
    pub fn apply(&self, y: &mut [f32], rows: usize, at: usize) -> Result<(), QuantError> {
        self.check_steps(rows)?;
        let res = match self.res.is_empty() {
            true => &[][..],
            false => self
                .res
                .get(at..at + y.len())
                .ok_or(QuantError::LengthMismatch {
                    expected: at + y.len(),
                    found: self.res.len(),
                })?,
        };
        if !self.is_none() {
            self.with_steps(Pass {
                epi: self,
                y,
                rows,
                at,
                res,
            });
        }
        Ok(())
    }

    /// Runs `f` instantiated for the steps this epilogue has (`B`: a bias,
    /// `C`: a clamp, `S`: a residual), so that code generic over the steps
    /// has no branch on them: the one place that turns the steps into
    /// compile-time flags.
    #[inline(always)]
    pub(crate) fn with_steps<F: WithSteps>(&self, f: F) -> F::Out {
        match (
            !self.bias.is_empty(),
            self.clamp.is_some(),
            !self.res.is_empty(),
        ) {
            (false, false, false) => f.call::<false, false, false>(),
            (false, false, true) => f.call::<false, false, true>(),
            (false, true, false) => f.call::<false, true, false>(),
            (false, true, true) => f.call::<false, true, true>(),
            (true, false, false) => f.call::<true, false, false>(),
            (true, false, true) => f.call::<true, false, true>(),
            (true, true, false) => f.call::<true, true, false>(),
            (true, true, true) => f.call::<true, true, true>(),
        }
    }

    /// [`Epilogue::apply`] with its steps fixed at compile time (`B`: bias,
    /// `C`: clamp, `S`: residual), so that the loop has no branches.
    #[inline(always)]
    fn pass<const B: bool, const C: bool, const S: bool>(
        &self,
        y: &mut [f32],
        rows: usize,
        at: usize,
        res: &[f32],
    ) {
        let (lo, hi) = self.clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let rows = rows.max(1);
        // Whole output rows after the first (partial) one, so that each
        // value's bias is the next in order (no division per value).
        let r0 = at % rows;
        let head = (rows - r0).min(y.len());
        let mut done = 0;
        let mut step = |y: &mut [f32], b0: usize| {
            let n = y.len();
            let b = if B { &self.bias[b0..b0 + n] } else { &[][..] };
            let r = if S { &res[done..done + n] } else { &[][..] };
            for (k, v) in y.iter_mut().enumerate() {
                let mut t = *v;
                if B {
                    t += b[k];
                }
                if C {
                    t = t.clamp(lo, hi);
                }
                if S {
                    t += r[k];
                }
                *v = t;
            }
            done += n;
        };
        let (first, rest) = y.split_at_mut(head);
        step(first, r0);
        for row in rest.chunks_mut(rows) {
            step(row, 0);
        }
    }

    /// The bias's length and the clamp's bounds (which `f32::clamp` needs).
    fn check_steps(&self, rows: usize) -> Result<(), QuantError> {
        if !self.bias.is_empty() && self.bias.len() != rows {
            return Err(QuantError::LengthMismatch {
                expected: rows,
                found: self.bias.len(),
            });
        }
        match self.clamp {
            Some((lo, hi)) if lo.partial_cmp(&hi).is_none_or(|o| o.is_gt()) => {
                Err(QuantError::BadClamp)
            }
            _ => Ok(()),
        }
    }

    /// Checks the steps and slices against an `n × rows` output.
    pub(super) fn check(&self, n: usize, rows: usize) -> Result<(), QuantError> {
        self.check_steps(rows)?;
        if !self.res.is_empty() && self.res.len() != n * rows {
            return Err(QuantError::LengthMismatch {
                expected: n * rows,
                found: self.res.len(),
            });
        }
        Ok(())
    }
}

/// Code generic over an epilogue's steps, run by [`Epilogue::with_steps`]
/// with the steps the epilogue has.
pub(crate) trait WithSteps {
    /// What the code returns.
    type Out;
    /// The code for bias `B`, clamp `C` and residual `S`.
    fn call<const B: bool, const C: bool, const S: bool>(self) -> Self::Out;
}

/// [`Epilogue::apply`]'s pass over a block (`res`: the residual's values
/// for the block, empty without one).
struct Pass<'a, 'e> {
    epi: &'a Epilogue<'e>,
    y: &'a mut [f32],
    rows: usize,
    at: usize,
    res: &'a [f32],
}

impl WithSteps for Pass<'_, '_> {
    type Out = ();
    #[inline(always)]
    fn call<const B: bool, const C: bool, const S: bool>(self) {
        self.epi
            .pass::<B, C, S>(self.y, self.rows, self.at, self.res);
    }
}

/// A [`Panels`] cache inside a [`QuantMatrix`]: equal to any other and
/// shown by its presence only, so that it is not part of the matrix's value.
#[derive(Clone, Default)]
pub(crate) struct PanelCache(pub(crate) Option<Panels>);

impl PartialEq for PanelCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl core::fmt::Debug for PanelCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.0.is_some() { "packed" } else { "none" })
    }
}

/// A quantized matrix's codes in the order the panel product reads them
/// ([`QuantMatrix::pack_panels`]): per panel of [`PANEL`] rows, column after
/// column, the rows' codes one byte each — `c − z` as `i8` for the formats
/// with a zero point (it fits: `z` is the middle of the code range), `c` as
/// `u8` for those without — and per panel and group the rows' scales and
/// minimums as f32. Rows past the matrix have code `z` (or 0) and
/// `d = m = 0`. A panel then decodes column by column from bytes in place:
/// `m + d·(c − z)`, the operations of [`QuantMatrix::dequantize_row`]
/// (`c − z` is exact either way), so the same bits as the rows decoded
/// and transposed.
#[derive(Clone)]
pub struct Panels {
    cols: usize,
    group: usize,
    gpr: usize,
    /// `z` when the codes are stored as `u8` (0.0 in practice), else 0.0
    /// with the codes stored as `c − z` in `i8`.
    signed: bool,
    codes: Vec<u8>,
    d: Vec<f32>,
    m: Vec<f32>,
}

impl core::fmt::Debug for Panels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Panels")
            .field("cols", &self.cols)
            .field("panels", &(self.d.len() / (self.gpr * PANEL).max(1)))
            .finish()
    }
}

impl Panels {
    pub(crate) fn new(q: &QuantMatrix) -> Panels {
        let (rows, cols, f) = (q.rows(), q.cols(), q.format());
        let (gpr, gb, group) = (q.groups_per_row(), f.group_bytes(), f.group);
        let np = rows.div_ceil(PANEL);
        let z = f.zero_point();
        let signed = z > 0;
        let mut codes = vec![0u8; np * cols * PANEL];
        let (mut d, mut m) = (
            vec![0.0f32; np * gpr * PANEL],
            vec![0.0f32; np * gpr * PANEL],
        );
        let mut buf = [0u8; 128];
        for r in 0..rows {
            let (p, k) = (r / PANEL, r % PANEL);
            for g in 0..gpr {
                let gi = r * gpr + g;
                let (Some(src), Some(out)) =
                    (q.codes.get(gi * gb..(gi + 1) * gb), buf.get_mut(..group))
                else {
                    continue;
                };
                super::scalar::unpack(src, f.bits, out);
                let (dd, mm) = q.params(gi);
                if let (Some(ds), Some(ms)) = (
                    d.get_mut((p * gpr + g) * PANEL + k),
                    m.get_mut((p * gpr + g) * PANEL + k),
                ) {
                    (*ds, *ms) = (dd, mm);
                }
                for (j, &c) in out.iter().enumerate().take(cols.saturating_sub(g * group)) {
                    if let Some(slot) = codes.get_mut((p * cols + g * group + j) * PANEL + k) {
                        // c − z in two's complement: within −128..=127.
                        *slot = if signed { c.wrapping_sub(z) } else { c };
                    }
                }
            }
        }
        Panels {
            cols,
            group,
            gpr,
            signed,
            codes,
            d,
            m,
        }
    }

    /// The code at column `c`, row `k` of panel `p` as `c − z` in f32
    /// (exact).
    fn centred(&self, p: usize, c: usize, k: usize) -> f32 {
        let b = self
            .codes
            .get((p * self.cols + c) * PANEL + k)
            .copied()
            .unwrap_or(0);
        if self.signed {
            f32::from(b as i8)
        } else {
            f32::from(b)
        }
    }

    /// Panel `p` into `panel` (`cols · PANEL` values, column-major), value
    /// by value: the specification of [`Panels::decode_avx2`].
    pub(crate) fn decode(&self, p: usize, panel: &mut [f32]) {
        for (c, col) in panel.chunks_exact_mut(PANEL).take(self.cols).enumerate() {
            let g = c / self.group;
            for (k, v) in col.iter_mut().enumerate() {
                let i = (p * self.gpr + g) * PANEL + k;
                let (d, m) = (
                    self.d.get(i).copied().unwrap_or(0.0),
                    self.m.get(i).copied().unwrap_or(0.0),
                );
                *v = m + d * self.centred(p, c, k);
            }
        }
    }

    /// [`Panels::decode`] with AVX2: per column sixteen bytes, widened
    /// (sign- or zero-extended) and converted, then `m + d·v` with the
    /// group's sixteen `d` and `m` as two vectors each.
    ///
    /// # Safety
    /// AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn decode_avx2(&self, p: usize, panel: &mut [f32]) {
        use core::arch::x86_64::*;
        let cols = self.cols;
        let (Some(codes), Some(ds), Some(ms)) = (
            self.codes.get(p * cols * PANEL..(p + 1) * cols * PANEL),
            self.d.get(p * self.gpr * PANEL..(p + 1) * self.gpr * PANEL),
            self.m.get(p * self.gpr * PANEL..(p + 1) * self.gpr * PANEL),
        ) else {
            return;
        };
        if panel.len() < cols * PANEL {
            return;
        }
        for (g, (dg, mg)) in ds
            .chunks_exact(PANEL)
            .zip(ms.chunks_exact(PANEL))
            .enumerate()
        {
            // SAFETY: sixteen values each (chunks of PANEL = 16).
            let (d0, d1, m0, m1) = unsafe {
                (
                    _mm256_loadu_ps(dg.as_ptr()),
                    _mm256_loadu_ps(dg.as_ptr().add(8)),
                    _mm256_loadu_ps(mg.as_ptr()),
                    _mm256_loadu_ps(mg.as_ptr().add(8)),
                )
            };
            for c in g * self.group..((g + 1) * self.group).min(cols) {
                // SAFETY: c < cols, so sixteen bytes at c·PANEL of `codes`
                // and sixteen floats at c·PANEL of `panel` (checked above).
                unsafe {
                    let b = _mm_loadu_si128(codes.as_ptr().add(c * PANEL).cast());
                    let hi = _mm_unpackhi_epi64(b, b);
                    let (lo, hi) = if self.signed {
                        (_mm256_cvtepi8_epi32(b), _mm256_cvtepi8_epi32(hi))
                    } else {
                        (_mm256_cvtepu8_epi32(b), _mm256_cvtepu8_epi32(hi))
                    };
                    let out = panel.as_mut_ptr().add(c * PANEL);
                    let v0 = _mm256_add_ps(m0, _mm256_mul_ps(d0, _mm256_cvtepi32_ps(lo)));
                    let v1 = _mm256_add_ps(m1, _mm256_mul_ps(d1, _mm256_cvtepi32_ps(hi)));
                    _mm256_storeu_ps(out, v0);
                    _mm256_storeu_ps(out.add(8), v1);
                }
            }
        }
    }

    /// [`Panels::decode`], by [`Panels::decode_avx2`] where the CPU has it.
    fn decode_fast(&self, p: usize, panel: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if crate::arch::f16c_available() {
            // SAFETY: AVX2 was checked (F16C implies it here).
            unsafe { self.decode_avx2(p, panel) };
            return;
        }
        self.decode(p, panel);
    }
}

/// Whether this machine takes the fused path.
pub fn fused() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::arch::f16c_available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `acc + a·b` as the specifications state it: one rounding (`fmaf`) when
/// `fused` (what [`fused`] says of this machine), else a product then a sum.
#[inline(always)]
pub(crate) fn madd(a: f32, b: f32, acc: f32, fused: bool) -> f32 {
    if fused {
        libm::fmaf(a, b, acc)
    } else {
        acc + a * b
    }
}

/// Decodes rows `r0..r0 + nr` of `q` into `panel` column-major
/// (`panel[c·PANEL + k]`), zero past `nr`.
fn decode_panel(
    q: &QuantMatrix,
    r0: usize,
    nr: usize,
    row: &mut [f32],
    panel: &mut [f32],
) -> Result<(), QuantError> {
    let cols = q.cols();
    panel.fill(0.0);
    for k in 0..nr {
        q.dequantize_row(r0 + k, row)?;
        for (c, &w) in row.iter().enumerate().take(cols) {
            panel[c * PANEL + k] = w;
        }
    }
    Ok(())
}

/// [`decode_panel`] with AVX2 (the same bits): per group of columns, eight
/// columns of eight rows at a time, the codes converted to f32, the 8 x 8
/// block transposed in registers (lanes become rows), then each value
/// `m + d·(c − z)` by the same three f32 operations with the eight rows'
/// `d` and `m` as vectors. Q8 codes are read in place (other widths are
/// unpacked per group first). Rows past `nr` read zero codes with
/// `d = m = 0`, which decodes to `+0.0` exactly (`0 + 0·(0 − z)`, `z >= 0`),
/// so the panel needs no clearing.
///
/// # Safety
/// AVX2 and F16C; `nr <= PANEL`, rows `r0..r0 + nr` exist (the caller's
/// checks; the panel's length and the group size are checked here).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,f16c")]
unsafe fn decode_panel_avx2(q: &QuantMatrix, r0: usize, nr: usize, panel: &mut [f32]) {
    use core::arch::x86_64::*;
    const ZERO: [u8; 128] = [0; 128];
    let (cols, f) = (q.cols(), q.format());
    let (g_len, gb, gpr) = (f.group, f.group_bytes(), q.groups_per_row());
    let z = _mm256_set1_ps(f32::from(f.zero_point()));
    let f16 = f.scale == super::ScaleType::F16;
    let mut codes = [[0u8; 128]; PANEL];
    let nr = nr.min(PANEL);
    if panel.len() < cols * PANEL || g_len > 128 || !g_len.is_multiple_of(8) {
        return;
    }
    // Each row's codes, scales and minimums (empty past `nr`), checked once.
    let mut rc: [&[u8]; PANEL] = [&[]; PANEL];
    let (mut rs, mut rm): ([&[u16]; PANEL], [&[u16]; PANEL]) = ([&[]; PANEL], [&[]; PANEL]);
    for k in 0..nr {
        let r = r0 + k;
        let (Some(c), Some(sc)) = (
            q.codes.get(r * gpr * gb..(r + 1) * gpr * gb),
            q.scales.get(r * gpr..(r + 1) * gpr),
        ) else {
            return;
        };
        (rc[k], rs[k]) = (c, sc);
        rm[k] = q.mins.get(r * gpr..(r + 1) * gpr).unwrap_or_default();
    }
    for g in 0..gpr {
        let mut rows = [ZERO.as_ptr(); PANEL];
        let (mut d, mut m) = ([0.0f32; PANEL], [0.0f32; PANEL]);
        let (mut db, mut mb) = ([0u16; PANEL], [0u16; PANEL]);
        for k in 0..nr {
            let src = rc[k].get(g * gb..(g + 1) * gb).unwrap_or(&ZERO);
            rows[k] = match f.bits {
                super::Bits::Q8 => src.as_ptr(),
                _ => {
                    super::scalar::unpack(src, f.bits, &mut codes[k][..g_len]);
                    codes[k].as_ptr()
                }
            };
            db[k] = rs[k].get(g).copied().unwrap_or(0);
            mb[k] = rm[k].get(g).copied().unwrap_or(0);
            if !f16 {
                d[k] = f.scale.decode(db[k]);
                m[k] = if rm[k].is_empty() {
                    0.0
                } else {
                    f.scale.decode(mb[k])
                };
            }
        }
        let width = g_len.min(cols - g * g_len);
        for h in 0..PANEL / 8 {
            // SAFETY: eight values from offset h·8 of sixteen. F16C's
            // conversion is exact, as `half`'s (NaN included: both set the
            // quiet bit and keep the payload); zero bits give 0.0, which is
            // what `params` gives without minimums.
            let (dv, mv) = unsafe {
                match f16 {
                    true => (
                        _mm256_cvtph_ps(_mm_loadu_si128(db.as_ptr().add(h * 8).cast())),
                        _mm256_cvtph_ps(_mm_loadu_si128(mb.as_ptr().add(h * 8).cast())),
                    ),
                    false => (
                        _mm256_loadu_ps(d.as_ptr().add(h * 8)),
                        _mm256_loadu_ps(m.as_ptr().add(h * 8)),
                    ),
                }
            };
            for j0 in (0..width).step_by(8) {
                let mut v = [_mm256_setzero_ps(); 8];
                for (i, vi) in v.iter_mut().enumerate() {
                    // SAFETY: each row pointer has `g_len` codes, and
                    // j0 + 8 <= g_len (a multiple of eight).
                    let b = unsafe { _mm_loadl_epi64(rows[h * 8 + i].add(j0).cast()) };
                    *vi = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(b));
                }
                let t = transpose8(v);
                let at = (g * g_len + j0) * PANEL + h * 8;
                for (j, col) in t.iter().enumerate().take(width - j0) {
                    let w = _mm256_add_ps(mv, _mm256_mul_ps(dv, _mm256_sub_ps(*col, z)));
                    // SAFETY: column g·g_len + j0 + j < cols, so eight
                    // floats at `at + j·PANEL` are inside the panel.
                    unsafe { _mm256_storeu_ps(panel.as_mut_ptr().add(at + j * PANEL), w) };
                }
            }
        }
    }
}

/// The 8 x 8 transpose of eight rows: column `j` of the result holds
/// element `j` of every row, in row order.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2")]
fn transpose8(v: [core::arch::x86_64::__m256; 8]) -> [core::arch::x86_64::__m256; 8] {
    use core::arch::x86_64::*;
    let t = [
        _mm256_unpacklo_ps(v[0], v[1]),
        _mm256_unpackhi_ps(v[0], v[1]),
        _mm256_unpacklo_ps(v[2], v[3]),
        _mm256_unpackhi_ps(v[2], v[3]),
        _mm256_unpacklo_ps(v[4], v[5]),
        _mm256_unpackhi_ps(v[4], v[5]),
        _mm256_unpacklo_ps(v[6], v[7]),
        _mm256_unpackhi_ps(v[6], v[7]),
    ];
    let s = [
        _mm256_shuffle_ps::<0x44>(t[0], t[2]),
        _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
        _mm256_shuffle_ps::<0x44>(t[1], t[3]),
        _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
        _mm256_shuffle_ps::<0x44>(t[4], t[6]),
        _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
        _mm256_shuffle_ps::<0x44>(t[5], t[7]),
        _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
    ];
    [
        _mm256_permute2f128_ps::<0x20>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x20>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x20>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x20>(s[3], s[7]),
        _mm256_permute2f128_ps::<0x31>(s[0], s[4]),
        _mm256_permute2f128_ps::<0x31>(s[1], s[5]),
        _mm256_permute2f128_ps::<0x31>(s[2], s[6]),
        _mm256_permute2f128_ps::<0x31>(s[3], s[7]),
    ]
}

/// [`decode_panel`], by [`decode_panel_avx2`] where the CPU has AVX2;
/// `row` (a row's scratch) is sized only where the scalar decoder needs it.
fn decode_panel_fast(
    q: &QuantMatrix,
    r0: usize,
    nr: usize,
    row: &mut Vec<f32>,
    panel: &mut [f32],
) -> Result<(), QuantError> {
    #[cfg(target_arch = "x86_64")]
    if crate::arch::f16c_available() && nr <= PANEL && r0 + nr <= q.rows() {
        // SAFETY: AVX2 was checked, and the sizes.
        unsafe { decode_panel_avx2(q, r0, nr, panel) };
        return Ok(());
    }
    row.resize(q.cols(), 0.0);
    decode_panel(q, r0, nr, row, panel)
}

/// The portable tile: `acc[p][k] += panel[c][k]·x[p][c]` over the columns,
/// product then sum.
#[inline(always)]
fn tile_plain(panel: &[f32], x: &[f32], cols: usize, np: usize, acc: &mut [[f32; PANEL]; TILE]) {
    for a in acc.iter_mut() {
        *a = [0.0; PANEL];
    }
    for c in 0..cols {
        let mut w = [0.0f32; PANEL];
        w.copy_from_slice(&panel[c * PANEL..(c + 1) * PANEL]);
        for (p, a) in acc.iter_mut().enumerate().take(np) {
            let xv = x[p * cols + c];
            for k in 0..PANEL {
                a[k] += w[k] * xv;
            }
        }
    }
}

/// Where a tile's outputs go: rows `i..i + np` of the output, weight rows
/// (output columns) `r0..r0 + nr`, with the epilogue.
struct Dest<'a, 'e> {
    y: &'a mut [f32],
    rows: usize,
    i: usize,
    r0: usize,
    nr: usize,
    epi: &'a Epilogue<'e>,
}

impl Dest<'_, '_> {
    /// Stores the tile's sums from `acc` (the portable path, and partial
    /// panels): copied, then the scalar epilogue on what was copied.
    fn store(&mut self, acc: &[[f32; PANEL]; TILE], np: usize) -> Result<(), QuantError> {
        for (p, a) in acc.iter().enumerate().take(np) {
            let at = (self.i + p) * self.rows + self.r0;
            let dst = &mut self.y[at..at + self.nr];
            dst.copy_from_slice(&a[..self.nr]);
            self.epi.apply(dst, self.rows, at)?;
        }
        Ok(())
    }
}

/// The fused tile with AVX2/FMA: two `vfmadd` per column and input row
/// (twelve accumulators, two weight vectors and a broadcast in registers).
/// A full panel's sums get the epilogue in registers (the same operations
/// as [`Epilogue::apply`]: add, `max(lo, v)` then `min(hi, v)`, which is
/// `clamp` including NaN and signed zeros, add) and are stored once.
///
/// # Safety
/// AVX2 and FMA; `panel` holds `cols · PANEL` values, `x` `np · cols`,
/// `np <= TILE`; `d` fits the output and the epilogue was checked.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_fma(
    panel: &[f32],
    x: &[f32],
    cols: usize,
    np: usize,
    d: &mut Dest<'_, '_>,
) -> Result<(), QuantError> {
    use core::arch::x86_64::*;
    debug_assert!(np <= TILE && panel.len() >= cols * PANEL && x.len() >= np * cols);
    // SAFETY: as required (caller), for each number of rows.
    let a = unsafe {
        match np {
            1 => sums::<1>(panel, x, cols),
            2 => sums::<2>(panel, x, cols),
            3 => sums::<3>(panel, x, cols),
            4 => sums::<4>(panel, x, cols),
            5 => sums::<5>(panel, x, cols),
            _ => sums::<TILE>(panel, x, cols),
        }
    };
    if d.nr < PANEL {
        let mut acc = [[0.0f32; PANEL]; TILE];
        for (p, ap) in a.iter().enumerate().take(np) {
            // SAFETY: sixteen floats per row of `acc`.
            unsafe {
                _mm256_storeu_ps(acc[p].as_mut_ptr(), ap[0]);
                _mm256_storeu_ps(acc[p].as_mut_ptr().add(8), ap[1]);
            }
        }
        return d.store(&acc, np);
    }
    // SAFETY: AVX2 (caller).
    unsafe { store_tile(d, &a, np) }
}

/// Stores rows `d.i..d.i + np` of `8·NV` outputs each (weight rows
/// `d.r0..`, all present) from the first `np` of `rows`, with the epilogue
/// in registers: the same operations as [`Epilogue::apply`] (add,
/// `max(lo, v)` then `min(hi, v)`, which is `clamp` including NaN and signed
/// zeros, add). `B`, `C`, `S`: whether the epilogue has a bias, a clamp, a
/// residual (so the loop has no branch on them, and the sums, a fixed-size
/// array, stay in registers).
///
/// # Safety
/// AVX2; the epilogue was checked against the output, and has the steps
/// `B`, `C`, `S` say.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_rows<
    const NV: usize,
    const N: usize,
    const B: bool,
    const C: bool,
    const S: bool,
>(
    d: &mut Dest<'_, '_>,
    rows: &[[core::arch::x86_64::__m256; NV]; N],
    np: usize,
) -> Result<(), QuantError> {
    use core::arch::x86_64::*;
    let e = d.epi;
    let (lo, hi) = e.clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
    // SAFETY: AVX2 (caller).
    let (lo, hi) = unsafe { (_mm256_set1_ps(lo), _mm256_set1_ps(hi)) };
    let width = 8 * NV;
    let np = np.min(N);
    // One check for the tile: its last row ends inside the output (and
    // the residual, which has the output's shape), the bias holds the
    // panel's rows.
    let end = (d.i + np.max(1) - 1) * d.rows + d.r0 + width;
    let b = e.bias.get(d.r0..d.r0 + width);
    let short = |found: usize, expected: usize| QuantError::LengthMismatch { expected, found };
    if end > d.y.len() {
        return Err(short(d.y.len(), end));
    }
    if S && end > e.res.len() {
        return Err(short(e.res.len(), end));
    }
    if B && b.is_none() {
        return Err(short(e.bias.len(), d.r0 + width));
    }
    let (bp, rp, yp) = (
        b.map_or(core::ptr::null(), <[f32]>::as_ptr),
        e.res.as_ptr(),
        d.y.as_mut_ptr(),
    );
    for (p, ap) in rows.iter().enumerate() {
        if p >= np {
            break;
        }
        let at = (d.i + p) * d.rows + d.r0;
        for (k, &a) in ap.iter().enumerate() {
            let mut v = a;
            // SAFETY: `at + 8k + 8 <= end`, inside the output and (with S)
            // the residual; 8k + 8 <= width, inside the bias (with B).
            unsafe {
                if B {
                    v = _mm256_add_ps(v, _mm256_loadu_ps(bp.add(8 * k)));
                }
                if C {
                    v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
                }
                if S {
                    v = _mm256_add_ps(v, _mm256_loadu_ps(rp.add(at + 8 * k)));
                }
                _mm256_storeu_ps(yp.add(at + 8 * k), v);
            }
        }
    }
    Ok(())
}

/// [`store_rows`] for the epilogue's steps (a branch per tile, none per
/// output).
///
/// # Safety
/// As [`store_rows`] (the steps are read from the epilogue).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store_tile<const NV: usize, const N: usize>(
    d: &mut Dest<'_, '_>,
    rows: &[[core::arch::x86_64::__m256; NV]; N],
    np: usize,
) -> Result<(), QuantError> {
    /// A tile's store, generic over the steps.
    struct Store<'a, 'b, 'c, 'e, const NV: usize, const N: usize> {
        d: &'a mut Dest<'b, 'e>,
        rows: &'c [[core::arch::x86_64::__m256; NV]; N],
        np: usize,
    }
    impl<const NV: usize, const N: usize> WithSteps for Store<'_, '_, '_, '_, NV, N> {
        type Out = Result<(), QuantError>;
        #[inline(always)]
        fn call<const B: bool, const C: bool, const S: bool>(self) -> Self::Out {
            // SAFETY: only built by `store_tile`, under its caller's
            // guarantees (AVX2, the epilogue checked); the steps are the
            // epilogue's own (`with_steps`).
            unsafe { store_rows::<NV, N, B, C, S>(self.d, self.rows, self.np) }
        }
    }
    let epi = d.epi;
    epi.with_steps(Store { d, rows, np })
}

/// The sums of a half panel (weight rows 0..8 only) for [`HALF_TILE`] input
/// rows: one weight vector and twelve accumulators per column, each sum
/// column by column — the first eight lanes of [`sums`], for twice the
/// input rows.
///
/// # Safety
/// AVX2 and FMA; `panel` holds `cols · PANEL` values, `x` `HALF_TILE · cols`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn half_sums(
    panel: &[f32],
    x: &[f32],
    cols: usize,
) -> [[core::arch::x86_64::__m256; 1]; HALF_TILE] {
    use core::arch::x86_64::*;
    let mut a = [[_mm256_setzero_ps(); 1]; HALF_TILE];
    let (pp, xp) = (panel.as_ptr(), x.as_ptr());
    // SAFETY (all loads): c < cols, inside `panel` and `x` (caller).
    unsafe {
        for c in 0..cols {
            let w = _mm256_loadu_ps(pp.add(c * PANEL));
            for (p, ap) in a.iter_mut().enumerate() {
                ap[0] = _mm256_fmadd_ps(w, _mm256_broadcast_ss(&*xp.add(p * cols + c)), ap[0]);
            }
        }
    }
    a
}

/// The sums of [`tile_fma`] for `NP` input rows (a constant, so that all
/// accumulators stay in registers), in the first `NP` of [`TILE`].
///
/// # Safety
/// AVX2 and FMA; `panel` holds `cols · PANEL` values, `x` `NP · cols`.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn sums<const NP: usize>(
    panel: &[f32],
    x: &[f32],
    cols: usize,
) -> [[core::arch::x86_64::__m256; 2]; TILE] {
    use core::arch::x86_64::*;
    let mut a = [[_mm256_setzero_ps(); 2]; TILE];
    // Column `c`'s twelve (2·NP) multiply-adds.
    #[inline(always)]
    unsafe fn step<const NP: usize>(
        a: &mut [[__m256; 2]; TILE],
        panel: *const f32,
        x: *const f32,
        cols: usize,
        c: usize,
    ) {
        // SAFETY: inside `panel` and `x` (the caller's bounds).
        unsafe {
            let w0 = _mm256_loadu_ps(panel.add(c * PANEL));
            let w1 = _mm256_loadu_ps(panel.add(c * PANEL + 8));
            for (p, ap) in a.iter_mut().enumerate().take(NP) {
                let xv = _mm256_broadcast_ss(&*x.add(p * cols + c));
                ap[0] = _mm256_fmadd_ps(w0, xv, ap[0]);
                ap[1] = _mm256_fmadd_ps(w1, xv, ap[1]);
            }
        }
    }
    // Four columns per pass (fewer address and loop instructions per
    // multiply-add), then the rest; each sum still goes column by column.
    let (pp, xp) = (panel.as_ptr(), x.as_ptr());
    let mut c = 0;
    // SAFETY (all steps): c < cols, so inside `panel` and `x` (caller).
    unsafe {
        while c + 4 <= cols {
            step::<NP>(&mut a, pp, xp, cols, c);
            step::<NP>(&mut a, pp, xp, cols, c + 1);
            step::<NP>(&mut a, pp, xp, cols, c + 2);
            step::<NP>(&mut a, pp, xp, cols, c + 3);
            c += 4;
        }
        while c < cols {
            step::<NP>(&mut a, pp, xp, cols, c);
            c += 1;
        }
    }
    a
}

/// [`tile_fma`] over input rows `d.i..b1`, [`TILE`] at a time (one call per
/// block and panel, so that the tiles are inlined here).
///
/// # Safety
/// As [`tile_fma`], for every tile: `x` holds `b1 · cols` values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tiles_fma(
    panel: &[f32],
    x: &[f32],
    cols: usize,
    b1: usize,
    d: &mut Dest<'_, '_>,
) -> Result<(), QuantError> {
    // A panel of eight weight rows (the last of a matrix whose rows are 8
    // past a multiple of 16): twelve input rows per tile with one vector of
    // sums each, instead of six with two (half of them zero).
    if d.nr == PANEL / 2 {
        while d.i + HALF_TILE <= b1 {
            let xs = &x[d.i * cols..(d.i + HALF_TILE) * cols];
            // SAFETY: as required (caller); all eight rows exist.
            unsafe {
                let a = half_sums(panel, xs, cols);
                store_tile(d, &a, HALF_TILE)?;
            }
            d.i += HALF_TILE;
        }
    }
    while d.i < b1 {
        let np = (b1 - d.i).min(TILE);
        let xs = &x[d.i * cols..(d.i + np) * cols];
        // SAFETY: as required (caller).
        unsafe { tile_fma(panel, xs, cols, np, d)? };
        d.i += np;
    }
    Ok(())
}

/// The panel product (shapes checked by the caller) with the epilogue
/// applied as outputs are stored; `scratch` holds the decoded panels (kept
/// by callers that multiply often, so that it is allocated once).
pub(super) fn gemm(
    q: &QuantMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
    epi: &Epilogue<'_>,
    scratch: &mut Vec<f32>,
) -> Result<(), QuantError> {
    let (rows, cols) = (q.rows(), q.cols());
    epi.check(n, rows)?;
    let fma = fused();
    let mut row = Vec::new();
    let mut acc = [[0.0f32; PANEL]; TILE];
    // More than one block of input rows: every panel is decoded once up
    // front (the layer's weights in f32, a transient buffer) instead of once
    // per block; one block: one panel at a time. The same panels either way.
    let npanels = rows.div_ceil(PANEL);
    let once = n > BLOCK;
    let need = PANEL * cols * if once { npanels } else { 1 };
    // The panels start on a 64-byte boundary inside `scratch`, so that no
    // load of two weight vectors straddles cache lines.
    if scratch.len() < need + 15 {
        scratch.resize(need + 15, 0.0);
    }
    let at = (64 - scratch.as_ptr() as usize % 64) % 64 / 4;
    let panels = &mut scratch[at..at + need];
    // Panel k: from the codes in panel order when the matrix keeps them,
    // else unpacked and transposed from its rows (the same bits).
    let mut decode = |k: usize, panel: &mut [f32]| match q.panels() {
        Some(p) => {
            p.decode_fast(k, panel);
            Ok(())
        }
        None => {
            let r0 = k * PANEL;
            decode_panel_fast(q, r0, (rows - r0).min(PANEL), &mut row, panel)
        }
    };
    if once {
        for (k, panel) in panels.chunks_exact_mut(PANEL * cols).enumerate() {
            decode(k, panel)?;
        }
    }
    let mut b0 = 0;
    while b0 < n {
        let b1 = (b0 + BLOCK).min(n);
        let mut r0 = 0;
        while r0 < rows {
            let nr = (rows - r0).min(PANEL);
            let panel = if once {
                &panels[r0 * cols..(r0 + PANEL) * cols]
            } else {
                decode(r0 / PANEL, panels)?;
                &panels[..]
            };
            let mut d = Dest {
                y: &mut *y,
                rows,
                i: b0,
                r0,
                nr,
                epi,
            };
            #[cfg(target_arch = "x86_64")]
            if fma {
                // SAFETY: AVX2 and FMA were detected; sizes as required, the
                // epilogue checked.
                unsafe { tiles_fma(panel, x, cols, b1, &mut d)? };
                r0 += nr;
                continue;
            }
            let _ = fma;
            while d.i < b1 {
                let np = (b1 - d.i).min(TILE);
                tile_plain(panel, &x[d.i * cols..(d.i + np) * cols], cols, np, &mut acc);
                d.store(&acc, np)?;
                d.i += np;
            }
            r0 += nr;
        }
        b0 = b1;
    }
    Ok(())
}

/// The specification of [`QuantMatrix::gemm`] for batches of
/// [`QuantMatrix::GEMM_MIN_BATCH`] or more: each output is the decoded
/// row's dot product with the input row, summed over the columns in order
/// from zero, each step fused (`fmaf`) when [`fused`] is true on this
/// machine, else a product then a sum.
///
/// # Errors
/// [`QuantError::LengthMismatch`].
pub fn gemm_reference(
    q: &QuantMatrix,
    x: &[f32],
    n: usize,
    y: &mut [f32],
) -> Result<(), QuantError> {
    let (rows, cols) = (q.rows(), q.cols());
    super::check_batch(x, y, n, rows, cols)?;
    let fma = fused();
    let mut w = vec![0.0f32; cols];
    for r in 0..rows {
        q.dequantize_row(r, &mut w)?;
        for i in 0..n {
            let xr = &x[i * cols..(i + 1) * cols];
            let mut s = 0.0f32;
            for (a, b) in w.iter().zip(xr) {
                s = madd(*a, *b, s, fma);
            }
            y[i * rows + r] = s;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Bits, Format, ScaleType, Scheme};
    use super::*;
    use alloc::vec::Vec;

    /// The AVX2 panel decoder equals its scalar specification bit for bit:
    /// 8, 4 and 2 bits, both schemes, f16 and bf16 scales, groups of 32, 64
    /// and 128, column
    /// counts inside and across groups, 1 to 16 rows.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn decode_panel_avx2_equals_scalar() {
        if !crate::arch::f16c_available() {
            return;
        }
        let mut checked = 0;
        each_test_matrix(9, |q, case| {
            let cols = q.cols();
            let mut row = vec![0.0f32; cols];
            for (r0, nr) in [(0, 16), (16, 3), (2, 1), (3, 9)] {
                let mut a = vec![7.0f32; cols * PANEL];
                let mut b = vec![-7.0f32; cols * PANEL];
                decode_panel(q, r0, nr, &mut row, &mut a).unwrap();
                // SAFETY: AVX2 was checked; sizes as required.
                unsafe { decode_panel_avx2(q, r0, nr, &mut b) };
                assert!(same_bits(&a, &b), "{case} rows {r0}+{nr}");
                checked += 1;
            }
        });
        assert_eq!(checked, 192);
    }

    /// Whether two slices hold the same bits.
    fn same_bits(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
    }

    /// Calls `f` with a 19-row matrix of every width, scheme, scale type and
    /// group (columns inside and across groups), and its description.
    fn each_test_matrix(seed: u64, mut f: impl FnMut(&QuantMatrix, &str)) {
        let mut rng = crate::rng::Rng::new(seed);
        for scale in [ScaleType::F16, ScaleType::Bf16] {
            for bits in [Bits::Q8, Bits::Q4, Bits::Q2] {
                for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
                    for (group, cols) in [(32, 40), (64, 64), (128, 300), (32, 7)] {
                        let fmt = Format::new(bits, scheme, group, scale).unwrap();
                        let rows = 19;
                        let w: Vec<f32> = (0..rows * cols)
                            .map(|_| rng.next_f64() as f32 - 0.4)
                            .collect();
                        let q = QuantMatrix::quantize(&w, rows, cols, fmt).unwrap();
                        f(
                            &q,
                            &alloc::format!("{bits:?} {scheme:?} {scale:?} g{group} cols {cols}"),
                        );
                    }
                }
            }
        }
    }

    /// `Epilogue::apply` equals its steps done one pass after another (bias,
    /// clamp, residual), bit for bit, for every combination, special values
    /// included; bad slices and bounds are typed errors.
    #[test]
    fn epilogue_equals_its_steps_in_turn() {
        let mut rng = crate::rng::Rng::new(3);
        let (rows, n) = (13, 7);
        let vals = |rng: &mut crate::rng::Rng, k: usize| -> Vec<f32> {
            (0..k)
                .map(|i| match i % 29 {
                    3 => f32::NAN,
                    7 => -0.0,
                    11 => f32::NEG_INFINITY,
                    _ => (rng.next_f64() as f32 - 0.5) * 16.0,
                })
                .collect()
        };
        let x0 = vals(&mut rng, rows * n);
        let bias0 = vals(&mut rng, rows);
        let res0 = vals(&mut rng, rows * n);
        for mask in 0..8 {
            let e = Epilogue {
                bias: if mask & 1 != 0 { &bias0 } else { &[] },
                clamp: (mask & 2 != 0).then_some((0.0, 6.0)),
                res: if mask & 4 != 0 { &res0 } else { &[] },
            };
            let mut want = x0.clone();
            for (v, b) in want.iter_mut().zip(e.bias.iter().cycle()) {
                *v += b;
            }
            if let Some((lo, hi)) = e.clamp {
                want.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
            }
            for (v, r) in want.iter_mut().zip(e.res) {
                *v += r;
            }
            let mut got = x0.clone();
            e.apply(&mut got, rows, 0).unwrap();
            assert!(
                got.iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "mask {mask}"
            );
            // A part that starts inside a row and spans several.
            let mut part = x0[5..].to_vec();
            e.apply(&mut part, rows, 5).unwrap();
            assert!(
                part.iter()
                    .zip(&want[5..])
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "mask {mask}, from 5"
            );
        }
        let short = Epilogue {
            bias: &bias0[1..],
            ..Epilogue::NONE
        };
        assert!(short.check(n, rows).is_err());
        let bad = Epilogue {
            clamp: Some((1.0, 0.0)),
            ..Epilogue::NONE
        };
        assert_eq!(bad.check(n, rows), Err(QuantError::BadClamp));
        assert_eq!(bad.apply(&mut [1.0], rows, 0), Err(QuantError::BadClamp));
        let nan = Epilogue {
            clamp: Some((f32::NAN, 0.0)),
            ..Epilogue::NONE
        };
        assert_eq!(nan.check(n, rows), Err(QuantError::BadClamp));
    }

    /// Codes in panel order decode to the bits of `decode_panel`, value by
    /// value and with AVX2: every width, scheme, scale type and group,
    /// a partial last panel (19 rows) and partial last groups.
    #[test]
    fn packed_panels_decode_like_the_rows() {
        let mut checked = 0;
        each_test_matrix(23, |q, case| {
            let (rows, cols) = (q.rows(), q.cols());
            let p = Panels::new(q);
            let mut row = vec![0.0f32; cols];
            for k in 0..rows.div_ceil(PANEL) {
                let r0 = k * PANEL;
                let mut want = vec![7.0f32; cols * PANEL];
                decode_panel(q, r0, (rows - r0).min(PANEL), &mut row, &mut want).unwrap();
                let mut got = vec![-7.0f32; cols * PANEL];
                p.decode(k, &mut got);
                assert!(same_bits(&got, &want), "{case} panel {k}");
                #[cfg(target_arch = "x86_64")]
                if crate::arch::f16c_available() {
                    let mut v = vec![3.0f32; cols * PANEL];
                    // SAFETY: AVX2 was checked.
                    unsafe { p.decode_avx2(k, &mut v) };
                    assert!(same_bits(&v, &want), "AVX2 {case} panel {k}");
                }
                checked += 1;
            }
        });
        assert_eq!(checked, 96);
    }

    /// A matrix that keeps its codes in panel order too has the same value
    /// and gives the same product bits: one block and several, partial
    /// panels and tiles, with an epilogue, NaN and signed zeros in `x`.
    #[test]
    fn packed_product_equals_unpacked() {
        let mut rng = crate::rng::Rng::new(29);
        let mut scratch = Vec::new();
        for bits in [Bits::Q8, Bits::Q4] {
            for scheme in [Scheme::Symmetric, Scheme::Asymmetric] {
                let f = Format::new(bits, scheme, 32, ScaleType::F16).unwrap();
                for (rows, cols, n) in [(40, 24, 7), (19, 70, 130), (16, 33, 61)] {
                    let w: Vec<f32> = (0..rows * cols)
                        .map(|_| rng.next_f64() as f32 - 0.5)
                        .collect();
                    let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
                    let mut packed = q.clone();
                    packed.pack_panels();
                    assert!(packed.panels().is_some() && q.panels().is_none());
                    assert_eq!(packed, q);
                    let x: Vec<f32> = (0..n * cols)
                        .map(|i| match i % 37 {
                            3 => f32::NAN,
                            8 => -0.0,
                            _ => rng.next_f64() as f32 * 4.0 - 2.0,
                        })
                        .collect();
                    let bias: Vec<f32> = (0..rows).map(|i| i as f32 * 0.1 - 1.0).collect();
                    let e = Epilogue {
                        bias: &bias,
                        clamp: Some((0.0, 6.0)),
                        res: &[],
                    };
                    let mut want = vec![0.0f32; n * rows];
                    let mut got = vec![1.0f32; n * rows];
                    q.gemm_with(&x, n, &mut want, &e, &mut scratch).unwrap();
                    packed.gemm_with(&x, n, &mut got, &e, &mut scratch).unwrap();
                    assert!(
                        got.iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                        "{bits:?} {scheme:?} {rows} x {cols}, n {n}"
                    );
                }
            }
        }
    }

    /// The product with the epilogue fused into its stores equals the plain
    /// product followed by `Epilogue::apply`, bit for bit: every step
    /// combination, partial panels and tiles, one block and several (the two
    /// decoding schedules), NaN and signed zeros in the inputs.
    #[test]
    fn fused_epilogue_equals_product_then_epilogue() {
        let mut rng = crate::rng::Rng::new(17);
        let f = Format::new(Bits::Q4, Scheme::Asymmetric, 32, ScaleType::F16).unwrap();
        let mut scratch = Vec::new();
        for (rows, cols, n) in [(40, 24, 7), (16, 33, 70), (24, 64, 150), (5, 16, 4)] {
            let w: Vec<f32> = (0..rows * cols)
                .map(|_| rng.next_f64() as f32 - 0.5)
                .collect();
            let q = QuantMatrix::quantize(&w, rows, cols, f).unwrap();
            let x: Vec<f32> = (0..n * cols)
                .map(|i| match i % 41 {
                    5 => f32::NAN,
                    9 => -0.0,
                    _ => (rng.next_f64() as f32 - 0.5) * 8.0,
                })
                .collect();
            let bias: Vec<f32> = (0..rows).map(|_| rng.next_f64() as f32 - 0.5).collect();
            let res: Vec<f32> = (0..n * rows)
                .map(|i| {
                    if i % 13 == 0 {
                        -0.0
                    } else {
                        rng.next_f64() as f32
                    }
                })
                .collect();
            let mut plain = vec![0.0f32; n * rows];
            q.gemm(&x, n, &mut plain).unwrap();
            for mask in 0..8 {
                let e = Epilogue {
                    bias: if mask & 1 != 0 { &bias } else { &[] },
                    clamp: (mask & 2 != 0).then_some((0.0, 6.0)),
                    res: if mask & 4 != 0 { &res } else { &[] },
                };
                let mut want = plain.clone();
                e.apply(&mut want, rows, 0).unwrap();
                let mut got = vec![1.0f32; n * rows];
                q.gemm_with(&x, n, &mut got, &e, &mut scratch).unwrap();
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{rows} x {cols}, n {n}, mask {mask}"
                );
            }
        }
    }
}
