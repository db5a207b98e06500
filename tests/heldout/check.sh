#!/usr/bin/env bash
# Held-out check of addressee resolution.
#
# Runs every row of addressees.tsv through
#   dhr-graph agencies explain NAME --csp CSP --database-url DB
# and compares the resolved sector with the expected one.
#
# addressees.tsv columns: csp <TAB> name <TAB> expected_sector <TAB> note
#   expected_sector  one sector, or acceptable alternatives joined by "|"
#   note             free text; two optional tokens are read:
#                      agency~FRAGMENT  the resolved agency name must contain FRAGMENT
#                                       (case-insensitive, "&" = "and"), else FAIL (wrong body)
#                      body=KEY         the real body this row names; two rows with different
#                                       KEYs that resolve to the same agency are a collision
#
# Usage: tests/heldout/check.sh            (from anywhere)
#   env: BIN (default /tmp/heldout-bin/dhr-graph), DB (default sqlite:///tmp/heldout.db),
#        JOBS (parallel explains, default 8), TSV (default: addressees.tsv next to this script)
#   Exit status 0 if every row passes, 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="${BIN:-/tmp/heldout-bin/dhr-graph}"
DB="${DB:-sqlite:///tmp/heldout.db}"
JOBS="${JOBS:-8}"
TSV="${TSV:-$HERE/addressees.tsv}"
[ -x "$BIN" ] || { echo "binary not found: $BIN" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is required" >&2; exit 2; }

OUT="$(mktemp -d /tmp/heldout-check.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

# One explain per row, in parallel; row i's output goes to $OUT/i.out
python3 - "$TSV" "$OUT" <<'PY'
import sys
tsv, out = sys.argv[1], sys.argv[2]
with open(tsv, encoding="utf-8") as f, open(out + "/jobs", "w", encoding="utf-8") as j:
    for i, line in enumerate(f):
        if i == 0 or not line.strip():
            continue
        csp, name = line.rstrip("\n").split("\t")[:2]
        j.write(f"{i}\0{name}\0{csp}\0")
PY
export BIN DB OUT
xargs -0 -n 3 -P "$JOBS" sh -c '"$BIN" agencies explain "$2" --csp "$3" --database-url "$DB" >"$OUT/$1.out" 2>&1 || echo "exit	$?" >>"$OUT/$1.out"' _ <"$OUT/jobs"

python3 - "$TSV" "$OUT" <<'PY'
import sys, re, collections
tsv, out = sys.argv[1], sys.argv[2]

def norm(s):
    s = s.lower().replace("&", " and ").replace("\u2019", "'")
    return re.sub(r"\s+", " ", s).strip()

rows = []
with open(tsv, encoding="utf-8") as f:
    for i, line in enumerate(f):
        if i == 0 or not line.strip():
            continue
        csp, name, expected, note = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
        got = {}
        for l in open(f"{out}/{i}.out", encoding="utf-8", errors="replace"):
            k, _, v = l.rstrip("\n").partition("\t")
            got.setdefault(k, v)
        frag = re.search(r"agency~([^;]+)", note)
        body = re.search(r"body=([^\s;]+)", note)
        rows.append(dict(line=i + 1, csp=csp, name=name, expected=expected, note=note,
                         frag=frag.group(1).strip() if frag else None,
                         body=body.group(1) if body else None, got=got))

methods = collections.Counter()
method_pass = collections.Counter()
fails = []
print("RESULT\tline\tcsp\tname\texpected\tgot_sector\tagency\tmethod\treason")
for r in rows:
    g = r["got"]
    sector, agency, method = g.get("sector", "?"), g.get("agency", "?"), g.get("method", "?")
    why = ""
    if "exit" in g or "sector" not in g:
        why = "explain failed: " + g.get("exit", "no sector line")
    elif sector not in r["expected"].split("|"):
        why = "wrong sector"
    elif r["frag"] and norm(r["frag"]) not in norm(agency):
        why = f"wrong body (expected agency containing '{r['frag']}')"
    r["ok"] = not why
    r["why"] = why
    methods[method] += 1
    if r["ok"]:
        method_pass[method] += 1
    else:
        fails.append(r)
    print("\t".join(["PASS" if r["ok"] else "FAIL", str(r["line"]), r["csp"], r["name"],
                     r["expected"], sector, agency, method, g.get("reason", "")]
                    + ([why] if why else [])))

n = len(rows)
ok = n - len(fails)
print()
print(f"== SUMMARY: {ok}/{n} PASS, accuracy {100.0 * ok / n:.1f}%")
print("== by method (rows, pass, fail):")
for m, c in methods.most_common():
    print(f"   {m:<12} {c:4d}  pass {method_pass[m]:4d}  fail {c - method_pass[m]:4d}")
unknown = sorted({r["csp"] for r in rows if "not a CSP the registry knows" in r["got"].get("area", "")})
if unknown:
    print("== CSPs the registry does not know:", ", ".join(unknown))

print()
print(f"== FAIL rows ({len(fails)}):")
for r in fails:
    g = r["got"]
    print(f"   [{r['csp']}] \"{r['name']}\" expected {r['expected']}, got {g.get('sector','?')} "
          f"\"{g.get('agency','?')}\" via {g.get('method','?')} ({g.get('reason','')}) -- {r['why']}")

# Collisions: different real bodies (body=KEY) resolving to the same agency.
groups = collections.defaultdict(list)
for r in rows:
    g = r["got"]
    if "agency" not in g:
        continue
    key = g.get("code", "-")
    if key in ("", "-"):
        key = "name:" + norm(g["agency"])
    groups[key].append(r)
print()
print("== COLLISIONS (different body= keys resolved to one agency):")
found = 0
for key, rs in sorted(groups.items()):
    bodies = collections.OrderedDict()
    for r in rs:
        if r["body"]:
            bodies.setdefault(r["body"], []).append(r)
    if len(bodies) < 2:
        continue
    found += 1
    succ = any(re.search(r"predecessor|successor|merged|renamed|now ", r["note"]) for r in rs if r["body"])
    print(f"   agency \"{rs[0]['got']['agency']}\" ({key}){'  [includes predecessor/successor bodies]' if succ else ''}:")
    for b, brs in bodies.items():
        names = "; ".join(f"[{x['csp']}] \"{x['name']}\"" for x in brs)
        print(f"      body={b}: {names}")
if not found:
    print("   none")

# Splits: one real body (same body= key) resolving to several agencies (informational).
bybody = collections.defaultdict(list)
for r in rows:
    if r["body"] and "agency" in r["got"]:
        bybody[r["body"]].append(r)
print()
print("== SPLITS (one body= key resolved to several agencies; informational):")
nsplit = 0
for b, rs in sorted(bybody.items()):
    ags = collections.OrderedDict()
    for r in rs:
        ags.setdefault(f"{r['got']['agency']} [{r['got'].get('code','-')}]", []).append(r)
    if len(ags) < 2:
        continue
    nsplit += 1
    print(f"   body={b}:")
    for a, ars in ags.items():
        print(f"      {a} <- " + "; ".join(f"[{x['csp']}] \"{x['name']}\" ({x['got'].get('method','?')})" for x in ars))
if not nsplit:
    print("   none")
sys.exit(0 if not fails else 1)
PY
