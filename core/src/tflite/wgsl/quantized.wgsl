// Quantized (uint8 / int8) TFLite operators in 32-bit integer arithmetic.
//
// The launches, their parameters and the buffer layouts come from
// `shoal_core::tflite::lower` (see its module docs); the arithmetic follows
// `shoal_core::tflite::kernels` (TFLite's reference kernels) step for step,
// so the results equal the CPU engine's bytes. WGSL has no 64-bit integers:
// the one 64-bit product (`srdhm`) is formed from 16-bit halves.
//
// Shared by the native host (wgpu) and the web page (WebGPU).

struct Params {
  v: array<vec4<i32>, 8>,
}

@group(0) @binding(0) var<storage, read_write> arena: array<u32>;
@group(0) @binding(1) var<storage, read> consts: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

const I32_MIN: i32 = -2147483647 - 1;
const I32_MAX: i32 = 2147483647;

fn p(k: u32) -> i32 {
  return params.v[k / 4u][k % 4u];
}

// Thread index within the image (rows of `p(29)` threads), or -1 past the end.
fn thread_index(gid: vec3<u32>) -> i32 {
  let i = gid.x + gid.y * u32(p(29u));
  if (i >= u32(p(30u))) {
    return -1;
  }
  return i32(i);
}

// First arena element of image `gid.z`.
fn image_base(gid: vec3<u32>) -> u32 {
  return gid.z * u32(p(31u));
}

