#!/usr/bin/env bash
# Builds ggml's CPU backend from the llama.cpp sources vendored in the PyPI
# sdist of llama-cpp-python (MIT; fetched from the package registry, not
# committed) and links tests/benches/ggml/ggml_peer.c against it.
# Prints the path of the binary. Cached under target/ggml.
#   bash tests/benches/ggml/build.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
VER=0.3.36
SHA=ec/e9/e7de2b0463ea3ffbf0ede6cb21b58c1258a8f6521aae45ca773a59fe7cf3
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/shoal/ggml"
OUT="$ROOT/target/ggml"
BIN="$OUT/ggml_peer"
if [[ -x "$BIN" && "$BIN" -nt "$ROOT/tests/benches/ggml/ggml_peer.c" ]]; then
  echo "$BIN"
  exit 0
fi
mkdir -p "$CACHE" "$OUT"
TGZ="$CACHE/llama_cpp_python-$VER.tar.gz"
if [[ ! -s "$TGZ" ]]; then
  curl -sSfL -o "$TGZ.part" "https://files.pythonhosted.org/packages/$SHA/llama_cpp_python-$VER.tar.gz" >&2
  mv "$TGZ.part" "$TGZ"
fi
SRC="$CACHE/llama_cpp_python-$VER/vendor/llama.cpp/ggml"
[[ -d "$SRC" ]] || tar xzf "$TGZ" -C "$CACHE" "llama_cpp_python-$VER/vendor/llama.cpp/ggml" >&2
# The sdist leaves out the pkg-config template that the CMake project configures.
[[ -f "$SRC/ggml.pc.in" ]] || : >"$SRC/ggml.pc.in"
command -v cmake >/dev/null || python3 -m pip install -q cmake >&2
cmake -S "$SRC" -B "$OUT/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_NATIVE=ON -DGGML_OPENMP=OFF -DGGML_BUILD_TESTS=OFF -DGGML_BUILD_EXAMPLES=OFF >&2
cmake --build "$OUT/build" -j"$(nproc)" >&2
LIBS=$(find "$OUT/build" -name 'libggml*.a' | sort -r)
# Link order: ggml (registry), ggml-cpu, ggml-base.
cc -O2 -march=native -I"$SRC/include" "$ROOT/tests/benches/ggml/ggml_peer.c" \
  "$OUT/build/src/libggml.a" "$OUT/build/src/libggml-cpu.a" "$OUT/build/src/libggml-base.a" \
  -lstdc++ -lm -lpthread -o "$BIN" >&2 || { echo "link failed; libraries: $LIBS" >&2; exit 1; }
echo "$BIN"
