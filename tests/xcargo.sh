#!/usr/bin/env bash
# xcargo.sh SUBCOMMAND TARGET ARGS...: cargo for a cross target, with rustup's
# target when tests/setup.sh could add it, else Debian's rustc-web and
# -Zbuild-std (setup writes target/tools/debian-rust in that case).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sub=$1 target=$2
shift 2
if [[ -f "$root/target/tools/debian-rust" ]]; then
  std=core,alloc
  [[ $target == wasm32-* ]] && std=std,panic_abort
  exec "$root/target/tools/bin/webcargo" "$sub" --target "$target" -Zbuild-std=$std "$@"
fi
exec cargo "$sub" --target "$target" "$@"
