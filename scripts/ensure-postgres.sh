#!/usr/bin/env bash
# Makes sure PostgreSQL answers for the tests: TEST_POSTGRES_URL's server if that is set,
# else 127.0.0.1:5432 (user postgres, trust), starting the local cluster or installing one
# with the system package manager where we can.
set -euo pipefail
if [[ -n ${TEST_POSTGRES_URL:-} ]]; then
  hostport=${TEST_POSTGRES_URL#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  host=${hostport%%:*}; port=${hostport##*:}; [[ $port == "$host" ]] && port=5432
  timeout 2 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null && exit 0
  echo "PostgreSQL at $host:$port (TEST_POSTGRES_URL) does not answer." >&2
  exit 1
fi
answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/5432" 2>/dev/null; }
answers && exit 0
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing postgresql with apt-get..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    # Tests connect as postgres over TCP without a password, as on the CI machines.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      grep -q "crm-tests" "$hba" || sed -i '1i host all postgres 127.0.0.1/32 trust # crm-tests' "$hba"
    done
  else
    echo "PostgreSQL does not answer on 127.0.0.1:5432. Install and start it, or set TEST_POSTGRES_URL." >&2
    exit 1
  fi
fi
echo "starting PostgreSQL..." >&2
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
for _ in $(seq 1 60); do answers && exit 0; sleep 1; done
echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2
exit 1
