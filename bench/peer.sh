#!/usr/bin/env bash
# DHR Graph beside PostGraphile 5 on the same PostgreSQL database (issue 17): the same dashboard
# questions asked of both, whether they answer the same data, requests per second and p50/p99
# under wrk, SQL statements per request, and each server's peak RSS.
#
#   bench/peer.sh                  (release binary; build it first: cargo build --release)
#
# 1. Builds, unless already there, a national-scale synthetic graph in database $DB:
#    `dhr-graph synth --reviews 2000 --batch 50 --seed 1`, then VACUUM ANALYZE (autovacuum may be
#    off). A comment on the database records that it was completed; REBUILD=1 drops and rebuilds.
# 2. Installs PostGraphile 5.1.5 (pinned, with Node 22 as the npm package `node`) from
#    $PEER_SRC into the scratch folder $PEER_DIR with `npm ci`, reused while its lock file is
#    the same. It is never a dependency of the product.
# 3. Serves the database with both (DHR Graph: `serve --no-samples --rate-limit-per-minute 0`,
#    pool of 8; PostGraphile: `-P postgraphile/presets/amber`, node-postgres' pool of 10).
# 4. Asks each question of both once and compares a normalised form of the answers (jq):
#    "same" (equal, as lists or as sets where the peer cannot keep our order), "different rows by
#    design" (the peer cannot ask the same question; the overlap is shown), or "ours only".
#    The queries are bench/peer/qN-dhr-graph.graphql and qN-postgraphile.graphql; Q1-Q4 are
#    /work/shared/peer/queries as they are, Q5-Q8 say in their comments where the peer's form
#    differs and why. Q4's node ids are replaced by the newest review's id on each server.
#    Q8 (full-text search) has no peer form: PostGraphile has no full-text search, and its
#    conditions are equality on indexed columns only (not on `text`, not on `search_index.tsv`),
#    so Q8 is measured for DHR Graph alone.
# 5. wrk, A B A B: for each question and each of $CONNS connections, DHR Graph, PostGraphile,
#    DHR Graph, PostGraphile; each run $WARMUP of warm-up (discarded) and $DURATION measured,
#    `-t$THREADS`. The table shows the mean of the two runs of each side (rps, p50, p99) and the
#    ratio ours / peer of the mean rps; wrk's error count (non-2xx, timeouts) over both runs;
#    and the CPU other processes took during the runs (the machine may be shared; see below).
# 6. Peak RSS (VmHWM) of both servers after the load.
# 7. SQL statements per request, counted by PostgreSQL itself: `log_statement = all` is set on
#    database $DB only (ALTER DATABASE, reset on exit), both servers are started afresh so their
#    connections log, and for each question $STMT_REQUESTS sequential requests are sent to one
#    server; the statements logged in that window by that server's backends (found from its
#    sockets with `ss` and pg_stat_activity.client_port) are counted and divided by the requests.
#    Every statement is counted (an extended-protocol `execute` or a simple-protocol `statement`
#    line), BEGIN/COMMIT included, and shown apart when there are any. This runs after the load,
#    so logging costs the load nothing. pg_stat_statements would be simpler but needs
#    shared_preload_libraries (a restart of the cluster); pg_stat_database's transaction counts
#    are not statements. Needs the cluster's log file ($PGLOG, found with pg_lsclusters).
#
# Env: PGURL (postgres://postgres@127.0.0.1:5432), DB (dhr_peer), REBUILD (0), BIN,
#      PEER_SRC (/work/shared/peer), PEER_DIR (/tmp/dhr-peer-pg), PORT (8767), PEER_PORT (5678),
#      QUERIES ("1 2 3 4 5 6 7 8"), CONNS ("8 32"), THREADS (2), WARMUP (5s), DURATION (15s),
#      STMT_REQUESTS (20), PGLOG, NO_STATEMENTS=1 skips step 7.
# Needs: wrk (apt-get install -y wrk), jq, curl, psql, ss, npm (any version; Node 22 comes
# from the npm package). A full run at DURATION=15s takes about 25 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
pgurl=${PGURL:-postgres://postgres@127.0.0.1:5432}
db=${DB:-dhr_peer}
url="$pgurl/$db"
bin=${BIN:-${CARGO_TARGET_DIR:-target}/release/dhr-graph}
peer_src=${PEER_SRC:-/work/shared/peer}
peer_dir=${PEER_DIR:-/tmp/dhr-peer-pg}
port=${PORT:-8767}
peer_port=${PEER_PORT:-5678}
queries=${QUERIES:-1 2 3 4 5 6 7 8}
conns_list=${CONNS:-8 32}
threads=${THREADS:-2}
warmup=${WARMUP:-5s}
duration=${DURATION:-15s}
stmt_requests=${STMT_REQUESTS:-20}
marker="bench/peer.sh: synth --reviews 2000 --batch 50 --seed 1, vacuum analyze"

die() { echo "peer.sh: $*" >&2; exit 1; }
for tool in jq curl psql ss npm; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
command -v wrk >/dev/null || die "wrk is missing: install it with 'apt-get install -y wrk'"
[ -x "$bin" ] || die "no binary at $bin: cargo build --release (or set BIN)"
bin=$(realpath "$bin")

tmp=$(mktemp -d)
ours_pid= peer_pid= logging=0
stop_servers() {
  for p in $ours_pid $peer_pid; do kill "$p" 2>/dev/null || true; done
  for p in $ours_pid $peer_pid; do wait "$p" 2>/dev/null || true; done
  ours_pid= peer_pid=
}
cleanup() {
  stop_servers
  if [ "$logging" = 1 ]; then
    psql -X -q "$url" -c "ALTER DATABASE \"$db\" RESET log_statement" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# --- PostgreSQL and the graph ------------------------------------------------------------
if ! pg_isready -q -d "$pgurl/postgres"; then
  echo "PostgreSQL is not answering; starting the local cluster"
  pg_ctlcluster --skip-systemctl-redirect 15 main start
  for _ in $(seq 50); do pg_isready -q -d "$pgurl/postgres" && break; sleep 0.2; done
  pg_isready -q -d "$pgurl/postgres" || die "PostgreSQL at $pgurl does not answer"
fi
exists=$(sql "$pgurl/postgres" -c "SELECT count(*) FROM pg_database WHERE datname = '$db'")
comment=$(sql "$pgurl/postgres" -c "SELECT coalesce(shobj_description(oid, 'pg_database'), '') FROM pg_database WHERE datname = '$db'")
if [ "${REBUILD:-0}" = 1 ] || [ "$exists" = 0 ] || [ "$comment" != "$marker" ]; then
  echo "== building $db: synth --reviews 2000 --batch 50 --seed 1"
  sql "$pgurl/postgres" -c "DROP DATABASE IF EXISTS \"$db\"" -c "CREATE DATABASE \"$db\""
  "$bin" synth --reviews 2000 --batch 50 --seed 1 --quiet --database-url "$url"
  sql "$url" -c "VACUUM ANALYZE"
  sql "$url" -c "COMMENT ON DATABASE \"$db\" IS '$marker'"
else
  echo "== reusing $db ($(sql "$url" -c "SELECT count(*) FROM review") reviews; REBUILD=1 to rebuild)"
fi

# --- PostGraphile, in its scratch folder --------------------------------------------------
if ! cmp -s "$peer_src/package-lock.json" "$peer_dir/package-lock.json" \
    || [ ! -x "$peer_dir/node_modules/.bin/postgraphile" ]; then
  echo "== installing PostGraphile into $peer_dir"
  mkdir -p "$peer_dir"
  rm -rf "$peer_dir/node_modules"
  cp -r "$peer_src/." "$peer_dir"
  chmod -R u+w "$peer_dir"
  (cd "$peer_dir" && npm ci --no-audit --no-fund >/dev/null)
fi
peer_path="$peer_dir/node_modules/.bin:$PATH"
node_version=$(PATH="$peer_path" node --version)
case $node_version in v22.*) ;; *) die "PostGraphile 5.1.5 needs Node 22; $peer_dir has $node_version" ;; esac

