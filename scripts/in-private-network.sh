#!/usr/bin/env bash
# Runs a command inside a private network namespace that this script creates (harness.md): loopback plus a
# veth pair with private addresses, and nothing else. No route leads out, so no test traffic can reach any
# address beyond loopback and this namespace. Janus (libnice) gathers ICE candidates on the veth end named
# in CHAPERONE_MEDIA_IF; Chromium reaches it at CHAPERONE_MEDIA_IP.
#
#   scripts/in-private-network.sh CMD [ARGS...]
set -euo pipefail
if [ "${CHAPERONE_PRIVATE_NETWORK:-}" = "1" ]; then exec "$@"; fi
if [ "$(id -u)" != 0 ]; then echo "in-private-network: needs root to create a network namespace (unshare -n)" >&2; exit 1; fi
exec unshare --net -- bash -c '
  set -euo pipefail
  ip link set lo up
  ip link add chap0 type veth peer name chap1
  ip addr add 10.203.0.1/24 dev chap0
  ip addr add 10.203.0.2/24 dev chap1
  ip link set chap0 up
  ip link set chap1 up
  export CHAPERONE_PRIVATE_NETWORK=1 CHAPERONE_MEDIA_IF=chap0 CHAPERONE_MEDIA_IP=10.203.0.1
  exec "$@"
' in-private-network "$@"
