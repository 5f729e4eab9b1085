#!/usr/bin/env bash
# The in-browser comparison of the built-in model with onnxruntime-web (a
# benchmark, not part of tests/run.sh: onnxruntime-web is 148 MB of npm
# package). Needs: python3 with numpy and onnx (pip), network access to PyPI
# and npm, the page package in web/pkg (tests/run.sh builds it).
#
#   bash web/tests/ort_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ORT=$ROOT/target/ort-web
mkdir -p "$ORT"
[[ -f "$ORT/package.json" ]] || echo '{"private": true}' > "$ORT/package.json"
[[ -d "$ORT/node_modules/onnxruntime-web" ]] ||
  (cd "$ORT" && npm install --silent --no-audit --no-fund onnxruntime-web@1.30.0)
[[ -f "$ROOT/target/effnet-lite0.onnx" ]] || python3 tools/effnet_lite0.py onnx "$ROOT/target/effnet-lite0.onnx"
# The page packages (web/pkg and web/pkg-simd) come from tests/run.sh.
[[ -f "$ROOT/web/pkg-simd/shoal_wasm.js" ]] || { echo "build the page packages first (tests/run.sh)"; exit 1; }
node web/tests/ort_bench.mjs "$ORT/node_modules/onnxruntime-web/dist" "$ROOT/target/effnet-lite0.onnx" "$ROOT/web/pkg-simd"
