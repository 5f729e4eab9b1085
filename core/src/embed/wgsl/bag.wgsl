// Pooled embedding lookups (EmbeddingBag) on int8 row-wise and 8-bit PQ
// tables (core/src/embed, `.she` layout), one workgroup of 64 threads per
// bag, each thread owning columns j, j + 64, ... WebGPU has no 8-bit types,
// so the stored bytes are read from u32 words (little-endian).
// Spec: core/src/embed/scalar.rs; the same operations in the same order
// (out + ((q · s) + b) per id, then × the bag's scale), so the results equal
// the CPU's bit for bit where the GPU does not contract into fused
// multiply-adds and the table is not split (a split table adds the passes'
// partial sums: a reassociation, within the float bound the tests state).

struct Params {
    dim: u32,
    row_bytes: u32,   // int8: dim + 4; PQ: sub-spaces (one code byte each)
    bags: u32,
    nsub: u32,
    dsub: u32,
    norm_codes: u32,  // PQ with row norms: byte offset of the norm codes, else 0
    has_norm: u32,
    pad: u32,
    // A table larger than one storage binding is split into row ranges,
    // one dispatch each: this one holds rows row0 .. row0 + rows, adds to
    // what earlier passes wrote unless it is the first (bit 0 of phase),
    // and applies the bag's scale if it is the last (bit 1). Unsplit: one
    // pass with both bits, the same operations as before.
    row0: u32,
    rows: u32,
    phase: u32,
    pad2: u32,
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

// Whether row `id` is in this pass's range; its index inside the range.
fn in_pass(id: u32) -> bool {
    return id >= p.row0 && id - p.row0 < p.rows;
}

// The pooled value of this pass for one column: earlier passes' sum plus
// `acc`, scaled on the last pass.
fn finish(k: u32, acc: f32, bag: u32) -> f32 {
    var v = acc;
    if ((p.phase & 1u) == 0u) {
        v = out[k] + acc;
    }
    if ((p.phase & 2u) != 0u) {
        v = v * scale[bag];
    }
    return v;
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
            if (!in_pass(ids[t])) {
                continue;
            }
            let base = (ids[t] - p.row0) * p.row_bytes;
            let s = half_at(base + p.dim);
            let b = half_at(base + p.dim + 2u);
            acc = acc + (f32(byte_at(base + j)) * s + b);
        }
        out[bag * p.dim + j] = finish(bag * p.dim + j, acc, bag);
    }
}

// int8 rows whose width is a multiple of 4 (`dim % 4 == 0`, so every row
// starts on a word and its scale and bias share one word): 16 threads per
// bag, four bags per workgroup, each thread owning the four columns of code
// word j (j, j + 16, ...). Ids are taken eight at a time, their words loaded
// before any is added, and added in id order: per column the same
// operations in the same order as `bag_int8`.
fn int8_term(q: u32, sb: u32) -> vec4<f32> {
    let c = vec4<f32>((vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xffu));
    let h = unpack2x16float(sb);
    return c * h.x + h.y;
}

// Word `j` and the scale/bias word of id `t`'s row, or zeros (and false)
// when the row is outside this pass.
fn int8_words(t: u32, j: u32) -> vec3<u32> {
    let id = ids[t];
    if (!in_pass(id)) {
        return vec3<u32>(0u, 0u, 0u);
    }
    let base = (id - p.row0) * (p.row_bytes / 4u);
    return vec3<u32>(table[base + j], table[base + p.dim / 4u], 1u);
}

// acc plus the row's term, when the row is in this pass.
fn add_term(acc: vec4<f32>, w: vec3<u32>) -> vec4<f32> {
    if (w.z == 1u) {
        return acc + int8_term(w.x, w.y);
    }
    return acc;
}

fn store4(bag: u32, j: u32, acc: vec4<f32>) {
    let k = bag * p.dim + 4u * j;
    out[k] = finish(k, acc.x, bag);
    out[k + 1u] = finish(k + 1u, acc.y, bag);
    out[k + 2u] = finish(k + 2u, acc.z, bag);
    out[k + 3u] = finish(k + 3u, acc.w, bag);
}

@compute @workgroup_size(64)
fn bag_int8_words(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let bag = (wg.x + wg.y * 65535u) * 4u + lid.x / 16u;
    if (bag >= p.bags) {
        return;
    }
    let first = offsets[bag];
    let end = offsets[bag + 1u];
    for (var j = lid.x % 16u; j < p.dim / 4u; j = j + 16u) {
        var acc = vec4<f32>(0.0);
        var t = first;
        for (; t + 8u <= end; t = t + 8u) {
            let w0 = int8_words(t, j);
            let w1 = int8_words(t + 1u, j);
            let w2 = int8_words(t + 2u, j);
            let w3 = int8_words(t + 3u, j);
            let w4 = int8_words(t + 4u, j);
            let w5 = int8_words(t + 5u, j);
            let w6 = int8_words(t + 6u, j);
            let w7 = int8_words(t + 7u, j);
            acc = add_term(acc, w0);
            acc = add_term(acc, w1);
            acc = add_term(acc, w2);
            acc = add_term(acc, w3);
            acc = add_term(acc, w4);
            acc = add_term(acc, w5);
            acc = add_term(acc, w6);
            acc = add_term(acc, w7);
        }
        for (; t < end; t = t + 1u) {
            acc = add_term(acc, int8_words(t, j));
        }
        store4(bag, j, acc);
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
            if (!in_pass(ids[t])) {
                continue;
            }
            let row = ids[t] - p.row0;
            let code = byte_at(row * p.nsub + m);
            var alpha = 1.0;
            if (p.has_norm == 1u) {
                alpha = cents[p.dim * 256u + byte_at(p.norm_codes + row)];
            }
            acc = acc + alpha * cents[m * 256u * p.dsub + code * width + lane];
        }
        out[bag * p.dim + j] = finish(bag * p.dim + j, acc, bag);
    }
}
