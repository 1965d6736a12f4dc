#!/usr/bin/env bash
# make demo: the local stack (REPLICAS standbys, each applying REPLICA_LAG late), the
# schema and the demo data, then gunicorn on http://127.0.0.1:8000 in the foreground
# (GUNICORN_BIND moves it). Ctrl-C stops gunicorn, and the stack if this script started
# it: a stack that was already running is left running.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VENV:-.venv}"
export REPLICAS="${REPLICAS:-1}" REPLICA_LAG="${REPLICA_LAG:-2s}"

scripts/ensure-stack.sh
if [[ "$(postgres/stack.sh status || true)" != *"primary up"* ]]; then
    trap 'postgres/stack.sh down' EXIT
fi
postgres/stack.sh up
postgres/stack.sh lag "$REPLICA_LAG"
stack_env="$(postgres/stack.sh env)"
set -a
eval "$stack_env"
set +a
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-local-demo-only-secret}"
export LAB_CLUSTER_CONTROLS="${LAB_CLUSTER_CONTROLS:-true}"

"$venv/bin/python" manage.py collectstatic --noinput -v0
"$venv/bin/python" manage.py migrate_primaries --noinput -v0
"$venv/bin/python" manage.py seed_forum
echo "Serving http://${GUNICORN_BIND:-127.0.0.1:8000} (Ctrl-C stops it)"
# Not exec: the trap above stops the stack when gunicorn ends.
"$venv/bin/gunicorn" -c config/gunicorn.conf.py config.wsgi
