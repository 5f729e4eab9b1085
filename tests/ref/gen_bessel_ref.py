#!/usr/bin/env python3
"""Reference values of log I_v(x) and log K_v(x) for Shoal, from mpmath.

Writes bessel_ref.csv with columns v,x,log_iv,log_kv (v and x are exact
binary64 values printed with repr; the logs carry 25 significant digits).
mpmath evaluates the Bessel functions with arbitrary precision and an
unbounded exponent range, so the logarithm of huge or tiny values is exact
to the working precision. Points where mpmath needs too long are skipped
(they are covered by ../../shared/reference/bessel/ref_grid.csv).

Usage: python3 gen_bessel_ref.py > bessel_ref.csv   (needs mpmath)
"""
import signal
import sys

import mpmath as mp

from kquad import log_k  # noqa: E402

mp.mp.dps = 45  # log K: quadrature (kquad.py), checked against mpmath.besselk


class Slow(Exception):
    pass


def _alarm(_sig, _frame):
    raise Slow("over 20 s")


signal.signal(signal.SIGALRM, _alarm)


ORDERS = [0.0, 1e-3, 0.1, 0.5, 1.0, 1.5, 2.5, 4.0, 7.25, 12.0, 19.5, 20.0,
          25.0, 33.3, 50.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0]
XS = sorted(set([10.0 ** (e / 4.0) for e in range(-32, 21)] +
                [0.3, 2.0, 9.5, 24.9, 25.1, 31.0, 49.0, 60.0, 99.0, 150.0,
                 199.0, 210.0, 400.0, 700.0, 5000.0, 50000.0]))


def main():
    out = sys.stdout
    out.write("v,x,log_iv,log_kv\n")
    for v in ORDERS:
        for x in XS:
            vv, xx = mp.mpf(v), mp.mpf(x)
            signal.alarm(20)
            try:
                li = mp.log(mp.besseli(vv, xx))
                lk = log_k(mp.mpf(v), mp.mpf(x), v, x)
            except Exception as exc:  # noqa: BLE001 - report and skip the point
                print(f"skip v={v!r} x={x!r}: {exc!r}", file=sys.stderr)
                continue
            finally:
                signal.alarm(0)
            out.write(f"{v!r},{x!r},{mp.nstr(li, 25)},{mp.nstr(lk, 25)}\n")
            out.flush()


if __name__ == "__main__":
    main()
