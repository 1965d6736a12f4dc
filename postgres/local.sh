# shellcheck shell=bash
# shellcheck disable=SC2154 # repo is the sourcing script's
# What the two local stacks share (postgres/stack.sh, postgres/ha.sh): running as the
# postgres user, their data directory, and the Redis that keeps positions per member.
#
#   . "$repo/postgres/local.sh"     after scripts/lib.sh, with repo (the checkout),
#                                   STACK_DIR and REDIS_PORT set
#
#   as_pg CMD...              CMD as the user that owns the clusters
#   resolve_stack_dir DIR...  STACK_DIR made reachable by that user, with copies of
#                             these folders of postgres/ in STACK_DIR/scripts
#   port_busy PORT            whether something listens on 127.0.0.1:PORT
#   start_daemon NAME PORT_VARIABLE LOG CMD...  CMD, which daemonizes, until it listens
#   stop_daemon NAME PIDFILE, daemon_running PIDFILE
#   start_redis, stop_redis, redis_running
#   refuse_busy_port NAME PORT VARIABLE   die unless PORT is free (VARIABLE moves it)
#
# And the databases and roles both make (postgres/primary/init.sh reads them).

export APP_DB="${APP_DB:-forum}"
# The second database on the same primary (lessons 6 and 7), replicated with the forum's.
export ANALYTICS_DB="${ANALYTICS_DB:-${APP_DB}_analytics}"
export APP_USER="${APP_USER:-forum}" APP_PASSWORD="${APP_PASSWORD:-forum}"
export READER_USER="${READER_USER:-forum_reader}" READER_PASSWORD="${READER_PASSWORD:-forum_reader}"
export REPLICATION_USER="${REPLICATION_USER:-replicator}" REPLICATION_PASSWORD="${REPLICATION_PASSWORD:-replicator}"

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the user that owns the clusters.
as_pg() {
    # From /, since the postgres user may not be allowed into the caller's directory.
    if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# As root the postgres user must reach the data directory, and a checkout under
# /root (mode 700) is out of its reach: keep the data under /tmp then, and leave a
# symlink where it was asked for.
resolve_stack_dir() {
    if is_root && ! runuser -u postgres -- test -x "$(dirname "$STACK_DIR")"; then
        local wanted="$STACK_DIR"
        STACK_DIR="/tmp/forum-$(basename "$wanted" | tr -d .)-$(echo "$wanted" | md5sum | cut -c1-8)"
        if [ ! -L "$wanted" ] && [ -e "$wanted" ]; then
            die "$wanted exists and is not a symlink; remove it (the postgres user cannot reach it)"
        fi
        ln -sfn "$STACK_DIR" "$wanted"
    fi
    mkdir -p "$STACK_DIR/run" "$STACK_DIR/log" "$STACK_DIR/scripts"
    # Not recursive: what is inside was made by the postgres user (a chown -R of the
    # data directories would cost every command a second).
    if is_root; then chown postgres:postgres "$STACK_DIR" "$STACK_DIR/run" "$STACK_DIR/log"; fi
    chmod 700 "$STACK_DIR/run"
    # The postgres user may not be able to read the checkout either: use copies.
    local folder
    for folder in "$@"; do cp -r "$repo/postgres/$folder" "$STACK_DIR/scripts/"; done
    if is_root; then chown -R postgres:postgres "$STACK_DIR/scripts"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

refuse_busy_port() {
    if port_busy "$2"; then die "$1: port $2 on 127.0.0.1 is already in use; set $3"; fi
}

daemon_running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# start_daemon NAME PORT_VARIABLE LOG COMMAND...: run COMMAND, which daemonizes, and
# wait until it listens on the port that PORT_VARIABLE (POOLER_PORT, REDIS_PORT) holds.
start_daemon() {
    local name="$1" port_variable="$2" log="$3" _
    local port="${!port_variable}"
    shift 3
    refuse_busy_port "$name" "$port" "$port_variable"
    as_pg "$@" || die "$name failed to start; see $log"
    for _ in $(seq 50); do port_busy "$port" && return; sleep 0.1; done
    die "$name did not listen on $port; see $log"
}

# stop_daemon NAME PIDFILE: stop it and wait until it has exited.
stop_daemon() {
    local name="$1" pid _
    daemon_running "$2" || return 0
    pid="$(cat "$2")"
    # A stopped (SIGSTOP) server, as a test leaves Redis, must be able to act on SIGTERM.
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "$name stopped"
}

redis_dir() { echo "$STACK_DIR/redis"; }

redis_running() { daemon_running "$(redis_dir)/redis.pid"; }

start_redis() {
    local dir
    dir="$(redis_dir)"
    if redis_running; then
        say "redis already running on 127.0.0.1:$REDIS_PORT"
        return
    fi
    if ! command -v redis-server >/dev/null; then
        say "redis-server not found: no Redis, and positions per member are off" \
            "(scripts/ensure-stack.sh installs it, as root)"
        return
    fi
    mkdir -p "$dir"
    if is_root; then chown postgres:postgres "$dir"; fi
    # Loopback only, no config file: everything it needs is here.
    start_daemon redis REDIS_PORT "$dir/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
        --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    say "redis up on 127.0.0.1:$REDIS_PORT"
}

stop_redis() { stop_daemon redis "$(redis_dir)/redis.pid"; }

# The Redis URL the app is given; none without Redis (positions per member are off).
redis_env() {
    if command -v redis-server >/dev/null; then echo "REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"; fi
}
