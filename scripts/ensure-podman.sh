#!/usr/bin/env bash
# Makes this machine able to run the container smoke test (make smoke) without a Docker engine:
# Debian's podman serving the Docker API on a socket, docker-compose (v1, Debian's package, a
# client of that API) and a base image built from Debian's packages, since no image registry
# can be reached here (../shared/CONTAINERS.md). On an operator's Docker host none of this runs:
# make smoke uses the engine DOCKER_HOST (or the default socket) points at.
# Prints the DOCKER_HOST to use.
set -euo pipefail
SOCKET=${PODMAN_SOCKET:-/run/crm-podman.sock}
BASE_IMAGE=localhost/debian:bookworm
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs)

say() { echo "ensure-podman: $*" >&2; }

missing=()
for tool in podman runc debootstrap docker-compose; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    say "missing ${missing[*]}: install podman, runc, debootstrap and docker-compose (root, apt)"; exit 1
  fi
  say "installing podman runc debootstrap docker-compose (apt)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap docker-compose >&2
fi

# Without it every runtime fails here with "setrlimit ... operation not permitted".
conf=/etc/containers/containers.conf
if ! grep -q '^default_ulimits *= *\[\]' "$conf" 2>/dev/null; then
  mkdir -p /etc/containers
  if grep -q '^\[containers\]' "$conf" 2>/dev/null; then   # one section only (TOML)
    sed -i '/^\[containers\]/a default_ulimits = []' "$conf"
  else
    printf '[containers]\ndefault_ulimits = []\n' >> "$conf"
  fi
fi

if ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
  root=$(mktemp -d /var/tmp/crm-debootstrap.XXXXXX)
  say "building $BASE_IMAGE with debootstrap (about a minute)"
  debootstrap --variant=minbase bookworm "$root" >/dev/null
  tar -C "$root" -c . | "${PODMAN[@]}" import - "$BASE_IMAGE" >/dev/null
  rm -rf "$root"
fi

answers() { curl -sf --unix-socket "$SOCKET" http://d/_ping >/dev/null 2>&1; }
# a service started from a checkout that was deleted since (a CI clone) still answers, but
# conmon cannot start a container from a working directory that is gone ("write child:
# broken pipe"): such a service is replaced
for pid in $(pgrep -f "system service --time=0 unix://$SOCKET" || true); do
  if [[ $(readlink "/proc/$pid/cwd" 2>/dev/null) == *" (deleted)" ]]; then
    say "replacing the podman service whose working directory was deleted ($pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
done
if ! answers; then
  rm -f "$SOCKET"
  say "starting podman system service on $SOCKET"
  # from /, which no clean-up removes (see above)
  (cd / && exec nohup "${PODMAN[@]}" system service --time=0 "unix://$SOCKET") \
    </dev/null >/var/log/crm-podman-service.log 2>&1 &
  for _ in $(seq 1 50); do answers && break; sleep 0.2; done
  answers || { say "podman system service did not answer (/var/log/crm-podman-service.log)"; exit 1; }
fi
echo "unix://$SOCKET"
