#!/usr/bin/env bash
# keelson's backup run, executed once by cloud-init on a fresh backup server (see ../README.md).
#
#   backup.sh [ENV_FILE]
#
# 1. mounts SeaweedFS's filer read-only (mount-filer.sh; BACKUP_MOUNT=none skips it),
# 2. `restic backup` of the mounted volumes to R2 (restic's S3 backend), tagged with the type and run,
# 3. `restic forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --prune` (only after a good backup,
#    and by count of snapshots, so days of failed backups never delete the last good one),
# 4. weekly (and monthly) `restic check --read-data-subset`,
# 5. reports the outcome to the backup function's `POST /report` with the one-time run token.
# Exits 0 when the run succeeded, 1 when it failed (the report says why).
#
# Environment (the user data writes it to ENV_FILE, mode 0600):
#   RESTIC_REPOSITORY        s3:https://<account>.r2.cloudflarestorage.com/<bucket>/<path>
#   RESTIC_PASSWORD          the repository password
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   an R2 API token scoped to the backup bucket
#   BACKUP_RUN_ID            e.g. 2026-03-01 (the run's Firestore document)
#   BACKUP_RUN_TOKEN         one-time token for POST /report (the function stores only its hash)
#   BACKUP_REPORT_URL        https://<function url>/report
#   BACKUP_TYPE              daily | weekly | monthly (a restic tag; weekly and monthly also check)
# Optional:
#   BACKUP_SOURCE            what is backed up, default /mnt/seaweedfs (the filer mount point)
#   BACKUP_MOUNT             filer (default) | none (BACKUP_SOURCE is already there)
#   SEAWEEDFS_FILER          host:port of the filer, for mount-filer.sh
#   BACKUP_HOST              restic's host name for the snapshots, default keelson-backup. Every run
#                            is a new server: a fixed name keeps all runs in one retention group.
#   BACKUP_CHECK             auto (default: weekly and monthly) | always | never
#   BACKUP_CHECK_SUBSET      restic --read-data-subset, default 10%
#   BACKUP_TIME              restic backup --time (tests drive a simulated clock with it)
#   BACKUP_CACERT            restic --cacert (a private CA for the S3 endpoint)
#   BACKUP_REPORT_ATTEMPTS   how often the report is tried, default 10
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -ge 1 ]; then
  set -a
  # shellcheck disable=SC1090
  . "$1"
  set +a
fi

log() { printf 'keelson-backup: %s\n' "$*" >&2; }

missing=()
for var in RESTIC_REPOSITORY RESTIC_PASSWORD AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BACKUP_RUN_ID \
  BACKUP_RUN_TOKEN BACKUP_REPORT_URL BACKUP_TYPE; do
  [ -n "${!var:-}" ] || missing+=("$var")
done
if [ "${#missing[@]}" -gt 0 ]; then
  # Without the report URL and token nobody can be told: the function's watchdog will notice.
  log "cannot run: missing environment ${missing[*]} (the user data writes them to the env file)"
  exit 2
fi
case "$BACKUP_TYPE" in daily | weekly | monthly) ;; *)
  log "cannot run: BACKUP_TYPE is '$BACKUP_TYPE', expected daily, weekly or monthly"
  exit 2
  ;;
esac

source_dir="${BACKUP_SOURCE:-/mnt/seaweedfs}"
restic_host="${BACKUP_HOST:-keelson-backup}"
check_mode="${BACKUP_CHECK:-auto}"
check_subset="${BACKUP_CHECK_SUBSET:-10%}"
restic_args=()
[ -n "${BACKUP_CACERT:-}" ] && restic_args+=(--cacert "$BACKUP_CACERT")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)

snapshot_id="" files=0 bytes_added=0 bytes_processed=0 kept=0 removed=0 check_result=skipped

# The last lines of a command's error output, for the report (restic never prints its keys).
tail_of() { tail -c 1500 "$1" 2>/dev/null | tr -d '\000'; }

