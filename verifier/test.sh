#!/usr/bin/env bash
# `make verifier-test` (in `make test`, after `make verifier`): the Node tests of the
# ES module and the browser test of the page, on fixtures made by the native CLI.
#
# Installs what is missing: Debian's chromium (as root), and playwright-core (pinned,
# from npm, into .tools/verifier-node; it drives the installed browser and downloads
# none). A missing tool is an error, never a skip.
# Output: target/verifier-test/ (fixtures, screenshots).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PLAYWRIGHT_SPEC="playwright-core@1.65.2"
OUT="target/verifier-test"
PREFIX=".tools/verifier-node"

if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  echo "verifier-test: installing chromium" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 chromium >/dev/null
fi
if [[ "$(cat "$PREFIX/.stamp" 2>/dev/null)" != "$PLAYWRIGHT_SPEC" || ! -d "$PREFIX/node_modules/playwright-core" ]]; then
  echo "verifier-test: npm install $PLAYWRIGHT_SPEC" >&2
  mkdir -p "$PREFIX"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "$PLAYWRIGHT_SPEC" >/dev/null
  printf '%s' "$PLAYWRIGHT_SPEC" >"$PREFIX/.stamp"
fi
[[ -f verifier/pkg/summa_verifier.js ]] || { echo "verifier-test: run make verifier first" >&2; exit 1; }

bash verifier/tests/fixtures.sh "$OUT/fixtures"
# A local node with the registry and two rounds (stopped on exit).
trap 'kill "$(cat "$OUT/fixtures/chain/anvil.pid" 2>/dev/null)" 2>/dev/null || true' EXIT
bash verifier/tests/chain.sh "$OUT/fixtures"
SUMMA_VERIFIER_FIXTURES="$OUT/fixtures" SUMMA_CLI="${SUMMA:-target/debug/summa-agg}" \
  node --test verifier/tests/node.test.mjs
PLAYWRIGHT_PREFIX="$PREFIX" \
  node verifier/tests/browser.mjs "$OUT/fixtures" "$OUT/browser"
