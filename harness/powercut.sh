#!/usr/bin/env bash
# Checks torn's crash models against real power cuts of a real kernel.
#
#   harness/powercut.sh [--trials N] [--fs LIST] [--patterns LIST] [--seed S]
#                       [--jobs J] [--max-cut-ms MS] [--out DIR] [--keep]
#
# Each trial boots user-mode Linux (Debian's `user-mode-linux`: Linux 6.1 as
# a process, the host's root as its root through hostfs) with one fresh
# file-system image per pattern, each holding version 0 of the target
# (d/config.yaml, mode 0600) durably: it was made with mkfs, before the
# boot. In the guest, `torn __powercut write` rewrites each target with its
# pattern as fast as it can (or with a seeded pause between writes),
# appending every acknowledged version to a log on the host's tmpfs and
# fdatasync'ing it before the next write. Once every writer has started,
# the host waits a seeded random time (0..MAX-CUT-MS) and kills the whole
# UML process group with SIGKILL: a power cut of that kernel (its page cache
# and uncommitted journal are lost; an image keeps what reached its block
# device). Then each image is repaired and read as it would be after the
# power came back — ext4: `e2fsck -fy` (journal replay), then `debugfs
# rdump` of d/ (no mount); xfs, btrfs: a loop mount (log replay), umount,
# the file system's own check, a read-only loop mount — and
# `torn __powercut observe` judges the target and its litter with torn's
# classifier against the last version acknowledged before the cut.
# Finally `torn __powercut allowed` asks each crash model which outcomes it
# allows for each pattern and `torn __powercut compare` writes the soundness
# and tightness table.
#
# File systems (--fs, comma-separated): ext4-ordered (ext4 defaults),
# ext4-writeback (data=writeback), xfs, btrfs (xfs and btrfs need root for
# the loop mount). Patterns (--patterns): truncate-write, temp-rename,
# temp-fsync-rename, temp-fsync-rename-fsync-dir.
#
# Output in --out (default reports/<UTC time>-powercut): observations.jsonl
# (one line per pattern per trial), allowed.json, table.md, comparison.json,
# run.txt (command, kernel, tool versions), failures.txt when a trial could
# not be run. Exit 0 when every observation is allowed by every model that
# claims that file system, 1 when one is not, 2 on errors, 77 when
# user-mode-linux is not installed (skipped).
#
# Every UML process group and every image, mount and loop device it made is
# removed on exit, also on Ctrl-C or SIGTERM. Work files live in a directory
# under /dev/shm (tmpfs: fast, and visible to the guest through hostfs; the
# guest's /dev is left unmounted) or $TORN_POWERCUT_WORK_PARENT.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TRIALS=20
FS_LIST=ext4-ordered
PATTERNS=truncate-write,temp-rename,temp-fsync-rename,temp-fsync-rename-fsync-dir
SEED=1
JOBS=1
MAX_CUT_MS=3000
OUT=
KEEP=0
MEM=64M

usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case $1 in
    --trials) TRIALS=$2; shift 2 ;;
    --fs) FS_LIST=$2; shift 2 ;;
    --patterns) PATTERNS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --jobs) JOBS=$2; shift 2 ;;
    --max-cut-ms) MAX_CUT_MS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "powercut: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done

die() { echo "powercut: error: $*" >&2; exit 2; }

UML=$(command -v linux.uml || true)
if [ -z "$UML" ]; then
  echo "powercut: skipping: user-mode-linux is not installed (apt-get install user-mode-linux gives linux.uml)" >&2
  exit 77
fi
[ -d "${TORN_POWERCUT_WORK_PARENT:-/dev/shm}" ] && [ -w "${TORN_POWERCUT_WORK_PARENT:-/dev/shm}" ] ||
  die "${TORN_POWERCUT_WORK_PARENT:-/dev/shm} is not a writable directory (the guest reaches its work files there)"

IFS=, read -r -a FSES <<< "$FS_LIST"
IFS=, read -r -a PATS <<< "$PATTERNS"
for fs in "${FSES[@]}"; do
  case $fs in
    ext4-ordered|ext4-writeback)
      command -v mkfs.ext4 >/dev/null && command -v e2fsck >/dev/null && command -v debugfs >/dev/null ||
        die "$fs needs e2fsprogs (mkfs.ext4, e2fsck, debugfs)" ;;
    xfs)
      command -v mkfs.xfs >/dev/null && command -v xfs_repair >/dev/null || die "xfs needs xfsprogs"
      [ "$(id -u)" -eq 0 ] || die "xfs is read back through a loop mount: run as root" ;;
    btrfs)
      command -v mkfs.btrfs >/dev/null || die "btrfs needs btrfs-progs"
      [ "$(id -u)" -eq 0 ] || die "btrfs is read back through a loop mount: run as root" ;;
    *) die "unknown file system $fs (ext4-ordered, ext4-writeback, xfs, btrfs)" ;;
  esac
