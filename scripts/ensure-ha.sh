#!/usr/bin/env bash
# What the HA stack (postgres/ha.sh) runs on, installed from Debian when missing, as
# root: the local stack's programs (scripts/ensure-stack.sh), Patroni, etcd's server and
# client, and curl for Patroni's REST API. postgres/ha.sh installs nothing itself.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$(dirname "${BASH_SOURCE[0]}")/ensure-stack.sh"

missing=()
command -v patroni >/dev/null || missing+=(patroni)
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v curl >/dev/null || missing+=(curl)
[ "${#missing[@]}" -eq 0 ] && exit 0

apt_install "the HA stack needs Patroni, etcd and curl" "${missing[@]}"
# Debian's etcd-server starts a member of its own on 2379 where systemd runs; the HA
# stack starts its own three, on its own ports.
if [[ " ${missing[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd >/dev/null 2>&1 || true
fi
