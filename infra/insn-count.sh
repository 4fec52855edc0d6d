#!/usr/bin/env bash
# Instructions per user of `summa-agg --threads 1 bench --users N --no-reference
# --no-single-thread` on the portable Poseidon path, aarch64 against x86_64
# (docs/performance.md, "A 2^28-user round on AWS"). Counts, not times: the same whatever else
# the machine is doing. Per user = the difference between two sizes over the users
# added (start-up cancels out).
#
#   aarch64: make arm64's summa-agg under qemu-aarch64-static -d in_asm,nochain,exec:
#            qemu logs each translated block's instructions once (in_asm) and each
#            block execution (exec; nochain: every one), piped into awk, which sums
#            the executed blocks' instruction counts (nothing on disk; Debian's qemu
#            has no TCG plugins, and -singlestep logging was too slow to finish)
#   x86_64:  target/release/summa-agg (cargo build --release -p summa-agg-cli
#            --no-default-features) under valgrind --tool=callgrind, SUMMA_AGG_NO_SIMD=1
#
#   infra/insn-count.sh [N1 N2]     (default 1040 4112); prints one JSON line
#
# INSN_COUNT_A64 / INSN_COUNT_X86 name other binaries (e.g. a build of an earlier
# commit, to compare before and after with the same method).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N1="${1:-1040}"
N2="${2:-4112}"
A64="${INSN_COUNT_A64:-target/aarch64-unknown-linux-gnu/release/summa-agg}"
X86="${INSN_COUNT_X86:-target/release/summa-agg}"
[[ -x "$A64" ]] || { echo "insn-count: no $A64: run make arm64" >&2; exit 1; }
[[ -x "$X86" ]] || { echo "insn-count: no $X86: cargo build --release -p summa-agg-cli --no-default-features" >&2; exit 1; }
ARGS=(--threads 1 bench --no-reference --no-single-thread --users)

aarch64_count() { # N
  qemu-aarch64-static -L /usr/aarch64-linux-gnu -d in_asm,nochain,exec -D /dev/stderr \
    "$A64" "${ARGS[@]}" "$1" 2>&1 >/dev/null | awk '
      /^IN:/ { inblk = 1; n = 0; first = ""; next }
      inblk && /^0x[0-9a-f]+:/ { if (n == 0) first = substr($1, 3, length($1) - 3); n++; next }
      inblk { if (n > 0) cnt[first] = n; inblk = 0 }
      /^Trace/ {
        split(substr($0, index($0, "[") + 1), f, "/"); pc = f[2]; sub(/^0+/, "", pc)
        if (pc in cnt) total += cnt[pc]; else missed++
      }
      END { if (missed) { print "unmatched blocks: " missed > "/dev/stderr"; exit 1 }; printf "%.0f\n", total }'
}
x86_count() { # N
  SUMMA_AGG_NO_SIMD=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$X86" "${ARGS[@]}" "$1" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
a1="$(aarch64_count "$N1")"
a2="$(aarch64_count "$N2")"
x1="$(x86_count "$N1")"
x2="$(x86_count "$N2")"
qemu="$(qemu-aarch64-static --version | head -n 1)"
python3 - "$N1" "$N2" "$a1" "$a2" "$x1" "$x2" "$qemu" <<'PY'
import json, sys
n1, n2, a1, a2, x1, x2 = map(int, sys.argv[1:7])
a, x = (a2 - a1) / (n2 - n1), (x2 - x1) / (n2 - n1)
print(json.dumps({"users": [n1, n2], "aarch64": [a1, a2], "x86_64_scalar": [x1, x2],
                  "aarch64_per_user": round(a), "x86_64_scalar_per_user": round(x),
                  "aarch64_vs_x86_64": round(a / x, 3), "qemu": sys.argv[7]}))
PY
