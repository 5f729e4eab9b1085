#!/usr/bin/env python3
"""Reference predictions of the two tiny fastText models in tests/ref/langid
(`tiny_dense.bin`: dense input matrix; `tiny_quant.ftz`: product-quantized
input with row norms; `tiny_bigrams.bin`: word bigrams; all written by `tests/examples/fuzz_seeds.rs`), by the
official fastText code (`fasttext-predict` 0.9.2.4), k=2, threshold 0.

    python3 tests/ref/gen_tiny_fasttext_ref.py > tests/ref/langid/tiny_ref.tsv
"""
import os

import fasttext

HERE = os.path.join(os.path.dirname(__file__), "langid")
TEXTS = ["fish", "boat", "fish boat", "boats and fishes", "x", "", "__label__a fish",
         "Fischerboot im Hafen", "日本の漁船", "fish\tboat\rfish"]

for name in ("tiny_dense.bin", "tiny_quant.ftz", "tiny_bigrams.bin"):
    model = fasttext.load_model(os.path.join(HERE, name))
    for t in TEXTS:
        labels, probs = model.predict(t, k=2, threshold=0.0)
        cols = [name, t.encode("unicode_escape").decode("ascii")]
        cols += [f"{l[len('__label__'):]}:{float(p)!r}" for l, p in zip(labels, probs)]
        print("\t".join(cols))
