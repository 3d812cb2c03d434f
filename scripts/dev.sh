#!/usr/bin/env bash
# Runs keelson or an npm script after making sure everything is installed (see scripts/setup.sh):
#   scripts/dev.sh demo     start the local demo
#   scripts/dev.sh test     run the tests
# The command replaces this shell (exec), and keelson's own commands run as node directly, not
# under npm: `kill <pid>` (what a supervisor or `timeout` sends) reaches the process that
# started everything, and it stops everything it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$(bash "$root/scripts/setup.sh")"
export PATH="$node_bin:$PATH"
cd "$root"
script="${1:-test}"
shift || true
case "$script" in
  demo) exec node "$root/bin/keelson.js" demo "$@" ;;
  keelson) exec node "$root/bin/keelson.js" "$@" ;;
  *) exec npm run --silent "$script" -- "$@" ;;
esac
