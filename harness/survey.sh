#!/usr/bin/env bash
# A survey of real tools that write config and credentials files: each one,
# wrapped in torn's line protocol (harness/survey/), judged by `torn gate`
# with the same settings on ext4 (the default temp dir) and on tmpfs
# (harness/fs.sh up tmpfs, as root). The result is a table:
# reports/reference/survey/README.md and survey.json, with every run's
# report.json, report.md and evidence under runs/.
#
#   harness/survey.sh [TOOL...]          all tools, or only these
#
# Per tool and filesystem, three gates (budget TORN_SURVEY_BUDGET, default
# 10s; 100 write windows): one writer with killed-writer trials (torn and
# empty reads, the mode of the 0600 file, litter after the run and after a
# kill), two writers (stale reads and lost updates), and a symlinked target.
#
# Installs what it needs from the package registries (pip, npm, apt,
# crates.io) unless TORN_SURVEY_INSTALL=0; a tool that cannot be had is
# listed as skipped with the reason. TORN_BIN runs another torn binary
# (default: a release build of this checkout); TORN_SURVEY_FS="ext4" skips
# tmpfs; TORN_SURVEY_RUNS="single" runs only the single-writer gate (the
# one the recipe column comes from); TORN_SURVEY_OUT writes the table
# elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${TORN_SURVEY_OUT:-reports/reference/survey}
WORK=${TORN_SURVEY_DIR:-/tmp/torn-survey}
FILESYSTEMS=${TORN_SURVEY_FS:-ext4 tmpfs}
BUDGET=${TORN_SURVEY_BUDGET:-10s}
WINDOWS=${TORN_SURVEY_WINDOWS:-100}
KILLS=${TORN_SURVEY_KILLS:-10}
RUNS=${TORN_SURVEY_RUNS:-single two-writers symlink}
INSTALL=${TORN_SURVEY_INSTALL:-1}
NODE_DIR=$WORK/node
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)

log() { echo "survey: $*" >&2; }

# name|language|format|extra gate flags|writer command|version command
TOOLS=(
  "python-dotenv|Python|dotenv||python3 $ROOT/harness/survey/py_tools.py dotenv {path}|pyver python-dotenv"
  "configobj|Python|ini|--template $ROOT/harness/survey/templates/configobj.ini --client-key DEFAULT.token --target .databrickscfg|python3 $ROOT/harness/survey/py_tools.py configobj {path}|pyver configobj"
  "tomlkit|Python|toml||python3 $ROOT/harness/survey/py_tools.py tomlkit {path}|pyver tomlkit"
  "ruamel.yaml|Python|yaml||python3 $ROOT/harness/survey/py_tools.py ruamel-yaml {path}|pyver ruamel.yaml"
  "configparser|Python|ini||python3 $ROOT/harness/survey/py_tools.py configparser {path}|python3 -c 'import sys; print(sys.version.split()[0])'"
  "write-file-atomic|Node|json||node $ROOT/harness/survey/node_tools.mjs write-file-atomic {path}|npmver write-file-atomic"
  "conf|Node|json||node $ROOT/harness/survey/node_tools.mjs conf {path}|npmver conf"
  "configstore|Node|json||node $ROOT/harness/survey/node_tools.mjs configstore {path}|npmver configstore"
  "jsonfile|Node|json||node $ROOT/harness/survey/node_tools.mjs jsonfile {path}|npmver jsonfile"
  "fs-extra|Node|json||node $ROOT/harness/survey/node_tools.mjs fs-extra {path}|npmver fs-extra"
  "atomicwrites|Rust|dotenv||$ROOT/target/release/examples/survey_atomicwrites {path}|crate atomicwrites"
  "tempfile-persist|Rust|dotenv||$ROOT/target/release/examples/survey_tempfile_persist {path}|crate tempfile"
  "confy|Rust|toml||$ROOT/target/release/examples/survey_confy {path}|crate confy"
  "sed-i|shell|dotenv||bash $ROOT/harness/survey/shell_tools.sh sed-i {path}|sed --version | head -1"
  "cat-redirect|shell|dotenv||bash $ROOT/harness/survey/shell_tools.sh cat {path}|bash --version | head -1"
  "cp|shell|dotenv||bash $ROOT/harness/survey/shell_tools.sh cp {path}|cp --version | head -1"
  "sponge|shell|dotenv||bash $ROOT/harness/survey/shell_tools.sh sponge {path}|debver moreutils"
  "jq-mv|shell|json||bash $ROOT/harness/survey/shell_tools.sh jq-mv {path}|jq --version"
  "git-config|C (Debian)|ini|--template $ROOT/harness/survey/templates/gitconfig.ini --client-key DEFAULT.token --target .databrickscfg|bash $ROOT/harness/survey/shell_tools.sh git-config {path}|git --version"
  "crudini|Python CLI (Debian)|ini||bash $ROOT/harness/survey/shell_tools.sh crudini {path}|debver crudini"
  "gh|Go (Debian)|yaml|--template $ROOT/harness/survey/templates/gh-hosts.yml --client-key localhost.oauth_token --target .config/gh/hosts.yml|bash $ROOT/harness/survey/shell_tools.sh gh {path}|debver gh"
)

