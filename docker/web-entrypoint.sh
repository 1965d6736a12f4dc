#!/usr/bin/env bash
# The web container's entrypoint: wait for the primary, bring the schema and the demo
# data up to date, then hand over to the command (gunicorn) so it runs as PID 1 and
# gets signals. `compose up` starts this once the databases are healthy, but after an
# engine restart every container starts at once: hence the wait.
set -euo pipefail

waited=0
until python manage.py migrate_primaries --noinput; do
    if [ "$waited" -ge 120 ]; then
        echo "web: the primary did not accept the migration within 120 s; giving up" >&2
        exit 1  # the restart policy tries again
    fi
    echo "web: the primary is not ready; trying again in 2 s" >&2
    sleep 2
    waited=$((waited + 2))
done
# Idempotent: a restart does not duplicate the demo forum.
python manage.py seed_forum
exec "$@"
