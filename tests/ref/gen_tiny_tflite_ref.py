#!/usr/bin/env python3
"""LiteRT reference outputs for the tiny TFLite models written by Shoal's own
FlatBuffers writer (tests/src/flatbuf.rs; regenerate the models with
`cargo run -p shoal-tests --example tiny_tflite`).

Runs LiteRT's reference kernels (BUILTIN_REF, one thread, all tensors kept)
on 6 uint8 inputs drawn from a fixed seed and writes into tflite/, per model:
  <model>_inputs.npy     (6, 1, H, W, 3) uint8
  <model>__t<k>.npy      (6, ...) uint8: tensor k of the graph after each run
                         (tiny: 3 conv, 6 depthwise, 7 add, 8 pool, 9 reshape,
                         10 softmax; tiny2: 2 pad, 5 conv, 7 mean, 8 reshape,
                         11 fully connected, 12 softmax; tiny3: 1 hard
                         swish, 4 conv, 5 and 6 concatenation, 7 hard swish,
                         8 dequantize (float32); tiny4, float32 throughout:
                         every operator's output, 20 the uint8 QUANTIZE;
                         its inputs hold every uint8 value)

Usage: python3 gen_tiny_tflite_ref.py  (needs ai-edge-litert, numpy)
"""
import os

import numpy as np
from gen_tflite_ref import reference_interpreter

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "tflite")
# Model -> the tensors compared (every operator output).
MODELS = {
    "tiny": [3, 6, 7, 8, 9, 10],
    "tiny2": [2, 5, 7, 8, 11, 12],
    "tiny3": [1, 4, 5, 6, 7, 8],
    "tiny4": [2, 5, 8, 9, 10, 11, 12, 14, 15, 18, 19, 20],
}


def main():
    for name, tensors in MODELS.items():
        it = reference_interpreter(os.path.join(OUT, name + ".tflite"))
        shape = tuple(it.get_input_details()[0]["shape"])
        rng = np.random.default_rng(20261127)
        if it.get_input_details()[0]["dtype"] == np.float32:
            # float32 model: normalised pixels, two of them constant.
            inputs = rng.uniform(-1.0, 1.0, size=(6,) + shape).astype(np.float32)
            inputs[0] = 0.0
            inputs[1] = 1.0
            run(it, name, tensors, inputs)
            continue
        inputs = rng.integers(0, 256, size=(6,) + shape, dtype=np.uint8)
        inputs[0] = 128  # the input zero point everywhere
        inputs[1] = 255
        if name == "tiny3":
            inputs.reshape(-1)[:256] = np.arange(256, dtype=np.uint8)
        run(it, name, tensors, inputs)


def run(it, name, tensors, inputs):
    outs = {k: [] for k in tensors}
    for x in inputs:
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        for k in tensors:
            outs[k].append(it.get_tensor(k).copy())
    np.save(os.path.join(OUT, f"{name}_inputs.npy"), inputs)
    for k in tensors:
        np.save(os.path.join(OUT, f"{name}__t{k}.npy"), np.stack(outs[k]))
    print(name, "outputs:", np.stack(outs[tensors[-1]]).reshape(6, -1).tolist())


if __name__ == "__main__":
    main()
