#!/usr/bin/env bash
# Build the exact instruction-count QEMU plugin (firmware/qemu_plugin/edgeq_icount.c).
#
# Debian ships qemu-system-arm with plugin support but not qemu-plugin.h, so the header is taken from the
# Debian source package of the same QEMU release (only that one file is extracted). Idempotent: does
# nothing when the .so is newer than its source. Output: ${EDGEQ_CACHE:-<repo>/.cache}/qemu-plugin/edgeq_icount.so
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$repo/firmware/qemu_plugin/edgeq_icount.c"
out="${EDGEQ_CACHE:-$repo/.cache}/qemu-plugin"
so="$out/edgeq_icount.so"
header="$out/include/qemu-plugin.h"

if [[ -f "$so" && "$so" -nt "$src" ]]; then
    echo "qemu plugin: up to date ($so)"
    exit 0
fi

die() { echo "build_qemu_plugin: $*" >&2; exit 1; }
command -v qemu-system-arm >/dev/null || die "qemu-system-arm is not installed (apt-get install qemu-system-arm)"
qemu_version="$(qemu-system-arm --version | sed -n 's/^QEMU emulator version \([0-9]*\.[0-9]*\).*/\1/p')"
[[ -n "$qemu_version" ]] || die "cannot read the version of qemu-system-arm"

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@"; }

if [[ ! -f "$header" ]]; then
    [[ "$(id -u)" -eq 0 ]] || die "need root to fetch qemu-plugin.h with apt-get (run: sudo $0)"
    if ! grep -qsE '^\s*Types:.*deb-src' /etc/apt/sources.list.d/*.sources \
        && ! grep -qsE '^\s*deb-src\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
        echo "qemu plugin: adding a bookworm deb-src entry (/etc/apt/sources.list.d/edgeq-deb-src.sources)"
        cat > /etc/apt/sources.list.d/edgeq-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
    apt_get update
    # glib: qemu-plugin.h includes glib.h from QEMU 8.0 on; dpkg-dev: apt-get source needs it.
    apt_get install --no-install-recommends libglib2.0-dev dpkg-dev pkg-config
    tmp="$(mktemp -d)"
    chmod 755 "$tmp"  # apt-get source downloads as the _apt user
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt_get source --download-only qemu)
    orig="$(ls "$tmp"/qemu_*.orig.tar.* 2>/dev/null | head -n1)"
    [[ -n "$orig" ]] || die "apt-get source qemu downloaded no orig tarball into $tmp"
    tar -xf "$orig" -C "$tmp" --wildcards '*/VERSION' '*/include/qemu/qemu-plugin.h'
    src_version="$(cat "$tmp"/*/VERSION)"
    [[ "$src_version" == "$qemu_version".* ]] \
        || die "source package is QEMU $src_version but qemu-system-arm is $qemu_version; plugin API may differ"
    mkdir -p "$out/include"
    cp "$tmp"/*/include/qemu/qemu-plugin.h "$header"
    echo "qemu plugin: header from QEMU $src_version ($(basename "$orig"))"
fi

mkdir -p "$out"
gcc -shared -fPIC -O2 -Wall -Wextra -Werror -I "$out/include" $(pkg-config --cflags glib-2.0 2>/dev/null) \
    -o "$so.tmp" "$src"
mv "$so.tmp" "$so"
echo "qemu plugin: built $so for QEMU $qemu_version"
