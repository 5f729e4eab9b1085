#!/usr/bin/env python3
"""Peers of the embedding lookup benchmark, measured in the same run:
numpy fancy-index gather of f32 rows, and FAISS PQ decoding (gather of the
codes + `sa_decode`), one thread, best of 5.

    python3 tests/benches/embed_peer.py TABLE.npy IDS.npy M
prints `name<TAB>rows per second` lines.
"""
import sys
import time

import numpy as np


def best(f, reps=5):
    f()
    t = min(timeit(f) for _ in range(reps))
    return t


def timeit(f):
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def main():
    e = np.load(sys.argv[1])
    ids = np.load(sys.argv[2]).astype(np.int64)
    m = int(sys.argv[3])
    n = len(ids)
    out = np.empty((n, e.shape[1]), dtype=np.float32)
    t = best(lambda: np.take(e, ids, axis=0, out=out))
    print(f"numpy f32 gather\t{n / t:.0f}", flush=True)
    try:
        import faiss
    except ImportError:
        return
    faiss.omp_set_num_threads(1)
    d = e.shape[1]
    pq = faiss.index_factory(d, f"PQ{m}x8")
    rng = np.random.default_rng(0)
    pq.train(e[rng.choice(len(e), 65536, replace=False)])
    codes = pq.sa_encode(e)
    t = best(lambda: pq.sa_decode(codes[ids]))
    print(f"faiss PQ{m}x8 gather+sa_decode\t{n / t:.0f}", flush=True)
    sq = faiss.index_factory(d, "SQ8")
    sq.train(e[rng.choice(len(e), 65536, replace=False)])
    sc = sq.sa_encode(e)
    t = best(lambda: sq.sa_decode(sc[ids]))
    print(f"faiss SQ8 gather+sa_decode\t{n / t:.0f}", flush=True)


if __name__ == "__main__":
    main()
