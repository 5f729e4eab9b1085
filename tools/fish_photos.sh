#!/usr/bin/env bash
# Reproduces web/images/lionfish.png and web/images/lobster.png: two cut-out
# photographs from Tux Paint's stamp collection (Debian package
# tuxpaint-stamps-default 2022.06.04-1, GPL-2+, copyright Bill Kendrick and
# the Tux Paint contributors), taken unchanged from the package. Needs
# apt-get (a Debian mirror) and dpkg-deb; writes into web/images/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download tuxpaint-stamps-default=2022.06.04-1 >/dev/null
dpkg-deb -x tuxpaint-stamps-default_*.deb x
src=x/usr/share/tuxpaint/stamps/animals/fish
sha256sum -c - <<SUMS
7630d60c1edfebb245d3025b2e8063ec11c2a21b4fc2950ea9acaf560335ad64  $src/lionfish.png
10ad59dd97ee13038aa49b590a887c46a8aaff47c0a2e9d019b7c5bc1947bc78  $src/lobster.png
SUMS
cp "$src/lionfish.png" "$src/lobster.png" "$root/web/images/"
echo "web/images/lionfish.png and web/images/lobster.png written"
