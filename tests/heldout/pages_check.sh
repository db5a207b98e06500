#!/usr/bin/env bash
# Held-out check of page parsing: ingest pages/ into a fresh sqlite db, serve it, and for every
# recommendation compare its addressees with pages_expected.tsv and check that the text no longer
# carries the addressee names.
#   env: BIN (default /tmp/heldout-bin/dhr-graph), PORT (default 8799), DBFILE (default /tmp/heldout-pages.db)
# Exit status 0 if every recommendation matches, 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${BIN:-/tmp/heldout-bin/dhr-graph}"
PORT="${PORT:-8799}"
DBFILE="${DBFILE:-/tmp/heldout-pages.db}"
rm -f "$DBFILE" "$DBFILE-wal" "$DBFILE-shm"
"$BIN" ingest --quiet --database-url "sqlite://$DBFILE" "$HERE/pages"
"$BIN" serve --database-url "sqlite://$DBFILE" --listen "127.0.0.1:$PORT" --rate-limit-per-minute 0 \
  --no-samples >/tmp/heldout-pages-serve.log 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/graphql" -H 'Accept: text/html' && break || sleep 0.2
done
Q='{"query":"{ reviews(first: 20) { nodes { title csps { name } statedRecommendationCount recommendationCount recommendations(first: 100) { nodes { label position text addressedTo addressees { position agency { name sector } resolution { method reason } } } } } } }"}'
curl -s -X POST -H 'Content-Type: application/json' --data "$Q" "http://127.0.0.1:$PORT/graphql" >/tmp/heldout-pages.json
python3 - "$HERE/pages_expected.tsv" /tmp/heldout-pages.json <<'PY'
import sys, json, csv
exp = {}
for row in csv.reader(open(sys.argv[1], encoding="utf-8"), delimiter="\t"):
    if row[0] == "page":
        continue
    csp = "Sandwell" if "sandwell" in row[0] else "Leeds"
    exp[(csp, row[1])] = ([x.strip() for x in row[2].split("||")], row[3])
d = json.load(open(sys.argv[2], encoding="utf-8"))
if "errors" in d:
    print(d["errors"]); sys.exit(2)
bad = 0
seen = set()
for rv in d["data"]["reviews"]["nodes"]:
    csp = rv["csps"][0]["name"] if rv["csps"] else "?"
    print(f"== {rv['title']} ({csp}): stated {rv['statedRecommendationCount']}, stored {rv['recommendationCount']}")
    for n in rv["recommendations"]["nodes"]:
        key = (csp, n["label"])
        seen.add(key)
        want, note = exp.get(key, ([], "NOT IN EXPECTED"))
        got = [x.strip() for x in n["addressedTo"].split(" | ")] if n["addressedTo"] else []
        left = [w for w in want if w in n["text"]]
        ok = got == want and len(n["addressees"]) == len(want) and not left
        bad += not ok
        print(f"  {'PASS' if ok else 'FAIL'} {n['label']:<6} ({note})")
        if not ok:
            print(f"       expected {len(want)}: {want}")
            print(f"       got      {len(n['addressees'])}: {got}")
            if left:
                print(f"       text still contains: {left}")
        for a in n["addressees"]:
            print(f"         -> {a['agency']['name']} [{a['agency']['sector']}] {a['resolution']['method']}: {a['resolution']['reason']}")
for k in exp:
    if k not in seen:
        bad += 1
        print(f"  FAIL {k}: recommendation missing")
print(f"== {len(exp) - bad}/{len(exp)} recommendations as expected")
sys.exit(1 if bad else 0)
PY
