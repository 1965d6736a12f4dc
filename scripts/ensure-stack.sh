#!/usr/bin/env bash
# What the local stack (postgres/stack.sh) runs on, installed from Debian when missing,
# as root: PostgreSQL's server programs, PgBouncer for the stack's pooler (lesson 10),
# and Redis for the positions kept per member (lesson 18). postgres/stack.sh installs
# nothing itself: the make targets that start a stack run this first.
#
# PgBouncer and Redis are optional: where they cannot be installed (not root), the stack
# starts without them, and lessons 10 and 18 say so.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if ! find_pg_bin; then
    if can_apt_install; then
        # Debian's package would otherwise create and start a cluster of its own on 5432.
        mkdir -p /etc/postgresql-common
        grep -qs '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf ||
            echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
    fi
    apt_install "PostgreSQL's server programs are missing (or set PG_BIN to the directory holding initdb)" \
        postgresql
    find_pg_bin || die "Debian's postgresql is installed, but no initdb was found"
fi

if ! command -v pgbouncer >/dev/null; then
    if can_apt_install; then
        apt_install "the pooler needs PgBouncer" pgbouncer
    else
        say "pgbouncer not found: the stack starts without a pooler, and lesson 10 says so" \
            "(install Debian's pgbouncer for it)"
    fi
fi

if ! command -v redis-server >/dev/null; then
    if can_apt_install; then
        apt_install "the positions kept per member need Redis" redis-server
        # Debian's package starts a server of its own on 6379 where systemd runs; the
        # stack starts its own, on its own port.
        if [ -d /run/systemd/system ]; then
            systemctl disable --now redis-server >/dev/null 2>&1 || true
        fi
    else
        say "redis-server not found: the stack starts without Redis, and positions per member" \
            "are off (install Debian's redis-server for them)"
    fi
fi