# --- the servers --------------------------------------------------------------------------
# wait_ready PORT PID LOG: until the server answers GraphQL (at most 60 s).
wait_ready() {
  for _ in $(seq 600); do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; die "the server on port $1 exited"; }
    curl -sf -o /dev/null -H 'Content-Type: application/json' -d '{"query":"{ __typename }"}' \
      "http://127.0.0.1:$1/graphql" && return 0
    sleep 0.1
  done
  cat "$3" >&2; die "the server on port $1 did not answer in 60 s"
}
start_servers() {
  RUST_LOG=warn "$bin" serve --database-url "$url" --listen "127.0.0.1:$port" --no-samples \
    --rate-limit-per-minute 0 >"$tmp/ours.log" 2>&1 &
  ours_pid=$!
  # Not through npx: $! is then node itself (the bin's `#!/usr/bin/env node` execs it).
  (cd "$peer_dir" && PATH="$peer_path" GRAPHILE_ENV=production exec node_modules/.bin/postgraphile \
    -P postgraphile/presets/amber -c "$url" -s public -n 127.0.0.1 -p "$peer_port") \
    >"$tmp/peer.log" 2>&1 &
  peer_pid=$!
  wait_ready "$port" "$ours_pid" "$tmp/ours.log"
  wait_ready "$peer_port" "$peer_pid" "$tmp/peer.log"
  # The similarity index loads in the background as DHR Graph starts: let it finish first.
  for _ in $(seq 600); do
    [ "$(post "$port" '{"query":"{ similarityStatus { current } }"}' | jq -r '.data.similarityStatus.current')" = true ] && break
    sleep 0.1
  done
}
# post PORT BODY: POST a JSON body (a string, or @FILE), print the answer.
post() { curl -sf -H 'Content-Type: application/json' --data-binary "$2" "http://127.0.0.1:$1/graphql"; }

