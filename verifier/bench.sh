#!/usr/bin/env bash
# `make verifier-bench`: the README's figures for the depth-28, 2-currency shape. A
# synthetic proof of that shape (verifier/examples/synthetic.rs; the unsafe test SRS,
# whose key for the shape is pinned), then in Node the check with the pinned key (ten
# runs; and one with the SRS file, the slow path) and in headless Chromium the page's
# check from picking the proof to the verdict (six runs), the module loaded. After
# `make verifier` and `make verifier-test` (which installs Chromium and
# playwright-core). Last line: {"depth", "currencies", "node_ms", "chromium_ms",
# "srs_file_needed"}, the fastest runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=target/verifier-bench
DEPTH="${DEPTH:-28}" CURRENCIES="${CURRENCIES:-2}"
"${CARGO:-cargo}" run --quiet -p summa-agg-verifier --example synthetic -- "$OUT/d$DEPTH" "$DEPTH" "$CURRENCIES"
node verifier/tests/bench-node.mjs "$OUT/d$DEPTH" | tee "$OUT/node.txt"
BROWSER_BENCH=1 PLAYWRIGHT_PREFIX=.tools/verifier-node \
  node verifier/tests/browser.mjs "$OUT/d$DEPTH" "$OUT/browser" | tee "$OUT/chromium.txt"
python3 - "$OUT" "$DEPTH" "$CURRENCIES" <<'PY'
import json, sys
out, depth, currencies = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
last = lambda f, key: [json.loads(l) for l in open(f"{out}/{f}") if l.startswith("{") and key in l][-1]
node, chromium = last("node.txt", "node_ms"), last("chromium.txt", "chromium_ms")
print(json.dumps({"depth": depth, "currencies": currencies, "node_ms": node["node_ms"],
                  "chromium_ms": chromium["chromium_ms"], "srs_file_needed": chromium["srs_file_needed"]}))
PY
