#!/usr/bin/env bash
# The HA stack: three PostgreSQL nodes managed by Patroni, on a three-member etcd, no
# Docker.
#
#   postgres/ha.sh up | down | reset | status | env | lag DELAY | sync on|off
#                  | stop NODE | start NODE | kill NODE | leader | psql NODE [args]
#
# Nodes are node1, node2 and node3. Each runs an etcd member (etcd1...), a Patroni, and
# the PostgreSQL that Patroni runs; its Patroni talks to its own etcd member only, so
# `stop etcd1` cuts node1 off from the DCS. `kill node1` is the node dying: its Patroni
# and its PostgreSQL killed with SIGKILL. A Redis (REDIS_PORT) keeps the positions per
# member, as in the local stack; "redis" is a node for stop and start too.
#
# Ports (override by environment):
#   HA_PG_PORT (54340)    PostgreSQL: node1 54340, node2 54341, node3 54342
#   HA_API_PORT (8008)    Patroni's REST API: 8008, 8009, 8010
#   HA_ETCD_PORT (54350)  etcd's clients: 54350-54352; its peers: 54353-54355
#   REDIS_PORT            HA_PG_PORT + 8
# HA_SYNC (on) makes the cluster synchronous_mode (off: asynchronous), REPLICA_LAG (2s)
# the standbys' apply delay: both seed the cluster's configuration in etcd when the
# cluster is made; `lag` and `sync` change it later, live.
#
# The first primary runs postgres/primary/init.sh (roles, databases, grants), as the
# local stack and compose do. Started as root, everything runs as the postgres user.
# It installs nothing: scripts/ensure-ha.sh does (make ha runs it first).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$repo/scripts/lib.sh"
# shellcheck source=postgres/local.sh
. "$repo/postgres/local.sh"
STACK_DIR="$(realpath -m "${STACK_DIR:-$repo/.stack-ha}")"
HA_PG_PORT="${HA_PG_PORT:-54340}"
HA_API_PORT="${HA_API_PORT:-8008}"
HA_ETCD_PORT="${HA_ETCD_PORT:-54350}"
REDIS_PORT="${REDIS_PORT:-$((HA_PG_PORT + 8))}"
HA_SYNC="${HA_SYNC:-on}"
REPLICA_LAG="${REPLICA_LAG:-2s}"
HA_SCOPE="${HA_SCOPE:-forum}"
SUPERUSER_PASSWORD="${SUPERUSER_PASSWORD:-postgres}"
NODES=(node1 node2 node3)
# Bounds on every wait, in seconds: a first start runs initdb and clones two standbys.
START_TIMEOUT="${HA_START_TIMEOUT:-90}"
STOP_TIMEOUT=30

index_of() {
    case "$1" in
        node[1-3] | etcd[1-3]) echo $((${1: -1} - 1)) ;;
        *) die "unknown node '$1' (expected node1-3, etcd1-3 or redis)" ;;
    esac
}
pg_port() { echo $((HA_PG_PORT + $(index_of "$1"))); }
api_port() { echo $((HA_API_PORT + $(index_of "$1"))); }
etcd_client_port() { echo $((HA_ETCD_PORT + $(index_of "$1"))); }
etcd_peer_port() { echo $((HA_ETCD_PORT + 3 + $(index_of "$1"))); }

data_of() { echo "$STACK_DIR/$1"; }
pidfile_of() { echo "$STACK_DIR/run/$1.pid"; }
api_url() { echo "http://127.0.0.1:$(api_port "$1")"; }

