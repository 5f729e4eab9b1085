"""log K_v(x) by quadrature of DLMF 10.32.9, shifted by the integrand's
maximum: an evaluation independent of mpmath.besselk, which can lose all
accuracy for large orders (it returned a negative K at v = 1038.3, x = 766.2).
"""
import sys

import mpmath as mp


def log_k_quad(v, x):
    v, x = mp.mpf(v), mp.mpf(x)

    def g(t):
        a = v * t
        # ln cosh(a) without overflow
        return -x * mp.cosh(t) + a + mp.log1p(mp.exp(-2 * a)) - mp.log(2)

    if v * v > x:
        t0 = mp.asinh(v / x)
        tp = mp.findroot(lambda t: -x * mp.sinh(t) + v * mp.tanh(v * t), t0)
    else:
        tp = mp.mpf(0)
    gmax = g(tp)
    # Breakpoints: walk away from the peak with doubling steps until the
    # integrand has fallen by e^-200 (or t reaches 0), so every segment is smooth.
    pts = [tp]
    step = mp.mpf(1) / 64
    t = tp
    while g(t) - gmax > -200:
        t += step
        step *= 2
        pts.append(t)
    step = mp.mpf(1) / 64
    t = tp
    while t > 0:
        t = max(t - step, mp.mpf(0))
        step *= 2
        pts.insert(0, t)
        if g(t) - gmax < -200:
            break
    if pts[0] > 0:
        pts.insert(0, mp.mpf(0))
    val = mp.quad(lambda u: mp.exp(g(u) - gmax), pts)
    return gmax + mp.log(val)


def log_k(vv, xx, v, x):
    """log K_v(x). mpmath.besselk is not trusted for v >= 5: it returned a
    negative K at v = 5854, x = 4226 and, at both 45 and 75 digits, K = 7.7e71
    at v = 623.8, x = 513.8 where K = e^-171.8. There the value comes from
    quadrature (kquad.py); below, besselk at two precisions must agree, else
    quadrature again."""
    if v >= 5:
        return log_k_quad(v, x)
    a = mp.besselk(vv, xx)
    with mp.workdps(mp.mp.dps + 30):
        b = mp.besselk(vv, xx)
    if a > 0 and b > 0 and abs(mp.log(a) - mp.log(b)) < mp.mpf(10) ** -30 * (1 + abs(mp.log(b))):
        return mp.log(b)
    q = log_k_quad(v, x)
    print(f"besselk unreliable at v={v!r} x={x!r} ({mp.nstr(a, 10)} / {mp.nstr(b, 10)}); quadrature {mp.nstr(q, 20)}",
          file=sys.stderr)
    return q
