#!/usr/bin/env bash
# Prepare a hot standby's data directory: wait for the primary, clone it with
# pg_basebackup -R, and set the apply delay. Does not start the server.
#
# An existing data directory is left as it is, so re-running just lets the caller
# start it again (its apply delay may have been changed live since: see `make lag`).
# Used by replica/entrypoint.sh under Docker and by postgres/stack.sh locally.
set -euo pipefail

: "${PGDATA:?PGDATA must point at the replica data directory}"
PRIMARY_HOST="${PRIMARY_HOST:-primary}"
PRIMARY_PORT="${PRIMARY_PORT:-5432}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
REPLICATION_PASSWORD="${REPLICATION_PASSWORD:-replicator}"
REPLICA_NAME="${REPLICA_NAME:-$(hostname)}"
REPLICA_LAG="${REPLICA_LAG:-0}"
PRIMARY_WAIT_SECONDS="${PRIMARY_WAIT_SECONDS:-60}"

if [ -s "$PGDATA/PG_VERSION" ]; then
    echo "replica $REPLICA_NAME: data directory exists, not cloning again"
    exit 0
fi

deadline=$((SECONDS + PRIMARY_WAIT_SECONDS))
until pg_isready --quiet --host "$PRIMARY_HOST" --port "$PRIMARY_PORT"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "replica $REPLICA_NAME: primary $PRIMARY_HOST:$PRIMARY_PORT not ready after ${PRIMARY_WAIT_SECONDS}s" >&2
        exit 1
    fi
    sleep 0.5
done

mkdir -p "$PGDATA"
chmod 700 "$PGDATA"
# -R writes primary_conninfo and standby.signal; application_name names this
# standby in the primary's pg_stat_replication.
PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup \
    --pgdata "$PGDATA" --write-recovery-conf --wal-method stream --checkpoint fast \
    --dbname "host=$PRIMARY_HOST port=$PRIMARY_PORT user=$REPLICATION_USER application_name=$REPLICA_NAME"

# postgresql.auto.conf is where ALTER SYSTEM writes, so `make lag` and the lab can
# change the delay later with ALTER SYSTEM + reload, and it survives restarts.
cat >>"$PGDATA/postgresql.auto.conf" <<CONF
recovery_min_apply_delay = '$REPLICA_LAG'
# Reconnect quickly after the primary restarts (the default is 5s).
wal_retrieve_retry_interval = '500ms'
CONF
echo "replica $REPLICA_NAME: cloned from $PRIMARY_HOST:$PRIMARY_PORT, apply delay $REPLICA_LAG"
