#!/usr/bin/env bash
# docker-compose.yml's PgBouncer: the configuration config.sh writes (its defaults are
# compose's services), then PgBouncer in the foreground.
set -euo pipefail

"$(dirname "$0")/config.sh" /tmp/pgbouncer
exec pgbouncer /tmp/pgbouncer/pgbouncer.ini
