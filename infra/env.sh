# Source me (bash, zsh, or sh from the repository root): puts the tools
# installed by infra/setup-tools.sh on PATH, Node 22 first:
#   .tools/node/node_modules/.bin  node (22), local-sfn, asl-validator
#   .tools/venv/bin                moto_server, cargo-lambda (`cargo lambda`),
#                                  cfn-lint, python3 (with ziglang, which
#                                  cargo lambda uses as its zig, and
#                                  aws-sam-translator)
# Re-sourcing does not duplicate PATH entries. Changes nothing else.
if [ -n "${BASH_SOURCE:-}" ]; then
  _summa_env_file="$BASH_SOURCE"
elif [ -n "${ZSH_VERSION:-}" ]; then
  eval '_summa_env_file="${(%):-%x}"'
elif [ -f "$PWD/infra/env.sh" ]; then
  _summa_env_file="$PWD/infra/env.sh"
else
  _summa_env_file=""
  echo "infra/env.sh: cannot tell where I am; source me from the repository root" >&2
fi
if [ -n "$_summa_env_file" ]; then
  _summa_repo="$(cd "$(dirname "$_summa_env_file")/.." && pwd)"
  for _summa_dir in "$_summa_repo/.tools/venv/bin" "$_summa_repo/.tools/node/node_modules/.bin"; do
    case ":$PATH:" in
      *":$_summa_dir:"*) PATH="$(printf '%s' ":$PATH:" | sed "s#:$_summa_dir:#:#g; s#^:##; s#:\$##")" ;;
    esac
    PATH="$_summa_dir:$PATH"
  done
  export PATH
fi
unset _summa_env_file _summa_dir _summa_repo
