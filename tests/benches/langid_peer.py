#!/usr/bin/env python3
"""Peer of the langid benchmark: the official fastText C++ code through
`fasttext-predict`, predicting top-1 for every text of the reference table,
one thread, best of 5 passes. Prints `texts per second`.

    python3 tests/benches/langid_peer.py MODEL.ftz TEXTS.tsv
"""
import sys
import time

import fasttext


def main():
    model = fasttext.load_model(sys.argv[1])
    texts = [line.split("\t")[0].encode("ascii").decode("unicode_escape")
             for line in open(sys.argv[2], encoding="utf-8")]
    best = float("inf")
    for _ in range(6):
        t0 = time.perf_counter()
        for t in texts:
            model.predict(t, k=1)
        best = min(best, time.perf_counter() - t0)
    print(f"{len(texts) / best:.0f}")


if __name__ == "__main__":
    main()
