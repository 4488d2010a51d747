#!/usr/bin/env bash
# The criterion benchmarks (write cost per strategy, read cost per format) on
# every filesystem harness/fs.sh can prepare, as root:
#
#   harness/bench.sh [criterion options...]
#
# Unmounts everything on exit. Without root it benchmarks the temp dir only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
if [ "$(id -u)" -ne 0 ]; then
  echo "harness: not root, so benchmarking the system temp dir only" >&2
  exec cargo bench --bench write --bench read -- "$@"
fi
export TORN_HARNESS_DIR=${TORN_HARNESS_DIR:-/tmp/torn-harness-$$}
trap '"$here/fs.sh" down' EXIT
trap 'exit 130' INT TERM
dirs=$("$here/fs.sh" up tmpfs ext4 xfs btrfs overlayfs fuse | cut -d= -f2 | paste -sd:)
TORN_BENCH_DIRS=$dirs cargo bench --bench write --bench read -- "$@"
