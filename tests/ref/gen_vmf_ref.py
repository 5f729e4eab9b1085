#!/usr/bin/env python3
"""vMF reference values from mpmath: A_p(kappa) = I_{p/2}/I_{p/2-1} and
ln C_p(kappa) = nu ln kappa - (p/2) ln(2 pi) - ln I_nu(kappa), nu = p/2 - 1.

Usage: python3 gen_vmf_ref.py > vmf_ref.csv   (needs mpmath)
"""
import signal
import sys

import mpmath as mp

mp.mp.dps = 60


def _alarm(_sig, _frame):
    raise TimeoutError("over 300 s")


signal.signal(signal.SIGALRM, _alarm)

print("p,kappa,A,logC")
for p in [3, 10, 128, 2048, 8192, 32768]:
    for r in [0.05, 0.3, 0.6, 0.9, 0.99]:
        # kappa from Banerjee's approximation: a spread of concentrations per p.
        kappa = float(r * (p - r * r) / (1 - r * r))
        kappa = float(mp.nstr(kappa, 8))  # a short decimal, exact as an f64 input
        nu = mp.mpf(p) / 2 - 1
        k = mp.mpf(kappa)
        signal.alarm(300)  # mpmath's series can take hours at p = 32768, R = 0.99
        try:
            i0 = mp.besseli(nu, k, maxterms=10**7)
            i1 = mp.besseli(nu + 1, k, maxterms=10**7)
        except Exception as exc:  # noqa: BLE001 - report and skip the point
            print(f"skip p={p} kappa={kappa}: {exc!r}", file=sys.stderr)
            continue
        finally:
            signal.alarm(0)
        a = i1 / i0
        logc = nu * mp.log(k) - mp.mpf(p) / 2 * mp.log(2 * mp.pi) - mp.log(i0)
        print(f"{p},{kappa!r},{mp.nstr(a, 25)},{mp.nstr(logc, 25)}")
