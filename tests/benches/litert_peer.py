#!/usr/bin/env python3
"""Peer timing for the MobileNet benchmark: LiteRT on one thread, default
resolver (XNNPACK) and reference kernels (BUILTIN_REF), median ms per image.
Usage: litert_peer.py MODEL.tflite INPUT.npy  -> one JSON line."""
import json
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

model, inp = sys.argv[1], np.load(sys.argv[2])[None]
out = {}
for name, kind in [("xnnpack", OpResolverType.AUTO), ("reference", OpResolverType.BUILTIN_REF)]:
    it = Interpreter(model_path=model, num_threads=1, experimental_op_resolver_type=kind)
    it.allocate_tensors()
    idx = it.get_input_details()[0]["index"]
    times = []
    for _ in range(15):
        it.set_tensor(idx, inp)
        t = time.perf_counter()
        it.invoke()
        times.append(time.perf_counter() - t)
    out[name] = 1e3 * float(np.median(times[3:]))
print(json.dumps(out))
