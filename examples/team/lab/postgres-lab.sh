#!/usr/bin/env bash
# A real PostgreSQL with an exhausted connection pool, for the postgres-analyst (issue 17a).
#
#   postgres-lab.sh start LAB PORT [WORKSPACE]   init a cluster in LAB, start it on
#       127.0.0.1:PORT (max_connections 20, 3 of them reserved for superusers), create the
#       `orders` database and its `orders_app` role, then start the load: 17 `orders-worker`
#       clients that open a transaction and hold it, idle, until every slot an application
#       may use is taken. With WORKSPACE, install the remediation script the allowlist
#       permits there (scripts/terminate-idle-in-transaction.sh).
#   postgres-lab.sh stop LAB                     stop the load and the server.
#
# Needs the Debian package postgresql. Run as root, the server runs as `nobody` (PostgreSQL
# refuses to run as root). Trust authentication on loopback only: a lab, not a deployment.
set -euo pipefail
cmd="${1:-}"; lab="${2:-}"
[ -n "$cmd" ] && [ -n "$lab" ] || { echo "usage: $0 start LAB PORT [WORKSPACE] | stop LAB" >&2; exit 2; }
here="$(cd "$(dirname "$0")" && pwd)"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
[ -x "$bin/pg_ctl" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 3; }
WORKERS=17

as_server() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  port="${3:?a port}"; workspace="${4:-}"
  mkdir -p "$lab"
  lab="$(cd "$lab" && pwd)"
  if [ "$(id -u)" = 0 ]; then
    # nobody must reach the lab through its parents (a temporary folder is often 0700):
    # search permission is added only where nobody lacks it.
    d="$(dirname "$lab")"
    while [ "$d" != / ]; do
      as_server test -x "$d" || chmod o+x "$d"
      d="$(dirname "$d")"
    done
    chown nobody:nogroup "$lab"
  fi
  as_server "$bin/initdb" -D "$lab/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$lab/initdb.log"
  as_server "$bin/pg_ctl" -D "$lab/data" -l "$lab/server.log" -w -t 60 start </dev/null -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$lab -c max_connections=20 -c superuser_reserved_connections=3 -c fsync=off" >/dev/null
  psql=(psql -X -q -h 127.0.0.1 -p "$port" -v ON_ERROR_STOP=1)
  "${psql[@]}" -U postgres -d postgres -c "CREATE ROLE orders_app LOGIN" -c "CREATE DATABASE orders OWNER orders_app"
  "${psql[@]}" -U orders_app -d orders -c "CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL)" \
    -c "INSERT INTO orders (total) SELECT g FROM generate_series(1, 1000) g"
  # The load: each worker takes a row lock in a transaction it never ends, says so with a
  # file (a check over a connection would take a slot the last workers need), then waits.
  # Every process is noted (its pid file), so that `stop` ends this lab's and no other's.
  : >"$lab/load.pids"
  mkdir -p "$lab/ready"
  for i in $(seq 1 "$WORKERS"); do
    # (Nothing of theirs inherits this script's output: whoever reads it would wait for them.)
    ( echo "$BASHPID" >>"$lab/load.pids"
      printf 'BEGIN;\nSELECT id FROM orders WHERE id = %d FOR UPDATE;\n\\! touch %s/ready/%d\n' "$i" "$lab" "$i"
      exec sleep 86400 ) 2>/dev/null \
      | PGAPPNAME=orders-worker psql -X -q -h 127.0.0.1 -p "$port" -U orders_app -d orders >/dev/null 2>&1 &
    echo $! >>"$lab/load.pids"
  done
  # Until every worker holds its transaction (bounded), then checked on the server.
  for _ in $(seq 1 300); do
    [ "$(ls "$lab/ready" | wc -l)" -ge "$WORKERS" ] && break
    sleep 0.1
  done
  n="$("${psql[@]}" -U postgres -d orders -At -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'orders-worker' AND state = 'idle in transaction'")"
  [ "$n" = "$WORKERS" ] || { echo "only $n of $WORKERS workers hold a transaction" >&2; exit 1; }
  if [ -n "$workspace" ]; then
    mkdir -p "$workspace/scripts"
    sed "s/@PORT@/$port/" "$here/../scripts/terminate-idle-in-transaction.sh" >"$workspace/scripts/terminate-idle-in-transaction.sh"
    chmod +x "$workspace/scripts/terminate-idle-in-transaction.sh"
  fi
  echo "pg-orders at 127.0.0.1:$port: $WORKERS orders-worker sessions idle in transaction"
  ;;
stop)
  lab="$(cd "$lab" 2>/dev/null && pwd)" || exit 0
  if [ -f "$lab/load.pids" ]; then
    # This lab's workers (psql) and their feeders (sleep), by pid.
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$lab/load.pids"
  fi
  [ -d "$lab/data" ] && as_server "$bin/pg_ctl" -D "$lab/data" -m immediate -w stop >/dev/null 2>&1 || true
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
