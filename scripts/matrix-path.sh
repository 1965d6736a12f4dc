#!/usr/bin/env bash
# Print a PATH on which python3.11, python3.12 and python3.13 each run, for nox (make
# matrix): pyenv's versions first (its shims on PATH fail unless PYENV_VERSION is set),
# then the system's. A missing one is left out; nox then fails its cells, saying so.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

dirs=()
for minor in 11 12 13; do
    for candidate in $(command -v pyenv >/dev/null && printf '%s\n' "$(pyenv root)"/versions/3."$minor".*/bin | sort -V -r) /usr/bin /usr/local/bin; do
        if "$candidate/python3.$minor" -c 'import venv' >/dev/null 2>&1; then
            dirs+=("$candidate")
            break
        fi
    done
done
[ "${#dirs[@]}" -gt 0 ] || die "no python3.11, 3.12 or 3.13 found (pyenv or the system's)"
(IFS=:; echo "${dirs[*]}:$PATH")
