#!/usr/bin/env bash
# The local stack: a PostgreSQL primary and REPLICAS hot standbys, no Docker.
#
#   postgres/stack.sh up | down | reset | status | env | lag DELAY [NODE] | stop NODE | start NODE
#                     | psql NODE [args]
#
# Nodes are "primary", "replica1", "replica2", ... It runs the same scripts as
# docker-compose.yml (postgres/primary/init.sh, postgres/replica/bootstrap.sh).
# Started as root, PostgreSQL runs as the postgres user (it refuses to run as root).
#
# A PgBouncer in transaction mode (POOLER_PORT, STACK_PORT + 9) fronts the nodes for
# lesson 10: database APP_DB is the primary, APP_DB_replicas every standby, one server
# connection at a time, taken in turn.
#
# A Redis (REDIS_PORT, STACK_PORT + 8) keeps the positions per member (lesson 18), its
# data under STACK_DIR/redis; "redis" is a node for stop and start.
#
# It installs nothing: scripts/ensure-stack.sh does (the make targets run it first).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=postgres/local.sh
. "$repo/postgres/local.sh"
STACK_DIR="$(realpath -m "${STACK_DIR:-$repo/.stack}")"
STACK_PORT="${STACK_PORT:-54320}"
REPLICAS="${REPLICAS:-1}"
REPLICA_LAG="${REPLICA_LAG:-2s}"
POOLER_PORT="${POOLER_PORT:-$((STACK_PORT + 9))}"
REDIS_PORT="${REDIS_PORT:-$((STACK_PORT + 8))}"

nodes() {
    echo primary
    local i
    for ((i = 1; i <= REPLICAS; i++)); do echo "replica$i"; done
}

