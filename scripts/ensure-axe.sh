#!/usr/bin/env bash
# The accessibility tests inject axe-core, pinned in package-lock.json, from the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh

stamp=node_modules/.installed-$(md5sum package-lock.json | cut -c1-12)
[ -f "$stamp" ] && exit 0
command -v npm >/dev/null || apt_install "the accessibility tests need npm to fetch axe-core" npm
npm ci --no-audit --no-fund --loglevel=error
touch "$stamp"
