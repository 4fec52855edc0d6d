#!/usr/bin/env bash
# `make verifier-bench`: the README's figures for the depth-28, 2-currency shape. A
# synthetic proof of that shape (verifier/examples/synthetic.rs; the unsafe test SRS),
# then load / SRS / verifying-key / proof times in Node (3 runs) and in headless
# Chromium (the browser test, run on that proof). After `make verifier` and
# `make verifier-test` (which installs Chromium and playwright-core).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT=target/verifier-bench
DEPTH="${DEPTH:-28}" CURRENCIES="${CURRENCIES:-2}"
"${CARGO:-cargo}" run --quiet -p summa-agg-verifier --example synthetic -- "$OUT/d$DEPTH" "$DEPTH" "$CURRENCIES"
node verifier/tests/bench-node.mjs "$OUT/d$DEPTH"
PLAYWRIGHT_PREFIX=.tools/verifier-node node verifier/tests/browser.mjs "$OUT/d$DEPTH" "$OUT/browser"
