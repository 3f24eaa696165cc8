#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers: AMQP_URI if it does, else a local rabbitmq-server
# (started, or installed with the system package manager where we can), else says what to do.
set -euo pipefail
uri=${AMQP_URI:-amqp://guest:guest@localhost:5672/}
hostport=${uri#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
host=${hostport%%:*}; port=${hostport##*:}; [[ $port == "$host" ]] && port=5672

answers() { timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; }

# The port answering is not enough: log in, so wrong credentials or vhost say so now.
login() {
  [[ -x .venv/bin/python ]] || return 0
  .venv/bin/python - "$uri" <<'PY' || { echo "RabbitMQ answers at $host:$port but refuses AMQP_URI (credentials or vhost)." >&2; return 1; }
import sys, kombu
try:
    with kombu.Connection(sys.argv[1], connect_timeout=5) as conn:
        conn.connect()
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
PY
}

wait_for() {
  for _ in $(seq 1 90); do answers && return 0; sleep 1; done
  return 1
}

if answers; then login; exit $?; fi
if [[ $host != localhost && $host != 127.0.0.1 ]]; then
  echo "RabbitMQ at $host:$port (AMQP_URI) does not answer. Start it, or unset AMQP_URI to use a local one." >&2
  exit 1
fi
if ! command -v rabbitmq-server >/dev/null; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing rabbitmq-server with apt-get..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
  else
    echo "No RabbitMQ answers at $host:$port and none is installed." >&2
    echo "Install it (e.g. 'sudo apt-get install rabbitmq-server'), or run one and set AMQP_URI." >&2
    exit 1
  fi
fi
echo "starting rabbitmq-server..." >&2
rabbitmq-server -detached >/dev/null 2>&1 || true
wait_for || { echo "rabbitmq-server did not come up on $host:$port" >&2; exit 1; }
for _ in $(seq 1 30); do login 2>/dev/null && exit 0; sleep 1; done  # AMQP comes up after TCP
login
