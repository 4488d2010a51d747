#!/usr/bin/env bash
# Time to the first anomalous read, with and without delay injection
# (--perturb), for in-place (one writer) and rename-fixed-tmp (two writers)
# on each filesystem given as NAME=DIR (harness/fs.sh up prints them).
#
#   harness/perturb.sh ext4=/tmp/x tmpfs=/mnt/t ...   (release build)
set -euo pipefail
cd "$(dirname "$0")/.."
specs=("$@")
repo=$(pwd -P)
# Each spec must be NAME=DIR with DIR an existing directory outside this
# repository: a bare word would make a scratch directory in the checkout.
for spec in "${specs[@]}"; do
  dir=${spec#*=}
  if [ "$spec" = "$dir" ] || [ ! -d "$dir" ]; then
    echo "perturb.sh: '$spec' is not NAME=DIR with an existing directory" >&2
    exit 64
  fi
  case "$(cd "$dir" && pwd -P)/" in
    "$repo"/*) echo "perturb.sh: $dir is inside the repository; give a directory on the filesystem to test" >&2; exit 64 ;;
  esac
done
torn=target/release/torn
[ -x "$torn" ] || cargo build --release --quiet
work=$(mktemp -d)
scratches=()
# Every scratch directory is removed however the script ends (torn's own
# exit code, a failed pipeline under set -e, Ctrl-C).
cleanup() { rm -rf "$work" "${scratches[@]}"; }
trap cleanup EXIT
for hold in none 200us; do
  for case in "in-place 1" "rename-fixed-tmp 2"; do
    set -- $case
    {
      echo "name: perturb-$1-$hold"
      echo "format: yaml"
      echo "duration: 3s"
      echo "writers: $2"
      [ "$hold" = none ] || echo "perturb: $hold"
      echo "strategies:"
      echo "  - strategy: $1"
      echo "    expect: anomalies"
    } > "$work/$1-$hold.yaml"
  done
done
printf '%-8s %-18s %-8s %8s %22s %s\n' fs strategy perturb writes "first anomalous read" kinds
for spec in "${specs[@]}"; do
  name=${spec%%=*} dir=${spec#*=}
  for hold in none 200us; do
    for s in in-place rename-fixed-tmp; do
      scratch=$(mktemp -d "$dir/torn-perturb-XXXXXX")
      scratches+=("$scratch")
      { "$torn" run "$work/$s-$hold.yaml" --no-report --json --dir "$scratch" 2>/dev/null || true; } |
        python3 -c '
import json, sys
r = json.load(sys.stdin); c = r["cases"][0]; fa = c["first_anomaly"]
kinds = ", ".join("%s %d" % (o["outcome"], o["estimate"]["count"]) for o in c["outcomes"] if o["outcome"] != "ok" and o["estimate"]["count"])
first = ("%.2f ms" % fa["at_ms"]) if fa else "none in 3 s"
print(f"%-8s %-18s %-8s %8d %22s %s" % (sys.argv[1], c["label"], sys.argv[2], c["writes"]["committed"], first, kinds or "-"))
' "$name" "$hold"
      rm -rf "$scratch"
    done
  done
done
