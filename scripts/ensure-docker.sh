#!/usr/bin/env bash
# A Docker engine and compose v2 for `make up` and the compose tests.
#
#   scripts/ensure-docker.sh        use the running engine, or start one (root only)
#   scripts/ensure-docker.sh stop   stop the engine this script started, if it did
#
# A running engine (Docker Desktop, a CI service, a system dockerd) is used as it is.
# Otherwise, as root, Debian's docker.io is installed when missing and dockerd is
# started in the background; its PID goes to $DOCKERD_PIDFILE (.docker/dockerd.pid),
# and `stop` stops exactly that PID. `make test` uses a file of its own, so it never
# stops an engine that `make up` started. Compose v2 is not packaged for bookworm: when `docker compose` is
# missing, Debian trixie's docker-compose and docker-buildx packages are unpacked into
# the CLI plugin folder (bookworm has no compose v2; trixie's builds need only libc).
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
STATE=.docker
PIDFILE=${DOCKERD_PIDFILE:-$STATE/dockerd.pid}
PLUGINS=/usr/local/lib/docker/cli-plugins

stop_engine() {
    [ -f "$PIDFILE" ] || return 0
    local pid
    pid=$(cat "$PIDFILE")
    # Only that dockerd: after a reboot the PID may belong to something else.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ] && kill "$pid"; then
        # dockerd stops its containers first: give it their stop timeouts.
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            say "dockerd (PID $pid) is still stopping; $PIDFILE kept" >&2
            return 0
        fi
    fi
    rm -f "$PIDFILE"
}

if [ "${1:-}" = stop ]; then
    stop_engine
    exit 0
fi

engine_answers() { docker info >/dev/null 2>&1; }

start_engine() {
    command -v dockerd >/dev/null || apt_install "no Docker engine is installed" docker.io
    # Debian's package brings its own client; one already on PATH is kept.
    mkdir -p "$STATE"
    say "starting dockerd (log: $STATE/dockerd.log)"
    # setsid: the engine outlives make's shell until `stop`, and no Ctrl-C meant for
    # the tests reaches it.
    setsid dockerd --storage-driver=overlay2 >"$STATE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 100); do
        engine_answers && return 0
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
        sleep 0.2
    done
    say "dockerd did not start; the end of $STATE/dockerd.log:" >&2
    tail -n 20 "$STATE/dockerd.log" >&2
    rm -f "$PIDFILE"
    exit 1
}

install_compose() {
    # Debian trixie's own builds, fetched with a private apt configuration so the
    # host's sources stay as they are.
    local apt_dir=$STATE/apt-trixie
    mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/unpacked"
    echo "deb http://deb.debian.org/debian trixie main" >"$apt_dir/sources.list"
    local options=(
        -o "Dir::Etc::SourceList=$PWD/$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$PWD/$apt_dir/lists"
        -o "Dir::Cache=$PWD/$apt_dir/cache"
        -o "APT::Sandbox::User=root"
    )
    say "installing compose v2 and buildx from Debian trixie into $PLUGINS"
    apt-get "${options[@]}" update -qq
    (cd "$apt_dir/cache/archives" && apt-get "${options[@]}" download docker-compose docker-buildx >/dev/null)
    for deb in "$apt_dir"/cache/archives/*.deb; do dpkg -x "$deb" "$apt_dir/unpacked"; done
    mkdir -p "$PLUGINS"
    install -m 755 "$apt_dir/unpacked/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGINS/"
    install -m 755 "$apt_dir/unpacked/usr/libexec/docker/cli-plugins/docker-buildx" "$PLUGINS/"
}

if ! engine_answers; then
    can_apt_install ||
        die "no Docker engine answers, and only root on Debian can start one here: start Docker, or run as root"
    start_engine
fi
if ! docker compose version >/dev/null 2>&1; then
    can_apt_install ||
        die "'docker compose' (v2) is missing: install the compose plugin (https://docs.docker.com/compose/install/)"
    install_compose
fi
