#!/usr/bin/env bash
# Prepares and tears down real filesystems for torn runs, as root.
#
#   harness/fs.sh up   [NAME...]   mount each filesystem (default: all) and print
#                                  one NAME=DIR line per ready filesystem on stdout
#   harness/fs.sh down             unmount and delete everything this script made
#   harness/fs.sh list             the names it knows
#
# NAMEs: tmpfs, tmpfs-small (a 2 MiB tmpfs, for full-disk runs), ext4, xfs,
# btrfs (loop-mounted image files), overlayfs (lower + upper, as containers
# use it), fuse (a bindfs passthrough). Unavailable ones are skipped with a
# reason on stderr, never failed.
#
# Everything lives under $TORN_HARNESS_DIR (default /tmp/torn-harness): image
# files, mount points, state. Nothing outside it is touched. `up` is
# idempotent (a mounted filesystem is reused); `down` undoes every mount and
# loop device it recorded, even after a crash, and removes the directory.
set -euo pipefail

WORK=${TORN_HARNESS_DIR:-/tmp/torn-harness}
ALL=(tmpfs tmpfs-small ext4 xfs btrfs overlayfs fuse)
IMAGE_MB=${TORN_IMAGE_MB:-300}

skip() { echo "harness: skipping $1: $2" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "harness: skipping all filesystems: mounting needs root (run as root, or use torn --dir on a filesystem you already have)" >&2
    exit 0
  fi
}

# Installs a Debian package when its command is missing. Returns 1 if it
# cannot be had.
ensure() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1; then
    if [ ! -e "$WORK/.apt-updated" ]; then
      apt-get update -qq >/dev/null 2>&1 || true
      touch "$WORK/.apt-updated"
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1 || true
  fi
  command -v "$cmd" >/dev/null 2>&1
}

mounted() { mountpoint -q "$1" 2>/dev/null; }

# Records an undo step; `down` replays them in reverse.
record() { echo "$*" >> "$WORK/undo"; }

up_one() {
  local name=$1 mnt="$WORK/mnt/$1"
  mkdir -p "$mnt"
  if mounted "$mnt"; then
    echo "$name=$mnt"
    return 0
  fi
  case $name in
    tmpfs)
      mount -t tmpfs -o size=512m,mode=0755 torn-tmpfs "$mnt" || { skip "$name" "mount -t tmpfs failed"; return 0; }
      record "umount $mnt" ;;
    tmpfs-small)
      mount -t tmpfs -o size=2m,mode=0755 torn-tmpfs-small "$mnt" || { skip "$name" "mount -t tmpfs failed"; return 0; }
      record "umount $mnt" ;;
    ext4|xfs|btrfs)
      local mkfs="mkfs.$name" pkg
      case $name in ext4) pkg=e2fsprogs ;; xfs) pkg=xfsprogs ;; btrfs) pkg=btrfs-progs ;; esac
      ensure "$mkfs" "$pkg" || { skip "$name" "$mkfs not available ($pkg)"; return 0; }
      grep -qw "$name" /proc/filesystems || modprobe "$name" 2>/dev/null || true
      grep -qw "$name" /proc/filesystems || { skip "$name" "the kernel has no $name"; return 0; }
      local img="$WORK/img/$name.img"
      mkdir -p "$WORK/img"
      truncate -s "${IMAGE_MB}M" "$img"
      case $name in
        ext4) mkfs.ext4 -q -F "$img" ;;
        xfs) mkfs.xfs -q -f "$img" ;;
        btrfs) mkfs.btrfs -q -f "$img" >/dev/null ;;
      esac || { skip "$name" "$mkfs failed"; return 0; }
      mount -o loop "$img" "$mnt" || { skip "$name" "loop mount failed (no loop devices here?)"; return 0; }
      record "umount $mnt" ;;
    overlayfs)
      grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
      grep -qw overlay /proc/filesystems || { skip "$name" "the kernel has no overlay"; return 0; }
      local base="$WORK/overlay"
      mkdir -p "$base/lower" "$base/upper" "$base/work"
      mount -t overlay torn-overlay -o "lowerdir=$base/lower,upperdir=$base/upper,workdir=$base/work" "$mnt" \
        || { skip "$name" "mount -t overlay failed"; return 0; }
      record "umount $mnt" ;;
    fuse)
      ensure bindfs bindfs || { skip "$name" "bindfs not available"; return 0; }
      [ -e /dev/fuse ] || { skip "$name" "no /dev/fuse"; return 0; }
      mkdir -p "$WORK/fuse-src"
      bindfs "$WORK/fuse-src" "$mnt" || { skip "$name" "bindfs failed"; return 0; }
      record "fusermount -u $mnt" ;;
    *)
      skip "$name" "unknown filesystem (known: ${ALL[*]})"; return 0 ;;
  esac
  echo "$name=$mnt"
}

down() {
  [ -d "$WORK" ] || return 0
  if [ -f "$WORK/undo" ]; then
    tac "$WORK/undo" | while read -r cmd mnt; do
      if mounted "$mnt"; then
        $cmd "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
      fi
    done
  fi
  # Anything still mounted under WORK (a crash before `record`): unmount it.
  { grep -F " $WORK/" /proc/self/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  # Loop devices still backed by our images.
  for img in "$WORK"/img/*.img; do
    [ -e "$img" ] || continue
    { losetup -j "$img" 2>/dev/null || true; } | cut -d: -f1 | while read -r dev; do losetup -d "$dev" 2>/dev/null || true; done
  done
  if grep -qF " $WORK/" /proc/self/mounts; then
    echo "harness: could not unmount everything under $WORK; leaving it" >&2
    return 1
  fi
  rm -rf "$WORK"
}

case ${1:-} in
  up)
    shift
    need_root
    mkdir -p "$WORK/mnt"
    names=("$@")
    [ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
    for n in "${names[@]}"; do up_one "$n"; done ;;
  down)
    [ "$(id -u)" -eq 0 ] || exit 0
    down ;;
  list)
    printf '%s\n' "${ALL[@]}" ;;
  *)
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
    exit 64 ;;
esac
