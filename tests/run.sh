#!/usr/bin/env bash
# Shoal's test command: installs what a fresh Debian 12 machine lacks
# (tests/setup.sh), then runs every suite and ends with `N passed, M failed`.
#
#   tests/run.sh            everything (what CI runs)
#   tests/run.sh --quick    fmt, clippy and the native tests only (while developing)
#   SHOAL_SKIP_SETUP=1      do not run tests/setup.sh
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
QUICK=${SHOAL_QUICK:-0}
[[ "${1:-}" == "--quick" ]] && QUICK=1
t_start=$(date +%s)
passed=0
failed=0
failures=()
LOGDIR=${SHOAL_LOG_DIR:-$ROOT/target/test-logs}
mkdir -p "$LOGDIR"

# step NAME CMD...: runs a suite, prints its tail on failure, counts it.
step() {
  local name=$1
  shift
  local log="$LOGDIR/${name//[^A-Za-z0-9_.-]/_}.log"
  local t0
  t0=$(date +%s)
  printf '== %-34s ' "$name"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "ok ($(( $(date +%s) - t0 ))s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "FAILED ($(( $(date +%s) - t0 ))s); last lines of $log:"
    tail -n 40 "$log" | sed 's/^/   | /'
  fi
}

if [[ "${SHOAL_SKIP_SETUP:-0}" != 1 ]]; then
  if ! bash tests/setup.sh; then
    echo "setup failed"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

export CARGO_TERM_COLOR=never
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
# CI has llvmpipe: GPU tests must run there, not skip.
export SHOAL_REQUIRE_GPU=${SHOAL_REQUIRE_GPU:-1}
[[ "$QUICK" == 1 ]] && export SHOAL_REQUIRE_GPU=${SHOAL_REQUIRE_GPU_QUICK:-0}

# Cross builds: rustup targets, or Debian rustc-web with -Zbuild-std (setup decides).
xcargo() { bash "$ROOT/tests/xcargo.sh" "$@"; }
XCARGO="$ROOT/tests/xcargo.sh"

step fmt cargo fmt --all --check
step clippy cargo clippy --workspace --all-targets -- -D warnings
step native-tests cargo test --workspace --release
step rustdoc env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p shoal-core -p shoal-host-gpu -p shoal-wasm

if [[ "$QUICK" != 1 ]]; then
  step core-thumbv7em xcargo build thumbv7em-none-eabihf -p shoal-core --no-default-features --release
  step core-thumbv7em-alloc xcargo build thumbv7em-none-eabihf -p shoal-core --no-default-features --features alloc --release
  step core-riscv32imac xcargo build riscv32imac-unknown-none-elf -p shoal-core --no-default-features --features alloc --release
  step core-wasm32 xcargo build wasm32-unknown-unknown -p shoal-core --no-default-features --features alloc --release
  step core-wasm32-simd128 env RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$ROOT/target-simd" \
    "$XCARGO" build wasm32-unknown-unknown -p shoal-core --no-default-features --features alloc --release
  step wasm-bindgen-node xcargo test wasm32-unknown-unknown -p shoal-wasm --release
  step wasm-bindgen-node-simd128 env RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$ROOT/target-simd" \
    "$XCARGO" test wasm32-unknown-unknown -p shoal-wasm --release
  step wasm-bindgen-chromium env CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_USE_BROWSER=1 \
    WASM_BINDGEN_TEST_WEBDRIVER_JSON="$ROOT/tests/web/webdriver.json" \
    "$XCARGO" test wasm32-unknown-unknown -p shoal-wasm --release --test api
  # The page's package, shrunk by binaryen's wasm-opt -Oz (npm); the page
  # tests then run the optimised module. Sizes go to the suite's log.
  # Two packages: web/pkg (plain) and web/pkg-simd (simd128); the page
  # loads the second where the browser has wasm SIMD.
  build_pkg() {
    local dir=$1 target=$2
    local wasm="$ROOT/web/$dir/shoal_wasm_bg.wasm"
    wasm-bindgen --target web --out-dir "$ROOT/web/$dir" "$target/wasm32-unknown-unknown/release/shoal_wasm.wasm" &&
      echo "$dir: wasm-bindgen output: $(wc -c <"$wasm") bytes ($(gzip -9 -c "$wasm" | wc -c) gzipped)" &&
      "$ROOT/web/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
        --enable-sign-ext --enable-mutable-globals --enable-simd "$wasm" -o "$wasm.opt" &&
      mv "$wasm.opt" "$wasm" &&
      echo "$dir: after wasm-opt -Oz: $(wc -c <"$wasm") bytes ($(gzip -9 -c "$wasm" | wc -c) gzipped)"
  }
  build_pkgs() {
    xcargo build wasm32-unknown-unknown -p shoal-wasm --release --lib &&
      build_pkg pkg "$ROOT/target" &&
      env RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR="$ROOT/target-simd" \
        "$XCARGO" build wasm32-unknown-unknown -p shoal-wasm --release --lib &&
      build_pkg pkg-simd "$ROOT/target-simd"
  }
  if [[ -f "${SHOAL_TOOLS:-$ROOT/target/tools}/miri-ok" ]]; then
    step miri-core cargo +nightly miri test -p shoal-core --no-default-features --features alloc --test small
  else
    echo "== miri-core                          SKIPPED (no nightly toolchain with miri)"
  fi
  step firmware-qemu bash tests/firmware/check.sh
  step web-pkg build_pkgs
  step page-tests node web/tests/page.test.mjs
fi

echo "tests/run.sh took $(( $(date +%s) - t_start ))s (quick=$QUICK)"
[[ ${#failures[@]} -gt 0 ]] && echo "failed suites: ${failures[*]}"
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
