// y = W x on a group-quantized matrix (core/src/quant, `.shq` layout), one
// workgroup of 64 threads per row; a batch of vectors along the third
// dispatch dimension (vector b at x[b·cols..], its result at y[b·rows..]). WebGPU has no 8-bit types, so the packed
// codes and the 16-bit scales are read as u32 words (little-endian):
// code i of group g of row r sits at bit (((r * gpr + g) * group + i) * bits)
// of the code stream; scale k is half (k % 2) of word k / 2.
// Spec: core/src/quant/scalar.rs (`gemv`); tests bound the difference by
// 2^-18 · Σ |d·(c - z)·x| + |m·x| per row.

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
@group(0) @binding(4) var<storage, read> x: array<f32>;
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

@compute @workgroup_size(64)
fn quant_gemv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = wg.x + wg.y * 65535u;
    let xb = wg.z * p.cols;
    if (r >= p.rows) {
        return;
    }
    let mask = (1u << p.bits) - 1u;
    let z = f32(p.zero_point);
    var acc = 0.0;
    for (var c = lid.x; c < p.cols; c = c + 64u) {
        let g = c / p.group;
        let i = c % p.group;
        let gi = r * p.groups_per_row + g;
        let bit = (gi * p.group + i) * p.bits;
        let code = (codes[bit / 32u] >> (bit % 32u)) & mask;
        let d = half_value(gi / 2u, gi % 2u, 0u);
        var w = d * (f32(code) - z);
        if (p.asymmetric == 1u) {
            w = w + half_value(gi / 2u, gi % 2u, 1u);
        }
        acc = acc + w * x[xb + c];
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
