#!/bin/sh
# One database and one role per service on the one PostgreSQL server of docker-compose.yml: each
# service logs in as its own role, which owns its database and nothing else (least privilege).
# The postgres image runs this once, on an empty data directory, as POSTGRES_USER.
# Passwords: <NAME>_DB_PASSWORD (CLIENTS_DB_PASSWORD, ...); the defaults are for a developer's
# machine only (deploy/compose.env.example).
set -eu
for name in clients deals activities ares importer gateway; do
  eval "password=\${$(echo "$name" | tr a-z A-Z)_DB_PASSWORD:-$name}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
