#!/usr/bin/env bash
# The images docker-compose.yml starts from: postgres:17.6 and python:3.13-slim.
#
# An image already present is used. A missing one is pulled from Docker Hub; where
# no registry answers, a stand-in is built from Debian packages under the same tag
# (docker/standins/, each Dockerfile says what it is). A stand-in is labelled
# with a hash of its files and rebuilt only when they change, so a second run reuses
# it. The stand-ins start from a Debian trixie base made with mmdebstrap.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
STANDINS=docker/standins
BASE=forum-standin/debian:trixie
HASH_LABEL=forum.standin.hash

label_of() {
    docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null
}

ensure_base() {
    docker image inspect "$BASE" >/dev/null 2>&1 && return 0
    command -v mmdebstrap >/dev/null || apt_install "building a stand-in needs mmdebstrap" mmdebstrap
    say "making $BASE from Debian's mirror (mmdebstrap, minbase)"
    mmdebstrap --quiet --variant=minbase --format=tar trixie - http://deb.debian.org/debian \
        | docker import --change 'CMD ["bash"]' - "$BASE" >/dev/null
}

build_standin() {
    local tag=$1 dir=$2 hash=$3 context
    ensure_base
    context=$(mktemp -d)
    cp -r "$dir"/. "$context"/
    # The python stand-in trusts what the host trusts (see its Dockerfile).
    cp /etc/ssl/certs/ca-certificates.crt "$context/host-ca-certificates.crt"
    say "building a stand-in for $tag from $dir"
    docker build --quiet --label "$HASH_LABEL=$hash" --tag "$tag" "$context" >/dev/null \
        || { rm -rf "$context"; die "could not build the stand-in for $tag"; }
    rm -rf "$context"
}

ensure_image() {
    local tag=$1 dir=$2 hash found
    hash=$(cat "$dir"/* | sha256sum | cut -c1-16)
    if docker image inspect "$tag" >/dev/null 2>&1; then
        found=$(label_of "$tag")
        # No label: the real image. The same label: this very stand-in.
        if [ -z "$found" ] || [ "$found" = "$hash" ]; then
            return 0
        fi
    elif timeout 60 docker pull --quiet "$tag" >/dev/null 2>&1; then
        return 0
    else
        say "could not pull $tag (no registry reachable?)"
    fi
    build_standin "$tag" "$dir" "$hash"
}

ensure_image postgres:17.6 "$STANDINS/postgres"
ensure_image python:3.13-slim "$STANDINS/python"
