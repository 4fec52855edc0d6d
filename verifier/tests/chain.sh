#!/usr/bin/env bash
# The chain fixtures of the verifier's tests: a local node with the round registry
# and two rounds of the same shape committed, as a custodian publishes them.
#
#   verifier/tests/chain.sh DIR     (after fixtures.sh DIR; anvil from make tools)
#
# Starts anvil (npm's @foundry-rs/anvil-linux-amd64) on a free port of 127.0.0.1 and
# leaves it running: its pid in DIR/chain/anvil.pid (the caller stops it). Then:
# DIR/round-b/, DIR/proof-b.json   a second round (one balance changed) and its proof
# the registry and the shape's verifier deployed (summa-agg chain deploy), DIR/round
#   committed as round 0 and DIR/round-b as round 1, the latest (chain publish)
# DIR/chain.json                   {"rpc": .., "registry": ..}
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DIR="$1"
SUMMA="${SUMMA:-target/debug/summa-agg}"
mkdir -p "$DIR/chain"
# shellcheck source=infra/anvil.sh
source infra/anvil.sh
start_anvil "$DIR/chain/anvil.log" || { kill "${ANVIL_PID:-}" 2>/dev/null; exit 1; }
echo "$ANVIL_PID" >"$DIR/chain/anvil.pid"
rpc="$RPC"

# Round B: the example shards with one balance changed (the same users, hence the
# same shape and keys).
rm -rf "$DIR/shards-b" "$DIR/round-b"
cp -r examples/shards "$DIR/shards-b"
sed -i 's/^MBlfbBGI,67823,/MBlfbBGI,67824,/' "$DIR/shards-b/entry_16_1.csv"
grep -q '^MBlfbBGI,67824,' "$DIR/shards-b/entry_16_1.csv" || { echo "chain fixtures: round B is round A (the example shard changed?)" >&2; exit 1; }
"$SUMMA" round "$DIR/shards-b" --out "$DIR/round-b" >/dev/null
"$SUMMA" proof --round "$DIR/round-b" --user dxGaEAii --keys "$DIR/keys" >"$DIR/proof-b.json" 2>/dev/null
cp "$DIR/round-b/result.json" "$DIR/result-b.json"

"$SUMMA" chain deploy --rpc "$rpc" --keys "$DIR/keys" \
  --verifier-artifact contracts/out/Halo2Verifier_v1_d6_c2_b14_UNSAFE_TEST_SRS.json >"$DIR/chain/deploy.json"
registry="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["registry"])' "$DIR/chain/deploy.json")"
"$SUMMA" chain publish --rpc "$rpc" --registry "$registry" --keys "$DIR/keys" --round "$DIR/round" >"$DIR/chain/publish-a.json"
"$SUMMA" chain publish --rpc "$rpc" --registry "$registry" --keys "$DIR/keys" --round "$DIR/round-b" >"$DIR/chain/publish-b.json"
printf '{"rpc": "%s", "registry": "%s"}\n' "$rpc" "$registry" >"$DIR/chain.json"
# The command line reads round 1 from the chain with the pinned key (no SRS file).
"$SUMMA" verify "$DIR/proof-b.json" --rpc "$rpc" --registry "$registry" --round-id 1 --unsafe-test-srs >/dev/null
echo "verifier chain fixtures: $rpc, registry $registry, rounds 0 and 1" >&2
