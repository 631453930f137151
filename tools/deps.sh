#!/bin/sh
# tools/deps.sh - install the Debian packages ruxue needs, only what is missing.
#
# Usage: tools/deps.sh [build|run|test|bench|fuzz]   (default: test, which is a superset of run)
# As root it runs apt-get; otherwise it prints the exact sudo line and fails.
set -eu

# libqrencode-dev: the admission notice's QR code (src/io/rx_notice.c)
# liboath-dev: the staff's TOTP second factor (src/server/rx_auth.c)
BUILD_PKGS="gcc pkg-config meson ninja-build libsodium-dev libcmocka-dev libmicrohttpd-dev libjansson-dev libsqlite3-dev libqrencode-dev liboath-dev"
# the pages' Leaflet and Chart.js come from Debian (served under /vendor/)
# oathtool: the staff's current TOTP code from the command line (the demo prints the command)
RUN_PKGS="libjs-leaflet libjs-chart.js oathtool"
# browser tests: npm ci installs playwright-core, which drives Debian's chromium
# fonts-noto-cjk: Chinese glyphs in the browser tests' screenshots (docs/screenshots/)
TEST_PKGS="$RUN_PKGS python3 nodejs npm chromium fonts-noto-cjk"
BENCH_PKGS="time wrk"
# make fuzz: clang and its libFuzzer + sanitizer runtimes (libclang-rt-14-dev)
FUZZ_PKGS="clang libclang-rt-14-dev"

case "${1:-test}" in
build) want="$BUILD_PKGS" ;;
run) want="$BUILD_PKGS $RUN_PKGS" ;;
test) want="$BUILD_PKGS $TEST_PKGS" ;;
bench) want="$BUILD_PKGS $BENCH_PKGS" ;;
fuzz) want="$BUILD_PKGS $FUZZ_PKGS" ;;
*) echo "usage: tools/deps.sh [build|run|test|bench|fuzz]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
    # npm: any npm will do (NodeSource's nodejs carries its own and conflicts with Debian's)
    if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then
        continue
    fi
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "ruxue: missing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "ruxue: run this, then try again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
