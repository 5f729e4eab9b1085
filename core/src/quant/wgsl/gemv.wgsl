// y = W x on a group-quantized matrix (core/src/quant, `.shq` layout), one
// workgroup of THREADS threads per ROWS rows; a batch of vectors along the
// third dispatch dimension. WebGPU has no 8-bit types, so the packed codes and the
// 16-bit scales are read as u32 words (little-endian): code i of group g of
// row r sits at bit (((r * gpr + g) * group + i) * bits) of the row's code
// words; scale k is half (k % 2) of word k / 2.
//
// Every group fills whole words (group * bits is a multiple of 32 for the
// groups 32/64/128 and 2/4/8 bits), so a thread takes whole code words, four
// at a time as one vec4 load: the host pads each row's words to a multiple
// of four with zero words (only 2-bit rows of an odd number of 32-groups
// need it). x comes padded to the same width with zeros (vector b at
// x[b · x_stride..], in vec4s), so padding codes add d·((0 - z)·0) = 0 for
// a finite scale and need no test; their group index is clamped to the
// row's last group, so a padding word never reads another row's scale.
//
// A thread holds two vec4s of each of its four rows in flight (128 bytes)
// before it uses them, and each x value it loads serves all four rows: the
// same word of the four rows forms one vec4<u32>, so each code position is
// one vec4 decode and one vec4 multiply-add with the broadcast x (no
// private arrays: indexed ones ended up in slow memory, 2-5x slower on an
// H200). A group is at least two words, so words 0-1 and 2-3 of a vec4
// each lie in one group: the scale multiplies per pair of words. A code
// becomes a float by bit operations and one subtraction (`codes_at`), not
// by a conversion. The code width and the scheme are pipeline constants
// (one pipeline per pair), so the loops over a word's codes unroll and the
// scheme's branches fold; the shapes derived from the format come in the
// parameters, so no division by a variable is left.
//
// Spec: core/src/quant/scalar.rs (`gemv`). The sum is reassociated (per
// pair of words Σ (c - z)·x, then × scale, plus min × Σ x for the
// asymmetric formats); tests bound the difference by
// 2^-18 · Σ |d·(c - z)·x| + |m·x| per row.

