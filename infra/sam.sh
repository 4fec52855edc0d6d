#!/usr/bin/env bash
# `sam build` of infra/template.yaml, offline, as a deploy starts:
#   - installs the SAM CLI (pip aws-sam-cli) into its own venv, .tools/sam-venv
#     (in .tools/venv it would replace the boto3/botocore that moto needs);
#   - runs `sam build` in infra/ (infra/samconfig.toml: build in source), whose
#     BuildMethod makefile runs `make build-<LogicalId>` = infra/sam-build.sh:
#     `make arm64` (incremental), then that function's bootstrap;
#   - checks that each artifact in infra/.aws-sam/build is byte for byte the
#     bootstrap that `make arm64-test` runs.
# Then `cd infra && sam deploy --guided` (an AWS account; not run here).
#
#   infra/sam.sh                              (make sam-build)
#   SUMMA_LAMBDA_ARCH=x86_64 infra/sam.sh     Architecture=x86_64, host-built bootstraps
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SAM_VERSION="1.170.0"
venv=.tools/sam-venv
if ! "$venv/bin/sam" --version 2>/dev/null | grep -q "$SAM_VERSION"; then
  echo "sam: pip install aws-sam-cli==$SAM_VERSION into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "aws-sam-cli==$SAM_VERSION"
fi
sam="$PWD/$venv/bin/sam"

# SAM's telemetry would try the network; the region only names the build.
export SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}"
# The template's Architecture and the bootstraps' (SUMMA_LAMBDA_ARCH, read by
# infra/sam-build.sh) are set together: SAM does not tell make the architecture.
arch="${SUMMA_LAMBDA_ARCH:-arm64}"
case "$arch" in
  arm64) machine=AArch64 ;;
  x86_64) machine=X86-64 ;;
  *) echo "sam: SUMMA_LAMBDA_ARCH must be arm64 or x86_64, not $arch" >&2; exit 2 ;;
esac
export SUMMA_LAMBDA_ARCH="$arch"
start=$(date +%s)
(cd infra && "$sam" build --template-file template.yaml --parameter-overrides "Architecture=$arch")
echo "sam: sam build ($arch) took $(($(date +%s) - start)) s" >&2

# Every function of the template (a resource `  <LogicalId>:` whose Type is
# AWS::Serverless::Function on the next line): SAM's artifact = the file copied.
ids="$(grep -B1 '^    Type: AWS::Serverless::Function$' infra/template.yaml | sed -n 's/^  \([A-Za-z0-9]*\):$/\1/p')"
[ -n "$ids" ] || { echo "sam: no function in infra/template.yaml" >&2; exit 1; }
status=0
for id in $ids; do
  built="infra/.aws-sam/build/$id/bootstrap"
  tested="$(bash infra/sam-build.sh --source "$id")"
  if cmp -s "$built" "$tested" && readelf -h "$built" | grep -q "Machine:.*$machine"; then
    echo "ok: $built = $tested ($(stat -c %s "$built") bytes, $machine)"
  else
    echo "FAIL: $built is not $tested, or not $machine"
    status=1
  fi
done
exit "$status"
