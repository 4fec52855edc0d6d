# Sourced by the scripts that need a local chain (infra/chain-example.sh,
# verifier/tests/chain.sh): `start_anvil LOG` starts anvil (npm's
# @foundry-rs/anvil-linux-amd64, from make tools; $ANVIL overrides) on a port of
# 127.0.0.1 that it binds itself (--port 0: no port picked beforehand that another
# process could take in between) and names in its "Listening on" line, writing its output to LOG, waits until it listens, and sets ANVIL_PID,
# RPC and SUMMA_CHAIN_KEY (exported: anvil's first development account, a throwaway
# key, as any local node's). The caller stops it (kill "$ANVIL_PID").
start_anvil() {
  local log="$1" repo port
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local anvil="${ANVIL:-$repo/.tools/node/node_modules/.bin/anvil}"
  [[ -x "$anvil" ]] || { echo "no anvil at $anvil (make tools)" >&2; return 1; }
  "$anvil" --host 127.0.0.1 --port 0 >"$log" 2>&1 &
  ANVIL_PID=$!
  for _ in $(seq 100); do
    grep -q "Listening on" "$log" && break
    kill -0 "$ANVIL_PID" 2>/dev/null || break
    sleep 0.1
  done
  port="$(grep -m1 -o 'Listening on 127\.0\.0\.1:[0-9]*' "$log" | grep -o '[0-9]*$')"
  [[ -n "$port" ]] || { echo "anvil did not start:" >&2; cat "$log" >&2; return 1; }
  RPC="http://127.0.0.1:$port"
  SUMMA_CHAIN_KEY="$(grep -m1 -A3 'Private Keys' "$log" | grep -o '0x[0-9a-f]\{64\}')"
  export SUMMA_CHAIN_KEY
}
