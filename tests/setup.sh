#!/usr/bin/env bash
# Idempotent bootstrap of everything tests/run.sh needs on Debian 12 (x86_64,
# root, registries-only network): apt packages, rustup targets, the
# wasm-bindgen CLI matching Cargo.lock, and the page's npm packages.
# Fast when everything is present. Adapted from the project's toolchain recipes.
#
#   SHOAL_FORCE_DEBIAN_RUST=1  use Debian's rustc-web + -Zbuild-std for the cross targets
#   SHOAL_WASM_BINDGEN_RELEASE=1  build wasm-bindgen-cli optimised (slower install)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
did=()
note() { did+=("$1"); echo "[setup] $1"; }
TOOLS=${SHOAL_TOOLS:-$PWD/target/tools}
mkdir -p "$TOOLS/bin"

# 1. Rust components and targets (rustup first; Debian rustc-web as fallback).
for c in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || { rustup component add "$c" && note "rustup component add $c"; }
done
targets=(wasm32-unknown-unknown thumbv7em-none-eabihf riscv32imac-unknown-none-elf)
need_debian=${SHOAL_FORCE_DEBIAN_RUST:-0}
for t in "${targets[@]}"; do
  if ! rustup target list --installed 2>/dev/null | grep -qx "$t"; then
    if timeout 180 rustup target add "$t" >/dev/null 2>&1; then note "rustup target add $t"; else need_debian=1; fi
  fi
done

# 1b. Miri (nightly) for the core's scalar code; optional: run.sh skips the
# suite, saying so, when the nightly toolchain cannot be installed.
if cargo +nightly miri --version >/dev/null 2>&1; then
  touch "$TOOLS/miri-ok"
elif timeout 300 rustup toolchain install nightly --profile minimal --component miri,rust-src >/dev/null 2>&1 &&
  cargo +nightly miri --version >/dev/null 2>&1; then
  touch "$TOOLS/miri-ok"
  note "rustup toolchain install nightly (miri)"
else
  rm -f "$TOOLS/miri-ok"
  note "nightly miri unavailable: the miri suite will be skipped"
fi

# 2. Debian packages.
pkgs=(mesa-vulkan-drivers libvulkan1 chromium chromium-driver qemu-system-arm)
[[ $need_debian == 1 ]] && pkgs+=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
missing=()
for p in "${pkgs[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  note "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [[ $need_debian == 1 ]]; then
  # Debian's rustc 1.96 with std sources: cross builds use -Zbuild-std.
  printf '%s\n' '#!/bin/sh' 'export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1' 'exec /usr/bin/cargo "$@"' > "$TOOLS/bin/webcargo"
  chmod +x "$TOOLS/bin/webcargo"
  echo 1 > "$TOOLS/debian-rust"
  note "cross targets use Debian rustc-web with -Zbuild-std ($TOOLS/bin/webcargo)"
else
  rm -f "$TOOLS/debian-rust"
fi

# 3. wasm-bindgen-cli, exactly the version in Cargo.lock.
want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ "$have" != "$want" ]]; then
  if [[ "${SHOAL_WASM_BINDGEN_RELEASE:-0}" == 1 ]]; then mode=(); else mode=(--debug); fi
  note "cargo install wasm-bindgen-cli $want ${mode[*]:-} (had: ${have:-none})"
  # Not --locked: its lock file pins a webpki-roots release crates.io no longer has.
  CARGO_PROFILE_DEV_DEBUG=0 cargo install --quiet "${mode[@]}" wasm-bindgen-cli --version "$want"
fi

# 4. npm packages of the page tests (playwright-core only; browsers are never downloaded).
if ! (cd web && node -e 'const l=require("./package-lock.json").packages["node_modules/playwright-core"].version; process.exit(require("playwright-core/package.json").version===l?0:1)' 2>/dev/null); then
  note "npm ci in web/"
  (cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
fi

echo "[setup] done in $(( $(date +%s) - t0 ))s; actions: ${did[*]:-none}"
