// log I_v(x) and log K_v(x) in f32: one thread per (v, x) pair.
//
// Operation-for-operation port of core/src/bessel/scalar_f32.rs (the scalar
// twin that tests compare this kernel with). Prepend debye_table.wgsl.
//
// WGSL may assume that no NaN or infinity occurs during execution, so special
// inputs are recognised from their bit patterns, and special outputs are
// written as bit patterns; no intermediate value is ever infinite.
// f32 subnormal inputs are flushed to zero (GPUs may do so anyway).

@group(0) @binding(0) var<storage, read> orders: array<f32>;
@group(0) @binding(1) var<storage, read> args: array<f32>;
@group(0) @binding(2) var<storage, read_write> results: array<f32>;

const NAN_BITS: u32 = 0x7fc00000u;
const POS_INF_BITS: u32 = 0x7f800000u;
const NEG_INF_BITS: u32 = 0xff800000u;
const TAIL: f32 = 1.4901161e-8;
const DEBYE_MIN: f32 = 8.0;
const HANKEL_MIN: f32 = 12.0;
const LN2_HI: f32 = 0.69314575;
const LN2_LO: f32 = 1.4286068e-6;
const LN_2PI: f32 = 1.8378771;
const LN_PI_2: f32 = 0.4515827;
const SQRT2: f32 = 1.4142135;
const PI: f32 = 3.1415927;
const LOG2_E: f32 = 1.442695;
const BIG: f32 = 3.0e38;
const TEMME_MAX_X: f32 = 0.1;
const STEED_MIN_X: f32 = 0.5;
const STEED_MAX_ITER: f32 = 512.0;

var<private> LGAMMA2: array<f32, 24> = array<f32, 24>(
    0.42278433509846713, 0.3224670334241132, -0.0673523010531981, 0.020580808427784546,
    -0.007385551028673986, 0.0028905103307415234, -0.001192753911703261, 0.0005096695247430425,
    -0.00022315475845357939, 9.945751278180853e-05, -4.492623673813314e-05, 2.050721277567069e-05,
    -9.439488275268397e-06, 4.374866789907488e-06, -2.039215753801366e-06, 9.55141213040742e-07,
    -4.492469198764566e-07, 2.1207184805554665e-07, -1.0043224823968099e-07, 4.7698101693639804e-08,
    -2.2711094608943164e-08, 1.0838659214896955e-08, -5.183475041970047e-09, 2.4836745438024785e-09
);

// 1/Gamma(1 + z) Taylor coefficients (scalar.rs RGAMMA, first 14, as f32).
var<private> RGAMMA: array<f32, 14> = array<f32, 14>(
    1.0, 0.5772156715393066, -0.6558780670166016, -0.04200263321399689, 0.16653861105442047, -0.042197734117507935, -0.009621971286833286, 0.007218943443149328, -0.0011651675449684262, -0.00021524167095776647, 0.00012805027654394507, -2.0134853912168182e-05, -1.2504934829848935e-06, 1.13302724003006e-06
);
// sinh(s)/s and sin(y)/y in powers of s^2, y^2 (scalar_f32.rs SINHC, SINC).
var<private> SINHC: array<f32, 7> = array<f32, 7>(
    1.0, 0.1666666716337204, 0.008333333767950535, 0.00019841270113829523, 2.7557318844628753e-06, 2.5052107943679403e-08, 1.6059044372074283e-10
);
var<private> SINC: array<f32, 8> = array<f32, 8>(
    1.0, -0.1666666716337204, 0.008333333767950535, -0.00019841270113829523, 2.7557318844628753e-06, -2.5052107943679403e-08, 1.6059044372074283e-10, -7.647163609812713e-13
);

