#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright downloads nothing here).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] ||
    apt_install "the browser tests need Chromium at $CHROMIUM (or set CHROMIUM=/path/to/chromium)" chromium
