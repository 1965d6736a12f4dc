#!/usr/bin/env bash
# A Patroni node in a container (docker-compose.ha.yml): the same configuration as the
# HA stack's (config.sh), written for the compose network, then Patroni itself, as the
# postgres user (the compose file's `init: true` reaps what its children leave).
#
# From the environment: NODE_NAME (node1..3), ETCD_HOST (its own etcd member), HA_SYNC,
# REPLICA_LAG, and init.sh's APP_DB, ANALYTICS_DB and role passwords.
set -euo pipefail

: "${NODE_NAME:?NODE_NAME names this node (node1, node2, node3)}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data=/var/lib/postgresql/data/pgdata
sockets=/var/run/postgresql
pg_bin="$(dirname "$(command -v postgres)")"

mkdir -p "$data" "$sockets" /etc/patroni
chown postgres:postgres "$data" "$sockets" /var/lib/postgresql/data
chmod 700 "$data"

NODE_NAME="$NODE_NAME" SCOPE="${HA_SCOPE:-forum}" \
    API_LISTEN=0.0.0.0:8008 API_ADDRESS="$NODE_NAME:8008" \
    PG_LISTEN=0.0.0.0:5432 PG_ADDRESS="$NODE_NAME:5432" \
    PG_DATA="$data" PG_BIN="$pg_bin" PG_SOCKETS="$sockets" PGPASS_FILE=/etc/patroni/pgpass \
    ETCD_HOST="${ETCD_HOST:?ETCD_HOST names the etcd member of this node, host:port}" \
    INIT_SCRIPT=/opt/forum/primary/init.sh \
    "$here/config.sh" /etc/patroni/patroni.yml
chown -R postgres:postgres /etc/patroni
chmod 600 /etc/patroni/patroni.yml

# init.sh (Patroni's post_bootstrap, on the first primary) finds the new server so.
export PGDATA="$data" PGHOST="$sockets" PGPORT=5432 PGUSER=postgres
exec gosu postgres patroni /etc/patroni/patroni.yml
