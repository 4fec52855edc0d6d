#!/usr/bin/env bash
# Validates the non-Rust infrastructure; exits non-zero if any check fails.
#   1. asl-validator on every state-machine/*.json, as written and with its
#      ${...} placeholders filled (infra/render-asl.py), i.e. as AWS gets it;
#   2. cfn-lint on infra/template.yaml (SAM schemas);
#   3. cfn-lint on the CloudFormation that the SAM transform makes of it
#      (infra/sam-translate.py): generated roles, S3 notification, cycles;
#   4. a smoke run of state-machine/round.asl.json in aws-local-stepfunctions
#      (infra/local-sfn.mjs) with fake Lambdas: the success path, and a shard
#      failing with InvalidInput going through RecordFailure to RoundFailed.
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

# 2. + 3. CloudFormation
if cfn-lint infra/template.yaml; then ok "cfn-lint infra/template.yaml"; else fail "cfn-lint infra/template.yaml"; fi
if python3 infra/sam-translate.py infra/template.yaml >"$work/template.cfn.json" \
  && cfn-lint "$work/template.cfn.json"; then
  ok "cfn-lint (SAM-translated infra/template.yaml)"
else
  fail "cfn-lint (SAM-translated infra/template.yaml)"
fi

# 4. Emulator smoke run with fake Lambdas (the contract of the functions).
if [[ -f state-machine/round.asl.json ]]; then
  fakes="$work/fakes"
  mkdir -p "$fakes"
  cat >"$fakes/plan" <<'SH'
#!/bin/sh
printf '{"bucket":"b","prefix":"rounds/r1","layout":"test","n_bytes":32,"shard_count":3,"items":[0,1,2]}\n'
SH
  cat >"$fakes/mini-tree" <<'SH'
#!/bin/sh
case "$1" in
  *'"shard":1'*) [ -n "${FAIL_SHARD1:-}" ] && { echo '{"errorType":"InvalidInput","errorMessage":"bad shard 1"}'; exit 1; } ;;
esac
echo '{"ok":true}'
SH
  cat >"$fakes/aggregator" <<'SH'
#!/bin/sh
case "$1" in
  *'"failure"'*) echo "$1" >"$(dirname "$0")/failure-input"; echo '{"recorded":true}' ;;
  *) echo '{"root":"0x01","users":3}' ;;
esac
SH
  chmod +x "$fakes"/*
  python3 infra/render-asl.py state-machine/round.asl.json MapConcurrency=2 >"$work/round.json"
  run() {
    node infra/local-sfn.mjs -f "$work/round.json" -r MiniTree:0 \
      -t "Plan:$fakes/plan" -t "MiniTree:$fakes/mini-tree" \
      -t "Aggregate:$fakes/aggregator" -t "RecordFailure:$fakes/aggregator" \
      '{"bucket":"b","prefix":"rounds/r1"}'
  }
  set +e
  out="$(run)"; rc=$?
  set -e
  if [[ $rc == 0 && "$out" == '{"root":"0x01","users":3}' ]]; then
    ok "local-sfn success path"
  else
    fail "local-sfn success path: rc=$rc output=$out"
  fi
  set +e
  out="$(FAIL_SHARD1=1 run)"; rc=$?
  set -e
  if [[ $rc == 2 && "$out" == '{"Error":"InvalidInput",'* && -f "$fakes/failure-input" ]] \
    && grep -q '"failure":{"Error":"InvalidInput"' "$fakes/failure-input"; then
    ok "local-sfn failure path (InvalidInput -> RecordFailure -> RoundFailed)"
  else
    fail "local-sfn failure path: rc=$rc output=$out"
  fi
fi

if ((failed)); then
  echo "check.sh: FAILED"
  exit 1
fi
echo "check.sh: all checks passed"