echo "== starting DHR Graph ($bin) and PostGraphile ($node_version)"
start_servers

# --- the questions ------------------------------------------------------------------------
# One JSON body per side: $tmp/qN-ours.json, $tmp/qN-peer.json (none for a question the peer
# cannot ask).
ours_review=$(post "$port" '{"query":"{ reviews(first: 1, orderBy: PUBLISHED_DESC) { nodes { id title } } }"}' | jq -c '.data.reviews.nodes[0]')
peer_review=$(post "$peer_port" '{"query":"{ allReviews(first: 1, orderBy: [PUBLISHED_DESC, ROW_ID_DESC]) { nodes { id title } } }"}' | jq -c '.data.allReviews.nodes[0]')
[ "$(jq -r .title <<<"$ours_review")" = "$(jq -r .title <<<"$peer_review")" ] \
  || die "the newest review differs: ours $ours_review, peer $peer_review"
body() { # body FILE [NODE_ID]: the GraphQL document as a JSON body, with node(id: ...) replaced
  jq -Rs --arg id "${2:-}" '{query: (if $id == "" then . else
    sub("node\\(id: \"[^\"]*\"\\)"; "node(id: \"\($id)\")") end)}' "$1"
}
for q in $queries; do
  ours_id= peer_id=
  if [ "$q" = 4 ]; then ours_id=$(jq -r .id <<<"$ours_review"); peer_id=$(jq -r .id <<<"$peer_review"); fi
  body "bench/peer/q$q-dhr-graph.graphql" "$ours_id" >"$tmp/q$q-ours.json"
  if [ -f "bench/peer/q$q-postgraphile.graphql" ]; then
    body "bench/peer/q$q-postgraphile.graphql" "$peer_id" >"$tmp/q$q-peer.json"
  fi
done

