#!/usr/bin/env python3
"""Reference values of log I_v(x), log K_v(x) where the f64 kernels take
K from the trapezoid rule with tabulated nodes (v < 20, 1 < x <= 12,
core/src/bessel/trapezoid_table.rs) and just beyond it (Steed's fraction):
orders uniform in [0, 20), in [0, 1.5] (no upward recurrence, where the
error unit is smallest) and near half-integers; arguments uniform in (1, 2],
in (1, 12] and log-uniform in (1, 20], plus the argument bins' edges and
their neighbouring doubles. mpmath at 45 digits; log K by kquad.py's
`log_k`, as for bessel_ref.csv (besselk at two precisions below order 5,
quadrature above); fixed seed, so the table is reproducible.

Usage: python3 gen_bessel_ref_mid.py > bessel_ref_mid.csv
"""
import math
import random

import mpmath as mp


from kquad import log_k  # noqa: E402

mp.mp.dps = 45  # log K as in gen_bessel_ref.py (kquad.py: quadrature for v >= 5)


def log_i(v, x):
    return mp.log(mp.besseli(mp.mpf(v), mp.mpf(x)))


rng = random.Random(20261128)
rows = []
edges = [1.0, 2.0, 6.0, 12.0]
for i in range(2000):
    kind = i % 4
    if kind == 0:
        v = rng.uniform(0, 20)
    elif kind == 1:
        v = rng.uniform(0, 1.5)
    elif kind == 2:
        v = rng.randint(0, 19) + 0.5 + rng.choice([-1, 1]) * 10 ** rng.uniform(-9, -1)
    else:
        v = float(rng.randint(0, 19)) + rng.uniform(0, 1e-3)
    v = abs(v)
    if v >= 20:
        v = 19.9
    which = i % 5
    if which < 2:
        x = rng.uniform(1, 2)
    elif which < 4:
        x = rng.uniform(1, 12)
    else:
        x = 10 ** rng.uniform(0, math.log10(20))
    if i % 50 == 0:
        e = edges[(i // 50) % len(edges)]
        x = [e, math.nextafter(e, math.inf), math.nextafter(e, 0)][(i // 200) % 3]
    if x <= 1.0:
        x = math.nextafter(1.0, math.inf)
    rows.append((v, x))

print("v,x,log_iv,log_kv")
for v, x in rows:
    lk = log_k(mp.mpf(v), mp.mpf(x), v, x)
    print(f"{v!r},{x!r},{mp.nstr(log_i(v, x), 25)},{mp.nstr(lk, 25)}")