// Byte `i` of the constants.
fn const_byte(i: u32) -> i32 {
  return i32((consts[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

// ---- TFLite / gemmlowp fixed point --------------------------------------

// The 64-bit two's complement product a*b as (low, high) words.
fn mul_wide(a: i32, b: i32) -> vec2<u32> {
  let ua = bitcast<u32>(a);
  let ub = bitcast<u32>(b);
  let a0 = ua & 0xffffu;
  let a1 = ua >> 16u;
  let b0 = ub & 0xffffu;
  let b1 = ub >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  let lo = (p00 & 0xffffu) | (mid << 16u);
  var hi = a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
  // Unsigned to signed: subtract 2^32·b for negative a, 2^32·a for negative b.
  if (a < 0) {
    hi = hi - ub;
  }
  if (b < 0) {
    hi = hi - ua;
  }
  return vec2<u32>(lo, hi);
}

// round(a·b / 2^31), ties away from zero; saturates MIN·MIN. gemmlowp adds
// 2^30 (or 1 - 2^30 below zero) and divides truncating toward zero; both
// cases are floor((a·b + 2^30) / 2^31).
fn srdhm(a: i32, b: i32) -> i32 {
  if (a == I32_MIN && b == I32_MIN) {
    return I32_MAX;
  }
  let ab = mul_wide(a, b);
  let lo = ab.x + 0x40000000u;
  let hi = ab.y + select(0u, 1u, lo < ab.x);
  return bitcast<i32>((hi << 1u) | (lo >> 31u));
}

// x / 2^e rounded to nearest, ties away from zero, e clamped to 0..31.
fn rdbp(x: i32, e_in: i32) -> i32 {
  let e = u32(clamp(e_in, 0, 31));
  let mask = bitcast<i32>((1u << e) - 1u);
  let rem = x & mask;
  let threshold = (mask >> 1u) + select(0, 1, x < 0);
  return (x >> e) + select(0, 1, rem > threshold);
}

// TFLite's MultiplyByQuantizedMultiplier.
fn mbqm(x: i32, q: i32, shift: i32) -> i32 {
  let left = u32(max(shift, 0)) & 31u;
  let shifted = bitcast<i32>(bitcast<u32>(x) << left);
  return rdbp(srdhm(shifted, q), max(-shift, 0));
}

// x·2^e saturating (e >= 0), or rounding division (e < 0).
fn mul_pot(x: i32, e: i32) -> i32 {
  if (e < 0) {
    return rdbp(x, -e);
  }
  let s = u32(e);
  if (x > (I32_MAX >> s)) {
    return I32_MAX;
  }
  if (x < (I32_MIN >> s)) {
    return I32_MIN;
  }
  return bitcast<i32>(bitcast<u32>(x) << s);
}

// ---- operators -----------------------------------------------------------

// Filter bytes `fo..fo + 4` (word aligned) as four centred values.
fn filter4(fo: u32, zf: i32) -> vec4<i32> {
  let w = consts[fo >> 2u];
  return vec4<i32>(i32(w & 0xffu), i32((w >> 8u) & 0xffu), i32((w >> 16u) & 0xffu), i32(w >> 24u)) - zf;
}

// One thread per pixel and group of four output channels (the input is
// read once for all four). Input depths that are a multiple of four read
// the filters a word and the input four values at a time.
@compute @workgroup_size(64)
fn q_conv(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let in0 = base + u32(p(0u));
  let ih = p(2u);
  let iw = p(3u);
  let ic = p(4u);
  let ow = p(6u);
  let oc = p(7u);
  let fh = p(8u);
  let fw = p(9u);
  let mult = p(16u);
  let zi = p(17u);
  let zf = p(18u);
  let fbase = u32(p(22u));
  let groups = p(24u);
  let o0 = (i % groups) * 4;
  let pix = i / groups;
  let nk = min(4, oc - o0);
  let ox = pix % ow;
  let oy = pix / ow;
  var acc = vec4<i32>(0);
  for (var ky = 0; ky < fh; ky++) {
    let iy = oy * p(10u) - p(14u) + ky * p(12u);
    if (iy < 0 || iy >= ih) {
      continue;
    }
    for (var kx = 0; kx < fw; kx++) {
      let ix = ox * p(11u) - p(15u) + kx * p(13u);
      if (ix < 0 || ix >= iw) {
        continue;
      }
      let px = in0 + u32((iy * iw + ix) * ic);
      if (mult != 0) {
        for (var k = 0; k < nk; k++) {
          let o = o0 + k;
          let f = const_byte(fbase + u32((ky * fw + kx) * oc + o)) - zf;
          acc[k] += f * (i32(arena[px + u32(o / mult)]) - zi);
        }
        continue;
      }
      // Filter rows of the four channels at this tap.
      let tap = u32((ky * fw + kx) * ic);
      let stride = u32(fh * fw * ic);
      let f0 = fbase + u32(o0) * stride + tap;
      if ((ic & 3) == 0) {
        for (var c = 0u; c < u32(ic); c += 4u) {
          let x = vec4<i32>(
            i32(arena[px + c]), i32(arena[px + c + 1u]),
            i32(arena[px + c + 2u]), i32(arena[px + c + 3u])) - zi;
          for (var k = 0; k < nk; k++) {
            acc[k] += dot(filter4(f0 + u32(k) * stride + c, zf), x);
          }
        }
      } else {
        for (var c = 0u; c < u32(ic); c++) {
          let x = i32(arena[px + c]) - zi;
          for (var k = 0; k < nk; k++) {
            acc[k] += (const_byte(f0 + u32(k) * stride + c) - zf) * x;
          }
        }
      }
    }
  }
  let out = base + u32(p(1u) + pix * oc + o0);
  for (var k = 0; k < nk; k++) {
    let t = u32(p(23u) + (o0 + k) * 3);
    let r = mbqm(acc[k] + bitcast<i32>(consts[t]), bitcast<i32>(consts[t + 1u]), bitcast<i32>(consts[t + 2u])) + p(19u);
    arena[out + u32(k)] = u32(clamp(r, p(20u), p(21u)));
  }
}

@compute @workgroup_size(64)
fn q_avg_pool(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let ih = p(2u);
  let iw = p(3u);
  let c = p(4u);
  let ow = p(6u);
  let off = p(13u);
  let ch = i % c;
  let pix = i / c;
  let ox = pix % ow;
  let oy = pix / ow;
  let y0 = oy * p(9u) - p(11u);
  let x0 = ox * p(10u) - p(12u);
  var sum = 0;
  var count = 0;
  for (var fy = 0; fy < p(7u); fy++) {
    for (var fx = 0; fx < p(8u); fx++) {
      let iy = y0 + fy;
      let ix = x0 + fx;
      if (iy >= 0 && ix >= 0 && iy < ih && ix < iw) {
        sum += i32(arena[base + u32(p(0u) + (iy * iw + ix) * c + ch)]) - off;
        count += 1;
      }
    }
  }
  var avg = 0;
  if (count > 0) {
    if (sum >= 0) {
      avg = (sum + count / 2) / count;
    } else {
      avg = (sum - count / 2) / count;
    }
  }
  arena[base + u32(p(1u) + i)] = u32(clamp(avg + off, p(14u), p(15u)));
}

@compute @workgroup_size(64)
fn q_add(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let x = (i32(arena[base + u32(p(0u) + i)]) - p(3u)) * (1 << 20u);
  let y = (i32(arena[base + u32(p(1u) + i)]) - p(4u)) * (1 << 20u);
  let sx = mbqm(x, p(6u), p(7u));
  let sy = mbqm(y, p(8u), p(9u));
  let r = mbqm(sx + sy, p(10u), p(11u)) + p(5u);
  arena[base + u32(p(2u) + i)] = u32(clamp(r, p(12u), p(13u)));
}

@compute @workgroup_size(64)
fn q_mean(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ch = thread_index(gid);
  if (ch < 0) {
    return;
  }
  let base = image_base(gid);
  let n = p(2u);
  let c = p(3u);
  var sum = 0;
  for (var k = 0; k < n; k++) {
    sum += i32(arena[base + u32(p(0u) + k * c + ch)]);
  }
  let r = mbqm(sum - p(4u) * n, p(6u), p(7u)) + p(5u);
  arena[base + u32(p(1u) + ch)] = u32(clamp(r, 0, 255));
}

@compute @workgroup_size(64)
fn q_quantize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let r = mbqm(i32(arena[base + u32(p(0u) + i)]) - p(2u), p(4u), p(5u)) + p(3u);
  arena[base + u32(p(1u) + i)] = u32(clamp(r, 0, 255));
}

@compute @workgroup_size(64)
fn q_pad(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let ih = p(2u);
  let iw = p(3u);
  let ic = p(4u);
  let ow = p(5u);
  let oc = p(6u);
  let ch = i % oc - p(9u);
  let pix = i / oc;
  let x = pix % ow - p(8u);
  let y = pix / ow - p(7u);
  var v = u32(p(10u));
  if (y >= 0 && y < ih && x >= 0 && x < iw && ch >= 0 && ch < ic) {
    v = arena[base + u32(p(0u) + (y * iw + x) * ic + ch)];
  }
  arena[base + u32(p(1u) + i)] = v;
}

@compute @workgroup_size(64)
fn q_copy(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  arena[base + u32(p(1u) + i)] = arena[base + u32(p(0u) + i)];
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out.
fn exp_quarter(a: i32) -> i32 {
  let constant_term = 1895147668; // exp(-1/8)
  let one_third = 715827883;
  let x = a + (1 << 28u);
  let x2 = srdhm(x, x);
  let x3 = srdhm(x2, x);
  let x4 = srdhm(x2, x2);
  let x4_over_4 = rdbp(x4, 2);
  let poly = rdbp(srdhm(x4_over_4 + x3, one_third) + x2, 1);
  return constant_term + srdhm(constant_term, x + poly);
}

// exp(a) for a <= 0 in Q5.26; result Q0.31.
fn exp_negative(a: i32) -> i32 {
  let quarter = 1 << 24u;
  let a_mod = (a & (quarter - 1)) - quarter;
  var result = exp_quarter(mul_pot(a_mod, 5));
  let remainder = a_mod - a;
  if ((remainder & (1 << 24u)) != 0) { result = srdhm(result, 1672461947); }
  if ((remainder & (1 << 25u)) != 0) { result = srdhm(result, 1302514674); }
  if ((remainder & (1 << 26u)) != 0) { result = srdhm(result, 790015084); }
  if ((remainder & (1 << 27u)) != 0) { result = srdhm(result, 290630308); }
  if ((remainder & (1 << 28u)) != 0) { result = srdhm(result, 39332535); }
  if ((remainder & (1 << 29u)) != 0) { result = srdhm(result, 720401); }
  if ((remainder & (1 << 30u)) != 0) { result = srdhm(result, 242); }
  if (a == 0) {
    return I32_MAX;
  }
  return result;
}

// 1 / (1 + x) for x in [0, 1), Q0.31 in and out (Newton-Raphson).
fn one_over_one_plus_x(a: i32) -> i32 {
  // (a + MAX + sign) / 2 without 64 bits: for a >= 0 that is a/2 + 2^30.
  var half_denominator = (a >> 1u) + (1 << 30u);
  if (a < 0) {
    let s = a + I32_MAX;
    half_denominator = select((s - 1) / 2, (s + 1) / 2, s >= 0);
  }
  let one_q2 = 1 << 29u;
  var x = 1515870810 + srdhm(half_denominator, -1010580540);
  for (var k = 0; k < 3; k++) {
    let hdx = srdhm(half_denominator, x);
    x = x + mul_pot(srdhm(x, one_q2 - hdx), 2);
  }
  return mul_pot(x, 1);
}

@compute @workgroup_size(64)
fn q_softmax(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = thread_index(gid);
  if (r < 0) {
    return;
  }
  let depth = p(2u);
  let row = image_base(gid) + u32(p(0u) + r * depth);
  let orow = image_base(gid) + u32(p(1u) + r * depth);
  let mult = p(3u);
  let left = u32(p(4u));
  let diff_min = p(5u);
  var mx = 0;
  for (var k = 0; k < depth; k++) {
    mx = max(mx, i32(arena[row + u32(k)]));
  }
  var sum = 0;
  for (var k = 0; k < depth; k++) {
    let d = i32(arena[row + u32(k)]) - mx;
    if (d >= diff_min) {
      sum += rdbp(exp_negative(srdhm(bitcast<i32>(bitcast<u32>(d) << left), mult)), 12);
    }
  }
  let headroom = min(countLeadingZeros(bitcast<u32>(sum)), 31u);
  let bits_over_unit = 12 - i32(headroom);
  let shifted = bitcast<i32>((bitcast<u32>(sum) << headroom) - 0x80000000u);
  let recip = one_over_one_plus_x(shifted);
  for (var k = 0; k < depth; k++) {
    let d = i32(arena[row + u32(k)]) - mx;
    var o = 0;
    if (d >= diff_min) {
      let e = exp_negative(srdhm(bitcast<i32>(bitcast<u32>(d) << left), mult));
      o = clamp(rdbp(srdhm(recip, e), bits_over_unit + 23), 0, 255);
    }
    arena[orow + u32(k)] = u32(o);
  }
}

// ---- 16-bit fixed point of HARD_SWISH ------------------------------------

fn srdhm16(a: i32, b: i32) -> i32 {
  if (a == -32768 && b == -32768) {
    return 32767;
  }
  let ab = a * b;
  return (ab + select(1 - (1 << 14u), 1 << 14u, ab >= 0)) / (1 << 15u);
}

fn sdhm16(a: i32, b: i32) -> i32 {
  if (a == -32768 && b == -32768) {
    return 32767;
  }
  return (a * b) / (1 << 15u);
}

// x·2^e saturated to int16, for x within int16 (16 bits of shift or more
// saturate every non-zero x; fewer cannot overflow 32 bits).
fn shl_sat16(x: i32, e: i32) -> i32 {
  let s = u32(clamp(e, 0, 31));
  if (x == 0) {
    return 0;
  }
  if (s >= 16u) {
    return select(-32768, 32767, x > 0);
  }
  return clamp(x << s, -32768, 32767);
}

@compute @workgroup_size(64)
fn q_hard_swish(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let hires = (i32(arena[base + u32(p(0u) + i)]) - p(2u)) * 128;
  let pre_out = srdhm16(hires, p(4u));
  let e = p(7u);
  var relu = hires;
  if (e > 0) {
    relu = shl_sat16(relu, e - 1);
  }
  relu = srdhm16(relu, p(6u));
  if (e > 0) {
    relu = shl_sat16(relu, 1);
  } else if (e < 0) {
    relu = rdbp(relu, -e);
  }
  relu = (relu + 32768) >> 1u;
  let out = rdbp(sdhm16(relu, pre_out), -p(5u)) + p(3u);
  arena[base + u32(p(1u) + i)] = u32(clamp(out, 0, 255));
}

@compute @workgroup_size(64)
fn q_concat(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  let na = p(3u);
  let nb = p(4u);
  let k = i / (na + nb);
  let r = i % (na + nb);
  var src = p(1u) + k * nb + (r - na);
  if (r < na) {
    src = p(0u) + k * na + r;
  }
  arena[base + u32(p(2u) + i)] = arena[base + u32(src)];
}

@compute @workgroup_size(64)
fn q_dequantize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = thread_index(gid);
  if (i < 0) {
    return;
  }
  let base = image_base(gid);
  // (q - z) is exact in f32; one correctly rounded product, as the CPU's
  // double product rounded once.
  let v = f32(i32(arena[base + u32(p(0u) + i)]) - p(2u)) * bitcast<f32>(p(3u));
  arena[base + u32(p(1u) + i)] = bitcast<u32>(v);
}
