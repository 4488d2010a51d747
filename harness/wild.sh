#!/usr/bin/env bash
# The Hermes bug in the wild: real tools rotating a credential while their
# own clients read it. For each pair, `torn repro NAME` runs the real writer
# (once per write, as `writer_cmd`) against the real client's own loader (as
# `reader_stdio`), with a truncating `printf >` writer of the same file as the
# positive control, and counts the client's calls in its own terms. Writes
# reports/reference/in-the-wild/: NAME/report.json and NAME/report.md per
# pair, versions.txt, and README.md (the table: tool versions, the client's
# failures per second of rotation, the fix each tool needs).
#
#   harness/wild.sh [NAME...]        all pairs, or only these
#
# Installs what it needs the way harness/survey.sh does, into a work
# directory (TORN_WILD_DIR, default /tmp/torn-wild): pip (the newest) and
# poetry into a virtual environment from PyPI; git from Debian where apt-get
# is there; npm and kubectl are used from PATH (npm comes with Node.js; no
# registry this machine reaches carries kubectl), cargo from the Rust
# toolchain (under rustup, RUSTUP_HOME is kept: HOME is torn's scratch HOME
# in the runs). TORN_WILD_INSTALL=0 skips
# installing. A pair whose tool cannot be had is listed as skipped with
# torn's reason (torn exits 77). TORN_WILD_DURATION (default 30s) is the
# time per case (the tool, then the control); kubectl-credentials, whose
# client is one kubectl process per call (a few calls a second), gets
# TORN_WILD_SLOW_DURATION (default 120s). TORN_BIN runs another torn
# (default: a release build of this checkout); TORN_WILD_OUT writes elsewhere.
#
# Each run's HOME is an empty stand-in directory: torn points the tools at
# its scratch HOME, and the stand-in must still be empty afterwards (a pair
# whose tools wrote into it gets NAME/home-writes.txt and a warning).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${TORN_WILD_OUT:-reports/reference/in-the-wild}
WORK=${TORN_WILD_DIR:-/tmp/torn-wild}
DURATION=${TORN_WILD_DURATION:-30s}
SLOW_DURATION=${TORN_WILD_SLOW_DURATION:-120s}
INSTALL=${TORN_WILD_INSTALL:-1}
PAIRS=(npm-token pip-index-url poetry-http-basic kubectl-credentials cargo-credentials git-credential-store)
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)
log() { echo "wild: $*" >&2; }

install() {
  log "installing the tools into $WORK"
  if ! command -v git >/dev/null && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null) \
      || log "apt-get could not install git; git-credential-store is skipped"
  fi
  if [ ! -x "$WORK/venv/bin/python3" ]; then
    python3 -m venv "$WORK/venv" || log "python3 -m venv failed; pip and poetry pairs are skipped"
  fi
  if [ -x "$WORK/venv/bin/pip" ]; then
    "$WORK/venv/bin/pip" install --quiet --upgrade pip poetry \
      || log "pip could not install pip/poetry; the pairs that need them are skipped"
  fi
  command -v npm >/dev/null || log "npm is not on PATH (it comes with Node.js); npm-token is skipped"
  command -v kubectl >/dev/null || log "kubectl is not on PATH (no reachable registry carries it); kubectl-credentials is skipped"
  command -v cargo >/dev/null || log "cargo is not on PATH (install Rust with rustup); cargo-credentials is skipped"
}

if [ "$INSTALL" = 1 ]; then
  install
fi
# The virtual environment's pip, poetry and python3 come first.
export PATH="$WORK/venv/bin:$PATH"
if [ -d "$HOME/.rustup" ]; then
  export RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
fi
if [ -z "${TORN_BIN:-}" ]; then
  cargo build --release --quiet --bin torn
fi
TORN=${TORN_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/torn}

version() {
  case $1 in
    npm-token) echo "npm $(npm --version 2>/dev/null), node $(node --version 2>/dev/null)" ;;
    pip-index-url) pip --version 2>/dev/null | awk '{print "pip " $2 " (python " $NF}' | tr -d ')' | sed 's/$/)/' ;;
    poetry-http-basic) poetry --version 2>/dev/null | sed 's/Poetry (version \(.*\))/poetry \1/' ;;
    kubectl-credentials) kubectl version --client 2>/dev/null | awk '/Client Version/ {print "kubectl " $3}' ;;
    cargo-credentials) cargo --version 2>/dev/null | awk '{print "cargo " $2}' ;;
    git-credential-store) git --version 2>/dev/null ;;
  esac
}

wanted() {
  [ ${#SELECTED[@]} -eq 0 ] && return 0
  local p
  for p in "${SELECTED[@]}"; do [ "$p" = "$1" ] && return 0; done
  return 1
}
SELECTED=("$@")

: > "$WORK/versions.new"
# Rerunning some pairs keeps the others' lines.
if [ -f "$OUT/versions.txt" ] && [ ${#SELECTED[@]} -gt 0 ]; then
  awk -F'\t' 'NR == FNR { rerun[$0] = 1; next } !($1 in rerun)' \
    <(printf '%s\n' "${SELECTED[@]}") "$OUT/versions.txt" > "$WORK/versions.new"
fi
for pair in "${PAIRS[@]}"; do
  wanted "$pair" || continue
  dest=$OUT/$pair
  rm -rf "$dest" "$WORK/reports"
  mkdir -p "$dest"
  duration=$DURATION
  [ "$pair" = kubectl-credentials ] && duration=$SLOW_DURATION
  log "$pair ($duration per case)"
  code=0
  standin=$WORK/home-standin
  rm -rf "$standin" && mkdir -p "$standin"
  HOME=$standin "$TORN" repro "$pair" --duration "$duration" --reports-dir "$WORK/reports" \
    2> "$WORK/$pair.stderr" || code=$?
  if [ -n "$(ls -A "$standin")" ]; then
    (cd "$standin" && find . | sort) > "$dest/home-writes.txt"
    log "WARNING: $pair wrote into HOME (not the scratch HOME): $dest/home-writes.txt"
  fi
  echo "$code" > "$dest/exit-code"
  if [ "$code" = 77 ]; then
    grep '^torn: skipped' "$WORK/$pair.stderr" > "$dest/skipped.txt" || cp "$WORK/$pair.stderr" "$dest/skipped.txt"
    log "$pair skipped: $(cat "$dest/skipped.txt")"
    printf '%s\t%s\n' "$pair" "not installed" >> "$WORK/versions.new"
    continue
  fi
  made=$(ls -d "$WORK/reports"/*/ | head -1)
  cp "$made/report.json" "$made/report.md" "$dest/"
  # The evidence report.md links to: the first anomalous reads of each kind
  # and the learned templates (not the warm-up outputs; a few KB in all).
  if [ -d "$made/evidence" ]; then
    cp -r "$made/evidence" "$dest/"
    rm -f "$dest"/evidence/*/warm-up-*.bin
  fi
  # The terminal's account (table, the client's lines, the verdict).
  sed -n '/^strategy /,$p' "$WORK/$pair.stderr" > "$dest/terminal.txt"
  printf '%s\t%s\n' "$pair" "$(version "$pair")" >> "$WORK/versions.new"
done
sort "$WORK/versions.new" > "$OUT/versions.txt"
python3 harness/wild/tabulate.py "$OUT"
log "table: $OUT/README.md"