pyver() { python3 -c "import importlib.metadata as m; print(m.version('$1'))"; }
npmver() { node -p "require('$NODE_DIR/node_modules/$1/package.json').version"; }
debver() { dpkg-query -W -f='${Version}\n' "$1"; }
crate() { awk -v n="$1" '$0 == "name = \"" n "\"" { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"; }

install() {
  log "installing the tools"
  if command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq crudini moreutils gh jq git >/dev/null 2>&1 \
      || log "apt-get could not install every Debian tool; those missing are skipped"
  fi
  python3 -m pip install --quiet python-dotenv configobj tomlkit ruamel.yaml pyyaml 2>/dev/null \
    || log "pip could not install every Python library; those missing are skipped"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && { [ -e package.json ] || npm init -y >/dev/null; } \
    && npm install --silent --no-audit --no-fund write-file-atomic conf configstore jsonfile fs-extra >/dev/null 2>&1) \
    || log "npm could not install every library; those missing are skipped"
}

if [ "$INSTALL" = 1 ]; then
  install
fi
if [ -z "${TORN_BIN:-}" ] || [ "$INSTALL" = 1 ]; then
  cargo build --release --quiet --bin torn --example survey_atomicwrites \
    --example survey_tempfile_persist --example survey_confy
fi
TORN=${TORN_BIN:-$ROOT/target/release/torn}
export TORN_SURVEY_NODE_MODULES=$NODE_DIR/node_modules

# Where each filesystem's scratch directories go.
declare -A DIRS=()
for fs in $FILESYSTEMS; do
  case $fs in
    ext4) DIRS[$fs]="" ;;
    tmpfs)
      line=$(TORN_HARNESS_DIR=$WORK/harness bash harness/fs.sh up tmpfs | grep '^tmpfs=' || true)
      if [ -n "$line" ]; then
        DIRS[$fs]=${line#tmpfs=}/torn-survey
      else
        log "skipping tmpfs: harness/fs.sh could not mount it (root needed)"
      fi
      ;;
    *) log "unknown filesystem $fs (ext4 or tmpfs)"; exit 64 ;;
  esac
done
cleanup() {
  if [ -n "${DIRS[tmpfs]+x}" ]; then
    TORN_HARNESS_DIR=$WORK/harness bash harness/fs.sh down >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

wanted() {
  [ $# -eq 0 ] && return 0
  local t
  for t in "${SELECTED[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}
SELECTED=("$@")

# A survey of some tools keeps the other tools' runs.
mkdir -p "$OUT/runs"
if [ ${#SELECTED[@]} -eq 0 ]; then
  rm -rf "$OUT/runs"
  mkdir -p "$OUT/runs"
fi
touch "$OUT/runs/tools.tsv"
for entry in "${TOOLS[@]}"; do
  IFS='|' read -r name lang format flags cmd version <<< "$entry"
  if [ ${#SELECTED[@]} -gt 0 ] && ! wanted "$name"; then
    continue
  fi
  rm -rf "${OUT:?}/runs/$name"
  awk -F'\t' -v n="$name" '$1 != n' "$OUT/runs/tools.tsv" > "$OUT/runs/tools.tsv.new"
  mv "$OUT/runs/tools.tsv.new" "$OUT/runs/tools.tsv"
  if ! ver=$(eval "$version" 2>/dev/null) || [ -z "$ver" ]; then
    log "skipping $name: not installed"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$lang" "$format" "—" "skipped: not installed" >> "$OUT/runs/tools.tsv"
    continue
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$lang" "$format" "$ver" "$cmd" >> "$OUT/runs/tools.tsv"
  for fs in "${!DIRS[@]}"; do
    for run in $RUNS; do
      case $run in
        single) extra=(--kill-trials "$KILLS") ;;
        two-writers) extra=(--writers 2) ;;
        symlink) extra=(--target-symlink) ;;
      esac
      dest=$OUT/runs/$name/$fs-$run
      rm -rf "$dest" "$WORK/reports"
      mkdir -p "$dest"
      dir_flag=()
      [ -n "${DIRS[$fs]}" ] && dir_flag=(--dir "${DIRS[$fs]}")
      log "$name on $fs: $run"
      # shellcheck disable=SC2086 # $flags holds several words
      code=0
      "$TORN" gate --format "$format" $flags --writer-stdio "$cmd" --budget "$BUDGET" \
        --min-windows "$WINDOWS" --control 300ms --write-timeout 10s --quiet --json \
        --reports-dir "$WORK/reports" "${dir_flag[@]}" "${extra[@]}" \
        > "$dest/report.json" 2> "$dest/stderr.txt" || code=$?
      echo "$code" > "$dest/exit-code"
      if made=$(ls -d "$WORK/reports"/*/ 2>/dev/null | head -1) && [ -n "$made" ]; then
        cp "$made/report.md" "$dest/" 2>/dev/null || true
        [ -d "$made/evidence" ] && cp -r "$made/evidence" "$dest/"
        # Keep the subject's evidence; the warm-up outputs only where the
        # shape could not be learned (the learned template says the rest).
        rm -rf "$dest"/evidence/00-control*
        [ "$code" = 3 ] || rm -f "$dest"/evidence/*/warm-up-*.bin
      fi
      [ -s "$dest/stderr.txt" ] || rm -f "$dest/stderr.txt"
    done
  done
done
python3 harness/survey/tabulate.py "$OUT"
log "table: $OUT/README.md (and survey.json)"