# norm Q SIDE: the jq program turning an answer into the form compared; and how to compare.
norm() {
  case "$1-$2" in
    1-ours) echo '[.data.reviews.nodes[] | {title, published, csps: ([.csps[].name] | sort),
      recs: [.recommendations.nodes[] | {position, text, agencies: ([.agencies[] | {name, sector}] | sort_by(.name, .sector))}]}]' ;;
    1-peer) echo '[.data.allReviews.nodes[] | {title, published, csps: ([.reviewCspsByReviewId.nodes[].cspByCspId.name] | sort),
      recs: [.recommendationsByReviewId.nodes[] | {position, text, agencies: ([.recommendationAgenciesByRecommendationId.nodes[].agencyByAgencyId | {name, sector}] | sort_by(.name, .sector))}]}]' ;;
    2-ours) echo '.data.reviews | {totalCount, nodes}' ;;
    2-peer) echo '.data.allReviews | {totalCount, nodes}' ;;
    3-ours) echo '[.data.agency.recommendations.nodes[] | {text, review: .review.title}]' ;;
    3-peer) echo '[.data.agencyBySlug.recommendationAgenciesByAgencyId.nodes[].recommendationByRecommendationId | {text, review: .reviewByReviewId.title}]' ;;
    4-ours) echo '.data.node | {title, published, recs: .recommendations.nodes}' ;;
    4-peer) echo '.data.node | {title, published, recs: .recommendationsByReviewId.nodes}' ;;
    # As sets: the peer orders the CSP's reviews by id, ours by publication.
    5-ours) echo '.data.csp | {name, reviews: ([.reviews.nodes[] | {title, texts: [.recommendations.nodes[].text]}] | sort_by(.title))}' ;;
    5-peer) echo '.data.cspBySlug | {name, reviews: ([.reviewCspsByCspId.nodes[].reviewByReviewId | {title, texts: [.recommendationsByReviewId.nodes[].text]}] | sort_by(.title))}' ;;
    # As a set of (review, recommendation) pairs: ours grouped by review, the peer's flat.
    # (`label: .label`, not `label`: the bare word is a jq keyword.)
    6-ours) echo '[.data.agency.trace.nodes[] | .review as $r | .recommendations[] | {review: $r.title, published: $r.published, label: .label, text}] | sort' ;;
    6-peer) echo '[.data.agencyBySlug.recommendationAgenciesByAgencyId.nodes[].recommendationByRecommendationId | {review: .reviewByReviewId.title, published: .reviewByReviewId.published, label: .label, text}] | sort' ;;
    7-ours) echo '[.data.recommendations.nodes[].text]' ;;
    7-peer) echo '[.data.allAgencies.nodes[].recommendationAgenciesByAgencyId.nodes[].recommendationByRecommendationId.text]' ;;
    8-ours) echo '[.data.search.nodes[] | .text // .title]' ;;
  esac
}
compare_mode() { case $1 in 3 | 7) echo overlap ;; 8) echo none ;; *) echo same ;; esac; }

echo
echo "== answers"
declare -A failed badnorm
for q in $queries; do
  for side in ours peer; do
    [ -f "$tmp/q$q-$side.json" ] || continue
    p=$port; [ $side = peer ] && p=$peer_port
    post "$p" "@$tmp/q$q-$side.json" >"$tmp/q$q-$side.answer" || echo '{"errors":[{"message":"HTTP error"}]}' >"$tmp/q$q-$side.answer"
    if jq -e '.errors' "$tmp/q$q-$side.answer" >/dev/null; then
      failed[$q-$side]=1
      echo "Q$q $side: ERROR $(jq -c '.errors' "$tmp/q$q-$side.answer" | cut -c1-300)"
    fi
    if ! jq "$(norm "$q" "$side")" "$tmp/q$q-$side.answer" >"$tmp/q$q-$side.norm"; then
      badnorm[$q]=1
      echo "Q$q $side: the answer's normal form failed (above); its answer: $(head -c 300 "$tmp/q$q-$side.answer")"
    fi
  done
  mode=$(compare_mode "$q")
  if [ "$mode" = none ] || [ ! -f "$tmp/q$q-peer.json" ]; then
    echo "Q$q: ours only ($(jq length "$tmp/q$q-ours.norm") rows; the peer cannot ask it)"
  elif [ -n "${failed[$q-ours]:-}${failed[$q-peer]:-}${badnorm[$q]:-}" ]; then
    echo "Q$q: not compared (an error above)"
  elif [ "$mode" = same ]; then
    if cmp -s "$tmp/q$q-ours.norm" "$tmp/q$q-peer.norm"; then
      echo "Q$q: same data ($(jq -c 'if type == "array" then length else (.nodes // .reviews // .recs | length) end' "$tmp/q$q-ours.norm") rows)"
    else
      echo "Q$q: DIFFERENT data:"; diff "$tmp/q$q-ours.norm" "$tmp/q$q-peer.norm" | head -20 || true
    fi
  else
    echo "Q$q: different rows by design: ours $(jq length "$tmp/q$q-ours.norm"), peer $(jq length "$tmp/q$q-peer.norm"), in both $(
      jq -n --slurpfile a "$tmp/q$q-ours.norm" --slurpfile b "$tmp/q$q-peer.norm" \
        '[$a[0][] | tojson] as $x | [$b[0][] | tojson] as $y | ($x - ($x - $y)) | length')"
  fi
