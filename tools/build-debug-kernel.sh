#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build refgem's debug kernel: Debian's linux-source-6.1 (or KSRC=, any
# kernel source tree), tinyconfig plus kernel/debug.config, every fragment
# option checked after olddefconfig. The build lives in the cache, keyed by
# the source version and the fragment's hash, so a second run reuses it.
# Writes build/debug-kernel.mk (KERNEL_IMAGE_DEBUG, KDIR_DEBUG,
# MODDIR_DEBUG, KVER_DEBUG).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${REFGEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refgem}
fragment=$top/kernel/debug.config
log() { printf 'debug-kernel: %s\n' "$*"; }

REFGEM_DEBUG_KERNEL=1 bash "$top/tools/setup.sh"

if [ -n "${KSRC:-}" ]; then
	src=$(cd "$KSRC" && pwd)
	version=$(make -s -C "$src" kernelversion)
else
	tarball=/usr/src/linux-source-6.1.tar.xz
	version=$(dpkg-query -W -f '${Version}' linux-source-6.1)
	src=$cache/src/linux-source-$version
	if [ ! -f "$src/.done" ]; then
		log "extracting $tarball ($version)"
		rm -rf "$src"
		mkdir -p "$src"
		tar -xJf "$tarball" -C "$src" --strip-components=1
		touch "$src/.done"
	fi
fi

key=$(printf '%s\n' "$version" | cat - "$fragment" | sha256sum | cut -c1-16)
out=$cache/debug-kernel/$key
mkdir -p "$out"

if [ ! -f "$out/.config-ok" ]; then
	log "configuring in $out"
	make -s -C "$src" O="$out" tinyconfig >/dev/null
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
		"$fragment" >/dev/null
	make -s -C "$src" O="$out" olddefconfig >/dev/null
	# Dependencies drop options silently: every line must have survived.
	bad=0
	while IFS= read -r line; do
		case $line in ''|'#'*) continue ;; esac
		opt=${line%%=*} val=${line#*=}
		if [ "$val" = n ]; then
			grep -qx "# $opt is not set" "$out/.config" && continue
		else
			grep -qx "$line" "$out/.config" && continue
		fi
		log "$line did not survive olddefconfig: $(grep "^$opt=\|^# $opt " "$out/.config" || echo absent)"
		bad=1
	done <"$fragment"
	[ "$bad" = 0 ] || exit 1
	touch "$out/.config-ok"
fi

if [ ! -f "$out/.build-ok" ]; then
	log "building bzImage and modules (about 7 min on 2 idle cores;" \
		"log: $out/build.log)"
	start=$(date +%s)
	# KASAN's big stack frames make gcc warn a lot: keep it in the log.
	if ! make -s -C "$src" O="$out" -j"$(nproc)" bzImage modules \
		>"$out/build.log" 2>&1; then
		tail -n 40 "$out/build.log"
		log "the build failed; the whole log is $out/build.log"
		exit 1
	fi
	log "$(grep -c 'warning:' "$out/build.log") compiler warnings," \
		"see $out/build.log"
	rm -rf "$out/modroot"
	make -s -C "$src" O="$out" INSTALL_MOD_PATH="$out/modroot" \
		modules_install >/dev/null
	log "built in $(($(date +%s) - start)) s"
	touch "$out/.build-ok"
fi

kver=$(cat "$out/include/config/kernel.release")
# The bzImage: this KASAN kernel's vmlinux dies silently at PVH entry.
mkdir -p "$top/build"
cat >"$top/build/debug-kernel.mk" <<EOF
# Written by tools/build-debug-kernel.sh; do not edit.
KVER_DEBUG := $kver
KERNEL_IMAGE_DEBUG := $out/arch/x86/boot/bzImage
KDIR_DEBUG := $out
MODDIR_DEBUG := $out/modroot
EOF
log "ready: $kver in $out"