running() {
    local pidfile
    pidfile="$(pidfile_of "$1")"
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# The PID of the PostgreSQL server (postmaster) a node's Patroni runs, if any runs.
postmaster_pid() {
    local pidfile pid
    pidfile="$(data_of "$1")/postmaster.pid"
    [ -f "$pidfile" ] || return 1
    pid="$(head -n 1 "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Start a program in the background, in a session of its own (Ctrl-C in the terminal
# that started the stack reaches make ha's trap, not the servers), as the postgres user,
# its PID in NAME's pidfile. The inner bash starts it and exits, so no process waits on
# it: runuser's would stop itself when the program is stopped (a test's SIGSTOP), stay
# stopped after SIGCONT, and outlive the program with this script's subshell.
launch() {
    local name="$1" log="$STACK_DIR/log/$1.log"
    shift
    # shellcheck disable=SC2016 # $! and $@ are the inner bash's
    as_pg setsid bash -c '"$@" & echo $! >"$0"' "$(pidfile_of "$name")" "$@" \
        </dev/null >>"$log" 2>&1
    local _
    for _ in $(seq 50); do running "$name" && return; sleep 0.1; done
    die "$name did not start; see $log"
}

# Stop by PID: SIGTERM to each, then wait for all (bounded), then SIGKILL.
stop_pids_of() {
    local name pids=() names=() pid _
    for name in "$@"; do
        running "$name" || continue
        pid="$(cat "$(pidfile_of "$name")")"
        kill "$pid"
        pids+=("$pid") names+=("$name")
    done
    [ "${#pids[@]}" -gt 0 ] || return 0
    for _ in $(seq $((STOP_TIMEOUT * 10))); do
        any_alive "${pids[@]}" || break
        sleep 0.1
    done
    local i
    for i in "${!pids[@]}"; do
        if kill -0 "${pids[$i]}" 2>/dev/null; then
            say "${names[$i]} did not stop within ${STOP_TIMEOUT}s: killing it"
            kill -KILL "${pids[$i]}"
        fi
        rm -f "$(pidfile_of "${names[$i]}")"
        say "${names[$i]} stopped"
    done
}

any_alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

initial_cluster() {
    local node cluster=""
    for node in etcd1 etcd2 etcd3; do
        cluster+="${cluster:+,}$node=http://127.0.0.1:$(etcd_peer_port "$node")"
    done
    echo "$cluster"
}

start_etcd() {
    local member="$1" client peer
    client="$(etcd_client_port "$member")"
    peer="$(etcd_peer_port "$member")"
    if running "$member"; then
        say "$member already running on 127.0.0.1:$client"
        return
    fi
    refuse_busy_port "$member" "$client" HA_ETCD_PORT
    refuse_busy_port "$member" "$peer" HA_ETCD_PORT
    # The --initial-* flags only matter the first time: a member with data rejoins from it.
    launch "$member" etcd --name "$member" --data-dir "$(data_of "$member")" \
        --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "$(initial_cluster)" --initial-cluster-state new \
        --initial-cluster-token "$HA_SCOPE-$HA_ETCD_PORT"
    say "$member started on 127.0.0.1:$client (peers: $peer)"
}

etcd_healthy() {
    ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$(etcd_client_port "$1")" --dial-timeout 1s \
        --command-timeout 2s endpoint health >/dev/null 2>&1
}

wait_for() {
    local what="$1" timeout="$2" deadline
    shift 2
    deadline=$((SECONDS + timeout))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${timeout}s waiting for $what"
        sleep 0.2
    done
}

write_patroni_config() {
    local node="$1"
    mkdir -p "$STACK_DIR/patroni"
    NODE_NAME="$node" SCOPE="$HA_SCOPE" \
        API_LISTEN="127.0.0.1:$(api_port "$node")" PG_LISTEN="127.0.0.1:$(pg_port "$node")" \
        PG_DATA="$(data_of "$node")" PG_BIN="$PG_BIN" PG_SOCKETS="$STACK_DIR/run" \
        PGPASS_FILE="$STACK_DIR/run/pgpass.$node" ETCD_HOST="127.0.0.1:$(etcd_client_port "${node/node/etcd}")" \
        INIT_SCRIPT="$STACK_DIR/scripts/primary/init.sh" HA_SYNC="$HA_SYNC" REPLICA_LAG="$REPLICA_LAG" \
        SUPERUSER_PASSWORD="$SUPERUSER_PASSWORD" \
        "$repo/postgres/patroni/config.sh" "$STACK_DIR/patroni/$node.yml"
    chmod 600 "$STACK_DIR/patroni/$node.yml"
    if is_root; then chown -R postgres:postgres "$STACK_DIR/patroni"; fi
}

start_patroni() {
    local node="$1" port api
    port="$(pg_port "$node")"
    api="$(api_port "$node")"
    if running "$node"; then
        say "$node already running (PostgreSQL 127.0.0.1:$port, Patroni 127.0.0.1:$api)"
        return
    fi
    refuse_busy_port "$node" "$api" HA_API_PORT
    # A PostgreSQL left running by a Patroni that died is Patroni's to adopt; any other
    # process on the port is in the way.
    if ! postmaster_pid "$node" >/dev/null && port_busy "$port"; then
        die "$node: port $port on 127.0.0.1 is already in use; set HA_PG_PORT"
    fi
    write_patroni_config "$node"
    # init.sh (post_bootstrap) finds the new server through these.
    launch "$node" env PATH="$PG_BIN:$PATH" PGHOST="$STACK_DIR/run" PGPORT="$port" PGUSER=postgres \
        PGDATA="$(data_of "$node")" patroni "$STACK_DIR/patroni/$node.yml"
    say "$node started (PostgreSQL 127.0.0.1:$port, Patroni 127.0.0.1:$api)"
}

stop_patroni() {
    local node pid
    # Patroni stops its PostgreSQL (fast shutdown) before it exits.
    stop_pids_of "$@"
    # One whose Patroni was killed runs on alone: stop it too.
    for node in "$@"; do
        if pid="$(postmaster_pid "$node")"; then
            as_pg "$PG_BIN/pg_ctl" stop --wait --silent -m fast -D "$(data_of "$node")" || kill -KILL "$pid"
            say "$node: PostgreSQL stopped"
        fi
    done
}

# The node dying at once: its Patroni and its PostgreSQL killed with SIGKILL.
kill_node() {
    local node="$1" pids=() pid
    running "$node" && pids+=("$(cat "$(pidfile_of "$node")")")
    if pid="$(postmaster_pid "$node")"; then pids+=("$pid"); fi
    [ "${#pids[@]}" -gt 0 ] || { say "$node is not running"; return; }
    kill -KILL "${pids[@]}"
    rm -f "$(pidfile_of "$node")"
    say "$node killed (SIGKILL: ${pids[*]})"
}

# What a node's Patroni says: HTTP status of GET PATH (200 or 503 for the role checks).
api_status() {
    curl --silent --output /dev/null --write-out '%{http_code}' --max-time 2 "$(api_url "$1")$2" || true
}

# GET /primary answers 200 once the node holds the leader lock, while its PostgreSQL may
# still be in promotion: the role in the answer (pg_is_in_recovery) says it is done.
is_leader() {
    curl --silent --fail --max-time 2 "$(api_url "$1")/primary" 2>/dev/null | grep -Eq '"role": "(master|primary)"'
}
is_replica() { [ "$(api_status "$1" /replica)" = 200 ]; }

leader() {
    local node
    for node in "${NODES[@]}"; do
        if running "$node" && is_leader "$node"; then
            echo "$node"
            return 0
        fi
    done
    return 1
}

psql_on() {
    local node="$1"
    shift
    as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$STACK_DIR/run" -p "$(pg_port "$node")" -U postgres "$@"
}

streaming_standbys() {
    local node
    node="$(leader)" || return 1
    psql_on "$node" -d postgres -At -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
}

all_streaming() { [ "$(streaming_standbys 2>/dev/null)" = 2 ]; }

# Two standbys streaming and, in synchronous mode, one of them the synchronous standby
# in etcd (Patroni names it there only once PostgreSQL reports it synchronous).
settled() {
    all_streaming || return 1
    local api
    api="$(api_url "$(leader)")"
    curl --silent --max-time 2 "$api/config" | grep -q '"synchronous_mode": true' || return 0
    curl --silent --max-time 2 "$api/cluster" | grep -q '"role": "sync_standby"'
}

cmd_up() {
    local member node fresh=""
    [ -d "$(data_of node1)" ] || [ -d "$(data_of node2)" ] || [ -d "$(data_of node3)" ] || fresh=1
    for member in etcd1 etcd2 etcd3; do start_etcd "$member"; done
    for member in etcd1 etcd2 etcd3; do wait_for "$member to be healthy" "$START_TIMEOUT" etcd_healthy "$member"; done
    if [ -n "$fresh" ]; then
        # The first primary is node1: it runs initdb and init.sh, the others clone it.
        start_patroni node1
        wait_for "node1 to bootstrap the cluster" "$START_TIMEOUT" is_leader node1
        say "node1 is the leader"
    fi
    # Started together: whichever has the most WAL leads (Patroni's race).
    for node in "${NODES[@]}"; do start_patroni "$node"; done
    wait_for "a leader" "$START_TIMEOUT" leader >/dev/null
    for node in "${NODES[@]}"; do
        [ "$node" = "$(leader)" ] || wait_for "$node to run as a standby" "$START_TIMEOUT" is_replica "$node"
    done
    wait_for "two standbys streaming from $(leader)" "$START_TIMEOUT" settled
    as_pg env PATH="$PG_BIN:$PATH" PGDATA="$(data_of "$(leader)")" PGHOST="$STACK_DIR/run" \
        PGPORT="$(pg_port "$(leader)")" PGUSER=postgres "$STACK_DIR/scripts/primary/init.sh" databases ||
        die "$(leader): creating the app databases failed"
    say "leader $(leader), two standbys streaming"
    start_redis
    cmd_env
}

cmd_down() {
    local node leader_now
    stop_redis
    leader_now="$(leader || true)"
    # The standbys first (together: a synchronous one waits a loop to be released), so
    # the leader does not fail over to one that stops.
    local standbys=()
    for node in "${NODES[@]}"; do
        [ "$node" = "$leader_now" ] || standbys+=("$node")
    done
    stop_patroni "${standbys[@]}"
    if [ -n "$leader_now" ]; then stop_patroni "$leader_now"; fi
    stop_pids_of etcd1 etcd2 etcd3
}

cmd_reset() {
    cmd_down
    say "removing $STACK_DIR"
    rm -rf "$STACK_DIR"
}

cmd_status() {
    local node role
    for node in "${NODES[@]}"; do
        if ! running "$node"; then
            say "$node down"
            continue
        fi
        role=standby
        is_leader "$node" && role=leader
        say "$node up ($role) on 127.0.0.1:$(pg_port "$node"), Patroni $(api_url "$node")"
    done
    for node in etcd1 etcd2 etcd3; do
        if running "$node"; then say "$node up on 127.0.0.1:$(etcd_client_port "$node")"; else say "$node down"; fi
    done
    if redis_running; then say "redis up on 127.0.0.1:$REDIS_PORT"; else say "redis down"; fi
}

# The app's settings. The primary is every node with target_session_attrs=read-write:
# libpq tries them in turn and keeps the one that takes writes, so a new connection
# finds the new leader after a failover. One replica alias per node, standbys only: the
# leader's alias refuses to connect, and the routers skip it as a dead replica.
cmd_env() {
    local node hosts="" replicas="" analytics_replicas="" apis=""
    for node in "${NODES[@]}"; do
        hosts+="${hosts:+,}127.0.0.1:$(pg_port "$node")"
        replicas+="${replicas:+,}postgres://$READER_USER:$READER_PASSWORD@127.0.0.1:$(pg_port "$node")/$APP_DB?target_session_attrs=standby"
        analytics_replicas+="${analytics_replicas:+,}postgres://$READER_USER:$READER_PASSWORD@127.0.0.1:$(pg_port "$node")/$ANALYTICS_DB?target_session_attrs=standby"
        apis+="${apis:+,}$(api_url "$node")"
    done
    echo "DATABASE_URL=postgres://$APP_USER:$APP_PASSWORD@$hosts/$APP_DB?target_session_attrs=read-write"
    echo "REPLICA_URLS=$replicas"
    echo "ANALYTICS_DATABASE_URL=postgres://$APP_USER:$APP_PASSWORD@$hosts/$ANALYTICS_DB?target_session_attrs=read-write"
    echo "ANALYTICS_REPLICA_URLS=$analytics_replicas"
    echo "PATRONI_URLS=$apis"
    # Where this script keeps its PIDs: the lab's "kill the leader" runs it there.
    echo "HA_STACK_DIR=$STACK_DIR"
    redis_env
}

# Patroni's dynamic configuration, in etcd, changed through the leader's REST API;
# every node applies it within loop_wait.
patch_config() {
    local node
    node="$(leader)" || die "no leader: is the HA stack up (postgres/ha.sh up)?"
    curl --silent --show-error --fail --max-time 5 --request PATCH --data "$1" "$(api_url "$node")/config" \
        >/dev/null || die "PATCH /config on $node failed"
}

delay_ms() {
    local delay="$1"
    case "$delay" in
        0) echo 0 ;;
        *ms) echo "${delay%ms}" ;;
        *min) echo $((${delay%min} * 60000)) ;;
        *s) echo $((${delay%s} * 1000)) ;;
        *h) echo $((${delay%h} * 3600000)) ;;
    esac
}

