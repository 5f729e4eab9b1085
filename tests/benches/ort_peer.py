#!/usr/bin/env python3
"""Peer timing for the built-in model: onnxruntime (CPU, one thread) on the
same EfficientNet-Lite0 exported to ONNX by tools/effnet_lite0.py (written to
target/effnet-lite0.onnx on first use), median ms per image, and its top-1.
Usage: ort_peer.py INPUT.npy  -> one JSON line. Needs onnx, onnxruntime.
With --serve, the first line as without, then one JSON line per line read
from stdin (the session made once),
so that a caller can alternate its own timing with onnxruntime's."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
path = os.path.join(ROOT, "target", "effnet-lite0.onnx")
if not os.path.exists(path):
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "effnet_lite0.py"), "onnx", path],
                   check=True, stdout=subprocess.DEVNULL)
opts = ort.SessionOptions()
opts.intra_op_num_threads = 1
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
x = np.load(sys.argv[1])[None]


def measure():
    times = []
    for _ in range(15):
        t = time.perf_counter()
        z = sess.run(None, {"image": x})[0]
        times.append(time.perf_counter() - t)
    print(json.dumps({"onnxruntime": 1e3 * float(np.median(times[3:])), "top1": int(z.argmax())}),
          flush=True)


measure()
if "--serve" in sys.argv:
    for _ in sys.stdin:
        measure()
