#!/usr/bin/env bash
# Runs an npm script after making sure everything is installed (see scripts/setup.sh):
#   scripts/dev.sh demo     start the local demo
#   scripts/dev.sh test     run the tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$(bash "$root/scripts/setup.sh")"
export PATH="$node_bin:$PATH"
cd "$root"
script="${1:-test}"
shift || true
exec npm run --silent "$script" -- "$@"
