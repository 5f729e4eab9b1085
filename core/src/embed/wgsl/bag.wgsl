// Pooled embedding lookups (EmbeddingBag) on int8 row-wise and 8-bit PQ
// tables (core/src/embed, `.she` layout), one workgroup of 64 threads per
// bag, each thread owning columns j, j + 64, ... WebGPU has no 8-bit types,
// so the stored bytes are read from u32 words (little-endian).
// Spec: core/src/embed/scalar.rs; the same operations in the same order
// (out + ((q · s) + b) per id, then × the bag's scale), so the results equal
// the CPU's bit for bit where the GPU does not contract into fused
// multiply-adds.

struct Params {
    dim: u32,
    row_bytes: u32,   // int8: dim + 4; PQ: sub-spaces (one code byte each)
    bags: u32,
    nsub: u32,
    dsub: u32,
    norm_codes: u32,  // PQ with row norms: byte offset of the norm codes, else 0
    has_norm: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> table: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;  // bags + 1 entries
@group(0) @binding(4) var<storage, read> cents: array<f32>;    // PQ centroids, then 256 norms
@group(0) @binding(5) var<storage, read> scale: array<f32>;    // per bag: 1 or the f32 nearest 1/n
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

fn byte_at(k: u32) -> u32 {
    return (table[k / 4u] >> ((k % 4u) * 8u)) & 0xffu;
}

fn half_at(k: u32) -> f32 {
    return unpack2x16float(byte_at(k) | (byte_at(k + 1u) << 8u)).x;
}

// The bag this workgroup pools: (bag, first id, end of its ids); bag is
// p.bags for the spare workgroups past the last bag.
fn bag_range(wg: vec3<u32>) -> vec3<u32> {
    let bag = wg.x + wg.y * 65535u;
    if (bag >= p.bags) {
        return vec3<u32>(p.bags, 0u, 0u);
    }
    return vec3<u32>(bag, offsets[bag], offsets[bag + 1u]);
}

@compute @workgroup_size(64)
fn bag_int8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = bag_range(wg);
    let bag = r.x;
    if (bag >= p.bags) {
        return;
    }
    for (var j = lid.x; j < p.dim; j = j + 64u) {
        var acc = 0.0;
        for (var t = r.y; t < r.z; t = t + 1u) {
            let base = ids[t] * p.row_bytes;
            let s = half_at(base + p.dim);
            let b = half_at(base + p.dim + 2u);
            acc = acc + (f32(byte_at(base + j)) * s + b);
        }
        out[bag * p.dim + j] = acc * scale[bag];
    }
}

@compute @workgroup_size(64)
fn bag_pq8(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let r = bag_range(wg);
    let bag = r.x;
    if (bag >= p.bags) {
        return;
    }
    for (var j = lid.x; j < p.dim; j = j + 64u) {
        let m = j / p.dsub;
        var width = p.dsub;
        if (m + 1u == p.nsub) {
            width = p.dim - m * p.dsub;
        }
        let lane = j - m * p.dsub;
        var acc = 0.0;
        for (var t = r.y; t < r.z; t = t + 1u) {
            let row = ids[t];
            let code = byte_at(row * p.nsub + m);
            var alpha = 1.0;
            if (p.has_norm == 1u) {
                alpha = cents[p.dim * 256u + byte_at(p.norm_codes + row)];
            }
            acc = acc + alpha * cents[m * 256u * p.dsub + code * width + lane];
        }
        out[bag * p.dim + j] = acc * scale[bag];
    }
}
