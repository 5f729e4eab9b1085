#!/usr/bin/env python3
"""Reference outputs of the Coral uint8 MobileNets from LiteRT's reference
kernels (BUILTIN_REF, one thread), for Shoal's bit-exactness tests.

For each model in ../../../shared/models/coral/ (uint8 ones) and each BMP
test image there, writes into tflite/:
  input_<size>_<image>.npy   the uint8 HxWx3 input (PIL bilinear resize)
  <model>__<image>.logits.npy  the tensor fed to SOFTMAX (uint8, or int8)
  <model>__<image>.probs.npy   the model's uint8 output

The models and images are Apache-2.0 (google-coral/test_data); the derived
input tensors committed here carry the same licence (see tflite/LICENSE.md).

Usage: python3 gen_tflite_ref.py  (needs ai-edge-litert, pillow, numpy)
"""
import os

import numpy as np
from PIL import Image
from ai_edge_litert.interpreter import Interpreter, OpResolverType

HERE = os.path.dirname(os.path.abspath(__file__))
CORAL = os.path.join(HERE, "..", "..", "..", "shared", "models", "coral")
OUT = os.path.join(HERE, "tflite")
MODELS = [
    "mobilenet_v1_0.25_128_quant",
    "mobilenet_v1_0.5_160_quant",
    "mobilenet_v1_0.75_192_quant",
    "mobilenet_v2_1.0_224_quant",
    # int8 inside (per-channel weights), uint8 at the edges (QUANTIZE).
    "tf2_mobilenet_v2_1.0_224_ptq",
]
IMAGES = ["cat", "grace_hopper"]


def reference_interpreter(path):
    """LiteRT with its reference kernels, one thread, every tensor kept."""
    it = Interpreter(
        model_path=path,
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    return it


def main():
    os.makedirs(OUT, exist_ok=True)
    for m in MODELS:
        it = reference_interpreter(os.path.join(CORAL, m + ".tflite"))
        inp = it.get_input_details()[0]
        h, w = int(inp["shape"][1]), int(inp["shape"][2])
        softmax = [o for o in it._get_ops_details() if o["op_name"] == "SOFTMAX"][-1]
        for name in IMAGES:
            img = Image.open(os.path.join(CORAL, name + ".bmp")).convert("RGB").resize((w, h), Image.BILINEAR)
            x = np.asarray(img, dtype=np.uint8)
            np.save(os.path.join(OUT, f"input_{h}_{name}.npy"), x)
            it.set_tensor(inp["index"], x[None])
            it.invoke()
            logits = it.get_tensor(int(softmax["inputs"][0])).reshape(-1)
            probs = it.get_tensor(it.get_output_details()[0]["index"]).reshape(-1)
            np.save(os.path.join(OUT, f"{m}__{name}.logits.npy"), logits)
            np.save(os.path.join(OUT, f"{m}__{name}.probs.npy"), probs)
            print(m, name, "top-1", int(np.argmax(probs)), int(probs.max()))


if __name__ == "__main__":
    main()
