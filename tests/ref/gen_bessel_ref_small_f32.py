#!/usr/bin/env python3
"""Reference values of log I_v(x), log K_v(x) at f32-exact inputs where the
f32 kernels use Temme's series for K (v < 8, x <= 0.1) and around its upper
end: orders near integers and half-integers (where the series' first term
cancels most), arguments log-uniform in [1e-30, 0.1] and uniform in
[0.05, 1]. mpmath at 40 digits; fixed seed, so the table is reproducible.

Usage: python3 gen_bessel_ref_small_f32.py > bessel_ref_small_f32.csv
"""
import random
import struct

import mpmath as mp

mp.mp.dps = 40


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


rng = random.Random(20261128)
print("v,x,log_iv,log_kv")
for i in range(600):
    kind = i % 4
    base = rng.randint(0, 7)
    if kind == 0:
        v = f32(base + 0.5 + rng.choice([-1, 1]) * 10 ** rng.uniform(-6, -1))
    elif kind == 1:
        v = f32(abs(base + rng.choice([-1, 1]) * 10 ** rng.uniform(-6, -1)))
    elif kind == 2:
        v = base / 2.0
    else:
        v = f32(rng.uniform(0, 8))
    v = min(v, f32(7.99))
    if i % 3 == 0:
        x = f32(rng.uniform(0.05, 1.0))
    else:
        x = f32(10 ** rng.uniform(-30, -1))
    vm, xm = mp.mpf(v), mp.mpf(x)
    li = mp.log(mp.besseli(vm, xm))
    lk = mp.log(mp.besselk(vm, xm))
    print(f"{v!r},{x!r},{mp.nstr(li, 25)},{mp.nstr(lk, 25)}")