// (1 - cos d, -ln cos d) for d = 0.1, 0.2, ..., 1.5 (see scalar.rs STRIP).
var<private> STRIP_C: array<f32, 15> = array<f32, 15>(
    0.0049958347219741794, 0.019933422158758374, 0.04466351087439402, 0.0789390059971149,
    0.12241743810962724, 0.17466438509032167, 0.2351578127155115, 0.3032932906528346,
    0.3783900317293356, 0.45969769413186023, 0.5464038785744227, 0.6376422455233264,
    0.7325011713754126, 0.8300328570997589, 0.9292627983322971
);
var<private> STRIP_L: array<f32, 15> = array<f32, 15>(
    0.005008355623235254, 0.020134773052408354, 0.04569165592605806, 0.0822290190750554,
    0.13058424044372266, 0.19196516941943767, 0.268085757567931, 0.36139074681134375,
    0.4754424435858144, 0.6156264703860141, 0.7905480772542317, 1.0151232831406596,
    1.3186400916291687, 1.7721501376696984, 2.648783653978435
);

fn is_nan_bits(b: u32) -> bool {
    return (b & 0x7fffffffu) > 0x7f800000u;
}

fn two_atanh(s: f32) -> f32 {
    let z = s * s;
    let p = 0.6666667 + z * (0.4 + z * (0.2857143 + z * 0.22222222));
    return 2.0 * s + s * (z * p);
}

// (e, r) with ln x = e ln 2 + r, for a positive normal finite f32.
fn ln_parts(x: f32) -> vec2<f32> {
    let bits = bitcast<u32>(x);
    var e = i32((bits >> 23u) & 0xffu) - 127;
    var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
    if (m > SQRT2) {
        m = m * 0.5;
        e = e + 1;
    }
    return vec2<f32>(f32(e), two_atanh((m - 1.0) / (m + 1.0)));
}

// Natural log of a positive normal finite f32.
fn ln_pos(x: f32) -> f32 {
    let p = ln_parts(x);
    return p.x * LN2_HI + (p.y + p.x * LN2_LO);
}

fn log1p_(x: f32) -> f32 {
    if (abs(x) < 0.25) {
        return two_atanh(x / (2.0 + x));
    }
    return ln_pos(1.0 + x);
}

// e^x for x in [-103.97, 88.72]; clamps outside (never returns infinity).
fn exp_(x_in: f32) -> f32 {
    if (x_in < -103.97) {
        return 0.0;
    }
    let x = min(x_in, 88.72);
    let k = floor(x * LOG2_E + 0.5);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666667 + r * (0.041666668
        + r * (0.008333334 + r * (0.0013888889 + r * 0.0001984127))))));
    let ki = i32(k);
    if (ki > 127) {
        return p * 2.0 * bitcast<f32>(u32(ki - 1 + 127) << 23u);
    } else if (ki < -126) {
        return p * bitcast<f32>(u32(ki + 64 + 127) << 23u) * 5.421011e-20;
    }
    return p * bitcast<f32>(u32(ki + 127) << 23u);
}

fn lgamma1p(v: f32) -> f32 {
    let m = floor(v);
    let f = v - m;
    var acc = 0.0;
    for (var i = 23; i >= 0; i = i - 1) {
        acc = acc * f + LGAMMA2[i];
    }
    var prod = 1.0;
    for (var j = 1.0; j <= m; j = j + 1.0) {
        prod = prod * (f + j);
    }
    return acc * f - log1p_(f) + ln_pos(prod);
}

fn hypot_(a: f32, b: f32) -> f32 {
    let m = max(a, b);
    let n = min(a, b);
    if (m == 0.0) {
        return 0.0;
    }
    let r = n / m;
    return m * sqrt(1.0 + r * r);
}

