#!/usr/bin/env bash
# Fuzz every parser for a fixed time each (not part of CI):
#   bash fuzz/run.sh [SECONDS_PER_TARGET=300] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a toolchain that takes
# -Z flags (nightly, or stable with RUSTC_BOOTSTRAP=1, which this script sets).
# Seeds come from valid fixtures (tests/examples/fuzz_seeds.rs, the built-in
# models, ../shared/models/coral when present). Prints, per target:
# executions, crashes, OOMs and timeouts (artifact files), peak RSS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
SECS="${1:-300}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(she shq npy fasttext tflite shm image)
export RUSTC_BOOTSTRAP=1
SHARED="${SHOAL_SHARED:-$ROOT/../shared}"

# Small seeds keep the executions fast: tiny fastText models, a 932-byte
# Shoal model, a 2.3 KB TFLite model with every supported operator and small
# BMP/PNG images (fuzz_seeds). SHOAL_FUZZ_LARGE=1 adds the real lid.176.ftz,
# the built-in EfficientNet-Lite0, a Coral MobileNet and full-size photos
# (deeper inputs, tens to hundreds of executions per second).
cargo run -q --release -p shoal-tests --example fuzz_seeds -- fuzz/corpus
mkdir -p fuzz/corpus/{fasttext,tflite,shm,image}
if [[ "${SHOAL_FUZZ_LARGE:-0}" == 1 ]]; then
  cp -f host-gpu/models/efficientnet-lite0.shm fuzz/corpus/shm/
  cp -f host-gpu/models/lid.176.ftz fuzz/corpus/fasttext/
  cp -f web/images/parrot.jpg fuzz/corpus/image/
  if [ -d "$SHARED/models/coral" ]; then
    cp -f "$SHARED"/models/coral/*.bmp fuzz/corpus/image/
    cp -f "$SHARED"/models/coral/mobilenet_v1_0.25_128_quant.tflite fuzz/corpus/tflite/
  fi
fi

cd fuzz
cargo fuzz build -O
printf '%-9s %14s %8s %8s %9s %9s %12s\n' target executions exec/s crashes ooms timeouts peak_rss_mb
for t in "${TARGETS[@]}"; do
  case "$t" in
    fasttext|image|shm|tflite) [[ "${SHOAL_FUZZ_LARGE:-0}" == 1 ]] && maxlen=$((2 << 20)) || maxlen=65536 ;;
    *) maxlen=65536 ;;
  esac
  mkdir -p "artifacts/$t"
  log="artifacts/$t/run.log"
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECS" -max_len="$maxlen" \
    -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls "artifacts/$t" | grep -c '^crash-' || true)
  ooms=$(ls "artifacts/$t" | grep -c '^oom-' || true)
  touts=$(ls "artifacts/$t" | grep -c '^timeout-' || true)
  rate=$(( ${execs:-0} / SECS ))
  printf '%-9s %14s %8s %8s %9s %9s %12s\n' "$t" "${execs:-?}" "$rate" "$crashes" "$ooms" "$touts" "${rss:-?}"
done
