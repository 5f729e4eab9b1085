// y = W x on a group-quantized matrix (core/src/quant, `.shq` layout), one
// workgroup of 64 threads per two rows; a batch of vectors along the third
// dispatch dimension. WebGPU has no 8-bit types, so the packed codes and the
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
// A thread holds two vec4s of each of its two rows in flight (64 bytes)
// before it uses them, and each x vec4 it loads serves both rows. The code
// width is a pipeline constant (one pipeline per width), so the loops over
// a word's codes unroll; the shapes derived from the format come in the
// parameters, so no division by a variable is left.
//
// Spec: core/src/quant/scalar.rs (`gemv`). The sum is reassociated (per
// word Σ (c - z)·x, then × scale, plus min × Σ x for the asymmetric
// formats); tests bound the difference by 2^-18 · Σ |d·(c - z)·x| + |m·x|
// per row.

struct Params {
    rows: u32,
    cols: u32,
    bits: u32,
    group: u32,
    groups_per_row: u32,
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
// 8 / BITS: the vec4s of x per code word.
const EIGHT: u32 = 8u;

var<workgroup> partial: array<vec2<f32>, 64>;

// The 16-bit value `half` (0 or 1) of `word` as f32 (f16 or bf16).
fn half_of(word: u32, half: u32) -> f32 {
    let b = (word >> (half * 16u)) & 0xffffu;
    return select(unpack2x16float(b).x, bitcast<f32>(b << 16u), p.bf16 == 1u);
}

// Codes q·4 .. q·4 + 3 of `word`, minus the zero point.
fn quad(word: u32, q: u32) -> vec4<f32> {
    let lanes = vec4<u32>(0u, 1u, 2u, 3u) * BITS + vec4<u32>(q * 4u * BITS);
    let c = (vec4<u32>(word) >> lanes) & vec4<u32>((1u << BITS) - 1u);
    return vec4<f32>(c) - vec4<f32>(f32(p.zero_point));
}

// d · s, plus m · sx for the asymmetric formats, from the group's scale
// and min words (gi: the group's index, for the half within the words).
fn scaled(s: f32, sx: f32, gi: u32, sw: u32, mw: u32) -> f32 {
    let v = half_of(sw, gi % 2u) * s;
    return select(v, v + half_of(mw, gi % 2u) * sx, p.asymmetric == 1u);
}

// The scale and min words of the two groups code vec4 k4 of a row spans
// (words 4·k4, 4·k4 + 1 are in the first, 4·k4 + 2, 4·k4 + 3 in the second:
// a group is at least two words), given the row's first group index g.
// Indices past the row (padding words) are clamped to its last group.
struct Groups {
    gi: vec2<u32>,
    sw: vec2<u32>,
    mw: vec2<u32>,
}

fn groups_of(k4: u32, g: u32) -> Groups {
    let last = p.groups_per_row - 1u;
    let gi = vec2<u32>(g) + min(vec2<u32>(4u * k4, 4u * k4 + 2u) >> vec2<u32>(p.group_shift), vec2<u32>(last));
    let sw = vec2<u32>(scales[gi.x / 2u], scales[gi.y / 2u]);
    let mi = select(vec2<u32>(0u), gi / 2u, p.asymmetric == 1u);
    return Groups(gi, sw, vec2<u32>(mins[mi.x], mins[mi.y]));
}

// The two rows' contributions of code vec4 k4 (c0, c1: its words in each
// row; e0, e1: their groups), x of vector `xb` on.
fn pair_terms(c0: vec4<u32>, c1: vec4<u32>, k4: u32, e0: Groups, e1: Groups, xb: u32) -> vec2<f32> {
    let quads = EIGHT / BITS;
    var t = vec2<f32>(0.0);
    for (var j = 0u; j < 4u; j = j + 1u) {
        let k = 4u * k4 + j;
        var s0 = 0.0;
        var s1 = 0.0;
        var sx = 0.0;
        for (var q = 0u; q < quads; q = q + 1u) {
            let xv = x[xb + k * quads + q];
            s0 = s0 + dot(quad(c0[j], q), xv);
            s1 = s1 + dot(quad(c1[j], q), xv);
            sx = sx + ((xv.x + xv.y) + (xv.z + xv.w));
        }
        let h = j / 2u;
        t = t + vec2<f32>(
            scaled(s0, sx, e0.gi[h], e0.sw[h], e0.mw[h]),
            scaled(s1, sx, e1.gi[h], e1.sw[h], e1.mw[h]),
        );
    }
    return t;
}

@compute @workgroup_size(64)
fn quant_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r0 = (wg.x + wg.y * 65535u) * 2u;
    if (r0 >= p.rows) {
        return;
    }
    // The second row; with an odd number of rows the last workgroup reads
    // its one row twice and stores it once.
    let r1 = min(r0 + 1u, p.rows - 1u);
    let n = p.row_vec4s;
    let b0 = r0 * n;
    let b1 = r1 * n;
    let g0 = r0 * p.groups_per_row;
    let g1 = r1 * p.groups_per_row;
    let xb = wg.z * p.x_stride;
    var acc = vec2<f32>(0.0);
    // Blocks of 128 vec4s per row: each thread's two vec4s of each row and
    // their scale words are loaded (indices clamped into the row) before
    // any is used.
    let blocks = (n + 127u) / 128u;
    for (var blk = 0u; blk < blocks; blk = blk + 1u) {
        let ka = blk * 128u + lid.x;
        let kb = ka + 64u;
        let ia = min(ka, n - 1u);
        let ib = min(kb, n - 1u);
        let a0 = codes[b0 + ia];
        let a1 = codes[b1 + ia];
        let c0 = codes[b0 + ib];
        let c1 = codes[b1 + ib];
        let ea0 = groups_of(ia, g0);
        let ea1 = groups_of(ia, g1);
        let eb0 = groups_of(ib, g0);
        let eb1 = groups_of(ib, g1);
        if (ka < n) {
            acc = acc + pair_terms(a0, a1, ia, ea0, ea1, xb);
        }
        if (kb < n) {
            acc = acc + pair_terms(c0, c1, ib, eb0, eb1, xb);
        }
    }
    partial[lid.x] = acc;
    workgroupBarrier();
    for (var s = 32u; s > 0u; s = s >> 1u) {
        if (lid.x < s) {
            partial[lid.x] = partial[lid.x] + partial[lid.x + s];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u) {
        y[wg.z * p.rows + r0] = partial[0].x;
        if (r0 + 1u < p.rows) {
            y[wg.z * p.rows + r0 + 1u] = partial[0].y;
        }
    }
}
