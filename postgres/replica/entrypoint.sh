#!/usr/bin/env bash
# Docker entrypoint for a replica container: clone the primary once, then run
# PostgreSQL in the foreground as the postgres user.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    chown postgres:postgres "$PGDATA"
    exec gosu postgres "$0" "$@"
fi

"$(dirname "$0")/bootstrap.sh"
exec postgres "$@"
