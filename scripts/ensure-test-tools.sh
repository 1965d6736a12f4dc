#!/usr/bin/env bash
# Programs some tests need besides the stack and Chromium: Debian's libfaketime, preloaded
# into an app server whose clock runs behind (tests/routers/test_sticky_clock_skew.py), and
# openssl, which makes the certificate of an app server served over HTTPS
# (tests/browser/test_cookie_scope_in_the_browser.py).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

compgen -G "/usr/lib/*/faketime/libfaketime.so.1" >/dev/null ||
    apt_install "a test runs an app server under libfaketime" faketime
command -v openssl >/dev/null ||
    apt_install "a test serves the app over HTTPS with a certificate openssl makes" openssl
