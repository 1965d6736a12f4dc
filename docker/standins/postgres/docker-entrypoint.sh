#!/usr/bin/env bash
# The stand-in's entrypoint: the part of the official postgres image's documented
# behaviour that docker-compose.yml relies on.
#
# - As root: own $PGDATA, then run again as postgres (uid 999) through gosu.
# - An empty $PGDATA: initdb with POSTGRES_PASSWORD for POSTGRES_USER (default
#   postgres), password logins from other hosts, POSTGRES_DB created; then the
#   /docker-entrypoint-initdb.d scripts, once, against a temporary server that listens
#   on its Unix socket only: *.sh executed if executable and sourced if not, *.sql run
#   with psql. Other files are ignored.
# - Then the real server, in the foreground, as PID 1.
# No `set -u`: init scripts are sourced into this shell, and the official image runs
# them without it, so a script that reads an unset variable works in both.
set -Eeo pipefail

if [ "${1:0:1}" = "-" ]; then
    set -- postgres "$@"
fi

if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec gosu postgres "$0" "$@"
fi

echo "stand-in for postgres:17.6: $(postgres --version) from Debian's postgresql-17" >&2

export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

run_init_scripts() {
    local script
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh)
                if [ -x "$script" ]; then
                    echo "running $script" >&2
                    "$script"
                else
                    echo "sourcing $script" >&2
                    # shellcheck disable=SC1090
                    . "$script"
                fi
                ;;
            *.sql)
                echo "running $script" >&2
                psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" \
                    --dbname "$POSTGRES_DB" -f "$script"
                ;;
            *) echo "ignoring $script" >&2 ;;
        esac
    done
}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: the database is uninitialized and POSTGRES_PASSWORD is not set" >&2
        exit 1
    fi
    # Unquoted on purpose: POSTGRES_INITDB_ARGS holds several arguments.
    # shellcheck disable=SC2086
    initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
        ${POSTGRES_INITDB_ARGS:-}
    printf '\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"

    # Unix socket only: nothing outside the container sees a half-initialised server.
    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses=''" start
    export PGUSER="$POSTGRES_USER" PGPASSWORD="$POSTGRES_PASSWORD"
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 --no-psqlrc --dbname postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    run_init_scripts
    pg_ctl -D "$PGDATA" -w -m fast stop
    unset PGUSER PGPASSWORD
    echo "initialisation done; starting the server" >&2
fi

exec "$@"
