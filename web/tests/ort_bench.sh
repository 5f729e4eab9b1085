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
# A simd128 build of the page package, next to the plain one.
RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$ROOT/target-simd" \
  bash tests/xcargo.sh build wasm32-unknown-unknown -p shoal-wasm --release --lib
wasm-bindgen --target web --out-dir "$ROOT/target/pkg-simd" \
  "$ROOT/target-simd/wasm32-unknown-unknown/release/shoal_wasm.wasm"
cp "$ROOT/web/pkg/package.json" "$ROOT/target/pkg-simd/" 2>/dev/null || true
node web/tests/ort_bench.mjs "$ORT/node_modules/onnxruntime-web/dist" "$ROOT/target/effnet-lite0.onnx" "$ROOT/target/pkg-simd"
