#!/usr/bin/env bash
# Lambda's provided.al2023 runtime ships glibc 2.34: a bootstrap that needs a
# newer symbol version (linked here against Debian 12's glibc 2.36) would build
# and pass every test here, then fail at its first start on AWS. This checks the
# GLIBC_ versions each ELF file needs (readelf reads any architecture).
#
#   infra/check-glibc.sh FILE...      exit 1 if one needs more than GLIBC_MAX (2.34)
set -euo pipefail
max="${GLIBC_MAX:-2.34}"
status=0
for f in "$@"; do
  need="$(readelf -W --version-info "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -1 || true)"
  if [ -z "$need" ]; then
    echo "check-glibc: $f: no GLIBC_ symbol versions (not a dynamically linked glibc binary?)" >&2
    status=1
  elif [ "$(printf '%s\n%s\n' "$need" "$max" | sort -V | tail -1)" != "$max" ]; then
    echo "check-glibc: $f needs glibc $need; provided.al2023 has $max" >&2
    status=1
  else
    echo "check-glibc: $f needs glibc $need (<= $max, provided.al2023)" >&2
  fi
done
exit "$status"
