-- wrk script: POSTs one GraphQL body read from the file named by the BODY environment
-- variable (wrk passes no arguments to `init` before `request`, so the body is read once here).
local f = assert(io.open(os.getenv("BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- p50/p99 in milliseconds and the error count, one line each, for load.sh to collect.
function done(summary, latency, requests)
  io.write(string.format("rps %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("p50_ms %.2f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.2f\n", latency:percentile(99) / 1000))
  local e = summary.errors
  io.write(string.format("errors %d\n", e.connect + e.read + e.write + e.status + e.timeout))
end
