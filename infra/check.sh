#!/usr/bin/env bash
# Validates the non-Rust infrastructure; exits non-zero if any check fails.
#   1. asl-validator on every state-machine/*.json, as written and with its
#      ${...} placeholders filled (infra/render-asl.py), i.e. as AWS gets it;
#      and no Catch in state-machine/round.asl.json (redrivable, see 1b);
#   2. cfn-lint on infra/template.yaml (SAM schemas);
#   3. cfn-lint on the CloudFormation that the SAM transform makes of it
#      (infra/sam-translate.py): generated roles, S3 notification, cycles;
#      and every function built by `sam build` through the root Makefile; and no
#      function that answers Merkle proofs (SUMMA_MERKLE_PROOFS); the proof
#      API (ProofApi) off by default, conditional and behind a JWT authorizer;
#   4. a smoke run of state-machine/round.asl.json in aws-local-stepfunctions
#      (infra/local-sfn.mjs) with fake Lambdas: the success path (the input's
#      run reaches every task), a start without a run (the execution's name is
#      the run), a shard failing with InvalidInput failing the execution with
#      that error (no Catch: the round stays redrivable; the aggregator is not
#      invoked, EventBridge invokes it in AWS), and a mini-tree timing out:
#      retried once, then the execution fails with the timeout; and AWS's payload
#      limits (a state's output over 256 KiB, a Lambda response over 6 MB) fail
#      the local run as they fail on AWS.
# Installs the tools first if needed (infra/setup-tools.sh, fast when done).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash infra/setup-tools.sh
# shellcheck source=infra/env.sh
source infra/env.sh

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
fail() { printf 'FAIL: %s\n' "$*"; failed=1; }
ok() { printf 'ok: %s\n' "$*"; }