report() { # status stage error
  local status="$1" stage="$2" error="$3" body
  body="$(jq -n \
    --arg runId "$BACKUP_RUN_ID" --arg status "$status" --arg stage "$stage" --arg error "$error" \
    --arg type "$BACKUP_TYPE" --arg snapshotId "$snapshot_id" --arg check "$check_result" \
    --argjson files "$files" --argjson bytesAdded "$bytes_added" --argjson bytesProcessed "$bytes_processed" \
    --argjson kept "$kept" --argjson removed "$removed" --argjson durationSeconds "$(($(date +%s) - started))" \
    '{runId: $runId, status: $status, type: $type, durationSeconds: $durationSeconds, check: $check}
     + (if $snapshotId == "" then {} else {snapshotId: $snapshotId, files: $files, bytesAdded: $bytesAdded,
         bytesProcessed: $bytesProcessed} end)
     + (if $status == "succeeded" or $stage == "check" then {retention: {kept: $kept, removed: $removed}} else {} end)
     + (if $status == "failed" then {stage: $stage, error: $error} else {} end)')"
  local attempts="${BACKUP_REPORT_ATTEMPTS:-10}" i
  for ((i = 1; i <= attempts; i++)); do
    # The token goes in a header read from a file, so it never shows in the process list.
    printf 'Authorization: Bearer %s\n' "$BACKUP_RUN_TOKEN" >"$work/auth"
    code="$(curl -sS -o "$work/answer" -w '%{http_code}' -X POST -H @"$work/auth" \
      -H 'Content-Type: application/json' --data-binary "$body" --max-time 30 "$BACKUP_REPORT_URL")" || code=000
    rm -f "$work/auth"
    case "$code" in
      2??)
        log "reported $status"
        return 0
        ;;
      429 | 5?? | 000) ;; # the function or the network may recover: try again
      *)
        # Refused for good (a spent token, a run the watchdog already ended): asking again changes nothing.
        log "the backup function refused the report ($code): $(head -c 300 "$work/answer" 2>/dev/null)"
        return 1
        ;;
    esac
    [ "$i" -lt "$attempts" ] && sleep "$((i < 6 ? i * 2 : 10))"
  done
  log "cannot report $status to the backup function after $attempts attempts; its watchdog will mark the run failed"
  return 1
}

fail() { # stage error
  log "failed at $1: $2"
  report failed "$1" "$2"
  exit 1
}

# 1. The filer, read-only.
if [ "${BACKUP_MOUNT:-filer}" = filer ]; then
  if ! "$here/mount-filer.sh" "$source_dir" 2>"$work/mount.err"; then
    fail mount "$(tail_of "$work/mount.err")"
  fi
  cat "$work/mount.err" >&2
elif [ "${BACKUP_MOUNT}" != none ]; then
  fail mount "BACKUP_MOUNT is '${BACKUP_MOUNT}', expected filer or none"
fi
[ -d "$source_dir" ] || fail mount "$source_dir is not a directory"

# 2. The repository: opened, or created on the very first run (only when R2 answers that it is absent).
if ! restic "${restic_args[@]}" cat config >/dev/null 2>"$work/open.err"; then
  if grep -q 'The specified key does not exist' "$work/open.err"; then
    log "no repository at the location yet: initialising it"
    restic "${restic_args[@]}" init >/dev/null 2>"$work/init.err" || fail init "$(tail_of "$work/init.err")"
  else
    fail open "$(tail_of "$work/open.err")"
  fi
fi

# 3. The backup.
backup_args=(backup --json --host "$restic_host" --tag keelson-backup --tag "type:$BACKUP_TYPE"
  --tag "run:$BACKUP_RUN_ID")
[ -n "${BACKUP_TIME:-}" ] && backup_args+=(--time "$BACKUP_TIME")
log "backing up $source_dir ($BACKUP_TYPE, run $BACKUP_RUN_ID)"
if ! restic "${restic_args[@]}" "${backup_args[@]}" "$source_dir" >"$work/backup.json" 2>"$work/backup.err"; then
  fail backup "$(tail_of "$work/backup.err")"
fi
summary="$(jq -c 'select(.message_type == "summary")' "$work/backup.json" | tail -n 1)"
[ -n "$summary" ] || fail backup "restic printed no summary"
snapshot_id="$(jq -r '.snapshot_id' <<<"$summary")"
files="$(jq -r '.total_files_processed' <<<"$summary")"
bytes_added="$(jq -r '.data_added' <<<"$summary")"
bytes_processed="$(jq -r '.total_bytes_processed' <<<"$summary")"
log "snapshot $snapshot_id: $files files, $bytes_added bytes added"

# 4. Retention by count of snapshots, in the group of this host and path.
if ! restic "${restic_args[@]}" forget --json --host "$restic_host" --keep-daily 7 --keep-weekly 4 \
  --keep-monthly 12 --prune >"$work/forget.json" 2>"$work/forget.err"; then
  fail forget "$(tail_of "$work/forget.err")"
fi
# With --prune, restic 0.14 prints the prune's progress after forget's JSON line on stdout: only line 1 is JSON.
head -n 1 "$work/forget.json" >"$work/forget.first"
kept="$(jq '[.[].keep | length] | add // 0' "$work/forget.first" 2>/dev/null)" || kept=0
removed="$(jq '[.[].remove // [] | length] | add // 0' "$work/forget.first" 2>/dev/null)" || removed=0
[[ "$kept" =~ ^[0-9]+$ ]] || kept=0
[[ "$removed" =~ ^[0-9]+$ ]] || removed=0
log "retention: $kept snapshots kept, $removed removed"

# 5. A sample of the data read back, weekly.
if [ "$check_mode" = always ] || { [ "$check_mode" = auto ] && [ "$BACKUP_TYPE" != daily ]; }; then
  if restic "${restic_args[@]}" check --read-data-subset="$check_subset" >"$work/check.out" 2>&1; then
    check_result=passed
  else
    check_result=failed
    fail check "$(tail_of "$work/check.out")"
  fi
fi

report succeeded "" "" || exit 1
exit 0
