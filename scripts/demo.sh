#!/usr/bin/env bash
# make demo: the local stack (REPLICAS standbys, each applying REPLICA_LAG late), the
# schema and the demo data, then the task worker (manage.py db_worker) in the background
# and gunicorn on http://127.0.0.1:8000 in the foreground (GUNICORN_BIND moves it).
# Ctrl-C stops gunicorn and the worker, and the stack if this script started it: a stack
# that was already running is left running.
#
# make ha: the same on the HA stack (DEMO_STACK=ha: postgres/ha.sh, three nodes under
# Patroni, synchronous unless HA_SYNC=off).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VENV:-.venv}"
export REPLICAS="${REPLICAS:-1}" REPLICA_LAG="${REPLICA_LAG:-2s}" HA_SYNC="${HA_SYNC:-on}"
case "${DEMO_STACK:-local}" in
    local) stack=postgres/stack.sh ensure=scripts/ensure-stack.sh up_when="primary up" ;;
    ha) stack=postgres/ha.sh ensure=scripts/ensure-ha.sh up_when="(leader)" ;;
    *) echo "demo: DEMO_STACK must be local or ha (got '$DEMO_STACK')" >&2 && exit 1 ;;
esac

"$ensure"
stop_stack=""
if [[ "$("$stack" status || true)" != *"$up_when"* ]]; then
    stop_stack=1
fi
worker=""
stop() {
    # The worker first: it finishes the task it is running, on the stack.
    if [ -n "$worker" ]; then
        kill "$worker" 2>/dev/null || true
        wait "$worker" 2>/dev/null || true
    fi
    if [ -n "$stop_stack" ]; then "$stack" down; fi
}
trap stop EXIT
"$stack" up
"$stack" lag "$REPLICA_LAG"
# A cluster made earlier keeps the mode it was made with, unless told here.
if [ "$stack" = postgres/ha.sh ]; then "$stack" sync "$HA_SYNC"; fi
stack_env="$("$stack" env)"
set -a
eval "$stack_env"
set +a
export DJANGO_SECRET_KEY="${DJANGO_SECRET_KEY:-local-demo-only-secret}"
export LAB_CLUSTER_CONTROLS="${LAB_CLUSTER_CONTROLS:-true}"

"$venv/bin/python" manage.py collectstatic --noinput -v0
"$venv/bin/python" manage.py migrate_primaries --noinput -v0
"$venv/bin/python" manage.py seed_forum
# Background tasks (a reply's notification, lesson 15), polled every half second. The
# worker exits when it cannot reach the primary (a restart, a stop from the shell): start
# it again. Ctrl-C reaches it too; the trap above stops the loop and the worker it runs.
run_worker() {
    local pid=""
    trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null; wait; exit 0' TERM
    while :; do
        "$venv/bin/python" manage.py db_worker --no-reload --no-startup-delay --interval 0.5 &
        pid=$!
        wait "$pid" || true
        sleep 2
    done
}
run_worker &
worker=$!
echo "Serving http://${GUNICORN_BIND:-127.0.0.1:8000} (Ctrl-C stops it)"
# Not exec: the trap above stops the worker and the stack when gunicorn ends.
"$venv/bin/gunicorn" -c config/gunicorn.conf.py config.wsgi
