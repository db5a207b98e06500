#!/usr/bin/env bash
# Write latency over HTTP on a served database (issue 13):
#  - upsertReview of a 15-row review, from the request to `related` being current for its
#    rows (similarityStatus.current, then its rows' lists read back);
#  - setRecommendationStatus, request to answer.
# Sequential requests, one at a time, so that each figure is one write's own latency.
#
#   bench/write.sh sqlite:///tmp/dhr-10x.db        (release binary; build it first)
#
# Env: WRITES (upserts, default 30), STATUS (status changes, default 200), PORT (8766), BIN.
# STATUS_ONLY=1 skips the upserts (for a binary older than similarityStatus).
# The database is written to: run it on a copy.
set -euo pipefail
cd "$(dirname "$0")/.."
url=${1:?usage: bench/write.sh DATABASE_URL}
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/dhr-graph}
port=${PORT:-8766}
writes=${WRITES:-30}
changes=${STATUS:-200}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# KEY_FLAGS: empty for a binary older than key scopes.
key=$("$bin" keys create --database-url "$url" --name "bench-$$" --role editor ${KEY_FLAGS---national} | tail -1)
RUST_LOG=warn "$bin" serve --database-url "$url" --listen "127.0.0.1:$port" --no-samples \
  --rate-limit-per-minute 0 &
pid=$!
until curl -sf -o /dev/null -H 'Content-Type: application/json' \
    -d '{"query":"{ __typename }"}' "http://127.0.0.1:$port/graphql"; do sleep 0.05; done

# gql BODY_FILE: POST it, print the answer; fail on GraphQL errors.
gql() {
  local out
  out=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $key" \
    --data-binary @"$1" "http://127.0.0.1:$port/graphql")
  if jq -e '.errors' >/dev/null <<<"$out"; then echo "GraphQL errors: $out" >&2; exit 1; fi
  printf '%s' "$out"
}
# timed BODY_FILE: POST it, print seconds taken (the server's answer goes to $tmp/last).
timed() {
  curl -sf -o "$tmp/last" -w '%{time_total}\n' -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $key" --data-binary @"$1" "http://127.0.0.1:$port/graphql"
  if jq -e '.errors' >/dev/null <"$tmp/last"; then echo "GraphQL errors: $(cat "$tmp/last")" >&2; exit 1; fi
}
now() { date +%s.%N; }
# pct FILE P: the P-th percentile of the numbers in FILE (nearest rank), in milliseconds.
pct() { sort -g "$1" | awk -v p="$2" '{ v[NR] = $1 } END { i = int((p / 100) * NR + 0.999); if (i < 1) i = 1; printf "%.1f", v[i] * 1000 }'; }
report() { echo "$1 n=$(wc -l <"$2") p50_ms=$(pct "$2" 50) p90_ms=$(pct "$2" 90) max_ms=$(pct "$2" 100)"; }

# Existing texts and agencies to write variants of: new rows that are near repeats of old
# ones, so that they enter other recommendations' lists as real repeats do.
# Five pages of 100, spread over the graph by review.
: >"$tmp/recs.all"
after=null
for _ in 1 2 3 4 5; do
  jq -n --argjson after "$after" '{query: "query($after: String) { recommendations(first: 100, after: $after, orderBy: REVIEW_DESC) { pageInfo { endCursor } nodes { id text agencies { slug } actionPlan { version } } } }", variables: {after: $after}}' >"$tmp/recs.json"
  gql "$tmp/recs.json" >"$tmp/page.out"
  jq -c '.data.recommendations.nodes[]' "$tmp/page.out" >>"$tmp/recs.all"
  after=$(jq '.data.recommendations.pageInfo.endCursor' "$tmp/page.out")
done
jq -s '{data: {recommendations: {nodes: .}}}' "$tmp/recs.all" >"$tmp/recs.out"
total=$(jq '.data.recommendations.nodes | length' "$tmp/recs.out")
[ "$total" -ge 15 ] || { echo "need at least 15 recommendations in $url" >&2; exit 1; }
echo "recommendations sampled $total"

