#!/usr/bin/env bash
# Builds the Cortex-M4F firmware, runs it under QEMU (mps2-an386) and checks
# that it prints exactly what the host prints for the same model and input
# (raw output hash, top-5, log-Bessel bits). Prints the firmware's section
# sizes. Needs ../shared (or SHOAL_SHARED) for the model.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export SHOAL_SHARED=${SHOAL_SHARED:-$root/../shared}
if [[ ! -f "$SHOAL_SHARED/models/coral/mobilenet_v1_0.25_128_quant.tflite" ]]; then
  echo "SKIPPED: no Coral model under $SHOAL_SHARED"
  exit 0
fi
(cd "$here" && bash "$root/tests/xcargo.sh" build thumbv7em-none-eabihf --release --quiet)
elf="$here/target/thumbv7em-none-eabihf/release/shoal-firmware"
# -icount shift=0: one nanosecond of virtual time per instruction, so the
# SysTick counts the firmware prints are deterministic (25 MHz: one tick per
# 40 instructions).
got=$(timeout 300 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -icount shift=0 \
  -semihosting-config enable=on,target=native -kernel "$elf")
want=$(cd "$root" && cargo run --release --quiet -p shoal-tests --example firmware_expect)
echo "$got"
readelf -S -W "$elf" | sed 's/^ *\[ *[0-9]*\] *//' | while read -r name _type _addr _off size _rest; do
  case "$name" in .text | .rodata | .data | .bss) printf 'section %-8s %8d bytes\n' "$name" "$((16#$size))" ;; esac
done
if [[ "$(grep -v -e '^heap' -e '^ticks' <<<"$got")" != "$want" ]]; then
  echo "MISMATCH: the host prints:"
  echo "$want"
  exit 1
fi
if ! grep -q '^heap allocated during inference 0 bytes$' <<<"$got"; then
  echo "MISMATCH: the inference allocated on the heap"
  exit 1
fi
echo "firmware output equals the host's, bit for bit; the inference allocated nothing"
