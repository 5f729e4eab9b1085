#!/usr/bin/env python3
"""FAISS peer for the embedding quality table: recall@10 preserved by FAISS's
scalar quantizers (SQ8, SQ4, SQfp16) and product quantizers (IndexPQ with
8-bit and 4-bit codes) on a table, under the protocol of
`shoal_tests::recall_at_k` (500 evenly spaced query rows, original query
vector against the decoded table, the query row itself excluded, L2).

    pip install faiss-cpu numpy
    python3 tests/ref/faiss_recall.py TABLE.npy
Prints one line per configuration: name, bytes per row, ratio, recall@10.
"""
import sys

import faiss
import numpy as np


def knn(db, q, skip, k):
    d = ((db - q) ** 2).sum(axis=1)
    d[skip] = np.inf
    cand = np.argpartition(d, k + 8)[: k + 8]
    cand = cand[np.lexsort((cand, d[cand]))]
    return set(cand[:k].tolist())


def recall(orig, dec, queries, k=10):
    orig64, dec64 = orig.astype(np.float64), dec.astype(np.float64)
    hit = 0
    for qi in queries:
        hit += len(knn(orig64, orig64[qi], qi, k) & knn(dec64, orig64[qi], qi, k))
    return hit / (len(queries) * k)


def main():
    e = np.load(sys.argv[1]).astype(np.float32)
    n, d = e.shape
    step = max(n // 500, 1)
    queries = list(range(0, n, step))[:500]
    configs = [("faiss SQfp16", f"SQfp16"), ("faiss SQ8", "SQ8"), ("faiss SQ4", "SQ4")]
    for m in (d // 2, d // 4, d // 8):
        if m >= 1 and d % m == 0:
            configs.append((f"faiss PQ{m}x8", f"PQ{m}x8"))
            configs.append((f"faiss PQ{m}x4", f"PQ{m}x4"))
    for name, spec in configs:
        idx = faiss.index_factory(d, spec)
        faiss.omp_set_num_threads(1)
        train = e if n <= 65536 else e[np.random.default_rng(0).choice(n, 65536, replace=False)]
        idx.train(train)
        codes = idx.sa_encode(e)
        dec = idx.sa_decode(codes)
        bpr = codes.shape[1]
        print(f"{name}\t{bpr}\t{4 * d / bpr:.2f}\t{recall(e, dec, queries):.4f}", flush=True)


if __name__ == "__main__":
    main()
