#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Idempotent set-up shared by `make run` and `make test`: install what is
# missing from Debian's packages, fetch Debian's guest kernel into the cache
# (never installed system-wide), extract its uncompressed vmlinux for a fast
# PVH boot, depmod its modules, and write build/config.mk for make.
#
# Environment: REFGEM_CACHE (default ~/.cache/refgem), KERNEL, KDIR, MODDIR
# (a user's own kernel: image, configured build tree, module root).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${REFGEM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refgem}
build=$top/build
log() { printf 'setup: %s\n' "$*"; }

# apt-get fails at once when another apt/dpkg holds the lock; wait instead.
apt_wait() {
	local i
	for i in $(seq 600); do
		if ! fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock \
			/var/lib/apt/lists/lock >/dev/null 2>&1; then
			return 0
		fi
		[ "$i" = 1 ] && log "waiting for the dpkg lock"
		sleep 1
	done
	log "dpkg lock still held after 600 s"
	return 1
}

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	apt_wait
	$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
	apt_updated=1
}

# Debian packages, with the file that proves each one is there.
pkgs=(
	meson:/usr/bin/meson
	ninja-build:/usr/bin/ninja
	pkg-config:/usr/bin/pkg-config
	libdrm-dev:/usr/include/libdrm/drm.h
	kmod:/usr/sbin/depmod
	psmisc:/usr/bin/fuser
	qemu-system-x86:/usr/bin/qemu-system-x86_64
	busybox-static:/bin/busybox
	cpio:/usr/bin/cpio
	xz-utils:/usr/bin/xz
	zstd:/usr/bin/zstd
	intel-gpu-tools:/usr/lib/x86_64-linux-gnu/libigt.so.0
	linux-source-6.1:/usr/src/linux-source-6.1.tar.xz
	gcc:/usr/bin/gcc
	make:/usr/bin/make
	python3:/usr/bin/python3
)
# Building the debug kernel (tools/build-debug-kernel.sh) needs more.
if [ -n "${REFGEM_DEBUG_KERNEL:-}" ]; then
	pkgs+=(bc:/usr/bin/bc flex:/usr/bin/flex bison:/usr/bin/bison
	       libelf-dev:/usr/include/libelf.h
	       libssl-dev:/usr/include/openssl/ssl.h)