applies_delay() {
    [ "$(psql_on "$1" -d postgres -At -c "SELECT setting FROM pg_settings WHERE name = 'recovery_min_apply_delay'")" = "$2" ]
}

# The standbys' apply delay, live: Patroni writes it into each standby's settings and
# reloads it (an ALTER SYSTEM would be undone: Patroni owns the recovery settings).
cmd_lag() {
    local delay="${1:?usage: ha.sh lag DELAY (e.g. 3s, 500ms, 0)}" node
    [[ "$delay" =~ ^(0|[0-9]+(ms|s|min|h))$ ]] || die "DELAY must be 0 or a number with a unit: 500ms, 3s, 1min, 1h (got '$delay')"
    patch_config "{\"postgresql\": {\"parameters\": {\"recovery_min_apply_delay\": \"$delay\"}}}"
    for node in "${NODES[@]}"; do
        if running "$node" && is_replica "$node"; then
            wait_for "$node to apply the delay $delay" 15 applies_delay "$node" "$(delay_ms "$delay")"
        fi
    done
    say "standbys' apply delay now $delay"
}

cmd_sync() {
    local mode="${1:?usage: ha.sh sync on|off}"
    case "$mode" in
        on) patch_config '{"synchronous_mode": true}' ;;
        off) patch_config '{"synchronous_mode": false}' ;;
        *) die "usage: ha.sh sync on|off (got '$mode')" ;;
    esac
    say "synchronous_mode $mode"
}

