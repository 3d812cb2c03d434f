#!/usr/bin/env bash
# Restores keelson backups from R2, independently of keelson (only restic, bash and coreutils needed).
#
#   restore.sh --list
#   restore.sh [--snapshot ID|latest] [--volume NAME | --path PATH] --target DIR
#   restore.sh [--snapshot ID|latest] [--volume NAME | --path PATH] --into-filer
#
#   --list            the snapshots (id, time, tags: type:daily|weekly|monthly, run:<date>)
#   --snapshot        the snapshot to restore, default latest
#   --volume NAME     only one volume (a top-level directory of the filer)
#   --path PATH       only one file or directory, relative to the filer's root (e.g. mongo/dump/x.gz)
#   --target DIR      restore into DIR: DIR/<volume>/... as on the filer (DIR must be empty or absent)
#   --into-filer      restore back into SeaweedFS: mounts the filer read-write with `weed mount`
#                     (SEAWEEDFS_FILER=host:port, WEED) and writes the files over what is there
#
# Environment: RESTIC_REPOSITORY, RESTIC_PASSWORD (or RESTIC_PASSWORD_FILE), AWS_ACCESS_KEY_ID,
# AWS_SECRET_ACCESS_KEY (an R2 token that can read the bucket), optionally BACKUP_SOURCE (the path the
# backups were taken from, default /mnt/seaweedfs), BACKUP_HOST (default keelson-backup), BACKUP_CACERT.
set -euo pipefail

usage() { sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "restore: $*" >&2; exit 1; }

snapshot=latest volume="" path="" target="" into_filer=false list=false
while [ "$#" -gt 0 ]; do
  case "$1" in
    --list) list=true ;;
    --snapshot) snapshot="${2:?--snapshot needs an id}"; shift ;;
    --volume) volume="${2:?--volume needs a name}"; shift ;;
    --path) path="${2:?--path needs a path}"; shift ;;
    --target) target="${2:?--target needs a directory}"; shift ;;
    --into-filer) into_filer=true ;;
    -h | --help) usage ;;
    *) echo "restore: unknown argument $1" >&2; usage ;;
  esac
  shift
done

for var in RESTIC_REPOSITORY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
  [ -n "${!var:-}" ] || die "$var is not set (see the restore section of functions/backup/README.md)"
done
[ -n "${RESTIC_PASSWORD:-}${RESTIC_PASSWORD_FILE:-}" ] || die "RESTIC_PASSWORD (or RESTIC_PASSWORD_FILE) is not set"
source_dir="${BACKUP_SOURCE:-/mnt/seaweedfs}"
source_dir="${source_dir%/}"
restic_args=()
[ -n "${BACKUP_CACERT:-}" ] && restic_args+=(--cacert "$BACKUP_CACERT")

if $list; then
  exec restic "${restic_args[@]}" snapshots --host "${BACKUP_HOST:-keelson-backup}"
fi

[ -n "$volume" ] && [ -n "$path" ] && die "give --volume or --path, not both"
case "$volume" in */*) die "--volume is one top-level directory of the filer, got '$volume' (use --path)" ;; esac
case "/$path/" in */../*) die "--path must not contain '..'" ;; esac
if $into_filer; then
  [ -z "$target" ] || die "give --target or --into-filer, not both"
else
  [ -n "$target" ] || die "give --target DIR or --into-filer"
fi

# What to restore, as a path inside the snapshot.
include=""
[ -n "$volume" ] && include="$source_dir/$volume"
[ -n "$path" ] && include="$source_dir/${path#/}"

if $into_filer; then
  [ -n "${SEAWEEDFS_FILER:-}" ] || die "--into-filer needs SEAWEEDFS_FILER (host:port)"
  target="$(mktemp -d "${TMPDIR:-/tmp}/keelson-restore-filer.XXXXXX")"
  "${WEED:-weed}" mount -filer="$SEAWEEDFS_FILER" -filer.path="${SEAWEEDFS_FILER_PATH:-/}" -dir="$target" \
    >"$target.log" 2>&1 </dev/null &
  for ((i = 0; i < 60; i++)); do mountpoint -q "$target" && break; sleep 1; done
  mountpoint -q "$target" || die "cannot mount the filer $SEAWEEDFS_FILER read-write at $target"
  echo "restore: the filer is mounted read-write at $target (unmount with: fusermount -u $target)" >&2
else
  mkdir -p "$target"
  [ -z "$(ls -A "$target")" ] || die "$target is not empty: restore into an empty directory, then copy what you need"
fi

# restic restores under the original absolute path below --target: restore into a staging directory
# next to the target, then move the files up so that the target looks like the filer.
staging="$(mktemp -d "${TMPDIR:-/tmp}/keelson-restore.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
restore_args=(restore "$snapshot" --host "${BACKUP_HOST:-keelson-backup}" --target "$staging")
[ -n "$include" ] && restore_args+=(--include "$include")
restic "${restic_args[@]}" "${restore_args[@]}" >&2
[ -z "$include" ] || [ -e "$staging$include" ] || die "snapshot $snapshot has no ${include#"$source_dir"/}"
[ -d "$staging$source_dir" ] || die "snapshot $snapshot holds nothing under $source_dir (is BACKUP_SOURCE right?)"
cp -a "$staging$source_dir/." "$target/"
echo "restore: restored ${include:-everything} from snapshot $snapshot into $target" >&2
