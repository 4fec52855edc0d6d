#!/usr/bin/env bash
# Installs Debian's qemu-user (the dynamic build: it loads TCG plugins, which the
# static qemu-user-static cannot) and its libcapstone into .tools/qemu-user
# (unpacked with dpkg-deb, no root needed), and builds infra/qemu-insn/insn-count.c
# into .tools/qemu-user/libinsn-count.so. Quiet when both are there. Prints the
# command prefix that runs an aarch64 program with the counter:
#
#   env LD_LIBRARY_PATH=... .tools/qemu-user/usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu -plugin .../libinsn-count.so
#
# The counter prints "insn-count: N" on stderr when the program exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
dir="${SUMMA_TOOLS_DIR:-$PWD/.tools}/qemu-user"
qemu="$dir/usr/bin/qemu-aarch64"
lib="$dir/usr/lib/x86_64-linux-gnu"
plugin="$dir/libinsn-count.so"
if [[ ! -x "$qemu" || ! -e "$lib/libcapstone.so.4" ]]; then
  echo "qemu-insn: installing Debian's qemu-user and libcapstone4 into $dir" >&2
  mkdir -p "$dir/debs"
  (cd "$dir/debs" && apt-get download qemu-user libcapstone4 >apt.log 2>&1) || {
    cat "$dir/debs/apt.log" >&2
    exit 1
  }
  for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir"; done
fi
if [[ ! -e "$plugin" || infra/qemu-insn/insn-count.c -nt "$plugin" ]]; then
  gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$plugin" infra/qemu-insn/insn-count.c
fi
echo "env LD_LIBRARY_PATH=$lib $qemu -L /usr/aarch64-linux-gnu -plugin $plugin"