fi
missing=()
for p in "${pkgs[@]}"; do
	[ -e "${p#*:}" ] || missing+=("${p%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	apt_update
	apt_wait
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
		install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The ABI name a Debian metapackage (linux-image-amd64, ...) points at.
resolve_abi() {
	local meta=$1 abi
	abi=$(apt-cache depends "$meta" 2>/dev/null |
	      sed -n 's/.*Depends: linux-[a-z]*-\(.*\)$/\1/p' | head -n1)
	if [ -z "$abi" ]; then
		apt_update
		abi=$(apt-cache depends "$meta" |
		      sed -n 's/.*Depends: linux-[a-z]*-\(.*\)$/\1/p' | head -n1)
	fi
	printf '%s\n' "$abi"
}

install_pkg() {
	log "installing $*"
	apt_update
	apt_wait
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
		install -y -qq --no-install-recommends "$@" >/dev/null
}

# Uncompressed vmlinux out of a bzImage: find the compressed payload and
# decompress it (the logic of scripts/extract-vmlinux, for the formats
# Debian uses: xz for 6.1, zstd for 6.12).
extract_vmlinux() {
	local img=$1 out=$2 fmt magic off
	for fmt in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd'; do
		magic=${fmt#*:}
		off=$(LC_ALL=C grep -obUaP "$magic" "$img" | head -n1 | cut -d: -f1) || true
		[ -n "$off" ] || continue
		# Trailing data after the stream makes both tools complain.
		tail -c +$((off + 1)) "$img" | "${fmt%%:*}" -dc >"$out.tmp" 2>/dev/null || true
		if LC_ALL=C head -c 4 "$out.tmp" | grep -q ELF; then
			mv "$out.tmp" "$out"
			return 0
		fi
	done
	rm -f "$out.tmp"
	log "no xz or zstd vmlinux payload in $img"
	return 1
}

# A stock Debian kernel for the guest, never installed system-wide: the
# image unpacked into the cache with its modules depmod'ed and its vmlinux
# extracted, plus its headers (installed) to build refgem against.
# Sets kver, kernel, moddir, kdir.
stock_kernel() {
	local meta=$1 dir
	kver=$(resolve_abi "$meta")
	[ -n "$kver" ] || { log "cannot resolve $meta"; return 1; }
	dir=$cache/guest/$kver
	if [ ! -f "$dir/.done" ]; then
		log "fetching linux-image-$kver"
		rm -rf "$dir"
		mkdir -p "$dir/dl"
		apt_update
		# _apt cannot write into root-owned private dirs; it only warns.
		(cd "$dir/dl" && apt-get download -qq "linux-image-$kver" 2>&1 |
			grep -v 'unsandboxed' || true)
		dpkg -x "$dir"/dl/linux-image-*.deb "$dir/root"
		rm -rf "$dir/dl"
		extract_vmlinux "$dir/root/boot/vmlinuz-$kver" "$dir/vmlinux"
		depmod -b "$dir/root" "$kver"
		touch "$dir/.done"
	fi
	kernel=$dir/vmlinux
	moddir=$dir/root
	kdir=/usr/src/linux-headers-$kver
	[ -e "$kdir/Makefile" ] || install_pkg "linux-headers-$kver"
}

# Debian's newest stock kernel (6.12 from bookworm-security): a second
# target that proves the compat layer on the newer shmem locking.
stock_kernel linux-image-6.12-amd64
kver_new=$kver kernel_new=$kernel moddir_new=$moddir kdir_new=$kdir

if [ -n "${KERNEL:-}" ]; then
	# A user's own kernel: they give the image, the build tree and modules.
	kernel=$KERNEL
	kdir=${KDIR:?KERNEL= needs KDIR= (a configured build tree)}
	moddir=${MODDIR:-}
	kver=$(make -s -C "$kdir" kernelrelease 2>/dev/null || true)
	[ -n "$kver" ] || kver=$(cat "$kdir/include/config/kernel.release")
else
	# The default guest: whatever linux-image-amd64 points at (6.1).
	stock_kernel linux-image-amd64
	kdir=${KDIR:-$kdir}
fi

# kselftest harness and checkpatch from Debian's kernel source, at build time.
ksft=$build/ksft
src=/usr/src/linux-source-6.1.tar.xz
if [ ! -f "$ksft/.done" ] || [ "$src" -nt "$ksft/.done" ]; then
	log "extracting the kselftest harness and checkpatch from $(basename $src)"
	rm -rf "$ksft"
	mkdir -p "$ksft"
	tar -xJf "$src" -C "$ksft" --strip-components=1 --wildcards \
		'linux-source-6.1/tools/testing/selftests/lib.mk' \
		'linux-source-6.1/tools/testing/selftests/kselftest*' \
		'linux-source-6.1/scripts/checkpatch.pl' \
		'linux-source-6.1/scripts/spelling.txt' \
		'linux-source-6.1/scripts/const_structs.checkpatch'
	touch "$ksft/.done"
fi

mkdir -p "$build"
cat >"$build/config.mk.tmp" <<EOF
# Written by tools/setup.sh; do not edit.
KVER := $kver
KERNEL_IMAGE := $kernel
KDIR := $kdir
MODDIR := $moddir
KVER_NEW := $kver_new
KERNEL_IMAGE_NEW := $kernel_new
MODDIR_NEW := $moddir_new
KDIR_NEW := $kdir_new
KSFT_DIR := $ksft/tools/testing/selftests
CHECKPATCH := $ksft/scripts/checkpatch.pl
EOF
mv "$build/config.mk.tmp" "$build/config.mk"
log "guest kernel $kver ready"