# 1. ASL
shopt -s nullglob
asl_files=(state-machine/*.json)
((${#asl_files[@]})) || fail "no state-machine/*.json"
for f in "${asl_files[@]}"; do
  rendered="$work/$(basename "$f")"
  if asl-validator --json-path "$f" \
    && python3 infra/render-asl.py "$f" >"$rendered" \
    && asl-validator --json-path "$rendered"; then
    ok "asl-validator $f"
  else
    fail "asl-validator $f"
  fi
done

# 1b. Redrivable: no state has a Catch. Step Functions redrives a state only if
# the history has its <stateType>Entered event and no matching <stateType>Exited
# ("Redriving Map Runs", Step Functions Developer Guide); a caught state exits,
# so a redrive would skip it. (The same rule as the unit test
# no_catch_exits_a_redrivable_state in functions/summa-functions/src/tests/contract.rs.)
if python3 - state-machine/round.asl.json <<'PY'
import json, sys
def walk(states, path):
    for name, s in states.items():
        here = f"{path}/{name}" if path else name
        if "Catch" in s:
            yield here
        for inner in ("ItemProcessor", "Iterator"):
            if inner in s:
                yield from walk(s[inner]["States"], here)
        for b in s.get("Branches", []):
            yield from walk(b["States"], here)
caught = list(walk(json.load(open(sys.argv[1]))["States"], ""))
if caught:
    sys.exit(f"states with a Catch (not redrivable): {', '.join(caught)}")
PY
then ok "no Catch in state-machine/round.asl.json (redrivable)"; else fail "a Catch in state-machine/round.asl.json"; fi

# 2. + 3. CloudFormation
if cfn-lint infra/template.yaml; then ok "cfn-lint infra/template.yaml"; else fail "cfn-lint infra/template.yaml"; fi
if python3 infra/sam-translate.py infra/template.yaml >"$work/template.cfn.json" \
  && cfn-lint "$work/template.cfn.json"; then
  ok "cfn-lint (SAM-translated infra/template.yaml)"
else
  fail "cfn-lint (SAM-translated infra/template.yaml)"
fi

# 3a. No function of the template answers Merkle proofs (other users' balances):
# the proof function does so only where SUMMA_MERKLE_PROOFS is "allow".
if python3 - infra/template.yaml <<'PY'
import sys
from cfnlint.decode import decode
template, errors = decode(sys.argv[1])
assert not errors, errors
globals_env = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
for name, r in [("Globals", {"Properties": {"Environment": globals_env}})] + list(template["Resources"].items()):
    env = ((r.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
    if "SUMMA_MERKLE_PROOFS" in env:
        sys.exit(f"{name} sets SUMMA_MERKLE_PROOFS: the public proof function must not answer Merkle proofs")
PY
then ok "no function of the template answers Merkle proofs"; else fail "a function of the template sets SUMMA_MERKLE_PROOFS"; fi

# 3b0. The proof function's front door for users (ProofApi): off by default,
# every resource of it conditional, its authorizer JWT (docs/security.md; the
# same rules as the unit test the_templates_front_door_is_conditional_and_jwt in
# functions/summa-functions/src/tests/proof_api.rs, which also runs its handler).
if python3 - infra/template.yaml <<'PY'
import json, sys
from cfnlint.decode import decode
template, errors = decode(sys.argv[1])
assert not errors, errors
assert template["Parameters"]["ProofApi"]["Default"] == "none"
resources = template["Resources"]
api = resources["ProofHttpApi"]
assert api["Type"] == "AWS::Serverless::HttpApi" and api.get("Condition") == "HasProofApi", api
auth = api["Properties"]["Auth"]
jwt = auth["Authorizers"][auth["DefaultAuthorizer"]]["JwtConfiguration"]
assert jwt["issuer"] == {"Ref": "ProofApiJwtIssuer"} and jwt["audience"] == {"Ref": "ProofApiJwtAudience"}, jwt
for path, methods in api["Properties"]["DefinitionBody"]["paths"].items():
    for method, op in methods.items():
        assert "security" not in op, f"{path} {method} opts out of the JWT authorizer"
        assert op["x-amazon-apigateway-integration"]["payloadFormatVersion"] == "2.0"
for name, r in list(resources.items()) + list(template.get("Outputs", {}).items()):
    if name != "ProofHttpApi" and "ProofHttpApi" in json.dumps(r):
        assert r.get("Condition") == "HasProofApi", f"{name} refers to ProofHttpApi without its condition"
PY
then ok "the proof API is off by default, conditional, behind a JWT authorizer"; else fail "the proof API (ProofHttpApi) is not conditional or not JWT"; fi

# 3b. What `sam build` deploys: every function of the template is built by the
# root Makefile (BuildMethod makefile: build-<LogicalId>, infra/sam-build.sh),
# which maps it to one of the workspace's function binaries.
if ids="$(python3 - infra/template.yaml <<'PY'
import sys
from cfnlint.decode import decode
template, errors = decode(sys.argv[1])
assert not errors, errors
for name, r in template["Resources"].items():
    if r["Type"] == "AWS::Serverless::Function":
        method = (r.get("Metadata") or {}).get("BuildMethod")
        assert method == "makefile", f"{name}: BuildMethod {method!r}, not makefile"
        print(name)
PY
)" && [ -n "$ids" ]; then
  for id in $ids; do
    # infra/sam-build.sh copies target/lambda/<f>/bootstrap: <f> must be a binary.
    f="$(basename "$(dirname "$(SUMMA_LAMBDA_ARCH=arm64 bash infra/sam-build.sh --source "$id")")")"
    if make -s -n "build-$id" ARTIFACTS_DIR="$work/sam" | grep -q "infra/sam-build.sh $id " \
      && grep -qx "name = \"$f\"" functions/*/Cargo.toml; then
      ok "sam build of $id: make build-$id, the $f binary"
    else
      fail "sam build of $id: no make build-$id rule, or no function binary \"$f\" for it"
    fi
  done
else
  fail "infra/template.yaml: a function not built with BuildMethod makefile"
fi

# 4. Emulator smoke run with fake Lambdas (the contract of the functions).
if [[ -f state-machine/round.asl.json ]]; then
  fakes="$work/fakes"
  mkdir -p "$fakes"
  cat >"$fakes/plan" <<'SH'
#!/bin/sh
echo "$1" >"$(dirname "$0")/plan-input"
# The Map's items, where the ItemReader shim reads them (LOCAL_SFN_S3_DIR/b/key).
items="$(dirname "$0")/s3/b/rounds/r1/runs/run-1/items.json"
mkdir -p "$(dirname "$items")"
printf '[{"bucket":"b","prefix":"rounds/r1","run":"run-1","shard":0},{"bucket":"b","prefix":"rounds/r1","run":"run-1","shard":1},{"bucket":"b","prefix":"rounds/r1","run":"run-1","shard":2}]\n' >"$items"
printf '[{"bucket":"b","prefix":"rounds/r1","run":"run-1","index":{"partition":0,"bits":1,"shard_count":3}},{"bucket":"b","prefix":"rounds/r1","run":"run-1","index":{"partition":1,"bits":1,"shard_count":3}}]\n' >"$(dirname "$items")/index-items.json"
printf '{"bucket":"b","prefix":"rounds/r1","layout":"test","n_bytes":32,"shard_count":3,"items_key":"rounds/r1/runs/run-1/items.json","index_bits":1,"index_items_key":"rounds/r1/runs/run-1/index-items.json"}\n'
SH
  cat >"$fakes/mini-tree" <<'SH'
#!/bin/sh
echo "$1" >>"$(dirname "$0")/mini-tree-inputs"
case "$1" in
  *'"shard":1'*) [ -n "${FAIL_SHARD1:-}" ] && { echo '{"errorType":"InvalidInput","errorMessage":"bad shard 1"}'; exit 1; } ;;
  *'"shard":2'*) [ -n "${TIMEOUT_SHARD2:-}" ] && { echo '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 900.00 seconds"}'; exit 1; } ;;
esac
echo '{"ok":true}'
SH
  cat >"$fakes/index" <<'SH'
#!/bin/sh
echo "$1" >>"$(dirname "$0")/index-inputs"
echo '{"ok":true}'
SH
  cat >"$fakes/aggregator" <<'SH'