done

# --- load ---------------------------------------------------------------------------------
# This machine may be shared: each measured run also reports the CPU taken meanwhile by
# processes other than the two servers, PostgreSQL and wrk, as a percentage of all cores
# (busy time from /proc/stat less theirs; a PostgreSQL backend that exits in the window counts
# as other). A high figure means that run's rps is not to be trusted.
clk=$(getconf CLK_TCK)
ncpu=$(nproc)
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq
# ticks PID...: CPU ticks used so far by these processes (all their threads), one line "PID TICKS" each.
ticks() {
  local p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] && awk -v p="$p" '{ sub(/.*\) /, ""); print p, $12 + $13 }' "/proc/$p/stat" 2>/dev/null
  done
  return 0
}
# run SIDE Q CONNS ROUND: one warm-up and one measured wrk run; the figures in $tmp/wrk-*.
run() {
  local p=$port; [ "$1" = peer ] && p=$peer_port
  local out="$tmp/wrk-$2-$3-$1-$4" t0 t1 b0 b1 wrk_s
  BODY="$tmp/q$2-$1.json" wrk -t"$threads" -c"$3" -d"$warmup" -s bench/post.lua "http://127.0.0.1:$p/graphql" >/dev/null
  ticks $ours_pid $peer_pid $(pgrep -u postgres) >"$out.ticks0"
  b0=$(busy_ticks) t0=$(date +%s.%N)
  { TIMEFORMAT='%U %S'; time BODY="$tmp/q$2-$1.json" wrk -t"$threads" -c"$3" -d"$duration" --latency \
      -s bench/post.lua "http://127.0.0.1:$p/graphql" >"$out.raw" 2>"$out.err"; } 2>"$out.time"
  b1=$(busy_ticks) t1=$(date +%s.%N)
  ticks $ours_pid $peer_pid $(pgrep -u postgres) >"$out.ticks1"
  wrk_s=$(awk '{ print $1 + $2 }' "$out.time")
  grep -E '^(rps|p50_ms|p99_ms|errors) ' "$out.raw" >"$out"
  # Theirs: the growth of each process's ticks (a process new in the window: all of them).
  awk -v b="$((b1 - b0))" -v w="$wrk_s" -v clk="$clk" -v n="$ncpu" -v s="$(echo "$t1 - $t0" | bc)" '
    FNR == NR { before[$1] = $2; next }
    { theirs += $2 - ($1 in before ? before[$1] : 0) }
    END { o = (b - theirs - w * clk) / (clk * s * n) * 100; if (o < 0) o = 0; printf "other_cpu_pct %.0f\n", o }' \
    "$out.ticks0" "$out.ticks1" >>"$out"
  echo "  Q$2 c$3 $1 run $4: $(tr '\n' ' ' <"$out")"
}
# fig SIDE Q CONNS KEY: the mean of the two runs (the sum for errors, the highest other_cpu_pct).
fig() {
  local f="$tmp/wrk-$2-$3-$1"
  [ -f "$f-1" ] || { echo -; return; }
  cat "$f-1" "$f-2" | awk -v k="$4" '$1 == k { s += $2; n++; if ($2 > m) m = $2 }
    END { if (k == "errors") printf "%d", s; else if (k == "other_cpu_pct") printf "%d", m;
          else if (k == "rps") printf "%.0f", s / n; else printf "%.1f", s / n }'
}
echo
echo "== load: wrk -t$threads, $warmup warm-up + $duration measured, A B A B"
for q in $queries; do
  for c in $conns_list; do
    for round in 1 2; do
      for side in ours peer; do
        [ -f "$tmp/q$q-$side.json" ] && [ -z "${failed[$q-$side]:-}" ] && run "$side" "$q" "$c" "$round"
      done
    done
  done
