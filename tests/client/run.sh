#!/usr/bin/env bash
# A real GraphQL client (graphql-request) runs every documented query in docs/queries/ against
# the real server on the samples.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

[ -d "$here/node_modules/graphql-request" ] || (cd "$here" && npm ci --no-audit --no-fund)
exec "$root/tests/with-server.sh" node --test --test-reporter=spec "$here/run.mjs"
