#!/usr/bin/env bash
# The steps of torn's GitHub Action (action.yml at the repository root),
# kept here so a test can run them the way the runner does: the inputs come
# as INPUT_* environment variables.
#
#   run.sh build   build torn from the action's checkout (cargo, release);
#                  TORN_BIN, if set, is used instead
#   run.sh run     run `torn gate` or `torn matrix` with the inputs; write
#                  exit-code, status and report-dir to $GITHUB_OUTPUT; exit
#                  with torn's exit code
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

torn_bin() {
  if [[ -n "${TORN_BIN:-}" ]]; then
    echo "$TORN_BIN"
  else
    echo "$target_dir/release/torn"
  fi
}

build() {
  if [[ -n "${TORN_BIN:-}" ]]; then
    [[ -x "$TORN_BIN" ]] || { echo "torn action: TORN_BIN=$TORN_BIN is not an executable file" >&2; exit 1; }
    echo "torn action: using TORN_BIN=$TORN_BIN" >&2
    return
  fi
  command -v cargo >/dev/null || { echo "torn action: cargo is needed to build torn (add a Rust toolchain step before this action)" >&2; exit 1; }
  cargo build --release --locked --manifest-path "$root/Cargo.toml" --bin torn
  "$(torn_bin)" --version >&2 || true
}

# Appends `--flag value` to argv when the input is set.
add() {
  local flag="$1" value="${2:-}"
  if [[ -n "$value" ]]; then argv+=("$flag" "$value"); fi
}

status_name() {
  case "$1" in
    0) echo pass ;; 1) echo anomalies-found ;; 2) echo inconclusive ;;
    3) echo subject-error ;; 64) echo usage-error ;; 74) echo io-error ;;
    130) echo interrupted ;; *) echo "exit-$1" ;;
  esac
}

output() {
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi
}

run() {
  local torn command reports
  torn="$(torn_bin)"
  [[ -x "$torn" ]] || { echo "torn action: no torn binary at $torn (run the build step first, or set TORN_BIN)" >&2; exit 1; }
  command="${INPUT_COMMAND:-gate}"
  reports="${INPUT_REPORTS_DIR:-torn-reports}"
  mkdir -p "$reports"
  argv=("$command")
  case "$command" in
    gate)
      if [[ -z "${INPUT_WRITER_STDIO:-}${INPUT_WRITER_CMD:-}" && "${INPUT_ARGS:-}" != *--strategy* ]]; then
        echo "torn action: command gate needs the input writer-stdio or writer-cmd (or --strategy in args)" >&2
        exit 64
      fi
      add --format "${INPUT_FORMAT:-}"
      add --template "${INPUT_TEMPLATE:-}"
      add --target "${INPUT_TARGET:-}"
      add --writer-stdio "${INPUT_WRITER_STDIO:-}"
      add --writer-cmd "${INPUT_WRITER_CMD:-}"
      add --min-windows "${INPUT_MIN_WINDOWS:-}"
      add --budget "${INPUT_BUDGET:-}"
      add --kill-trials "${INPUT_KILL_TRIALS:-}"
      ;;
    matrix)
      argv+=("${INPUT_SCENARIO:-hermes}")
      add --duration "${INPUT_DURATION:-}"
      local fs
      if [[ -n "${INPUT_FILESYSTEMS:-}" ]]; then
        while IFS= read -r fs; do
          fs="${fs#"${fs%%[![:space:]]*}"}"
          [[ -n "$fs" ]] && argv+=(--fs "$fs")
        done <<<"$INPUT_FILESYSTEMS"
      else
        local disk="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/torn-disk"
        mkdir -p "$disk"
        argv+=(--fs "disk=$disk")
        if [[ -d /dev/shm && -w /dev/shm ]]; then argv+=(--fs "tmpfs=/dev/shm"); fi
      fi
      ;;
    *)
      echo "torn action: command must be gate or matrix, not '$command'" >&2
      exit 64
      ;;
  esac
  if [[ -n "${INPUT_ARGS:-}" ]]; then
    local extra
    # Split into words with shell quoting ('…', "…"), running nothing.
    mapfile -t extra < <(printf '%s' "$INPUT_ARGS" | xargs -n1 printf '%s\n')
    argv+=("${extra[@]}")
  fi
  argv+=(--reports-dir "$reports")
  echo "torn action: $torn ${argv[*]}" >&2
  local code=0
  "$torn" "${argv[@]}" || code=$?
  local dir
  dir="$(ls -1dt "$reports"/*/ 2>/dev/null | head -1)"
  dir="${dir%/}"
  output exit-code "$code"
  output status "$(status_name "$code")"
  output report-dir "$dir"
  if [[ "$command" == matrix && -n "$dir" && -f "$dir/matrix.md" && -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    cat "$dir/matrix.md" >>"$GITHUB_STEP_SUMMARY"
  fi
  echo "torn action: $(status_name "$code") (exit $code); report: ${dir:-none}" >&2
  exit "$code"
}

case "${1:-}" in
  build) build ;;
  run) run ;;
  *) echo "usage: $0 build|run" >&2; exit 64 ;;
esac