done
ours_rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$ours_pid/status")
peer_rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$peer_pid/status")
stop_servers

echo
echo "| query | conns | DHR Graph rps | PostGraphile rps | ratio | DHR Graph p50 / p99 ms | PostGraphile p50 / p99 ms | wrk errors (ours / peer) | other CPU % (highest run) |"
echo "|---|---|---|---|---|---|---|---|---|"
for q in $queries; do
  for c in $conns_list; do
    o=$(fig ours "$q" "$c" rps) e=$(fig peer "$q" "$c" rps) ratio=-
    [ "$o" != - ] && [ "$e" != - ] && ratio=$(awk -v a="$o" -v b="$e" 'BEGIN { printf "%.2f", a / b }')
    echo "| Q$q | $c | $o | $e | $ratio | $(fig ours "$q" "$c" p50_ms) / $(fig ours "$q" "$c" p99_ms) | $(fig peer "$q" "$c" p50_ms) / $(fig peer "$q" "$c" p99_ms) | $(fig ours "$q" "$c" errors) / $(fig peer "$q" "$c" errors) | $(fig ours "$q" "$c" other_cpu_pct) / $(fig peer "$q" "$c" other_cpu_pct) |"
  done
done
echo
echo "peak_rss_mb DHR Graph $ours_rss, PostGraphile $peer_rss"

# --- SQL statements per request -----------------------------------------------------------
[ "${NO_STATEMENTS:-0}" = 1 ] && exit 0
pglog=${PGLOG:-$(pg_lsclusters -h 2>/dev/null | awk -v port="${pgurl##*:}" '$3 == port { print $7 }')}
if [ -z "$pglog" ] || [ ! -r "$pglog" ]; then
  echo "statements: cannot read PostgreSQL's log (${pglog:-not found}; set PGLOG): not counted"
  exit 0
fi
# backends PID: PostgreSQL backend pids serving the connections of server process PID.
backends() {
  local ports
  ports=$(ss -tnpH state established "( dport = :${pgurl##*:} )" | grep "pid=$1," |
    awk '{ n = split($3, a, ":"); print a[n] }' | paste -sd, -)
  [ -n "$ports" ] || return 0
  sql "$url" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND client_port IN ($ports)"
}
sql "$url" -c "ALTER DATABASE \"$db\" SET log_statement = 'all'"
logging=1
start_servers
echo
echo "== SQL statements per request (PostgreSQL's log, $stmt_requests sequential requests each)"
echo "| query | DHR Graph | PostGraphile |"
echo "|---|---|---|"
for q in $queries; do
  line="| Q$q"
  for side in ours peer; do
    if [ ! -f "$tmp/q$q-$side.json" ] || [ -n "${failed[$q-$side]:-}" ]; then line="$line | -"; continue; fi
    p=$port pid=$ours_pid; [ $side = peer ] && p=$peer_port pid=$peer_pid
    for _ in 1 2 3; do post "$p" "@$tmp/q$q-$side.json" >/dev/null; done
    before=$(backends "$pid")
    offset=$(stat -c %s "$pglog")
    for _ in $(seq "$stmt_requests"); do post "$p" "@$tmp/q$q-$side.json" >/dev/null; done
    sleep 0.5
    pids=$(printf '%s\n%s\n' "$before" "$(backends "$pid")" | sort -u | paste -sd' ' -)
    # Lines "... [PID] user@db LOG:  execute NAME: SQL" or "LOG:  statement: SQL".
    tail -c +"$((offset + 1))" "$pglog" | awk -v pids=" $pids " -v n="$stmt_requests" '
      match($0, /\[[0-9]+\]/) {
        pid = substr($0, RSTART + 1, RLENGTH - 2)
        if (index(pids, " " pid " ") == 0) next
        if ($0 ~ /LOG:  (statement|execute [^:]*):/) {
          all++
          if ($0 ~ /: *(BEGIN|COMMIT|ROLLBACK|START TRANSACTION|SAVEPOINT|RELEASE)/) tx++
        }
      }
      END { printf "%.1f", all / n; if (tx) printf " (of which BEGIN/COMMIT %.1f)", tx / n }' >"$tmp/count"
    line="$line | $(cat "$tmp/count")"
  done
  echo "$line |"
done
