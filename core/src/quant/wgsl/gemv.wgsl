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
// (k, k + 64, k + 128, k + 192) before it uses them.
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

// (Σ (c - z)·x, Σ x) over the codes of one word, x from vec4 `xi` on.
fn word_sums(word: u32, xi: u32) -> vec2<f32> {
    let quads = 8u / p.bits;
    let mask = vec4<u32>((1u << p.bits) - 1u);
    let z = vec4<f32>(f32(p.zero_point));
    let lanes = vec4<u32>(0u, 1u, 2u, 3u) * p.bits;
    var s = 0.0;
    var sx = 0.0;
    for (var q = 0u; q < quads; q = q + 1u) {
        let c = (vec4<u32>(word) >> (lanes + vec4<u32>(q * 4u * p.bits))) & mask;
        let xv = x[xi + q];
        s = s + dot(vec4<f32>(c) - z, xv);
        sx = sx + ((xv.x + xv.y) + (xv.z + xv.w));
    }
    return vec2<f32>(s, sx);
}

@compute @workgroup_size(64)
fn quant_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wg.x + wg.y * 65535u;
    if (r >= p.rows) {
        return;
    }
    let per_word = 32u / p.bits;
    // Words per group: a power of two (1 to 32), so a shift finds the group.
    let group_shift = countTrailingZeros(p.group / per_word);
    let row_words = p.groups_per_row << group_shift;
    let base = r * row_words;
    let xb = wg.z * (p.groups_per_row * p.group / 4u);
    var acc = 0.0;
    for (var k0 = lid.x; k0 < row_words; k0 = k0 + 256u) {
        var w: array<u32, 4>;
        for (var u = 0u; u < 4u; u = u + 1u) {
            let k = k0 + u * 64u;
            if (k < row_words) {
                w[u] = codes[base + k];
            }
        }
        for (var u = 0u; u < 4u; u = u + 1u) {
            let k = k0 + u * 64u;
            if (k < row_words) {
                let gi = r * p.groups_per_row + (k >> group_shift);
                let t = word_sums(w[u], xb + k * (per_word / 4u));
                var v = half_value(gi / 2u, gi % 2u, 0u) * t.x;
                if (p.asymmetric == 1u) {
                    v = v + half_value(gi / 2u, gi % 2u, 1u) * t.y;
                }
                acc = acc + v;
            }
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
        y[wg.z * p.rows + r] = partial[0];
    }
}
