// The GEAR corrections y += U·(Vt·x) + S·x (core/src/quant/gear.rs) on top
// of the backbone product already in y. f16 factors and outlier values are
// read from u32 words (two halves each). Two entry points:
//   gear_project: t = Vt·x, one workgroup of 64 threads per rank component;
//   gear_add:     one thread per row: y[r] += Σ_k U[r][k]·t[k] + Σ S[r][c]·x[c].
// Spec: GearMatrix::add_corrections (scalar); tests bound the difference
// by 2^-18 · Σ|terms| per row.

struct Params {
    rows: u32,
    cols: u32,
    rank: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<u32>;
@group(0) @binding(2) var<storage, read> vt: array<u32>;
@group(0) @binding(3) var<storage, read> row_ptr: array<u32>;
@group(0) @binding(4) var<storage, read> cols: array<u32>;
@group(0) @binding(5) var<storage, read> vals: array<u32>;
@group(0) @binding(6) var<storage, read> x: array<f32>;
@group(0) @binding(7) var<storage, read_write> t: array<f32>;
@group(0) @binding(8) var<storage, read_write> y: array<f32>;

var<workgroup> partial: array<f32, 64>;

// Half k of a stream of f16 values packed two to a u32 word.
fn half_at(words: u32, k: u32) -> f32 {
    var w: u32;
    if (words == 0u) {
        w = u[k / 2u];
    } else if (words == 1u) {
        w = vt[k / 2u];
    } else {
        w = vals[k / 2u];
    }
    return unpack2x16float((w >> ((k % 2u) * 16u)) & 0xffffu).x;
}

@compute @workgroup_size(64)
fn gear_project(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let k = wg.x;
    if (k >= p.rank) {
        return;
    }
    var acc = 0.0;
    for (var c = lid.x; c < p.cols; c = c + 64u) {
        acc = acc + half_at(1u, k * p.cols + c) * x[c];
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
        t[k] = partial[0];
    }
}

@compute @workgroup_size(64)
fn gear_add(@builtin(global_invocation_id) gid: vec3<u32>) {
    let r = gid.x + gid.y * 65535u * 64u;
    if (r >= p.rows) {
        return;
    }
    var s = 0.0;
    for (var k = 0u; k < p.rank; k = k + 1u) {
        s = s + half_at(0u, r * p.rank + k) * t[k];
    }
    for (var i = row_ptr[r]; i < row_ptr[r + 1u]; i = i + 1u) {
        s = s + half_at(2u, i) * x[cols[i]];
    }
    y[r] = y[r] + s;
}