fn debye(v: f32, x: f32, is_k: bool) -> f32 {
    let s = hypot_(v, x);
    // ln(x/(v + s)), from two logarithms where the quotient is not normal
    // (a GPU may flush it to zero).
    let vs = v + s;
    let q = x / vs;
    var ln_q: f32;
    if (q < 1.17549435e-38) {
        ln_q = ln_pos(x) - ln_pos(vs);
    } else {
        ln_q = ln_pos(q);
    }
    let v_eta = s + v * ln_q;
    // -1/2 ln v - 1/4 ln(1 + x^2/v^2) = -1/2 ln s.
    let half_ln_s = 0.5 * ln_pos(s);
    let t = v / s;
    let t2 = t * t;
    let inv = 1.0 / v;
    var bound = 1.0;
    var n = DEBYE_TERMS;
    for (var k = 0u; k < DEBYE_TERMS; k = k + 1u) {
        bound = bound * inv;
        if (DEBYE_SUP[k] * bound < TAIL) {
            n = k;
            break;
        }
    }
    let step = t / v;
    var pw = 1.0;
    var sum = 0.0;
    var sign = 1.0;
    for (var k = 0u; k < n; k = k + 1u) {
        pw = pw * step;
        sign = -sign;
        // Row k + 1 (1-based) starts at (k+1)(k+2)/2 - 1 and has k + 2 entries.
        let start = (k + 1u) * (k + 2u) / 2u - 1u;
        var acc = 0.0;
        for (var j = i32(k) + 1; j >= 0; j = j - 1) {
            acc = acc * t2 + DEBYE_P[start + u32(j)];
        }
        let term = pw * acc;
        if (is_k) {
            sum = sum + sign * term;
        } else {
            sum = sum + term;
        }
    }
    if (is_k) {
        return 0.5 * LN_PI_2 - half_ln_s - v_eta + log1p_(sum);
    }
    return -0.5 * LN_2PI - half_ln_s + v_eta + log1p_(sum);
}

fn hankel(v: f32, x: f32, sign: f32) -> f32 {
    let mu = 4.0 * v * v;
    var c = 1.0;
    var sum = 0.0;
    var prev = BIG;
    for (var k = 1.0; k < 64.0; k = k + 1.0) {
        let odd = 2.0 * k - 1.0;
        c = c * (sign * (mu - odd * odd) / (8.0 * k * x));
        let a = abs(c);
        if (a > prev) {
            break;
        }
        sum = sum + c;
        if (a <= TAIL * abs(1.0 + sum)) {
            break;
        }
        prev = a;
    }
    let tail = log1p_(sum);
    if (sign < 0.0) {
        return x - 0.5 * (LN_2PI + ln_pos(x)) + tail;
    }
    return 0.5 * (LN_PI_2 - ln_pos(x)) - x + tail;
}

fn series_i(v: f32, x: f32) -> f32 {
    let q = 0.25 * x * x;
    var term = 1.0;
    var tail = 0.0;
    for (var k = 1.0; k < 128.0; k = k + 1.0) {
        term = term * (q / (k * (v + k)));
        tail = tail + term;
        if (term <= TAIL * (1.0 + tail)) {
            break;
        }
    }
    var prefix = 0.0;
    if (v != 0.0) {
        prefix = v * (ln_pos(x) - LN2_HI - LN2_LO) - lgamma1p(v);
    }
    return prefix + log1p_(tail);
}

fn integrand(v: f32, x: f32, ln_half_x: f32, t: f32) -> f32 {
    var xc: f32;
    if (t < 30.0) {
        let e = exp_(t);
        xc = 0.5 * x * (e + 1.0 / e);
    } else {
        xc = exp_(t + ln_half_x);
    }
    let a = v * t;
    return -xc + (a + log1p_(exp_(-2.0 * a)) - LN2_HI - LN2_LO);
}

fn integral_k(v: f32, x: f32) -> f32 {
    let w = hypot_(x, v);
    var h = 0.0;
    for (var i = 0; i < 15; i = i + 1) {
        let growth = w * STRIP_C[i] + v * STRIP_L[i];
        h = max(h, 2.0 * PI * (0.1 * f32(i + 1)) / (18.0 + growth));
    }
    var t_peak = 0.0;
    if (v * v > x) {
        if (v < 1.0e4 * x) {
            let q = v / x;
            t_peak = ln_pos(q + sqrt(q * q + 1.0));
        } else {
            t_peak = ln_pos(2.0 * v) - ln_pos(x);
        }
    }
    let ln_half_x = ln_pos(x) - LN2_HI - LN2_LO;
    let j0 = floor(t_peak / h + 0.5);
    let g_ref = integrand(v, x, ln_half_x, j0 * h);
    var sum = 1.0;
    if (j0 == 0.0) {
        sum = 0.5;
    }
    for (var j = j0 + 1.0; j < j0 + 4096.0; j = j + 1.0) {
        let f = exp_(integrand(v, x, ln_half_x, j * h) - g_ref);
        sum = sum + f;
        if (f <= TAIL * sum) {
            break;
        }
    }
    for (var j = j0 - 1.0; j >= 0.0 && j > j0 - 4096.0; j = j - 1.0) {
        var wgt = 1.0;
        if (j == 0.0) {
            wgt = 0.5;
        }
        let f = exp_(integrand(v, x, ln_half_x, j * h) - g_ref) * wgt;
        sum = sum + f;
        if (f <= TAIL * sum) {
            break;
        }
    }
    return g_ref + ln_pos(h * sum);
}

