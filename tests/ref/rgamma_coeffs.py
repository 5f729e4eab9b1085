#!/usr/bin/env python3
"""Taylor coefficients a_k of 1/Gamma(1 + z) = sum_k a_k z^k (entire), used by
the f64 K kernel's Temme series: Gamma1(mu) = -sum_{k odd} a_k mu^(k-1),
Gamma2(mu) = sum_{k even} a_k mu^k.

Usage: python3 rgamma_coeffs.py   (needs mpmath)
"""
import mpmath as mp

mp.mp.dps = 50
a = mp.taylor(lambda z: mp.rgamma(1 + z), 0, 26)
print("[" + ", ".join(repr(float(c)) for c in a) + "]")
