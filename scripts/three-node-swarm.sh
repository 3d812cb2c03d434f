#!/usr/bin/env bash
# A real three-node Docker Swarm on one machine, for tests and the demo (../shared/rigs/three-node-swarm.md):
# four network namespaces (a bridge and three nodes, 10.99.<net>.11-13/24, no default route, so no
# traffic can leave the machine), and per node its own containerd and dockerd in its own mount and
# UTS namespace (hostname node1..node3), joined as three managers.
#
#   scripts/three-node-swarm.sh up   ID [NET]   # prints one line per node: NAME ADDRESS DOCKER_HOST
#   scripts/three-node-swarm.sh up   ID NET --no-swarm
#                                               # the same three engines, not in any Swarm (what
#                                               # `keelson bootstrap` starts from: test/bootstrap.test.ts)
#   scripts/three-node-swarm.sh down ID         # stops everything and removes what `up` made
#   scripts/three-node-swarm.sh kill ID NODE    # kill -9 of one node's dockerd (a node failure)
#   scripts/three-node-swarm.sh restart ID NODE # starts that node's dockerd again
#   scripts/three-node-swarm.sh host-link ID NET # this machine joins the rig's network as 10.NET.0.1
#                                               # (the demo: simulators the nodes reach, a status page
#                                               # the browser reaches); only that /24, no route
#
# ID is a short word (letters and digits) naming the rig; NET (default 99) the third octet.
# Needs root, iproute2, containerd, dockerd (docker.io). Service VIPs and the ingress mesh do not
# work on kernels without IPVS: use endpoint_mode dnsrr and host-mode ports there.
set -euo pipefail
cmd=${1:?usage: three-node-swarm.sh up|down|kill|restart ID [NET|NODE]}
id=${2:?the rig needs an ID}
[[ $id =~ ^[a-z0-9]{1,6}$ ]] || { echo "three-node-swarm: ID must be 1-6 lowercase letters or digits" >&2; exit 2; }
dir=/tmp/ks3-$id
br=ks3-$id-br
node_ns() { echo "ks3-$id-n$1"; }

log() { echo "three-node-swarm: $*" >&2; }

wait_for() { # wait_for SECONDS WHAT COMMAND...
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "$what did not happen within ${limit}s"
      return 1
    fi
    sleep 0.2
  done
}

