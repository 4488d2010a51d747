#!/usr/bin/env bash
# The full filesystem matrix in one command, as root:
#
#   harness/matrix.sh [SCENARIO] [torn matrix options...]
#
# Mounts every filesystem harness/fs.sh knows (tmpfs, tmpfs-small, ext4, xfs,
# btrfs, overlayfs, FUSE), runs `torn matrix` on them (default scenario:
# hermes), writes reports/<timestamp>-matrix-<scenario>/ (matrix.json,
# matrix.md, report.html), and unmounts everything on exit — also on error or
# Ctrl-C. Without root it prints why it skips and exits 0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "harness: skipping the matrix: mounting filesystems needs root. Without root, run" >&2
  echo "  torn matrix hermes --fs NAME=DIR ... on directories you already have." >&2
  exit 0
fi

scenario=${1:-hermes}
[ $# -gt 0 ] && shift

export TORN_HARNESS_DIR=${TORN_HARNESS_DIR:-/tmp/torn-harness-$$}
trap '"$here/fs.sh" down' EXIT
trap 'exit 130' INT TERM

# tmpfs-small is for full-disk runs; a matrix wants room to write.
mapfile -t fs < <("$here/fs.sh" up tmpfs ext4 xfs btrfs overlayfs fuse)
[ ${#fs[@]} -gt 0 ] || { echo "harness: no filesystem could be prepared" >&2; exit 1; }
args=()
for f in "${fs[@]}"; do args+=(--fs "$f"); done

torn=${TORN:-}
if [ -z "$torn" ]; then
  cargo build --release --quiet --manifest-path "$root/Cargo.toml"
  torn="$root/target/release/torn"
fi
cd "$root"
"$torn" matrix "$scenario" "${args[@]}" "$@"
