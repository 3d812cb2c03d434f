#!/usr/bin/env bash
# Builds keelson's image without pulling anything: a root filesystem assembled from this machine's
# Node 24 binary (scripts/ensure-node.sh), git (with its helpers), ssh, gpg and tini from Debian
# packages, the shared libraries they need (found with ldd), the CA bundle, keelson's sources
# (no tests, no simulators) and its production node_modules (`npm ci --omit=dev` in a staging
# directory, minus the packages only tests and simulators use), then `docker import`.
# The registry build (the Dockerfile) makes the same image from node:24-bookworm-slim.
#
#   scripts/build-image.sh [TAG]          default tag keelson:local; DOCKER_HOST picks the engine
#
# The image runs as keelson (uid 1000), owner of /var/lib/keelson (the state volume: a fresh named
# volume mounted there takes that ownership), with KEELSON_STATE_PATH=/var/lib/keelson/state.json.
# tini is PID 1 when the machine has it; otherwise Node is, and keelson handles SIGTERM itself.
# HEALTHCHECK: /healthz on KEELSON_HTTP_PORT, as in the Dockerfile (charts/keelson declares it too).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-keelson:local}"
node_bin="$(bash "$root/scripts/ensure-node.sh")"
export PATH="$node_bin:$PATH"

stage="$(mktemp -d "${TMPDIR:-/tmp}/keelson-image.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
rootfs="$stage/rootfs"
app="$rootfs/opt/keelson"
mkdir -p "$rootfs"/{bin,etc,tmp,usr/local/bin,var/lib/keelson,home/keelson,run/secrets} "$app"
chmod 1777 "$rootfs/tmp"

# --- programs -------------------------------------------------------------------------------
cp -L "$node_bin/node" "$rootfs/usr/local/bin/node"
copy_path() { # copy a file or directory keeping its path (symbolic links inside kept as links)
  local p="$1"
  [ -e "$p" ] || return 0
  mkdir -p "$rootfs$(dirname "$p")"
  cp -a "$p" "$rootfs$(dirname "$p")/"
}
for p in /usr/bin/git /usr/lib/git-core /usr/share/git-core /usr/bin/ssh /usr/bin/gpg /usr/bin/gpgv \
  /usr/bin/gpgconf /usr/bin/gpg-agent /usr/bin/tini /etc/ssl/certs/ca-certificates.crt; do
  copy_path "$p"
done
# git's shell helpers (and `git` hooks) need /bin/sh: busybox-static when present, else dash.
if [ -x /bin/busybox ]; then
  cp /bin/busybox "$rootfs/bin/busybox"
  ln -s busybox "$rootfs/bin/sh"
else
  cp -L /bin/sh "$rootfs/bin/sh"
fi

# --- shared libraries (ldd of every ELF file in the tree) -------------------------------------
while IFS= read -r -d '' f; do
  head -c 4 "$f" 2>/dev/null | grep -q 'ELF' || continue
  ldd "$f" 2>/dev/null | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}' || true
done < <(find "$rootfs" -type f -perm -u+x -print0) | sort -u | while read -r lib; do
  [ -e "$rootfs$lib" ] && continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# --- users ------------------------------------------------------------------------------------
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
keelson:x:1000:1000:keelson:/home/keelson:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
keelson:x:1000:
nogroup:x:65534:
EOF
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"

# --- keelson ----------------------------------------------------------------------------------
cd "$root"
cp package.json package-lock.json "$app/"
# Sources, without tests, simulators, test kits and benchmarks.
tar -cf - --exclude='*.test.ts' --exclude='providers/*/simulator' --exclude='providers/*/testdata' \
  --exclude='providers/*/testing.ts' --exclude='providers/*/test-support.ts' \
  --exclude='providers/sdk/contract-kit.ts' --exclude='workers/shared/run-worker.ts' \
  --exclude='node_modules' bin reconciler providers charts workers | tar -xf - -C "$app"
# Production dependencies; miniflare (workerd), mongodb, Qdrant's and OpenID clients serve only the
# simulators, the Workers' tests, the services and the Secrets UI, none of which is in the image.
(
  cd "$app"
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  npm uninstall --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
    miniflare mongodb @qdrant/js-client-rest openid-client >&2
  # esbuild's platform binary comes from its optional dependency; the install script is not needed.
  rm -rf "$app/node_modules/.cache"
)
for forbidden in miniflare workerd vitest; do
  if [ -e "$app/node_modules/$forbidden" ]; then
    echo "build-image: $forbidden is in the image's node_modules; remove what depends on it" >&2
    exit 1
  fi
done
if find "$app/providers" -type d -name simulator | grep -q .; then
  echo "build-image: a provider simulator got into the image" >&2
  exit 1
fi

chown -R 1000:1000 "$rootfs/var/lib/keelson" "$rootfs/home/keelson"
chmod 0750 "$rootfs/var/lib/keelson"

# The same health check as the Dockerfile's (and charts/keelson's): /healthz on KEELSON_HTTP_PORT.
read -r -d '' health <<'EOF' || true
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/node", "-e", "fetch('http://127.0.0.1:'+(process.env.KEELSON_HTTP_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
EOF

entry='["/usr/local/bin/node", "/opt/keelson/bin/keelson.js"]'
[ -x "$rootfs/usr/bin/tini" ] && entry='["/usr/bin/tini", "--", "/usr/local/bin/node", "/opt/keelson/bin/keelson.js"]'

tar --numeric-owner -C "$rootfs" -cf - . | docker import \
  --change 'USER 1000:1000' \
  --change 'WORKDIR /opt/keelson' \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/keelson NODE_ENV=production KEELSON_STATE_PATH=/var/lib/keelson/state.json KEELSON_CHECKOUT_DIR=/var/lib/keelson/checkout KEELSON_HTTP_HOST=0.0.0.0 SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt GIT_EXEC_PATH=/usr/lib/git-core' \
  --change 'VOLUME /var/lib/keelson' \
  --change 'EXPOSE 8080' \
  --change "ENTRYPOINT $entry" \
  --change 'CMD ["serve"]' \
  --change "$health" \
  --change "LABEL org.opencontainers.image.title=keelson org.opencontainers.image.version=$(node -p 'require("./package.json").version')" \
  - "$tag" >/dev/null
echo "$tag"
