#!/usr/bin/env python3
"""Peer timing for the MobileNet benchmark: LiteRT on one thread, default
resolver (XNNPACK) and reference kernels (BUILTIN_REF), median ms per image.
Usage: litert_peer.py MODEL.tflite INPUT.npy  -> one JSON line.
With --serve, the reference kernels are timed once (first line), then one
XNNPACK line per line read from stdin (the interpreter made once), so that a
caller can alternate its own timing with LiteRT's."""
import json
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

model, inp = sys.argv[1], np.load(sys.argv[2])[None]


def interpreter(kind):
    it = Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    return it, it.get_input_details()[0]["index"]


def median_ms(it, idx):
    times = []
    for _ in range(15):
        it.set_tensor(idx, inp)
        t = time.perf_counter()
        it.invoke()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times[3:]))


xnn = interpreter(OpResolverType.AUTO)
ref = median_ms(*interpreter(OpResolverType.BUILTIN_REF))
print(json.dumps({"xnnpack": median_ms(*xnn), "reference": ref}), flush=True)
if "--serve" in sys.argv:
    for _ in sys.stdin:
        print(json.dumps({"xnnpack": median_ms(*xnn)}), flush=True)
