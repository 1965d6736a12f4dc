#!/usr/bin/env bash
# Initialise a fresh primary: roles, the app databases, grants, pg_hba and WAL settings.
#
# Runs once, as the database superuser, against a running server whose data directory
# is $PGDATA. The postgres Docker image runs it from /docker-entrypoint-initdb.d; the
# local stack (postgres/stack.sh) runs the very same file after initdb.
#
#   init.sh              everything, on a fresh primary
#   init.sh databases    only the app databases (APP_DB, ANALYTICS_DB) and their grants:
#                        idempotent, so postgres/stack.sh runs it on every start, and a
#                        primary made before a database was added gets that database
#   init.sh roles        everything but the server's files (primary.conf, pg_hba.conf):
#                        under Patroni (postgres/ha.sh) they are Patroni's to write
set -euo pipefail

: "${PGDATA:?PGDATA must point at the primary data directory}"
APP_DB="${APP_DB:-forum}"
# The second application database (lessons 6 and 7), on the same cluster: streaming
# replication copies it to every standby with the forum's.
ANALYTICS_DB="${ANALYTICS_DB:-${APP_DB}_analytics}"
APP_USER="${APP_USER:-forum}"
APP_PASSWORD="${APP_PASSWORD:-forum}"
READER_USER="${READER_USER:-forum_reader}"
READER_PASSWORD="${READER_PASSWORD:-forum_reader}"
REPLICATION_USER="${REPLICATION_USER:-replicator}"
REPLICATION_PASSWORD="${REPLICATION_PASSWORD:-replicator}"

psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --dbname postgres)

# One application database: created if missing, owned by the app role (which creates
# the tables), readable by the reader role, tables created later included.
app_database() {
    local db="$1" exists
    exists="$("${psql[@]}" --tuples-only --no-align -v db="$db" <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)"
    if [ -z "$exists" ]; then
        "${psql[@]}" -v db="$db" -v app_user="$APP_USER" <<'SQL'
CREATE DATABASE :"db" OWNER :"app_user";
SQL
        echo "primary: created database $db"
    fi
    "${psql[@]}" --dbname "$db" -v app_user="$APP_USER" -v reader_user="$READER_USER" <<'SQL'
-- Quiet when run again: "extension already exists, skipping".
SET client_min_messages = warning;
GRANT USAGE ON SCHEMA public TO :"reader_user";
GRANT SELECT ON ALL TABLES IN SCHEMA public TO :"reader_user";
-- Tables the app creates later (migrations run as the app role) are readable too.
ALTER DEFAULT PRIVILEGES FOR ROLE :"app_user" IN SCHEMA public GRANT SELECT ON TABLES TO :"reader_user";
-- /healthz and the routers read how long ago the primary committed what a standby has
-- not applied yet, from the WAL itself (pg_walinspect, PostgreSQL 15+). Function
-- privileges live in each database's catalog: grant it where the app connects.
CREATE EXTENSION IF NOT EXISTS pg_walinspect;
GRANT EXECUTE ON FUNCTION pg_get_wal_records_info(pg_lsn, pg_lsn) TO :"app_user";
-- After a failover the routers compare a client's write position through the timeline's
-- history (pg_wal/<timeline>.history), which only a superuser may read: this function,
-- owned by the superuser running this script, reads that one file for the app role and
-- nothing else in the data directory (routers/README.md, "Across a failover").
CREATE OR REPLACE FUNCTION public.routers_timeline_history(timeline integer) RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog
AS $body$
SELECT convert_from(pg_read_binary_file(path), 'UTF8')
FROM (SELECT format('pg_wal/%s.history', lpad(upper(to_hex(timeline)), 8, '0')) AS path) AS file
WHERE timeline > 1 AND (pg_stat_file(path, true)).size IS NOT NULL
$body$;
REVOKE EXECUTE ON FUNCTION public.routers_timeline_history(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.routers_timeline_history(integer) TO :"app_user";
SQL
}

app_databases() {
    app_database "$APP_DB"
    app_database "$ANALYTICS_DB"
    # Here, not with the roles: a primary made before it was granted gets it on its next start.
    "${psql[@]}" -v reader_user="$READER_USER" <<'SQL'
-- A standby serves reads only while it streams the primary's timeline: the reader role
-- reads its WAL receiver's status and timeline (pg_stat_wal_receiver hides both from a
-- role without pg_read_all_stats). It also shows that role every session's query text
-- and every table's statistics: grant it where the reader may see that.
SET client_min_messages = warning;
GRANT pg_read_all_stats TO :"reader_user";
SQL
    # The lab's own controls, on the forum's connection only.
    "${psql[@]}" --dbname "$APP_DB" -v app_user="$APP_USER" <<'SQL'
-- The lab changes the replicas' apply delay (ALTER SYSTEM, then a reload).
GRANT EXECUTE ON FUNCTION pg_reload_conf() TO :"app_user";
-- The lab's cluster panel pauses and resumes replay on a standby (demo only).
GRANT EXECUTE ON FUNCTION pg_wal_replay_pause() TO :"app_user";
GRANT EXECUTE ON FUNCTION pg_wal_replay_resume() TO :"app_user";
SQL
}

if [ "${1:-}" = databases ]; then
    app_databases
    exit 0
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [ "${1:-}" != roles ]; then
    cp "$here/primary.conf" "$PGDATA/primary.conf"
    if ! grep -q "^include_if_exists = 'primary.conf'" "$PGDATA/postgresql.conf"; then
        echo "include_if_exists = 'primary.conf'" >>"$PGDATA/postgresql.conf"
    fi

    # Password logins over TCP only. The server's listen_addresses decides who can reach
    # it (127.0.0.1 for the local stack, the compose network under Docker).
    if ! grep -q "forum: replication" "$PGDATA/pg_hba.conf"; then
        cat >>"$PGDATA/pg_hba.conf" <<HBA
# forum: replication for the standbys, password logins for everyone else
host    replication     $REPLICATION_USER     all     scram-sha-256
host    all             all                   all     scram-sha-256
HBA
    fi
fi

"${psql[@]}" \
    -v app_user="$APP_USER" -v app_password="$APP_PASSWORD" \
    -v reader_user="$READER_USER" -v reader_password="$READER_PASSWORD" \
    -v replication_user="$REPLICATION_USER" -v replication_password="$REPLICATION_PASSWORD" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE :"app_user" LOGIN CREATEDB PASSWORD :'app_password';
CREATE ROLE :"reader_user" LOGIN PASSWORD :'reader_password';
-- A write sent to a replica alias must fail loudly, even against the primary.
ALTER ROLE :"reader_user" SET default_transaction_read_only = on;
CREATE ROLE :"replication_user" LOGIN REPLICATION PASSWORD :'replication_password';
-- /healthz and the lab read replication state (pg_stat_replication, lag functions).
GRANT pg_monitor TO :"app_user";
-- The lab changes the replicas' apply delay live (ALTER SYSTEM + reload, PostgreSQL 15+).
GRANT ALTER SYSTEM ON PARAMETER recovery_min_apply_delay TO :"app_user";
-- Lesson 13 shortens a standby's grace for conflicting queries, and turns its feedback
-- on, for the length of one run (pg_parameter_acl is shared: it replicates).
GRANT ALTER SYSTEM ON PARAMETER max_standby_streaming_delay, hot_standby_feedback TO :"app_user";
SQL

app_databases
