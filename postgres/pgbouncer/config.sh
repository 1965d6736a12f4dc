#!/usr/bin/env bash
# PgBouncer's configuration, for compose (entrypoint.sh) and the local stack
# (postgres/stack.sh) alike: transaction pooling in front of the primary (database
# APP_DB) and every standby (database APP_DB_replicas), for lesson 10.
#
#   config.sh DIR    writes DIR/pgbouncer.ini and DIR/userlist.txt
#
# Where things are comes from the environment; the defaults are compose's:
#   LISTEN_ADDR (0.0.0.0), LISTEN_PORT (6432)
#   PRIMARY_HOST (primary), PRIMARY_PORT (5432)
#   REPLICA_HOSTS (replica): comma-separated, taken in turn; set but empty, no
#     APP_DB_replicas database. REPLICA_PORT (5432): PgBouncer 1.18 takes one port for all.
#   APP_DB, APP_USER, APP_PASSWORD, READER_USER, READER_PASSWORD
#   DAEMON=true: the pidfile and logfile that `pgbouncer --daemon` needs, in DIR
set -euo pipefail

dir="${1:?usage: config.sh DIR}"
: "${LISTEN_ADDR:=0.0.0.0}" "${LISTEN_PORT:=6432}"
: "${PRIMARY_HOST:=primary}" "${PRIMARY_PORT:=5432}"
: "${REPLICA_HOSTS=replica}" "${REPLICA_PORT:=5432}"
: "${APP_DB:=forum}" "${APP_USER:=forum}" "${APP_PASSWORD:=forum}"
: "${READER_USER:=forum_reader}" "${READER_PASSWORD:=forum_reader}"
mkdir -p "$dir"

{
    echo "[databases]"
    echo "$APP_DB = host=$PRIMARY_HOST port=$PRIMARY_PORT dbname=$APP_DB"
    if [ -n "$REPLICA_HOSTS" ]; then
        echo "${APP_DB}_replicas = host=$REPLICA_HOSTS port=$REPLICA_PORT dbname=$APP_DB"
    fi
    cat <<INI

[pgbouncer]
listen_addr = $LISTEN_ADDR
listen_port = $LISTEN_PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 10
; Idle server connections taken in turn, not the last one used first: transactions
; spread over the standbys, as PgBouncer's FAQ advises for load balancing.
server_round_robin = 1
; Look host names up again often: under compose, "replica" answers with one address
; per container, and containers come and go with --scale.
dns_max_ttl = 5
INI
    if [ "${DAEMON:-}" = true ]; then
        echo "logfile = $dir/pgbouncer.log"
        echo "pidfile = $dir/pgbouncer.pid"
    fi
} >"$dir/pgbouncer.ini"

# Plain passwords: PgBouncer logs in to the servers with them (demo values).
printf '"%s" "%s"\n"%s" "%s"\n' "$APP_USER" "$APP_PASSWORD" "$READER_USER" "$READER_PASSWORD" \
    >"$dir/userlist.txt"
chmod 600 "$dir/userlist.txt"