struct Params {
    rows: u32,
    cols: u32,
    bits: u32,
    group: u32,
    groups_per_row: u32,
    // Written by the host; the kernel takes the scheme (and so the zero
    // point) from the pipeline constant SYMMETRIC instead.
    asymmetric: u32,
    bf16: u32,
    zero_point: u32,
    // Derived on the host: vec4s of code words per (padded) row, log2 of
    // the words per group, vec4s per padded vector of x.
    row_vec4s: u32,
    group_shift: u32,
    x_stride: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> codes: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read> mins: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

override BITS: u32 = 8u;
// Symmetric (scale only, zero point 2^(BITS - 1)) or asymmetric (scale and
// min, zero point 0).
override SYMMETRIC: bool = true;

// Rows per workgroup: the four lanes of the vec4s that carry a word, a
// scale or a sum of each row (the host's dispatch divides by the same
// number); threads per workgroup.
const ROWS: u32 = 4u;
const THREADS: u32 = 64u;

var<workgroup> partial: array<vec4<f32>, THREADS>;

// Code `lane` of each of the four words in `words` (one word per row),
// minus the zero point: the field or'ed into the mantissa of 2^23 is the
// float 2^23 + c, and subtracting 2^23 + z leaves c - z exactly, with no
// integer-to-float conversion (measured on an H200: Q8 5% faster than with
// the conversion, Q4 0–4%).
fn codes_at(words: vec4<u32>, lane: u32) -> vec4<f32> {
    let field = (words >> vec4<u32>(lane * BITS)) & vec4<u32>((1u << BITS) - 1u);
    let bias = select(8388608.0, 8388608.0 + f32(1u << (BITS - 1u)), SYMMETRIC);
    return bitcast<vec4<f32>>(field | vec4<u32>(0x4b000000u)) - vec4<f32>(bias);
}

// The 16-bit values (half k % 2 of each word) of four rows as f32 (f16 or
// bf16).
fn halves_of(words: vec4<u32>, k: vec4<u32>) -> vec4<f32> {
    let b = (words >> ((k % vec4<u32>(2u)) * vec4<u32>(16u))) & vec4<u32>(0xffffu);
    if (p.bf16 == 1u) {
        return bitcast<vec4<f32>>(b << vec4<u32>(16u));
    }
    return vec4<f32>(unpack2x16float(b.x).x, unpack2x16float(b.y).x, unpack2x16float(b.z).x, unpack2x16float(b.w).x);
}

// The scales (and mins) of the four rows for words 4·k4, 4·k4 + 1 (lo) and
// 4·k4 + 2, 4·k4 + 3 (hi), given the rows' first group indices. Indices past
// a row (padding words) are clamped to its last group, so a padding word
// never reads another row's scale.
struct Scales {
    lo: vec4<f32>,
    hi: vec4<f32>,
    min_lo: vec4<f32>,
    min_hi: vec4<f32>,
}

fn scales_of(k4: u32, first: vec4<u32>) -> Scales {
    let last = p.groups_per_row - 1u;
    let lo = first + vec4<u32>(min((4u * k4) >> p.group_shift, last));
    let hi = first + vec4<u32>(min((4u * k4 + 2u) >> p.group_shift, last));
    let wl = vec4<u32>(scales[lo.x / 2u], scales[lo.y / 2u], scales[lo.z / 2u], scales[lo.w / 2u]);
    let wh = vec4<u32>(scales[hi.x / 2u], scales[hi.y / 2u], scales[hi.z / 2u], scales[hi.w / 2u]);
    var out = Scales(halves_of(wl, lo), halves_of(wh, hi), vec4<f32>(0.0), vec4<f32>(0.0));
    if (!SYMMETRIC) {
        let ml = vec4<u32>(mins[lo.x / 2u], mins[lo.y / 2u], mins[lo.z / 2u], mins[lo.w / 2u]);
        let mh = vec4<u32>(mins[hi.x / 2u], mins[hi.y / 2u], mins[hi.z / 2u], mins[hi.w / 2u]);
        out.min_lo = halves_of(ml, lo);
        out.min_hi = halves_of(mh, hi);
    }
    return out;
}

// Σ (c - z)·x over word j of code vec4 k4 in each of the four rows (c0..c3:
// that vec4 in each row), and Σ x over the word, x of vector `xb` on.
struct Sums {
    s: vec4<f32>,
    sx: f32,
}

fn word_sums(c0: vec4<u32>, c1: vec4<u32>, c2: vec4<u32>, c3: vec4<u32>, j: u32, k4: u32, xb: u32) -> Sums {
    let words = vec4<u32>(c0[j], c1[j], c2[j], c3[j]);
    let quads = 8u / BITS;
    var s = vec4<f32>(0.0);
    var sx = 0.0;
    for (var q = 0u; q < quads; q = q + 1u) {
        let xv = x[xb + (4u * k4 + j) * quads + q];
        s = s + codes_at(words, 4u * q) * xv.x;
        s = s + codes_at(words, 4u * q + 1u) * xv.y;
        s = s + codes_at(words, 4u * q + 2u) * xv.z;
        s = s + codes_at(words, 4u * q + 3u) * xv.w;
        if (!SYMMETRIC) {
            sx = sx + ((xv.x + xv.y) + (xv.z + xv.w));
        }
    }
    return Sums(s, sx);
}

// The four rows' contributions of code vec4 k4 (c0..c3: its words in each
// row; e: their scales).
fn terms(c0: vec4<u32>, c1: vec4<u32>, c2: vec4<u32>, c3: vec4<u32>, k4: u32, e: Scales, xb: u32) -> vec4<f32> {
    let a = word_sums(c0, c1, c2, c3, 0u, k4, xb);
    let b = word_sums(c0, c1, c2, c3, 1u, k4, xb);
    let c = word_sums(c0, c1, c2, c3, 2u, k4, xb);
    let d = word_sums(c0, c1, c2, c3, 3u, k4, xb);
    var t = e.lo * (a.s + b.s) + e.hi * (c.s + d.s);
    if (!SYMMETRIC) {
        t = t + e.min_lo * (a.sx + b.sx) + e.min_hi * (c.sx + d.sx);
    }
    return t;
}

@compute @workgroup_size(THREADS)
fn quant_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r0 = (wg.x + wg.y * 65535u) * ROWS;
    if (r0 >= p.rows) {
        return;
    }
    let n = p.row_vec4s;
    let xb = wg.z * p.x_stride;
    // Rows past the matrix (in the last workgroup) read its last row again
    // and are not stored.
    let rows = min(vec4<u32>(r0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u));
    let base = rows * n;
    let first = rows * p.groups_per_row;
    var acc = vec4<f32>(0.0);
    // Blocks of 2 · THREADS vec4s per row: each thread's two vec4s of each
    // row and their scale words are loaded (indices clamped into the row)
    // before any is used.
    let blocks = (n + 2u * THREADS - 1u) / (2u * THREADS);
    for (var blk = 0u; blk < blocks; blk = blk + 1u) {
        let ka = blk * 2u * THREADS + lid.x;
        let kb = ka + THREADS;
        let ia = min(ka, n - 1u);
        let ib = min(kb, n - 1u);
        let a0 = codes[base.x + ia];
        let a1 = codes[base.y + ia];
        let a2 = codes[base.z + ia];
        let a3 = codes[base.w + ia];
        let b0 = codes[base.x + ib];
        let b1 = codes[base.y + ib];
        let b2 = codes[base.z + ib];
        let b3 = codes[base.w + ib];
        let ea = scales_of(ia, first);
        let eb = scales_of(ib, first);
        if (ka < n) {
            acc = acc + terms(a0, a1, a2, a3, ia, ea, xb);
        }
        if (kb < n) {
            acc = acc + terms(b0, b1, b2, b3, ib, eb, xb);
        }
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = THREADS / 2u; s > 0u; s = s >> 1u) {
        if (lid.x < s) {
            partial[lid.x] = partial[lid.x] + partial[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x < ROWS && r0 + lid.x < p.rows) {
        y[wg.z * p.rows + r0 + lid.x] = partial[0][lid.x];
    }
}
