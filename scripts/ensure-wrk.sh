#!/usr/bin/env bash
# Makes sure the HTTP load generator wrk (the Debian package `wrk`) is installed, for
# `make bench`'s gateway phase: installs it with the system package manager where we can,
# else says what to do.
set -euo pipefail
command -v wrk >/dev/null && exit 0
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "installing wrk with apt-get..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  command -v wrk >/dev/null && exit 0
fi
echo "wrk (the HTTP load generator of the gateway benchmark) is not installed." >&2
echo "Install it (e.g. 'sudo apt-get install wrk'); without it the bench's gateway phase fails, the others still run." >&2
exit 1
