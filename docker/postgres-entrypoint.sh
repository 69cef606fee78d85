#!/bin/bash
# Starts PostgreSQL on 127.0.0.1:$PGPORT. On the first start (empty $PGDATA) it
# initialises the cluster and creates the role $ROADTEST_DB_USER, whose password
# is $ROADTEST_DB_PASSWORD, owning each database of $ROADTEST_DB_NAMES.
# The superuser can only log in through the container's own Unix socket.
set -euo pipefail

: "${ROADTEST_DB_PASSWORD:?is required: set it in the env file (see .env.example)}"
socket_dir=/var/run/postgresql

initialise() {
  initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" >/dev/null
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$socket_dir" start >/dev/null
  psql -v ON_ERROR_STOP=1 -q -h "$socket_dir" -U postgres -d postgres \
    -v user="$ROADTEST_DB_USER" -v password="$ROADTEST_DB_PASSWORD" <<'SQL'
CREATE ROLE :"user" LOGIN PASSWORD :'password';
SQL
  for database in $ROADTEST_DB_NAMES; do
    createdb -h "$socket_dir" -U postgres -O "$ROADTEST_DB_USER" "$database"
  done
  pg_ctl -D "$PGDATA" -w -m fast stop >/dev/null
  echo "initialised PostgreSQL: databases $ROADTEST_DB_NAMES owned by $ROADTEST_DB_USER"
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  initialise
fi
exec postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -p "$PGPORT" \
  -c unix_socket_directories="$socket_dir" "$@"
