#!/usr/bin/env python3
"""LiteRT reference outputs for the tiny TFLite model written by Shoal's own
FlatBuffers writer (tests/src/flatbuf.rs; regenerate the model with
`cargo run -p shoal-tests --example tiny_tflite`).

Runs LiteRT's reference kernels (BUILTIN_REF, one thread, all tensors kept)
on 6 uint8 inputs drawn from a fixed seed and writes into tflite/:
  tiny_inputs.npy        (6, 1, 8, 8, 3) uint8
  tiny__t<k>.npy         (6, ...) uint8: tensor k of the graph after each run
                         (k = 3 conv, 6 depthwise, 7 add, 8 pool, 9 reshape,
                         10 softmax)

Usage: python3 gen_tiny_tflite_ref.py  (needs ai-edge-litert, numpy)
"""
import os

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tflite")
TENSORS = [3, 6, 7, 8, 9, 10]


def main():
    it = Interpreter(
        model_path=os.path.join(OUT, "tiny.tflite"),
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    rng = np.random.default_rng(20261127)
    inputs = rng.integers(0, 256, size=(6, 1, 8, 8, 3), dtype=np.uint8)
    inputs[0] = 128  # the input zero point everywhere
    inputs[1] = 255
    outs = {k: [] for k in TENSORS}
    for x in inputs:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        for k in TENSORS:
            outs[k].append(it.get_tensor(k).copy())
    np.save(os.path.join(OUT, "tiny_inputs.npy"), inputs)
    for k in TENSORS:
        np.save(os.path.join(OUT, f"tiny__t{k}.npy"), np.stack(outs[k]))
    print("softmax outputs:", np.stack(outs[10]).reshape(6, -1).tolist())


if __name__ == "__main__":
    main()