port_of() {
    case "$1" in
        primary) echo "$STACK_PORT" ;;
        replica[0-9]*) echo $((STACK_PORT + ${1#replica})) ;;
        *) die "unknown node '$1' (expected primary or replicaN)" ;;
    esac
}

data_of() { echo "$STACK_DIR/$1"; }

# The replicas the stack has a data directory for, in order, whatever REPLICAS says now
# (make demo REPLICAS=2, then make lag or make stack-down).
made_replicas() {
    local data node
    for data in "$STACK_DIR"/replica*/; do
        node="$(basename "$data")"
        if [[ "$node" =~ ^replica[0-9]+$ ]]; then echo "$node"; fi
    done | sort -V
}

is_running() {
    [ -f "$(data_of "$1")/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" status -D "$(data_of "$1")" >/dev/null 2>&1
}

start_node() {
    local node="$1" data port pidfile pid
    data="$(data_of "$node")"
    port="$(port_of "$node")"
    pidfile="$data/postmaster.pid"
    if is_running "$node"; then
        say "$node already running on 127.0.0.1:$port"
        return
    fi
    if [ -f "$pidfile" ]; then
        pid="$(head -n 1 "$pidfile")"
        say "$node: removing stale postmaster.pid (PID $pid is not running)"
        rm -f "$pidfile"
    fi
    if port_busy "$port"; then
        die "$node: port $port on 127.0.0.1 is already in use by another process; stop it or set STACK_PORT"
    fi
    as_pg "$PG_BIN/pg_ctl" start --wait --timeout 60 --silent -D "$data" -l "$STACK_DIR/log/$node.log" \
        -o "-c port=$port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$STACK_DIR/run'" ||
        die "$node failed to start; see $STACK_DIR/log/$node.log"
    say "$node up on 127.0.0.1:$port"
}

stop_node() {
    local node="$1"
    if is_running "$node"; then
        as_pg "$PG_BIN/pg_ctl" stop --wait --silent -m fast -D "$(data_of "$node")"
        say "$node stopped"
    fi
}

init_primary() {
    local data
    data="$(data_of primary)"
    if [ -s "$data/PG_VERSION" ] && [ ! -f "$data/forum-initialized" ]; then
        say "primary: half-initialised data directory from an interrupted run; starting it over"
        stop_node primary
        rm -rf "$data"
    fi
    [ -s "$data/PG_VERSION" ] && return
    say "primary: initdb in $data"
    as_pg "$PG_BIN/initdb" --pgdata "$data" --username postgres --auth-local trust \
        --auth-host scram-sha-256 --encoding UTF8 --locale C.UTF-8 >/dev/null
    start_node primary
    as_pg env PATH="$PG_BIN:$PATH" PGDATA="$data" PGHOST="$STACK_DIR/run" PGPORT="$STACK_PORT" PGUSER=postgres \
        "$STACK_DIR/scripts/primary/init.sh"
    as_pg touch "$data/forum-initialized"
    # primary.conf and pg_hba.conf changed: restart to apply them.
    stop_node primary
}

# The app databases and their grants (init.sh databases): idempotent, run on every up,
# so a primary initialised before a database was added gets it now.
ensure_databases() {
    as_pg env PATH="$PG_BIN:$PATH" PGDATA="$(data_of primary)" PGHOST="$STACK_DIR/run" PGPORT="$STACK_PORT" \
        PGUSER=postgres "$STACK_DIR/scripts/primary/init.sh" databases ||
        die "primary: creating the app databases failed"
}

init_replica() {
    local node="$1"
    as_pg env PATH="$PG_BIN:$PATH" PGDATA="$(data_of "$node")" PRIMARY_HOST=127.0.0.1 PRIMARY_PORT="$STACK_PORT" \
        REPLICA_NAME="$node" REPLICA_LAG="$REPLICA_LAG" "$STACK_DIR/scripts/replica/bootstrap.sh" >/dev/null
}

# The pooler and Redis: servers that put themselves in the background (as the postgres
# user) and write their PID to a file of their own.
pooler_dir() { echo "$STACK_DIR/pooler"; }

pooler_running() { daemon_running "$(pooler_dir)/pgbouncer.pid"; }

start_pooler() {
    local dir node hosts=""
    dir="$(pooler_dir)"
    if pooler_running; then
        say "pooler already running on 127.0.0.1:$POOLER_PORT"
        return
    fi
    if ! command -v pgbouncer >/dev/null; then
        say "pgbouncer not found: no pooler, and lesson 10 says so (scripts/ensure-stack.sh installs it, as root)"
        return
    fi
    # PgBouncer 1.18 takes a list of hosts but one port: give each standby's socket a
    # directory of its own under one port number, so one entry spreads over them all.
    rm -rf "$dir" && mkdir -p "$dir"
    for node in $(nodes | tail -n +2); do
        mkdir -p "$dir/servers/$node"
        ln -s "$STACK_DIR/run/.s.PGSQL.$(port_of "$node")" "$dir/servers/$node/.s.PGSQL.5432"
        hosts+="${hosts:+,}$dir/servers/$node"
    done
    # Over the sockets the servers trust local logins; clients log in to PgBouncer.
    LISTEN_ADDR=127.0.0.1 LISTEN_PORT="$POOLER_PORT" \
        PRIMARY_HOST="$STACK_DIR/run" PRIMARY_PORT="$STACK_PORT" REPLICA_HOSTS="$hosts" REPLICA_PORT=5432 \
        DAEMON=true "$repo/postgres/pgbouncer/config.sh" "$dir"
    if is_root; then chown -R postgres:postgres "$dir"; fi
    start_daemon pooler POOLER_PORT "$dir/pgbouncer.log" pgbouncer --daemon --quiet "$dir/pgbouncer.ini"
    say "pooler (PgBouncer, transaction mode) up on 127.0.0.1:$POOLER_PORT"
}

stop_any() {
    case "$1" in
        redis) stop_redis ;;
        *) stop_node "$1" ;;
    esac
}

start_any() {
    case "$1" in
        redis) start_redis ;;
        *) start_node "$1" ;;
    esac
}

cmd_up() {
    init_primary
    start_node primary
    ensure_databases
    local node
    for node in $(nodes | tail -n +2); do
        init_replica "$node"
        start_node "$node"
    done
    start_pooler
    start_redis
    cmd_env
}

cmd_down() {
    stop_redis
    stop_daemon pooler "$(pooler_dir)/pgbouncer.pid"
    local node
    # Replicas first, so they do not log a lost primary.
    for node in $(made_replicas | tac) primary; do
        [ -d "$(data_of "$node")" ] && stop_node "$node"
    done
    return 0
}

