#!/usr/bin/env bash
# The web container's entrypoint: bring the schema and the demo data up to date,
# then hand over to the command (gunicorn) so it runs as PID 1 and gets signals.
# compose starts this only once the primary and the replicas are healthy.
set -euo pipefail

python manage.py migrate --noinput
# Idempotent: a restart does not duplicate the demo forum.
python manage.py seed_forum
exec "$@"
