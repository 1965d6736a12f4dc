#!/usr/bin/env bash
# A test runs an app server with its clock behind (tests/routers/test_sticky_clock_skew.py):
# Debian's libfaketime, preloaded into that server.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null ||
    apt_install "a test runs an app server under libfaketime" faketime