// Temme's series of K_mu, K_{mu+1} (|mu| <= 1/2) and the upward ratio
// recurrence, v < 8, x <= TEMME_MAX_X (scalar_f32.rs temme_k).
fn temme_k(v: f32, x: f32) -> f32 {
    let n = floor(v + 0.5);
    let mu = v - n;
    let m2 = mu * mu;
    var g1 = 0.0;
    var g2 = 0.0;
    for (var i = 12; i >= 0; i = i - 2) {
        g2 = g2 * m2 + RGAMMA[i];
        g1 = g1 * m2 - RGAMMA[i + 1];
    }
    let rg_plus = g2 - mu * g1;
    let rg_minus = g2 + mu * g1;
    let parts = ln_parts(x);
    let e = parts.x;
    let r = parts.y;
    let ln_x = e * LN2_HI + (r + e * LN2_LO);
    let k2 = 1.0 - e;
    let ln_2_over_x = k2 * LN2_HI + (k2 * LN2_LO - r);
    let sigma = mu * ln_2_over_x;
    let e_sigma = exp_(sigma);
    let inv_e = 1.0 / e_sigma;
    var sinhc: f32;
    if (abs(sigma) < 1.0) {
        let s2 = sigma * sigma;
        sinhc = 0.0;
        for (var i = 6; i >= 0; i = i - 1) {
            sinhc = sinhc * s2 + SINHC[i];
        }
    } else {
        sinhc = 0.5 * (e_sigma - inv_e) / sigma;
    }
    let pimu = PI * mu;
    let p2 = pimu * pimu;
    var sinc = 0.0;
    for (var i = 7; i >= 0; i = i - 1) {
        sinc = sinc * p2 + SINC[i];
    }
    let fact = 1.0 / sinc;
    let cosh_ = 0.5 * (e_sigma + inv_e);
    var f = fact * (cosh_ * g1 + sinhc * ln_2_over_x * g2);
    var p = 0.5 * e_sigma / rg_plus;
    var q = 0.5 * inv_e / rg_minus;
    let q2 = 0.25 * x * x;
    var c = 1.0;
    var sum_f = f;
    var sum_h = p;
    for (var k = 1.0; k < 64.0; k = k + 1.0) {
        f = (k * f + p + q) / (k * k - m2);
        p = p / (k - mu);
        q = q / (k + mu);
        c = c * (q2 / k);
        let df = c * f;
        sum_f = sum_f + df;
        sum_h = sum_h + c * (p - k * f);
        if (abs(df) <= TAIL * sum_f) {
            break;
        }
    }
    if (n == 0.0) {
        return ln_pos(sum_f);
    }
    var rho = x * sum_f / (2.0 * sum_h);
    var prod = 1.0;
    var steps = 0.0;
    for (var order = mu + 1.0; order < v - 0.25; order = order + 1.0) {
        let d = 2.0 * order + x * rho;
        prod = prod * d;
        rho = x / d;
        steps = steps + 1.0;
    }
    return ln_2_over_x + ln_pos(sum_h * prod) - steps * ln_x;
}

