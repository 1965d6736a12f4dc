#!/usr/bin/env bash
# PgBouncer in transaction mode in front of compose's primary and every replica
# container (lesson 10). The local stack's postgres/stack.sh writes the same entries.
set -euo pipefail

: "${APP_DB:=forum}" "${APP_USER:=forum}" "${APP_PASSWORD:=forum}"
: "${READER_USER:=forum_reader}" "${READER_PASSWORD:=forum_reader}"
dir=/tmp/pgbouncer
mkdir -p "$dir"

# "replica" answers with one address per container: PgBouncer takes them in turn.
cat >"$dir/pgbouncer.ini" <<INI
[databases]
$APP_DB = host=primary port=5432 dbname=$APP_DB
${APP_DB}_replicas = host=replica port=5432 dbname=$APP_DB

[pgbouncer]
listen_addr = 0.0.0.0
listen_port = 6432
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $dir/userlist.txt
pool_mode = transaction
; Idle server connections taken in turn, so transactions spread over the standbys.
server_round_robin = 1
; Look the replica name up again often: containers come and go with --scale.
dns_max_ttl = 5
INI
# Plain passwords: PgBouncer logs in to the servers with them (demo values).
printf '"%s" "%s"\n"%s" "%s"\n' "$APP_USER" "$APP_PASSWORD" "$READER_USER" "$READER_PASSWORD" \
    >"$dir/userlist.txt"
chmod 600 "$dir/userlist.txt"
exec pgbouncer "$dir/pgbouncer.ini"
