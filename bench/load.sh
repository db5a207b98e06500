#!/usr/bin/env bash
# HTTP load on a served database: requests per second and p50/p99 at 32 connections for the
# review-page and recurrence queries, with the server's peak RSS and its start-up time.
#
#   bench/load.sh sqlite:///tmp/dhr-10x.db        (release binary; build it first)
#
# Env: DURATION (default 20s), CONNECTIONS (32), THREADS (2), PORT (8765), BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: bench/load.sh DATABASE_URL}
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/dhr-graph}
port=${PORT:-8765}
duration=${DURATION:-20s}
conns=${CONNECTIONS:-32}
threads=${THREADS:-2}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Start-up: from exec to the first answered request, on the existing database.
start=$(date +%s.%N)
# Capacity, not policy: the per-address rate limit (600/min) would answer most requests 429.
RUST_LOG=warn "$bin" serve --database-url "$url" --listen "127.0.0.1:$port" --no-samples \
  --rate-limit-per-minute 0 &
pid=$!
until curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d '{"query":"{ __typename }"}' "http://127.0.0.1:$port/graphql"; do sleep 0.01; done
echo "startup_s $(echo "$(date +%s.%N) - $start" | bc)"

gql() { curl -sf -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$port/graphql"; }
# The review page: the median-sized review's id, as the API shows it.
review=$(gql '{"query":"{ reviews(first: 1, orderBy: PUBLISHED_DESC) { nodes { id } } }"}' |
  sed -E 's/.*"id":"([^"]+)".*/\1/')
cat > "$tmp/review.json" <<JSON
{"query":"{ node(id: \"$review\") { ... on Review { title published csps { name } recommendations(first: 60) { nodes { label text agencies { name sector } } } } } }"}
JSON
# Without `csps`: that list is unbounded, and at ten times national scale the top 20 agencies
# span 48,408 (agency, CSP) pairs (docs/PERFORMANCE.md).
cat > "$tmp/recurring.json" <<JSON
{"query":"{ recurringAgencies(first: 20) { nodes { agency { name sector } reviewCount firstPublished lastPublished } } }"}
JSON

for q in review recurring; do
  BODY="$tmp/$q.json" wrk -t"$threads" -c"$conns" -d"$duration" --latency -s bench/post.lua \
    "http://127.0.0.1:$port/graphql" > "$tmp/$q.out"
  echo "== $q"; grep -E '^(rps|p50_ms|p99_ms|errors) ' "$tmp/$q.out"
done
echo "peak_rss_mb $(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
