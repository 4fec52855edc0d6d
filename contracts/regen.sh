#!/usr/bin/env bash
# The verifier contracts are made from the circuit: this script regenerates each
# Solidity verifier of contracts/generated/ (summa-agg chain gen-verifier over the
# keys of its shape, made here with the UNSAFE TEST SRS: these contracts are for the
# tests, the example and the measured figures only; a custodian generates its own
# from a ceremony's keys) and compiles every contract into contracts/out/ with the
# pinned solc-js (contracts/build.mjs). A circuit change is then one `make contracts`.
#
#   bash contracts/regen.sh           rewrite contracts/generated/ and contracts/out/
#   bash contracts/regen.sh --check   write nothing; exit 1 if either drifted from
#                                     the circuit and the sources (in `make test`)
#
# SUMMA_AGG: the summa-agg binary (default target/debug/summa-agg, with `chain`).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SUMMA_AGG:-$REPO/target/debug/summa-agg}"
NODE="$REPO/.tools/node/node_modules/.bin/node"
CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  *) echo "usage: regen.sh [--check]" >&2; exit 2 ;;
esac
[[ -x "$BIN" ]] || { echo "contracts: no $BIN (cargo build -p summa-agg-cli)" >&2; exit 1; }
[[ -x "$NODE" ]] || { echo "contracts: no $NODE (make tools)" >&2; exit 1; }

# The shapes with a committed verifier: the example round's (the tests deploy it)
# and depth 20 and 28 with 2 currencies (the README's gas and size figures).
SHAPES=("6 2" "20 2" "28 2")

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/generated"
for s in "${SHAPES[@]}"; do
  read -r depth currencies <<<"$s"
  name="Halo2Verifier_v1_d${depth}_c${currencies}_b14_UNSAFE_TEST_SRS"
  "$BIN" zk-keys --depth "$depth" --currencies "$currencies" --unsafe-test-srs \
    --out "$work/keys-$depth-$currencies" >/dev/null 2>"$work/log" \
    || { cat "$work/log" >&2; exit 1; }
  "$BIN" chain gen-verifier --keys "$work/keys-$depth-$currencies" \
    --out "$work/generated/$name.sol" >/dev/null 2>"$work/log" \
    || { cat "$work/log" >&2; exit 1; }
done

if ((CHECK)); then
  if ! diff -r -q "$work/generated" "$REPO/contracts/generated"; then
    echo "contracts: contracts/generated/ is not what the circuit gives: run make contracts" >&2
    exit 1
  fi
  "$NODE" "$REPO/contracts/build.mjs" --check
  echo "contracts: the verifiers are the circuit's and every artifact is its source's"
else
  rm -rf "$REPO/contracts/generated"
  cp -r "$work/generated" "$REPO/contracts/generated"
  "$NODE" "$REPO/contracts/build.mjs"
fi
