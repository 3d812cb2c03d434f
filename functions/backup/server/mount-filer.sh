#!/usr/bin/env bash
# Mounts SeaweedFS's filer read-only at MOUNT_POINT with `weed mount` (FUSE), waits until the mount is
# there, and proves it is read-only: a backup must never be able to change what it backs up.
#
#   mount-filer.sh MOUNT_POINT
#
#   SEAWEEDFS_FILER        host:port of the filer on the private network, e.g. 10.0.1.2:8888 (required)
#   SEAWEEDFS_FILER_PATH   the filer directory holding the volumes, default /
#   SEAWEEDFS_MOUNT_WAIT   how many one-second polls to wait for the mount, default 60
#   WEED                   the weed binary, default weed (the backup snapshot has it in /usr/local/bin)
# Exit 0 when mounted read-only; otherwise 1 with the reason on stderr.
set -euo pipefail

mount_point="${1:?usage: mount-filer.sh MOUNT_POINT}"
filer="${SEAWEEDFS_FILER:-}"
[ -n "$filer" ] || { echo "cannot mount the filer: SEAWEEDFS_FILER (host:port) is not set" >&2; exit 1; }
weed="${WEED:-weed}"
waits="${SEAWEEDFS_MOUNT_WAIT:-60}"

mkdir -p "$mount_point"
if ! mountpoint -q "$mount_point"; then
  # weed mount stays in the foreground serving FUSE requests: run it detached, its output in a log.
  log="/var/log/keelson-weed-mount.log"
  touch "$log" 2>/dev/null || log="$(mktemp)"
  "$weed" mount -filer="$filer" -filer.path="${SEAWEEDFS_FILER_PATH:-/}" -dir="$mount_point" -readOnly \
    >"$log" 2>&1 </dev/null &
  weed_pid=$!
  for ((i = 0; i < waits; i++)); do
    mountpoint -q "$mount_point" && break
    if ! kill -0 "$weed_pid" 2>/dev/null; then
      mountpoint -q "$mount_point" && break
      echo "cannot mount the filer $filer: weed mount exited: $(tail -c 500 "$log")" >&2
      exit 1
    fi
    sleep 1
  done
  if ! mountpoint -q "$mount_point"; then
    kill "$weed_pid" 2>/dev/null || true
    echo "cannot mount the filer $filer: not mounted after ${waits} s" >&2
    exit 1
  fi
fi

probe="$mount_point/.keelson-backup-write-probe-$$"
if (: >"$probe") 2>/dev/null; then
  rm -f "$probe"
  echo "cannot use $mount_point: it is writable, and a backup must mount the filer read-only" >&2
  exit 1
fi
echo "mounted the filer $filer read-only at $mount_point" >&2
