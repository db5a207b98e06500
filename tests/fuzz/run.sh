#!/usr/bin/env bash
# Fuzzes the API with schemathesis (GraphQL mode) against the real server on the samples, with
# an admin key so that mutations run too. Passes when no response is a 5xx and no GraphQL error
# is INTERNAL; expected refusals (BAD_USER_INPUT, NOT_FOUND, CONFLICT...) are what fuzzing
# should get. Usage: tests/fuzz/run.sh [SECONDS] (default 60).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-60}

command -v st >/dev/null || pip install --quiet 'schemathesis==4.32.5'
command -v st >/dev/null || { echo "fuzz: schemathesis (st) is not installed" >&2; exit 1; }

# One address sends everything: the rate limit would answer most cases with 429.
export DHR_GRAPH_RATE_LIMIT_PER_MINUTE=0
exec "$root/tests/with-server.sh" bash -c '
  set -euo pipefail
  key=$("$DHR_GRAPH_BIN" keys create --database-url "$DHR_GRAPH_DATABASE_URL" --name fuzzer --role admin 2>/dev/null)
  out=$(mktemp -d)
  # Resolver errors are expected answers to random input, so schemathesis'"'"'s own checks are
  # off; the HAR of every exchange is judged below.
  st run "$DHR_GRAPH_URL/graphql" -H "Authorization: Bearer $key" --max-time '"$seconds"' \
     --workers 2 --exclude-checks all --report har --report-dir "$out" >"$out/st.log" 2>&1 || true
  python3 "'"$here"'/judge.py" "$out"/har-*.json "$out/st.log"
'
