#!/usr/bin/env bash
# Build the exact instruction-count QEMU plugin (edgeq_icount.c beside this script) into $EDGEQ_CACHE.
# `edgeq setup` runs it (it ships in the wheel with the firmware sources); so does `make setup` in a checkout.
#
# Debian ships qemu-system-arm with plugin support but not qemu-plugin.h, so the header is taken from the
# Debian source package of the same QEMU release (only that one file is extracted). Idempotent: does
# nothing when the .so is newer than its source. Output: $EDGEQ_CACHE/qemu-plugin/edgeq_icount.so
#
# When apt has no deb-src entry, one is derived from the machine's own deb entries (same URIs, suites,
# components and Signed-By), so it works behind whatever mirror the machine uses. EDGEQ_APT_DIR (default
# /etc/apt) is where the sources are read, the entry written and apt-get reads its sources; `--print-deb-src`
# prints the entry it would write and exits (no root needed).
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/edgeq_icount.c"
out="${EDGEQ_CACHE:?set EDGEQ_CACHE to the edgeq cache folder, as edgeq setup does}/qemu-plugin"
so="$out/edgeq_icount.so"
header="$out/include/qemu-plugin.h"
apt_dir="${EDGEQ_APT_DIR:-/etc/apt}"

die() { echo "build_qemu_plugin: $*" >&2; exit 1; }

# The deb-src equivalent of every enabled deb entry in $apt_dir (one-line .list and deb822 .sources files), as
# deb822 stanzas on stdout, duplicates dropped; fails with one line if there is no deb entry.
derive_deb_src() {
    local files=() f
    [[ -f "$apt_dir/sources.list" ]] && files+=("$apt_dir/sources.list")
    for f in "$apt_dir"/sources.list.d/*.list "$apt_dir"/sources.list.d/*.sources; do
        [[ -f "$f" ]] && files+=("$f")
    done
    local stanzas=""
    if ((${#files[@]})); then
        stanzas="$(awk '
            function flush(   t, n, i, is_deb, k, text) {
                if (!nf) return
                n = split(tolower(val["types"]), t, /[ \t\n]+/)
                for (i = 1; i <= n; i++) if (t[i] == "deb") is_deb = 1
                if (is_deb && tolower(val["enabled"]) !~ /^[ \t]*no[ \t]*$/ && ("uris" in val)) {
                    text = "Types: deb-src"
                    for (k = 1; k <= nkeep; k++)
                        if (keep[k] in val) text = text "\n" name[keep[k]] ":" val[keep[k]]
                    emit(text)
                }
                nf = 0; last = ""; split("", val)
            }
            function emit(text) {
                if (!(text in seen)) { seen[text] = 1; printf "%s%s\n", (count++ ? "\n" : ""), text }
            }
            BEGIN {
                nkeep = split("uris suites components signed-by trusted", keep, " ")
                name["uris"] = "URIs"; name["suites"] = "Suites"; name["components"] = "Components"
                name["signed-by"] = "Signed-By"; name["trusted"] = "Trusted"
            }
            FNR == 1 { flush(); deb822 = (FILENAME ~ /\.sources$/) }
            deb822 {
                if ($0 ~ /^#/) next
                if ($0 ~ /^[ \t]*$/) { flush(); next }
                if ($0 ~ /^[ \t]/) { if (last != "") val[last] = val[last] "\n" $0; next }
                i = index($0, ":"); if (!i) next
                last = tolower(substr($0, 1, i - 1)); val[last] = substr($0, i + 1); nf++
                next
            }
            {
                sub(/#.*/, "")
                if ($1 != "deb") next
                signed = ""; trusted = ""; i = 2
                if ($2 ~ /^\[/) {                     # [opt=value ...]: possibly split over several fields
                    opts = ""
                    for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
                    gsub(/[][]/, " ", opts)
                    n = split(opts, o, /[ \t]+/)
                    for (j = 1; j <= n; j++) {
                        if (o[j] ~ /^signed-by=/) signed = substr(o[j], 11)
                        if (o[j] ~ /^trusted=/) trusted = substr(o[j], 9)
                    }
                }
                if (i + 1 > NF || $i ~ /^cdrom:/) next  # no URI and suite, or a disc
                text = "Types: deb-src\nURIs: " $i "\nSuites: " $(i + 1)
                comps = ""
                for (j = i + 2; j <= NF; j++) comps = comps " " $j
                if (comps != "") text = text "\nComponents:" comps
                if (signed != "") text = text "\nSigned-By: " signed
                if (trusted != "") text = text "\nTrusted: " trusted
                emit(text)
            }
            END { flush() }
        ' "${files[@]}")"
    fi
    [[ -n "$stanzas" ]] \
        || die "no deb entry in $apt_dir (sources.list, sources.list.d/*.list, *.sources) to derive deb-src from"
    printf '%s\n' "$stanzas"
}

if [[ "${1:-}" == "--print-deb-src" ]]; then
    derive_deb_src
    exit 0
fi

if [[ -f "$so" && "$so" -nt "$src" ]]; then
    echo "qemu plugin: up to date ($so)"
    exit 0
fi

command -v qemu-system-arm >/dev/null || die "qemu-system-arm is not installed (apt-get install qemu-system-arm)"
qemu_version="$(qemu-system-arm --version | sed -n 's/^QEMU emulator version \([0-9]*\.[0-9]*\).*/\1/p')"
[[ -n "$qemu_version" ]] || die "cannot read the version of qemu-system-arm"

apt_opts=(-o DPkg::Lock::Timeout=300)
[[ "$apt_dir" == /etc/apt ]] \
    || apt_opts+=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d")
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -y -q "$@"; }

if [[ ! -f "$header" ]]; then
    [[ "$(id -u)" -eq 0 ]] || die "need root to fetch qemu-plugin.h with apt-get (run: sudo $0)"
    if ! grep -qsiE '^\s*Types:.*deb-src' "$apt_dir"/sources.list.d/*.sources \
        && ! grep -qsE '^\s*deb-src\s' "$apt_dir"/sources.list "$apt_dir"/sources.list.d/*.list; then
        entry="$(derive_deb_src)"    # dies (one line) when there is no deb entry
        echo "qemu plugin: adding deb-src twins of the deb entries ($apt_dir/sources.list.d/edgeq-deb-src.sources)"
        printf '# Written by edgeq (firmware/qemu_plugin/build.sh): the deb-src twins of the deb entries.\n%s\n' "$entry" \
            > "$apt_dir/sources.list.d/edgeq-deb-src.sources"
    fi
    apt_get update
    # glib: qemu-plugin.h includes glib.h from QEMU 8.0 on; dpkg-dev: apt-get source needs it.
    apt_get install --no-install-recommends libglib2.0-dev dpkg-dev pkg-config
    tmp="$(mktemp -d)"
    chmod 755 "$tmp"  # apt-get source downloads as the _apt user
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt_get source --download-only qemu)
    orig="$(ls "$tmp"/qemu_*.orig.tar.* 2>/dev/null | head -n1 || true)"   # none: the line below says so
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
