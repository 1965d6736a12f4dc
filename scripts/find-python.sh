#!/usr/bin/env bash
# Print the newest Python >= 3.12 that actually runs (Django 6), else a 3.11
# (Django 5.2 LTS). Candidates are run, not trusted: pyenv shims on PATH exist
# but fail unless PYENV_VERSION is set. PYTHON=/path/to/python overrides.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

works() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

if [ -n "${PYTHON:-}" ]; then
    works "$PYTHON" || die "PYTHON=$PYTHON does not run, or is older than 3.11"
    echo "$PYTHON"
    exit 0
fi

candidates=()
if command -v pyenv >/dev/null 2>&1; then
    root="$(pyenv root)"
    while IFS= read -r dir; do
        if [[ "$(basename "$dir")" =~ ^3\.[0-9]+\.[0-9]+$ ]]; then
            candidates+=("${dir}bin/python3")
        fi
    done < <(printf '%s\n' "$root"/versions/*/ | sort -V -r)
fi
for minor in 14 13 12 11; do
    candidates+=("python3.$minor" "/usr/bin/python3.$minor" "/usr/local/bin/python3.$minor")
done
candidates+=(python3)

fallback=""
for candidate in "${candidates[@]}"; do
    works "$candidate" || continue
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        echo "$candidate"
        exit 0
    fi
    [ -n "$fallback" ] || fallback="$candidate"
done
if [ -n "$fallback" ]; then
    say "no Python >= 3.12 found; using $fallback with Django 5.2 LTS" >&2
    echo "$fallback"
    exit 0
fi
die "no usable Python found: install Python 3.12+ (or 3.11), or set PYTHON=/path/to/python"
