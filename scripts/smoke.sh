#!/usr/bin/env bash
# make smoke: build every image and run the compose stack for real (tests/smoke).
#
# With a Docker engine (DOCKER_HOST, or the default socket answering) the test builds the images
# with compose itself, from the official base images. Without one (these machines, CI), Debian's
# podman serves the Docker API (scripts/ensure-podman.sh), the base images are built from
# Debian's packages (deploy/smoke/*.Containerfile) and the CRM's images with podman from the
# same Dockerfile, and compose runs the shipped docker-compose.yml with
# deploy/smoke/docker-compose.podman.yml on top (RabbitMQ and PostgreSQL from local images).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

if [[ -z ${DOCKER_HOST:-} ]] && docker info >/dev/null 2>&1; then
  export SMOKE_BUILD=compose
else
  if [[ -z ${DOCKER_HOST:-} ]]; then
    DOCKER_HOST=$(scripts/ensure-podman.sh)
    export DOCKER_HOST
  fi
  podman=(podman --runtime runc --cgroup-manager cgroupfs)
  tag=${CRM_IMAGE_TAG:-smoke}
  # pip inside a build trusts this machine's CA bundle (a build-time option of this machine
  # only: an operator's host builds the same Dockerfile without it)
  ca=(--volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/host-ca.crt:ro
      --build-arg PIP_CERT=/etc/ssl/certs/host-ca.crt)
  build() { echo "smoke: building $1" >&2; "${podman[@]}" build --quiet --format docker "${@:2}" >/dev/null; }
  for base in python rabbitmq postgres; do
    build "localhost/crm-smoke/$base" -t "localhost/crm-smoke/$base:bookworm" \
          -f "deploy/smoke/$base.Containerfile" deploy/smoke
  done
  common=(--build-arg PYTHON_IMAGE=localhost/crm-smoke/python:bookworm "${ca[@]}" -f Dockerfile .)
  for name in clients deals activities ares importer; do
    build "crm/$name" --target service --build-arg SERVICE="$name" \
          -t "localhost/crm/$name:$tag" "${common[@]}"
  done
  build crm/gateway --target gateway -t "localhost/crm/gateway:$tag" "${common[@]}"
  # podman runs healthchecks from systemd timers, and no systemd runs here: without this loop
  # every container stays "starting" and compose waits forever for service_healthy
  project=${COMPOSE_PROJECT_NAME:-crmsmoke}
  (while sleep 2; do
     for id in $("${podman[@]}" ps -q --filter "label=com.docker.compose.project=$project"); do
       "${podman[@]}" healthcheck run "$id" >/dev/null 2>&1 || true
     done
   done) &
  # stop the loop; drop the images this build's tags replaced
  trap 'kill $! 2>/dev/null; "${podman[@]}" image prune -f >/dev/null 2>&1' EXIT
  export SMOKE_BUILD=prebuilt CRM_IMAGE_PREFIX=localhost/crm CRM_IMAGE_TAG=$tag
  export SMOKE_COMPOSE_FILES=docker-compose.yml:deploy/smoke/docker-compose.podman.yml
fi
CRM_SMOKE=1 "$PYTHON" -m pytest -p no:xdist -q tests/smoke "$@"
