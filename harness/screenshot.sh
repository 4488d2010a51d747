#!/usr/bin/env bash
# Renders a torn report.html in headless Chromium and saves a PNG, to check
# that the page and its plots display in a real browser:
#
#   harness/screenshot.sh reports/<run>/report.html [out.png]
#
# Installs Debian's chromium if it is missing (needs root for that).
set -euo pipefail
page=$(realpath "$1")
out=${2:-${page%.html}.png}
if ! command -v chromium >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "screenshot: chromium is not installed (apt-get install chromium)" >&2; exit 1; }
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1400,4000 --screenshot="$out" "file://$page" 2>/dev/null
echo "$out"
