"""Judges a schemathesis HAR: how many exchanges, how many 5xx, how many INTERNAL errors."""
import json
import sys
from collections import Counter

har_path, log_path = sys.argv[1], sys.argv[2]
entries = json.load(open(har_path))["log"]["entries"]
statuses = Counter(e["response"]["status"] for e in entries)
codes = Counter()
internal = []
for e in entries:
    text = e["response"].get("content", {}).get("text") or ""
    try:
        body = json.loads(text)
    except ValueError:
        continue
    for err in (body.get("errors") or []) if isinstance(body, dict) else []:
        code = (err.get("extensions") or {}).get("code", "?")
        codes[code] += 1
        if code == "INTERNAL":
            internal.append((e["request"].get("postData", {}).get("text", ""), err.get("message")))
server_errors = sum(n for s, n in statuses.items() if s >= 500)
print(f"fuzz: {len(entries)} requests; statuses {dict(sorted(statuses.items()))}; error codes {dict(codes.most_common())}")
for req, msg in internal[:5]:
    print(f"fuzz: INTERNAL: {msg}\n  request: {req[:300]}")
if len(entries) == 0:
    print("fuzz: schemathesis sent nothing:\n" + open(log_path).read()[-2000:])
    sys.exit(1)
if server_errors or internal:
    sys.exit(1)
