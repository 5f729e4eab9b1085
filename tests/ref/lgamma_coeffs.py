#!/usr/bin/env python3
"""Taylor coefficients of ln Gamma(2 + f) about f = 0 (radius 2), used by the
f32 log-Bessel kernels (WGSL and its scalar twin) for ln Gamma(1 + v), v < 1:

    ln Gamma(2 + f) = sum_{k>=1} c_k f^k,  c_1 = 1 - gamma,
    c_k = (-1)^k (zeta(k) - 1) / k  (k >= 2),
    ln Gamma(1 + f) = ln Gamma(2 + f) - log1p(f).

Usage: python3 lgamma_coeffs.py   (needs mpmath); prints f32-ready literals.
"""
import mpmath as mp

mp.mp.dps = 40
cs = [1 - mp.euler] + [(-1) ** k * (mp.zeta(k) - 1) / k for k in range(2, 25)]
print(", ".join(repr(float(c)) for c in cs))
