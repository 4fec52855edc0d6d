# Sourced by the scripts that need a local chain (infra/chain-example.sh,
# verifier/tests/chain.sh): `start_anvil LOG` starts anvil (npm's
# @foundry-rs/anvil-linux-amd64, from make tools; $ANVIL overrides) on a free port of
# 127.0.0.1, writing its output to LOG, waits until it listens, and sets ANVIL_PID,
# RPC and SUMMA_CHAIN_KEY (exported: anvil's first development account, a throwaway
# key, as any local node's). The caller stops it (kill "$ANVIL_PID").
start_anvil() {
  local log="$1" repo port
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local anvil="${ANVIL:-$repo/.tools/node/node_modules/.bin/anvil}"
  [[ -x "$anvil" ]] || { echo "no anvil at $anvil (make tools)" >&2; return 1; }
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  "$anvil" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
  ANVIL_PID=$!
  for _ in $(seq 100); do
    grep -q "Listening on" "$log" && break
    sleep 0.1
  done
  grep -q "Listening on" "$log" || { cat "$log" >&2; return 1; }
  RPC="http://127.0.0.1:$port"
  SUMMA_CHAIN_KEY="$(grep -m1 -A3 'Private Keys' "$log" | grep -o '0x[0-9a-f]\{64\}')"
  export SUMMA_CHAIN_KEY
}