#!/bin/sh
echo "$1" >>"$(dirname "$0")/aggregator-inputs"
# BIG_RESULT=N: a result of N bytes (the emulator's payload limits).
[ -n "${BIG_RESULT:-}" ] && exec python3 -c 'import sys; print("{\"pad\":\"" + "x" * int(sys.argv[1]) + "\"}")' "$BIG_RESULT"
echo '{"root":"0x01","users":3}'
SH
  chmod +x "$fakes"/*
  python3 infra/render-asl.py state-machine/round.asl.json MapConcurrency=2 >"$work/round.json"
  printf '{"Execution":{"Name":"exec-1"}}\n' >"$work/context.json"
  run() {
    local input="${1:-}"
    [[ -n "$input" ]] || input='{"bucket":"b","prefix":"rounds/r1","run":"run-1"}'
    rm -f "$fakes"/*-input "$fakes"/*-inputs
    LOCAL_SFN_S3_DIR="$fakes/s3" node infra/local-sfn.mjs -f "$work/round.json" -r MiniTree:0 --context-file "$work/context.json" \
      -t "Plan:$fakes/plan" -t "MiniTree:$fakes/mini-tree" -t "IndexPartition:$fakes/index" -t "Aggregate:$fakes/aggregator" \
      "$input"
  }
  set +e
  out="$(run)"; rc=$?
  set -e
  if [[ $rc == 0 && "$out" == '{"root":"0x01","users":3}' ]] \
    && grep -q '"run":"run-1"' "$fakes/plan-input" \
    && [[ "$(grep -c '"run":"run-1"' "$fakes/mini-tree-inputs")" == 3 ]] \
    && [[ "$(grep -c '"index":{"partition":[01],' "$fakes/index-inputs")" == 2 ]]; then
    ok "local-sfn success path (the input's run reaches plan; each item of items.json, read by the ItemReader shim, a mini-tree; each of index-items.json an index partition)"
  else
    fail "local-sfn success path: rc=$rc output=$out"
  fi
  set +e
  out="$(run '{"bucket":"b","prefix":"rounds/r1"}')"; rc=$?
  set -e
  if [[ $rc == 0 ]] && grep -q '"run":"exec-1"' "$fakes/plan-input"; then
    ok "local-sfn without a run in the input: the execution's name is the run"
  else
    fail "local-sfn without a run: rc=$rc output=$out plan input=$(cat "$fakes/plan-input" 2>/dev/null)"
  fi
  # A shard whose fake mini-tree fails with ERROR (when ENV is set): the execution
  # fails with that error (rc 2) without invoking the aggregator, after TRIES
  # invocations of the shard.
  check_failing_shard() { # WHAT ENV ERROR SHARD TRIES WHY
    local what=$1 env=$2 error=$3 shard=$4 tries=$5 why=$6
    set +e
    out="$(export "$env=1"; run)"; rc=$?
    set -e
    if [[ $rc == 2 && "$out" == "{\"Error\":\"$error\","* && ! -f "$fakes/aggregator-inputs" ]] \
      && [[ "$(grep -c "\"shard\":$shard" "$fakes/mini-tree-inputs")" == "$tries" ]]; then
      ok "local-sfn $what path ($why)"
    else
      fail "local-sfn $what path: rc=$rc output=$out mini-tree inputs: $(cat "$fakes/mini-tree-inputs" 2>/dev/null)"
    fi
  }
  check_failing_shard timeout TIMEOUT_SHARD2 Sandbox.Timedout 2 2 \
    "Sandbox.Timedout retried once, then the execution fails with it"
  check_failing_shard failure FAIL_SHARD1 InvalidInput 1 1 \
    "InvalidInput fails the execution, no Catch, not retried"
  # AWS's payload limits, enforced by infra/local-sfn.mjs (the emulator has none):
  # a state's output over 256 KiB, a Lambda response over 6 MB.
  set +e
  out="$(BIG_RESULT=270000 run)"; rc=$?
  out_ok="$(BIG_RESULT=260000 run)"; rc_ok=$?
  out_huge="$(BIG_RESULT=6300000 run)"; rc_huge=$?
  set -e
  if [[ $rc == 2 && "$out" == '{"Error":"States.DataLimitExceeded",'*"'Aggregate'"* && $rc_ok == 0 && "$out_ok" == '{"pad":'* ]]; then
    ok "local-sfn payload limit (a 270,000-byte result fails with States.DataLimitExceeded, 260,000 passes)"
  else
    fail "local-sfn payload limit: rc=$rc output=${out:0:200} / under the limit: rc=$rc_ok"
  fi
  if [[ $rc_huge == 2 && "$out_huge" == '{"Error":"RequestEntityTooLarge",'* ]]; then
    ok "local-sfn Lambda response limit (6.3 MB fails with RequestEntityTooLarge)"
  else
    fail "local-sfn Lambda response limit: rc=$rc_huge output=${out_huge:0:200}"
  fi
fi

if ((failed)); then
  echo "check.sh: FAILED"
  exit 1
fi
echo "check.sh: all checks passed"
