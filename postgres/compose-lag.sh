#!/usr/bin/env bash
# Change the apply delay of every replica container of the compose project, live:
#   postgres/compose-lag.sh 5s
# `docker compose exec` reaches one container of a scaled service; this reaches each.
# The project is the one `docker compose` would use here (COMPOSE_PROJECT_NAME, -p).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

delay="${1:?usage: compose-lag.sh DELAY (e.g. 3s, 500ms, 0)}"
[[ "$delay" =~ ^(0|[0-9]+(ms|s|min|h))$ ]] ||
    die "DELAY must be 0 or a number with a unit: 500ms, 3s, 1min, 1h (got '$delay')"
containers=$(docker compose ps --quiet replica)
[ -n "$containers" ] || die "no replica container is running"
for id in $containers; do
    docker exec --user postgres "$id" psql -X -q -v ON_ERROR_STOP=1 -d postgres \
        -c "ALTER SYSTEM SET recovery_min_apply_delay = '$delay'" -c "SELECT pg_reload_conf()" \
        >/dev/null
    say "$(docker inspect --format '{{.Name}}' "$id" | tr -d /) apply delay now $delay"
done
