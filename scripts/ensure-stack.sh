#!/usr/bin/env bash
# What the local stack (postgres/stack.sh) runs on, installed from Debian when missing,
# as root: PostgreSQL's server programs, and PgBouncer for the stack's pooler
# (lesson 10). postgres/stack.sh installs nothing itself: the make targets that start a
# stack run this first.
#
# PgBouncer is optional: where it cannot be installed (not root), the stack starts
# without a pooler, and lesson 10 says so.
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