done
[ "${#PATS[@]}" -ge 1 ] && [ "${#PATS[@]}" -le 8 ] || die "between 1 and 8 patterns per boot"
[[ $TRIALS =~ ^[0-9]+$ ]] && [ "$TRIALS" -ge 1 ] || die "--trials must be a positive number"

# The helper: $TORN_POWERCUT_BIN, else built from this checkout.
BIN=${TORN_POWERCUT_BIN:-}
if [ -z "$BIN" ]; then
  echo "powercut: building torn" >&2
  (cd "$ROOT" && cargo build --quiet --release --bin torn) || die "cargo build failed"
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/torn
fi
[ -x "$BIN" ] || die "no helper binary at $BIN"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
case $BIN in /dev/*) die "the helper must not live under /dev (the guest sees its own /dev there)" ;; esac

WORK=$(mktemp -d "${TORN_POWERCUT_WORK_PARENT:-/dev/shm}/torn-powercut.XXXXXX")
[ -n "$OUT" ] || OUT=$ROOT/reports/$(date -u +%Y%m%dT%H%M%SZ)-powercut
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
: > "$WORK/pgids"
: > "$WORK/mounts"

cleanup() {
  local pg m
  # Power off every guest still running: its whole process group.
  while read -r pg; do
    [ -n "$pg" ] && kill -9 -- "-$pg" 2>/dev/null || true
  done < "$WORK/pgids"
  # Unmount what the host mounted (loop devices are detached with them).
  if [ -s "$WORK/mounts" ]; then
    while read -r m; do
      mountpoint -q "$m" 2>/dev/null && umount "$m" 2>/dev/null || true
    done < "$WORK/mounts"
  fi
  # Trials still running in the background.
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  wait 2>/dev/null || true
  while read -r pg; do
    [ -n "$pg" ] && kill -9 -- "-$pg" 2>/dev/null || true
  done < "$WORK/pgids"
  if [ "$KEEP" = 1 ]; then
    echo "powercut: kept the work directory $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'echo "powercut: interrupted" >&2; exit 130' INT TERM HUP

# Pristine images, one per file system, holding d/config.yaml = version 0.
"$BIN" __powercut seed --root "$WORK/tree" --seed "$SEED" >/dev/null
pristine() {
  local fs=$1 img="$WORK/pristine-$1.img"
  case $fs in
    ext4-ordered|ext4-writeback)
      truncate -s 32M "$img"
      mkfs.ext4 -q -F -b 4096 -I 256 -d "$WORK/tree" "$img" ;;
    xfs)
      truncate -s 320M "$img"
      mkfs.xfs -q -f "$img"
      local m="$WORK/seed-mnt"
      mkdir -p "$m"; echo "$m" >> "$WORK/mounts"
      mount -o loop "$img" "$m"
      cp -a "$WORK/tree/d" "$m/d"
      umount "$m" ;;
    btrfs)
      truncate -s 128M "$img"
      mkfs.btrfs -q -f --rootdir "$WORK/tree" "$img" >/dev/null ;;
  esac
}
for fs in "${FSES[@]}"; do pristine "$fs"; done

# A copy of an image gets its own file-system UUID: xfs and btrfs refuse
# (or confuse) two mounted file systems with one UUID, in the guest and on
# the host alike.
fresh_uuid() {
  case $1 in
    xfs) xfs_admin -U generate "$2" >/dev/null ;;
    btrfs) btrfstune -f -u "$2" >/dev/null 2>&1 <<< y || die "btrfstune -u failed on $2" ;;
  esac
}

guest_mount() {
  case $1 in
    ext4-ordered) echo "ext4 data=ordered" ;;
    ext4-writeback) echo "ext4 data=writeback" ;;
    xfs) echo "xfs defaults" ;;
    btrfs) echo "btrfs defaults" ;;
  esac
}

# Reads image $1 (file system $2) back into directory $3 as the machine
# would after the power came back; prints the check's exit code.
recover() {
  local img=$1 fs=$2 out=$3 rc=0 m
  case $fs in
    ext4-*)
      e2fsck -fy "$img" > "$out.fsck" 2>&1 || rc=$?
      mkdir -p "$out"
      debugfs -R "rdump /$D $out" "$img" > "$out.debugfs" 2>&1 || true ;;
    xfs|btrfs)
      m="$out.mnt"; mkdir -p "$m" "$out"; echo "$m" >> "$WORK/mounts"
      if mount -o loop -t "$fs" "$img" "$m" 2> "$out.mount"; then
        umount "$m"
        if [ "$fs" = xfs ]; then
          xfs_repair -n "$img" > "$out.fsck" 2>&1 || rc=$?
        else
          btrfs check --readonly "$img" > "$out.fsck" 2>&1 || rc=$?
        fi
        mount -o ro,loop -t "$fs" "$img" "$m"
        if [ -d "$m/$D" ]; then cp -a "$m/$D" "$out/$D"; fi
        umount "$m"
      else
        rc=99
      fi ;;
  esac
  echo "$rc"
}
D=d

# One trial: boot, write, cut, recover, judge. Appends its observations to
# $WORK/obs/NNNNNN.jsonl, or a line to $WORK/failures.
trial() {
  local n=$1 fs=$2
  local t="$WORK/t$n"
  mkdir -p "$t/gdev"
  RANDOM=$(( (SEED * 1000003 + n) % 32768 ))
  local cut_ms=$(( (RANDOM * 32768 + RANDOM) % (MAX_CUT_MS + 1) ))
  local pauses=(0 0 1000 10000)
  local args=() i letters=bcdefghi
  local fstype opts
  read -r fstype opts <<< "$(guest_mount "$fs")"
  {
    echo '#!/bin/sh'
    echo 'PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH'
    echo "mount -t devtmpfs none '$t/gdev' || echo 'devtmpfs mount failed' > '$t/guest.err'"
  } > "$t/init.sh"
  for i in "${!PATS[@]}"; do
    local p=${PATS[$i]} dev=ubd${letters:$i:1} pause=${pauses[$(( RANDOM % 4 ))]}
    echo "$pause" > "$t/pause$i"
    cp --sparse=always "$WORK/pristine-$fs.img" "$t/img$i"
    fresh_uuid "$fs" "$t/img$i"
    args+=("ubd$((i + 1))=$t/img$i")
    mkdir -p "$t/m$i"
    cat >> "$t/init.sh" <<EOF
( if mount -t $fstype -o $opts '$t/gdev/$dev' '$t/m$i' 2>> '$t/err$i'; then
    '$BIN' __powercut write --pattern $p --target '$t/m$i/$D/config.yaml' --acks '$t/acks$i' --seed $SEED --pause-us $pause 2>> '$t/err$i'
    echo "writer exited with \$?" >> '$t/err$i'
  else
    echo "mount failed" >> '$t/err$i'
  fi ) &
EOF
  done
  # A watchdog: a guest outlives its cut only if this script was killed
  # outright (SIGKILL cannot be trapped); it then powers itself off.
  echo "'$BIN' __powercut poweroff --after-secs $(( MAX_CUT_MS / 1000 + 120 )); sleep 3600" >> "$t/init.sh"
  chmod +x "$t/init.sh"

  setsid "$UML" mem=$MEM root=/dev/root rootfstype=hostfs rootflags=/ rw devtmpfs.mount=0 \
    "${args[@]}" init="$t/init.sh" con=null ssl=null con0=null,fd:1 \
    < /dev/null > "$t/console.log" 2>&1 &
  local pid=$!
  # setsid makes the guest the leader of a process group of its own, whose
  # id is its pid; until it has, a group kill would hit this script's own.
  local pg= w=0
  while [ $w -lt 500 ]; do
    pg=$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
    [ "$pg" = "$pid" ] && break
    [ -z "$pg" ] && break
    sleep 0.01; w=$((w + 1))
  done
  if [ "$pg" != "$pid" ]; then
    kill -9 "$pid" 2>/dev/null || true
    echo "trial $n ($fs): the guest did not become a process group leader (pgid '${pg:-gone}')" >> "$WORK/failures"
    [ "$KEEP" = 1 ] || rm -rf "$t"
    return
  fi
  echo "$pg" >> "$WORK/pgids"
  # Wait until every writer has started (or one has failed).
  local started=0 waited=0 failed=
  while [ "$started" -lt "${#PATS[@]}" ] && [ -z "$failed" ] && [ "$waited" -lt 6000 ]; do
    started=0
    for i in "${!PATS[@]}"; do
      if [ -s "$t/err$i" ]; then failed="slot $i: $(head -c 300 "$t/err$i")"; fi
      if [ -s "$t/acks$i" ] && [ "$(head -n1 "$t/acks$i")" = start ]; then started=$((started + 1)); fi
    done
    [ -s "$t/guest.err" ] && failed=$(cat "$t/guest.err")
    kill -0 "$pid" 2>/dev/null || failed=${failed:-"the guest kernel exited before its writers started"}
    sleep 0.01; waited=$((waited + 1))
  done
  if [ -z "$failed" ] && [ "$started" -lt "${#PATS[@]}" ]; then failed="writers not started after 60 s"; fi
  if [ -z "$failed" ]; then
    sleep "$(printf '%d.%03d' $((cut_ms / 1000)) $((cut_ms % 1000)))"
    for i in "${!PATS[@]}"; do
      [ -s "$t/err$i" ] && failed="slot $i: $(head -c 300 "$t/err$i")"
    done
    kill -0 "$pid" 2>/dev/null || failed=${failed:-"the guest kernel exited before the cut"}
  fi
  # The power cut.
  kill -9 -- "-$pg" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local k=0
  while kill -0 -- "-$pg" 2>/dev/null && [ $k -lt 500 ]; do sleep 0.01; k=$((k + 1)); done
  if kill -0 -- "-$pg" 2>/dev/null; then
    echo "trial $n ($fs): UML process group $pg survived SIGKILL for 5 s" >> "$WORK/failures"
    return
  fi
  if [ -n "$failed" ]; then
    echo "trial $n ($fs): $failed (console: $(tail -c 400 "$t/console.log" | tr '\n' ' '))" >> "$WORK/failures"
    [ "$KEEP" = 1 ] || rm -rf "$t"
    return
  fi
  for i in "${!PATS[@]}"; do
    local rc
    rc=$(recover "$t/img$i" "$fs" "$t/r$i")
    "$BIN" __powercut observe --dir "$t/r$i/$D" --acks "$t/acks$i" --seed "$SEED" --pattern "${PATS[$i]}" \
      --fs "$fs" --trial "$n" --note "cut_ms=$cut_ms" --note "pause_us=$(cat "$t/pause$i")" \
      --note "fsck_rc=$rc" >> "$t/obs.jsonl"
  done
  mv "$t/obs.jsonl" "$WORK/obs-$(printf %06d "$n").jsonl"
  [ "$KEEP" = 1 ] || rm -rf "$t"
}

START=$(date +%s)
echo "powercut: $TRIALS trial(s) × fs ${FS_LIST} × patterns ${PATTERNS}; seed $SEED, cut at 0..${MAX_CUT_MS} ms, $JOBS at a time; work dir $WORK" >&2
n=0
for fs in "${FSES[@]}"; do
  for ((k = 0; k < TRIALS; k++)); do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    trial "$n" "$fs" &
    n=$((n + 1))
    if (( n % 20 == 0 )); then echo "powercut: $n trials started ($(( $(date +%s) - START )) s)" >&2; fi
  done
done
wait

cat "$WORK"/obs-*.jsonl > "$OUT/observations.jsonl" 2>/dev/null || : > "$OUT/observations.jsonl"
FAILED=0
if [ -s "$WORK/failures" ]; then
  cp "$WORK/failures" "$OUT/failures.txt"
  FAILED=$(wc -l < "$WORK/failures")
  echo "powercut: $FAILED trial(s) could not be run; see $OUT/failures.txt" >&2
fi
mkdir -p "$WORK/allowed"
"$BIN" __powercut allowed --seed "$SEED" --scratch "$WORK/allowed" > "$OUT/allowed.json"
rc=0
"$BIN" __powercut compare --observations "$OUT/observations.jsonl" --allowed "$OUT/allowed.json" \
  --json-out "$OUT/comparison.json" > "$OUT/table.md" || rc=$?
ELAPSED=$(( $(date +%s) - START ))
{
  echo "command: harness/powercut.sh --trials $TRIALS --fs $FS_LIST --patterns $PATTERNS --seed $SEED --jobs $JOBS --max-cut-ms $MAX_CUT_MS"
  echo "trials: $n boots, $(wc -l < "$OUT/observations.jsonl") observations, $FAILED failed, ${ELAPSED} s"
  echo "guest kernel: $("$UML" --version 2>/dev/null | head -n1) (Debian user-mode-linux $(dpkg-query -W -f '${Version}' user-mode-linux 2>/dev/null || echo '?')), mem=$MEM"
  echo "host kernel: $(uname -sr)"
  echo "e2fsprogs: $(dpkg-query -W -f '${Version}' e2fsprogs 2>/dev/null || echo '?')"
  for fs in "${FSES[@]}"; do
    case $fs in
      xfs) echo "xfsprogs: $(dpkg-query -W -f '${Version}' xfsprogs 2>/dev/null || echo '?')" ;;
      btrfs) echo "btrfs-progs: $(dpkg-query -W -f '${Version}' btrfs-progs 2>/dev/null || echo '?')" ;;
    esac
  done
  echo "torn: $(cd "$ROOT" && git describe --always --dirty 2>/dev/null || echo '?')"
} > "$OUT/run.txt"
cat "$OUT/table.md"
echo "powercut: results in $OUT ($ELAPSED s)" >&2
if [ "$rc" -ne 0 ]; then exit "$rc"; fi
[ "$FAILED" -eq 0 ] || exit 2
