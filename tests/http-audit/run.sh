#!/usr/bin/env bash
# The graphql-http audit suite against the real server on the samples (GraphQL over HTTP).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

[ -d "$here/node_modules/graphql-http" ] || (cd "$here" && npm ci --no-audit --no-fund)
exec "$root/tests/with-server.sh" node --test --test-reporter=spec "$here/audit.mjs"
