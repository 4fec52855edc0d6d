#!/usr/bin/env bash
# `make chain-example`: the example round on a local chain. Starts anvil (npm's
# @foundry-rs/anvil-linux-amd64, from make tools) on a free port of 127.0.0.1,
# then, as a custodian and a user would:
#   summa-agg round examples/shards         the round
#   summa-agg zk-keys --unsafe-test-srs     keys of its shape (UNSAFE TEST SRS: an example)
#   summa-agg chain deploy                  the registry and the shape's verifier
#   summa-agg chain publish                 the round's commitment
#   summa-agg proof / verify --rpc --evm    a user's proof, checked from the chain
# and stops anvil. The last line: {"commit_gas", "verify_gas" (eth_estimateGas),
# "registry_bytes", "verifier_bytes" (deployed code), "verified"}.
# SUMMA_AGG: the binary (default target/release/summa-agg, built with `chain`).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${SUMMA_AGG:-$REPO/target/release/summa-agg}"
OUT="${CHAIN_EXAMPLE_OUT:-$REPO/out/chain-example}"

rm -rf "$OUT"; mkdir -p "$OUT"
# shellcheck source=infra/anvil.sh
source "$REPO/infra/anvil.sh"
trap 'kill "${ANVIL_PID:-}" 2>/dev/null || true' EXIT
start_anvil "$OUT/anvil.log"
rpc="$RPC"

"$BIN" round "$REPO/examples/shards" --out "$OUT/round" >/dev/null
"$BIN" zk-keys --round "$OUT/round" --unsafe-test-srs --out "$OUT/keys" >/dev/null
"$BIN" chain deploy --rpc "$rpc" --keys "$OUT/keys" \
  --verifier-artifact "$REPO/contracts/out/Halo2Verifier_v1_d6_c2_b14_UNSAFE_TEST_SRS.json" \
  | tee "$OUT/deploy.json"
registry="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["registry"])' "$OUT/deploy.json")"
"$BIN" chain publish --rpc "$rpc" --registry "$registry" --keys "$OUT/keys" --round "$OUT/round" \
  | tee "$OUT/publish.json"
"$BIN" proof --round "$OUT/round" --user dxGaEAii --keys "$OUT/keys" >"$OUT/zk-proof.json"
"$BIN" verify "$OUT/zk-proof.json" --rpc "$rpc" --registry "$registry" --round-id 0 \
  --srs "$OUT/keys/srs.bin" --unsafe-test-srs --evm | tee "$OUT/verify.txt"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
d = json.load(open(f"{out}/deploy.json"))
p = json.load(open(f"{out}/publish.json"))
v = open(f"{out}/verify.txt").read()
m = re.search(r"accepts it \(the verifier.s gas: eth_estimateGas (\d+)\)", v)
print(json.dumps({
    "commit_gas": p["estimated_gas"],
    "commit_gas_used": p["gas_used"],
    "verify_gas": int(m.group(1)) if m else None,
    "registry_bytes": d["registry_bytes"],
    "verifier_bytes": d["verifier_bytes"],
    "verified": m is not None,
}))
sys.exit(0 if m else 1)
PY
