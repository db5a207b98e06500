#!/usr/bin/env bash
# Runs a command against the real server: builds the debug binary, serves the samples from a
# fresh SQLite file on a port the system picks, waits until /readyz answers, runs the command
# with DHR_GRAPH_URL set (e.g. http://127.0.0.1:41234; also DHR_GRAPH_BIN and
# DHR_GRAPH_DATABASE_URL), and stops the server however it ends.
#
#   tests/with-server.sh node tests/client/run.mjs
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
bin="$target/debug/dhr-graph"

(cd "$root" && CARGO_TARGET_DIR="$target" cargo build --quiet --bin dhr-graph)

work=$(mktemp -d)
log="$work/server.log"
pid=
cmd=
stop() {
  for p in $cmd $pid; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Port 0 and the address from the log, rather than a port picked beforehand: no other process
# can take it in between.
"$bin" serve --database-url "sqlite://$work/dhr-graph.db" --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!

url=
for _ in $(seq 1 240); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1 || true)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-server: the server exited before serving:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
if [ -z "$url" ]; then
  echo "with-server: the server did not start within 120 s:" >&2
  cat "$log" >&2
  exit 1
fi
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "$url/readyz" && break
  sleep 0.5
done
curl -fsS -o /dev/null "$url/readyz" || {
  echo "with-server: $url/readyz does not answer" >&2
  cat "$log" >&2
  exit 1
}

echo "with-server: serving the samples at $url"
# In the background with `wait`, so that a signal stops both at once rather than after it ends.
status=0
# The binary and database too, for commands that create an API key first.
DHR_GRAPH_URL="$url" DHR_GRAPH_BIN="$bin" DHR_GRAPH_DATABASE_URL="sqlite://$work/dhr-graph.db" "$@" &
cmd=$!
wait "$cmd" || status=$?
cmd=
if [ "$status" -ne 0 ]; then
  echo "with-server: '$*' failed ($status); the server's log:" >&2
  tail -n 50 "$log" >&2
fi
exit "$status"
