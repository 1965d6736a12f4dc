#!/usr/bin/env bash
# The accessibility tests inject axe-core, pinned in package-lock.json, from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=node_modules/.installed-$(md5sum package-lock.json | cut -c1-12)
[ -f "$stamp" ] && exit 0
if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "npm not found; installing the Debian package 'npm'"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "The accessibility tests need npm to fetch axe-core: install the 'npm' package" \
            "(sudo apt-get install npm)" >&2
        exit 1
    fi
fi
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
