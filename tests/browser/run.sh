#!/usr/bin/env bash
# The explorer in a real browser: Debian's headless Chromium, driven by playwright-core, against
# the real server on the samples. Fails on any console error, page error or undrawn chart.
# The screenshot goes to target/browser/explorer.png (docs/explorer.png is a copy of a good one).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "browser test: $CHROMIUM not found (apt-get install -y chromium)" >&2; exit 1; }
[ -d "$here/node_modules/playwright-core" ] || (cd "$here" && npm ci --no-audit --no-fund)

export SCREENSHOT=${SCREENSHOT:-${CARGO_TARGET_DIR:-$root/target}/browser/explorer.png}
mkdir -p "$(dirname "$SCREENSHOT")"
exec "$root/tests/with-server.sh" node --test --test-concurrency=1 --test-reporter=spec "$here/explorer.test.mjs" "$here/graphiql.test.mjs"
