# shellcheck shell=bash
# The shell library of the scripts that run on the host (scripts/, postgres/):
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
#   say, die       a message (die: on stderr, then exit 1) that starts with the name of
#                  the script ("stack: ..."), so a recipe that runs several says who spoke
#   apt_install    Debian packages installed as root, a clear error anywhere else
#   find_pg_bin    where PostgreSQL's server programs are
#
# The scripts that run inside containers (postgres/primary, postgres/replica,
# postgres/pgbouncer, docker/) do without it: each folder is mounted or copied into its
# image on its own, and a stray .sh in /docker-entrypoint-initdb.d would run as an init
# script.

_lib_prefix="$(basename "$0" .sh)"

say() { echo "$_lib_prefix: $*"; }

die() {
    echo "$_lib_prefix: $*" >&2
    exit 1
}

# Whether apt_install can install here: as root, where apt-get exists.
can_apt_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

# apt_install WHY PACKAGE...: install Debian packages where it can; anywhere else stop,
# saying WHY they are needed and what to install.
apt_install() {
    local why="$1"
    shift
    can_apt_install || die "$why: install Debian's $* (sudo apt-get install $*)"
    say "installing Debian's $*"
    # Checked here, not left to set -e: callers run this after ||, where set -e is off.
    apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null ||
        die "installing Debian's $* failed"
}

# find_pg_bin: set PG_BIN to the directory of PostgreSQL's server programs (initdb,
# pg_ctl): PG_BIN as given, else pg_config's, else the newest /usr/lib/postgresql/*/bin.
# Fails, PG_BIN left unset, when none holds initdb (stops when a given PG_BIN does not).
find_pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        [ -x "$PG_BIN/initdb" ] || die "PG_BIN=$PG_BIN has no initdb"
        return 0
    fi
    local candidates dir
    mapfile -t candidates < <(
        pg_config --bindir 2>/dev/null
        printf '%s\n' /usr/lib/postgresql/*/bin | sort -r -V
    )
    for dir in "${candidates[@]}"; do
        if [ -x "$dir/initdb" ]; then
            PG_BIN="$dir"
            return 0
        fi
    done
    return 1
}