cmd_reset() {
    cmd_down
    say "removing $STACK_DIR"
    rm -rf "$STACK_DIR"
}

cmd_status() {
    local node
    for node in $(nodes); do
        if is_running "$node"; then
            say "$node up on 127.0.0.1:$(port_of "$node")"
        else
            say "$node down"
        fi
    done
    if pooler_running; then say "pooler up on 127.0.0.1:$POOLER_PORT"; else say "pooler down"; fi
    if redis_running; then say "redis up on 127.0.0.1:$REDIS_PORT"; else say "redis down"; fi
}

cmd_env() {
    local urls="" analytics_urls="" node
    for node in $(nodes | tail -n +2); do
        urls+="${urls:+,}postgres://$READER_USER:$READER_PASSWORD@127.0.0.1:$(port_of "$node")/$APP_DB"
        analytics_urls+="${analytics_urls:+,}postgres://$READER_USER:$READER_PASSWORD@127.0.0.1:$(port_of "$node")/$ANALYTICS_DB"
    done
    echo "DATABASE_URL=postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$STACK_PORT/$APP_DB"
    echo "REPLICA_URLS=$urls"
    echo "ANALYTICS_DATABASE_URL=postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$STACK_PORT/$ANALYTICS_DB"
    echo "ANALYTICS_REPLICA_URLS=$analytics_urls"
    echo "POOLED_DATABASE_URL=postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$POOLER_PORT/$APP_DB"
    echo "POOLED_REPLICAS_URL=postgres://$READER_USER:$READER_PASSWORD@127.0.0.1:$POOLER_PORT/${APP_DB}_replicas"
    redis_env
}

# Change the apply delay live (ALTER SYSTEM + reload) on one replica, or on all.
cmd_lag() {
    local delay="${1:?usage: stack.sh lag DELAY [NODE] (e.g. 3s, 500ms, 0)}" node
    [[ "$delay" =~ ^(0|[0-9]+(ms|s|min|h))$ ]] || die "DELAY must be 0 or a number with a unit: 500ms, 3s, 1min, 1h (got '$delay')"
    for node in ${2:-$(made_replicas)}; do
        is_running "$node" || die "$node is not running; run 'make stack' first"
        as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$STACK_DIR/run" -p "$(port_of "$node")" -U postgres -d postgres \
            -c "ALTER SYSTEM SET recovery_min_apply_delay = '$delay'" -c "SELECT pg_reload_conf()" >/dev/null
        say "$node apply delay now $delay"
    done
}

# psql as the superuser, over the stack's private socket: stack.sh psql NODE [psql args]
cmd_psql() {
    local node="${1:?usage: stack.sh psql NODE [psql arguments]}"
    shift
    as_pg "$PG_BIN/psql" -X -h "$STACK_DIR/run" -p "$(port_of "$node")" -U postgres -d "$APP_DB" "$@"
}

main() {
    local cmd="${1:-}"
    [ -n "$cmd" ] || die "usage: stack.sh up|down|reset|status|env|lag DELAY [NODE]|stop NODE|start NODE|psql NODE"
    shift
    [[ "$REPLICAS" =~ ^[0-9]+$ ]] || die "REPLICAS must be a number (got '$REPLICAS')"
    find_pg_bin || die "PostgreSQL's server programs not found: run scripts/ensure-stack.sh" \
        "(as root it installs Debian's postgresql), or set PG_BIN to the directory holding initdb"
    case "$cmd" in
        env) cmd_env; return ;;
    esac
    resolve_stack_dir primary replica
    case "$cmd" in
        up) cmd_up ;;
        down) cmd_down ;;
        reset) cmd_reset ;;
        status) cmd_status ;;
        lag) cmd_lag "$@" ;;
        stop) stop_any "${1:?usage: stack.sh stop NODE}" ;;
        start) start_any "${1:?usage: stack.sh start NODE}" ;;
        psql) cmd_psql "$@" ;;
        *) die "unknown command '$cmd'" ;;
    esac
}

main "$@"
