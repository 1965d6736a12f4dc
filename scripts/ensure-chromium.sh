#!/usr/bin/env bash
# The browser tests drive Debian's Chromium (Playwright downloads nothing here).
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "chromium not found; installing the Debian package 'chromium'"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "The browser tests need Chromium at $CHROMIUM: install the 'chromium' package" \
    "(sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium" >&2
exit 1