# Runs inside a node's new mount + UTS namespace: hostname, the cgroup hierarchies that
# `ip netns exec` hid behind its fresh /sys, then containerd in the foreground.
node_init() {
  local n=$1 d=$2
  hostname "node$n"
  mount -t tmpfs cgroup_root /sys/fs/cgroup
  while read -r _ target fstype opts _; do
    [[ $target == /sys/fs/cgroup/* ]] || continue
    mkdir -p "$target"
    if [[ $fstype == cgroup2 ]]; then
      mount -t cgroup2 cgroup2 "$target"
    else
      local ctl
      ctl=$(tr ',' '\n' <<<"$opts" | grep -Ev '^(rw|ro|relatime|nosuid|nodev|noexec)$' | paste -sd, -)
      mount -t cgroup -o "$ctl" cgroup "$target"
    fi
  done < <(grep -E ' /sys/fs/cgroup/' /proc/1/mounts)
  exec containerd -c "$d/containerd.toml"
}

start_dockerd() { # start_dockerd N
  local n=$1 d=$dir/n$1
  local cpid
  cpid=$(cat "$d/containerd.pid")
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 nsenter -t "$cpid" -m -n -u \
    dockerd --data-root "$d/docker" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
    -H "unix://$d/docker.sock" --containerd "$d/containerd.sock" --cgroup-parent "/ks3-$id-node$n" \
    --storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
    >"$d/dockerd.log" 2>&1 &
  wait_for 60 "node$n's dockerd answering" docker -H "unix://$d/docker.sock" version
}

up() {
  local net=${3:-99} swarm=yes
  [[ $net =~ ^[0-9]{1,3}$ ]] || { log "NET must be a number"; exit 2; }
  case ${4:-} in
    '') ;;
    --no-swarm) swarm=no ;;
    *) log "unknown option ${4}; the only one is --no-swarm"; exit 2 ;;
  esac
  mkdir -p "$dir"
  ip netns add "$br"
  ip netns exec "$br" ip link add br0 type bridge
  ip netns exec "$br" ip link set br0 up
  ip netns exec "$br" ip link set lo up
  for n in 1 2 3; do
    local ns d addr
    ns=$(node_ns "$n")
    d=$dir/n$n
    addr=10.$net.0.1$n
    mkdir -p "$d"
    ip netns add "$ns"
    ip link add "k$id$n" type veth peer name "k${id}b$n"
    ip link set "k$id$n" netns "$ns"
    ip link set "k${id}b$n" netns "$br"
    ip netns exec "$ns" ip link set "k$id$n" name eth0
    ip netns exec "$ns" ip addr add "$addr/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$br" ip link set "k${id}b$n" master br0
    ip netns exec "$br" ip link set "k${id}b$n" up
    cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd"
state = "$d/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
EOF
    ip netns exec "$ns" unshare --mount --uts --propagation private \
      bash "$0" node-init "$id" "$n" "$d" >"$d/containerd.log" 2>&1 &
    echo $! >"$d/containerd.pid"
    wait_for 30 "node$n's containerd socket" test -S "$d/containerd.sock"
    # The pid recorded must be containerd's (bash exec'd into it inside the namespaces).
  done
  for n in 1 2 3; do start_dockerd "$n"; done
  if [ "$swarm" = no ]; then
    for n in 1 2 3; do echo "node$n 10.$net.0.1$n unix://$dir/n$n/docker.sock"; done
    return
  fi
  local d1=$dir/n1
  docker -H "unix://$d1/docker.sock" swarm init --advertise-addr "10.$net.0.11" --listen-addr "10.$net.0.11:2377" >/dev/null
  local token
  token=$(docker -H "unix://$d1/docker.sock" swarm join-token -q manager)
  for n in 2 3; do
    docker -H "unix://$dir/n$n/docker.sock" swarm join --token "$token" \
      --advertise-addr "10.$net.0.1$n" --listen-addr "10.$net.0.1$n:2377" "10.$net.0.11:2377" >/dev/null
  done
  wait_for 60 "three Ready managers" bash -c \
    "[ \"\$(docker -H unix://$d1/docker.sock node ls --format '{{.Status}} {{.ManagerStatus}}' | grep -c '^Ready \(Leader\|Reachable\)')\" = 3 ]"
  for n in 1 2 3; do echo "node$n 10.$net.0.1$n unix://$dir/n$n/docker.sock"; done
}

host_link() { # this machine (the host namespace) on the rig's bridge as 10.NET.0.1/24
  local net=${1:?NET}
  ip link del "k${id}h" 2>/dev/null || true
  ip link add "k${id}h" type veth peer name "k${id}hb"
  ip link set "k${id}hb" netns "$br"
  ip netns exec "$br" ip link set "k${id}hb" master br0
  ip netns exec "$br" ip link set "k${id}hb" up
  ip addr add "10.$net.0.1/24" dev "k${id}h"
  ip link set "k${id}h" up
  echo "10.$net.0.1"
}

down() {
  for n in 1 2 3; do
    local d=$dir/n$n
    for f in docker.pid containerd.pid; do
      if [ -f "$d/$f" ]; then kill -9 "$(cat "$d/$f")" 2>/dev/null || true; fi
    done
  done
  # containerd's shims and any task processes of this rig
  pkill -9 -f "$dir/" 2>/dev/null || true
  # A task's processes can outlive their killed shim for a moment (and keep writing into its
  # root file system under $dir): kill whatever is still in the rig's cgroups.
  find /sys/fs/cgroup -path "*/ks3-$id-node*" \( -name cgroup.procs -o -name tasks \) 2>/dev/null |
    xargs -r cat 2>/dev/null | sort -u | xargs -r kill -9 2>/dev/null || true
  for n in 1 2 3; do ip netns del "$(node_ns "$n")" 2>/dev/null || true; done
  ip netns del "$br" 2>/dev/null || true
  ip link del "k${id}h" 2>/dev/null || true
  # (libnetwork also leaves lb_<netid> files under /var/lib/docker/network/files; they are inert.)
  for m in $(grep -o " $dir[^ ]*" /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
  # Until the killed processes are gone, one may still create a file in a folder being removed.
  for _ in $(seq 1 50); do
    rm -rf "$dir" 2>/dev/null && return
    sleep 0.2
  done
  rm -rf "$dir"
}

case $cmd in
  up) up "$@" ;;
  down) down ;;
  node-init) node_init "$3" "$4" ;;
  kill) kill -9 "$(cat "$dir/n${3:?NODE}/docker.pid")" ;;
  host-link) host_link "${3:?usage: three-node-swarm.sh host-link ID NET}" ;;
  restart) rm -f "$dir/n${3:?NODE}/docker.pid" "$dir/n$3/docker.sock"; start_dockerd "$3" ;;
  *) log "unknown command $cmd"; exit 2 ;;
esac