status_json='{"query":"{ similarityStatus { current pending rebuilding documents changesSinceRebuild } }"}'
echo "$status_json" >"$tmp/status.json"
wait_current() {
  until [ "$(gql "$tmp/status.json" | jq -r '.data.similarityStatus.current')" = true ]; do sleep 0.005; done
}

if [ "${STATUS_ONLY:-0}" != 1 ]; then
  # The server loads the similarity index as it starts; the first write waits for that.
  upsert() { # upsert N: the body of the N-th review's upsert
    jq --argjson n "$1" --arg total "$total" --arg run "$$" '
      .data.recommendations.nodes as $r
      | [range(0; 15) as $i | $r[(($n * 15 + $i) * 7) % ($total | tonumber)]
         | { label: "\(.id | .[-4:])", text: (.text + " Report progress to the partnership board."),
             agencies: [.agencies[].slug] }]
      | to_entries | map(.value.label = "\(.key + 1)" | .value)
      | { query: "mutation($input: UpsertReviewInput!) { upsertReview(input: $input) { outcome review { recommendations(first: 15) { nodes { id } } } } }",
          variables: { input: { externalRef: "bench-\($run)-\($n)", title: "Benchmark review \($run)-\($n)",
            csps: ["Benchmarkshire"], published: "2025-06", recommendations: . } } }' "$tmp/recs.out"
  }
  upsert 0 >"$tmp/u.json"; gql "$tmp/u.json" >/dev/null; wait_current
  echo "$(gql "$tmp/status.json")"
  : >"$tmp/upsert"; : >"$tmp/current"
  for n in $(seq 1 "$writes"); do
    upsert "$n" >"$tmp/u.json"
    t0=$(now)
    timed "$tmp/u.json" >>"$tmp/upsert"
    wait_current
    echo "$(now) - $t0" | bc >>"$tmp/current"
    # Its rows' lists, read back: each holds neighbours.
    first=$(jq -r '.data.upsertReview.review.recommendations.nodes[0].id' "$tmp/last")
    jq -n --arg id "$first" '{query: "query($id: ID!) { node(id: $id) { ... on Recommendation { related(first: 10) { score } } } }", variables: {id: $id}}' >"$tmp/rel.json"
    [ "$(gql "$tmp/rel.json" | jq '.data.node.related | length')" -gt 0 ] || { echo "no related after write $n" >&2; exit 1; }
  done
  report upsertReview_answer "$tmp/upsert"
  report upsertReview_to_related_current "$tmp/current"
  echo "$(gql "$tmp/status.json")"
fi

: >"$tmp/status"
for n in $(seq 0 $((changes - 1))); do
  i=$(( (n * 13) % total ))
  read -r id version < <(jq -r --argjson i "$i" '.data.recommendations.nodes[$i] | "\(.id) \(.actionPlan.version)"' "$tmp/recs.out")
  # Each recommendation's version moves on when it is written: read it back before writing.
  jq -n --arg id "$id" '{query: "query($id: ID!) { node(id: $id) { ... on Recommendation { actionPlan { version status } } } }", variables: {id: $id}}' >"$tmp/v.json"
  read -r version current < <(gql "$tmp/v.json" | jq -r '.data.node.actionPlan | "\(.version) \(.status)"')
  next=IN_PROGRESS; [ "$current" = IN_PROGRESS ] && next=IMPLEMENTED
  jq -n --arg id "$id" --arg s "$next" --argjson v "$version" \
    '{query: "mutation($input: SetRecommendationStatusInput!) { setRecommendationStatus(input: $input) { actionPlan { version } } }",
      variables: {input: {id: $id, status: $s, expectedVersion: $v, note: "benchmark"}}}' >"$tmp/s.json"
  timed "$tmp/s.json" >>"$tmp/status"
done
report setRecommendationStatus "$tmp/status"
echo "server_rss_mb $(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
