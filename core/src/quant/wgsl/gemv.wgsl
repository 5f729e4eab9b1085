// y = W x on a group-quantized matrix (core/src/quant, `.shq` layout), one
// workgroup of 64 threads per row; a batch of vectors along the third
// dispatch dimension. WebGPU has no 8-bit types, so the packed codes and the
// 16-bit scales are read as u32 words (little-endian): code i of group g of
// row r sits at bit (((r * gpr + g) * group + i) * bits) of the code stream;
// scale k is half (k % 2) of word k / 2.
//
// Every group fills whole words (group * bits is a multiple of 32 for the
// groups 32/64/128 and 2/4/8 bits), so a thread takes whole code words: a
// word of 32 / bits codes, one scale, and 32 / bits values of x read as
// vec4s. x therefore comes padded: vector b is at x[b · gpr · group / 4..]
// (in vec4s), its values past `cols` zero, so the codes of a row's padding
// add nothing and need no test. Each thread keeps four words in flight
// (k, k + 64, k + 128, k + 192) before it uses them. The shapes derived
// from the format come in the parameters, so no division is left.
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
    // Derived on the host: code words per row, log2 of the words per
    // group, vec4s of x per code word (8 / bits), vec4s per padded vector.
    row_words: u32,
    group_shift: u32,
    quads: u32,
    x_stride: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> codes: array<u32>;
@group(0) @binding(2) var<storage, read> scales: array<u32>;
@group(0) @binding(3) var<storage, read> mins: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 64>;

fn half_value(words_index: u32, which: u32, table: u32) -> f32 {
    var w: u32;
    if (table == 0u) {
        w = scales[words_index];
    } else {
        w = mins[words_index];
    }
    let bits16 = (w >> (which * 16u)) & 0xffffu;
    if (p.bf16 == 1u) {
        return bitcast<f32>(bits16 << 16u);
    }
    return unpack2x16float(bits16).x;
}

// The contribution of code word k of row r (x of vector `xb` on):
// d · Σ (c - z)·x, plus m · Σ x for the asymmetric formats.
fn word_term(word: u32, r: u32, k: u32, xb: u32) -> f32 {
    let mask = vec4<u32>((1u << p.bits) - 1u);
    let z = vec4<f32>(f32(p.zero_point));
    let lanes = vec4<u32>(0u, 1u, 2u, 3u) * p.bits;
    let xi = xb + k * p.quads;
    var s = 0.0;
    var sx = 0.0;
    for (var q = 0u; q < p.quads; q = q + 1u) {
        let c = (vec4<u32>(word) >> (lanes + vec4<u32>(q * 4u * p.bits))) & mask;
        let xv = x[xi + q];
        s = s + dot(vec4<f32>(c) - z, xv);
        if (p.asymmetric == 1u) {
            sx = sx + ((xv.x + xv.y) + (xv.z + xv.w));
        }
    }
    let gi = r * p.groups_per_row + (k >> p.group_shift);
    var v = half_value(gi / 2u, gi % 2u, 0u) * s;
    if (p.asymmetric == 1u) {
        v = v + half_value(gi / 2u, gi % 2u, 1u) * sx;
    }
    return v;
}

@compute @workgroup_size(64)
fn quant_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wg.x + wg.y * 65535u;
    if (r >= p.rows) {
        return;
    }
    let n = p.row_words;
    let base = r * n;
    let xb = wg.z * p.x_stride;
    var acc = 0.0;
    var k = lid.x;
    // Four words in flight: loaded before any is used.
    for (; k + 192u < n; k = k + 256u) {
        let w0 = codes[base + k];
        let w1 = codes[base + k + 64u];
        let w2 = codes[base + k + 128u];
        let w3 = codes[base + k + 192u];
        acc = acc + word_term(w0, r, k, xb);
        acc = acc + word_term(w1, r, k + 64u, xb);
        acc = acc + word_term(w2, r, k + 128u, xb);
        acc = acc + word_term(w3, r, k + 192u, xb);
    }
    for (; k < n; k = k + 64u) {
        acc = acc + word_term(codes[base + k], r, k, xb);
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
        y[wg.z * p.rows + r] = partial[0];
    }
}