// Steed's evaluation of Temme's continued fraction for K_mu, K_{mu+1}, then
// the upward recurrence, v < 8, STEED_MIN_X < x (scalar_f32.rs steed_k).
fn steed_k(v: f32, x: f32) -> f32 {
    let n = floor(v + 0.5);
    let mu = v - n;
    let m2 = mu * mu;
    var b = 2.0 * (1.0 + x);
    var d = 1.0 / b;
    var dh = d;
    var h = d;
    var a_prev = m2 - 0.25;
    var u_prev = 0.0;
    var u = 0.25 - m2;
    var big_q = u;
    var s = dh * big_q;
    for (var k = 1.0; k < STEED_MAX_ITER; k = k + 1.0) {
        let a = -((k + 0.5) * (k + 0.5) - m2);
        let u_next = (b * u + a_prev * u_prev / k) / (k + 1.0);
        u_prev = u;
        u = u_next;
        a_prev = a;
        big_q = big_q + u;
        b = b + 2.0;
        d = 1.0 / (b + a * d);
        dh = dh * (b * d - 1.0);
        h = h + dh;
        let ds = dh * big_q;
        s = s + ds;
        if (abs(ds) <= TAIL * abs(1.0 + s) && abs(dh) <= TAIL * abs(h)) {
            break;
        }
    }
    let ln_x = ln_pos(x);
    let ln_k_mu = 0.5 * (LN_PI_2 - ln_x) - x - log1p_(s);
    if (n == 0.0) {
        return ln_k_mu;
    }
    let r = (mu + 0.5 + x + (m2 - 0.25) * h) / x;
    var rho = 1.0 / r;
    var prod = r;
    for (var order = mu + 1.0; order < v - 0.25; order = order + 1.0) {
        let dd = 2.0 * order + x * rho;
        prod = prod * (dd / x);
        rho = x / dd;
    }
    return ln_k_mu + ln_pos(prod);
}

// Flushes subnormals (and -0) to +0 by bits.
fn flush_bits(b: u32) -> u32 {
    if ((b & 0x7f800000u) == 0u) {
        return 0u;
    }
    return b;
}

fn log_i_one(vb_in: u32, xb_in: u32) -> u32 {
    let vb = flush_bits(vb_in);
    let xb = flush_bits(xb_in);
    if (is_nan_bits(vb) || is_nan_bits(xb) || (vb >> 31u) == 1u || (xb >> 31u) == 1u) {
        return NAN_BITS;
    }
    if (xb == 0u) {
        if (vb == 0u) {
            return 0u;
        }
        return NEG_INF_BITS;
    }
    if (xb == POS_INF_BITS) {
        if (vb == POS_INF_BITS) {
            return NAN_BITS;
        }
        return POS_INF_BITS;
    }
    if (vb == POS_INF_BITS) {
        return NEG_INF_BITS;
    }
    let v = bitcast<f32>(vb);
    let x = bitcast<f32>(xb);
    if (v >= DEBYE_MIN) {
        return bitcast<u32>(debye(v, x, false));
    } else if (x >= max(HANKEL_MIN, 0.5 * v * v)) {
        return bitcast<u32>(hankel(v, x, -1.0));
    }
    return bitcast<u32>(series_i(v, x));
}

fn log_k_one(vb_in: u32, xb_in: u32) -> u32 {
    let vb = flush_bits(vb_in) & 0x7fffffffu;
    let xb = flush_bits(xb_in);
    if (is_nan_bits(vb) || is_nan_bits(xb) || (xb >> 31u) == 1u) {
        return NAN_BITS;
    }
    if (xb == 0u) {
        return POS_INF_BITS;
    }
    if (xb == POS_INF_BITS) {
        if (vb == POS_INF_BITS) {
            return NAN_BITS;
        }
        return NEG_INF_BITS;
    }
    if (vb == POS_INF_BITS) {
        return POS_INF_BITS;
    }
    let v = bitcast<f32>(vb);
    let x = bitcast<f32>(xb);
    if (v >= DEBYE_MIN) {
        return bitcast<u32>(debye(v, x, true));
    } else if (x >= max(HANKEL_MIN, 0.5 * v * v)) {
        return bitcast<u32>(hankel(v, x, 1.0));
    } else if (x <= TEMME_MAX_X) {
        return bitcast<u32>(temme_k(v, x));
    } else if (x > STEED_MIN_X) {
        return bitcast<u32>(steed_k(v, x));
    }
    return bitcast<u32>(integral_k(v, x));
}

@compute @workgroup_size(64)
fn log_bessel_i(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&results)) {
        return;
    }
    results[i] = bitcast<f32>(log_i_one(bitcast<u32>(orders[i]), bitcast<u32>(args[i])));
}

@compute @workgroup_size(64)
fn log_bessel_k(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if (i >= arrayLength(&results)) {
        return;
    }
    results[i] = bitcast<f32>(log_k_one(bitcast<u32>(orders[i]), bitcast<u32>(args[i])));
}
