#!/usr/bin/env python3
"""Reference values of log I_v(x), log K_v(x) at inputs that are exact f32
values (log-uniform random orders in [1e-3, 1e4] plus v = 0, arguments in
[1e-6, 1e4]), for the pure-f32 kernels (WGSL and its CPU twin). mpmath at
40 digits. Fixed seed, so the table is reproducible.

Usage: python3 gen_bessel_ref_f32.py > bessel_ref_f32.csv
"""
import random
import signal
import struct
import sys

import mpmath as mp

from kquad import log_k  # noqa: E402

mp.mp.dps = 40


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


class Slow(Exception):
    pass


def _alarm(_s, _f):
    raise Slow("over 20 s")


signal.signal(signal.SIGALRM, _alarm)


rng = random.Random(20261127)
print("v,x,log_iv,log_kv")
n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
for i in range(n):
    v = 0.0 if i % 10 == 0 else f32(10 ** rng.uniform(-3, 4))
    # a third of the points near the v ~ x transition, the rest spread out
    if i % 3 == 0 and v > 0:
        x = f32(v * 10 ** rng.uniform(-0.5, 0.5))
    else:
        x = f32(10 ** rng.uniform(-6, 4))
    signal.alarm(20)
    try:
        li = mp.log(mp.besseli(v, x))
        lk = log_k(mp.mpf(v), mp.mpf(x), v, x)
    except Exception as exc:  # noqa: BLE001
        print(f"skip v={v!r} x={x!r}: {exc!r}", file=sys.stderr)
        continue
    finally:
        signal.alarm(0)
    print(f"{v!r},{x!r},{mp.nstr(li, 20)},{mp.nstr(lk, 20)}", flush=True)
