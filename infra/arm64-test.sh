#!/usr/bin/env bash
# Runs the aarch64 summa-agg built by infra/arm64.sh under qemu-aarch64-static, with
# --threads 1 (under qemu-user on these machines a program that starts a thread
# hangs), and checks its roots against tests/fixtures/known-answers.json in all
# three layouts, and the 4-shard round against entry_64.csv's root.
# One line per check, then `N passed, M failed`; exit 1 if any failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=target/aarch64-unknown-linux-gnu/release/summa-agg
[[ -x "$BIN" ]] || { echo "arm64-test: no $BIN: run infra/arm64.sh (make arm64) first" >&2; exit 1; }
QEMU=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "PASS $1"; passed=$((passed + 1))
  else
    echo "FAIL $1: expected $2, got $3"; failed=$((failed + 1))
  fi
}
root_of() { # root_of OUT ARGS...: the round's root hash
  local out="$1"
  shift
  timeout 300 "${QEMU[@]}" "$BIN" --threads 1 round "$@" --out "$out" 2>"$out.err" | tail -n 1 |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["root"]["hash"])' 2>/dev/null || echo "no result ($(tail -n 1 "$out.err" 2>/dev/null))"
}
known() { # known LAYOUT: entry_16.csv's known root in that layout
  python3 -c 'import json, sys
ka = json.load(open("tests/fixtures/known-answers.json"))
print(next(r["hash"] for r in ka["roots"] if r["layout"] == sys.argv[1] and r["csv"] == "entry_16.csv"))' "$1"
}
for layout in v1 agg2023 legacy; do
  check "aarch64 summa-agg --threads 1 round entry_16.csv --layout $layout = the known root" \
    "$(known "$layout")" "$(root_of "$work/$layout" tests/fixtures/entry_16.csv --layout "$layout")"
done
check "aarch64 summa-agg --threads 1 round over entry_16_1..4.csv = entry_64.csv's root" \
  "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da" \
  "$(root_of "$work/four" tests/fixtures/entry_16_1.csv tests/fixtures/entry_16_2.csv tests/fixtures/entry_16_3.csv tests/fixtures/entry_16_4.csv)"
echo "$passed passed, $failed failed"
((failed == 0))
