#!/usr/bin/env bash
# One Patroni node's configuration (etcd through its v3 API), for the HA stack
# (postgres/ha.sh: Debian 12's patroni 3.0.2) and its compose file (container.sh:
# Debian 13's patroni 4.0.7, inside the postgres image).
#
#   config.sh FILE    writes FILE, a patroni.yml
#
# Where things are comes from the environment:
#   NODE_NAME (node1), SCOPE (forum): the member and the cluster, as etcd names them
#   API_LISTEN (127.0.0.1:8008), API_ADDRESS (API_LISTEN): the REST API
#   PG_LISTEN (127.0.0.1:5432), PG_ADDRESS (PG_LISTEN): where the others reach PostgreSQL
#   PG_DATA, PG_BIN, PG_SOCKETS, PGPASS_FILE (PG_DATA/../pgpass): PostgreSQL's files
#   ETCD_HOST (127.0.0.1:2379): this node's etcd member, the only one it talks to
#   INIT_SCRIPT: postgres/primary/init.sh, run once on the first primary
#   HA_SYNC (on): synchronous_mode; off, asynchronous replication
#   REPLICA_LAG (0): the standbys' apply delay
#   SUPERUSER_PASSWORD, REPLICATION_USER, REPLICATION_PASSWORD
# HA_SYNC and REPLICA_LAG seed the cluster's configuration in etcd when the cluster is
# first made; later, `ha.sh lag` and `ha.sh sync` change it there (PATCH /config).
set -euo pipefail

file="${1:?usage: config.sh FILE}"
: "${NODE_NAME:=node1}" "${SCOPE:=forum}"
: "${API_LISTEN:=127.0.0.1:8008}" "${API_ADDRESS:=$API_LISTEN}"
: "${PG_LISTEN:=127.0.0.1:5432}" "${PG_ADDRESS:=$PG_LISTEN}"
: "${PG_DATA:?}" "${PG_BIN:?}" "${PG_SOCKETS:?}" "${PGPASS_FILE:=$(dirname "$PG_DATA")/pgpass.$NODE_NAME}"
: "${ETCD_HOST:=127.0.0.1:2379}" "${INIT_SCRIPT:?}"
: "${HA_SYNC:=on}" "${REPLICA_LAG:=0}"
: "${SUPERUSER_PASSWORD:=postgres}"
: "${REPLICATION_USER:=replicator}" "${REPLICATION_PASSWORD:=replicator}"

case "$HA_SYNC" in
    on) synchronous_mode=true ;;
    off) synchronous_mode=false ;;
    *) echo "config.sh: HA_SYNC must be on or off (got '$HA_SYNC')" >&2 && exit 1 ;;
esac

cat >"$file" <<YAML
scope: $SCOPE
name: $NODE_NAME

restapi:
  listen: $API_LISTEN
  connect_address: $API_ADDRESS

etcd3:
  hosts: $ETCD_HOST
  # Talk to this node's member only, never discover the others: a node cut off from
  # its member is cut off from the DCS (a drill stops the member to do it).
  use_proxies: true

bootstrap:
  dcs:
    # A failover within seconds: the leader key lives ttl seconds unless renewed, each
    # node runs its loop every loop_wait seconds, and a DCS or PostgreSQL call is retried
    # for retry_timeout seconds. Patroni's docs ask for loop_wait + 2 * retry_timeout
    # <= ttl, so a leader that cannot renew demotes itself before its key expires.
    # Patroni 3.0.2 takes these as given; 4.0.7 raises ttl to its minimum, 20, so under
    # compose a dead leader's key outlives it longer.
    ttl: 8
    loop_wait: 1
    retry_timeout: 3
    # No acknowledged commit lost in a failover: a commit waits for one standby's flush,
    # and only that standby may be promoted.
    synchronous_mode: $synchronous_mode
    postgresql:
      # A demoted primary rewinds to the new timeline and follows, instead of a new clone.
      use_pg_rewind: true
      use_slots: true
      parameters:
        # postgres/primary/primary.conf's settings, which Patroni owns here.
        wal_level: replica
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
        hot_standby: "on"
        # Only standbys apply it (Patroni writes it into their recovery settings).
        recovery_min_apply_delay: "$REPLICA_LAG"
        # Reconnect quickly after the primary restarts (the default is 5s).
        wal_retrieve_retry_interval: 500ms
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - auth-local: trust
    - auth-host: scram-sha-256
  # The roles, databases and grants of the local stack and compose; Patroni adds the
  # connection string as an argument, which init.sh does not read.
  post_bootstrap: $INIT_SCRIPT roles

postgresql:
  listen: $PG_LISTEN
  connect_address: $PG_ADDRESS
  data_dir: $PG_DATA
  bin_dir: $PG_BIN
  pgpass: $PGPASS_FILE
  # Patroni's own queries go over the socket (trusted), not TCP with a password.
  use_unix_socket: true
  # A standby's clone starts at once, not after a spread checkpoint (minutes).
  basebackup:
    - checkpoint: fast
  authentication:
    superuser:
      username: postgres
      password: $SUPERUSER_PASSWORD
    replication:
      username: $REPLICATION_USER
      password: $REPLICATION_PASSWORD
  parameters:
    unix_socket_directories: $PG_SOCKETS
  # init.sh's rules: trusted local logins, passwords over TCP.
  pg_hba:
    - local all all trust
    - host replication $REPLICATION_USER all scram-sha-256
    - host all all all scram-sha-256

# No hardware watchdog here (it would reset a machine whose Patroni hangs).
watchdog:
  mode: "off"
YAML