stop_any() {
    case "$1" in
        redis) stop_redis ;;
        etcd*) index_of "$1" >/dev/null && stop_pids_of "$1" ;;
        *) index_of "$1" >/dev/null && stop_patroni "$1" ;;
    esac
}

start_any() {
    case "$1" in
        redis) start_redis ;;
        etcd*) index_of "$1" >/dev/null && start_etcd "$1" ;;
        *) index_of "$1" >/dev/null && start_patroni "$1" ;;
    esac
}

main() {
    local cmd="${1:-}"
    [ -n "$cmd" ] || die "usage: ha.sh up|down|reset|status|env|lag DELAY|sync on|off|stop NODE|start NODE|kill NODE|leader|psql NODE"
    shift
    case "$cmd" in
        env) cmd_env; return ;;
    esac
    find_pg_bin || die "PostgreSQL's server programs not found: run scripts/ensure-ha.sh" \
        "(as root it installs Debian's postgresql), or set PG_BIN to the directory holding initdb"
    resolve_stack_dir primary
    case "$cmd" in
        up) cmd_up ;;
        down) cmd_down ;;
        reset) cmd_reset ;;
        status) cmd_status ;;
        lag) cmd_lag "$@" ;;
        sync) cmd_sync "$@" ;;
        stop) stop_any "${1:?usage: ha.sh stop NODE}" ;;
        start) start_any "${1:?usage: ha.sh start NODE}" ;;
        kill) index_of "${1:?usage: ha.sh kill NODE}" >/dev/null && kill_node "$1" ;;
        leader) leader || die "no leader" ;;
        psql)
            local node="${1:?usage: ha.sh psql NODE [psql arguments]}"
            shift
            psql_on "$node" -d "$APP_DB" "$@"
            ;;
        *) die "unknown command '$cmd'" ;;
    esac
}

main "$@"
