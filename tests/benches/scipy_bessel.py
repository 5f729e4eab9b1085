#!/usr/bin/env python3
"""Peer timing for the log-Bessel benchmark: SciPy's log(ive(v, x)) + x and
log(kve(v, x)) - x over the inputs in a CSV (columns v,x,...), as
evaluations per second on one core. Prints one JSON line.
"""
import json
import sys
import time

import numpy as np
from scipy.special import ive, kve

data = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, usecols=(0, 1))
v, x = data[:, 0].copy(), data[:, 1].copy()
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
out = {}
with np.errstate(all="ignore"):
    for name, f in [("log_i", lambda: np.log(ive(v, x)) + x), ("log_k", lambda: np.log(kve(v, x)) - x)]:
        f()
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                y = f()
            best = min(best, (time.perf_counter() - t0) / reps)
        out[name] = len(v) / best
        out[name + "_nonfinite"] = int(np.sum(~np.isfinite(y)))
out["n"] = len(v)
out["scipy"] = __import__("scipy").__version__
print(json.dumps(out))
