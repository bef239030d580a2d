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
	intel-gpu-tools:/usr/lib/x86_64-linux-gnu/libigt.so.0
	linux-source-6.1:/usr/src/linux-source-6.1.tar.xz
	gcc:/usr/bin/gcc
	make:/usr/bin/make
	python3:/usr/bin/python3
)
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

# The guest kernel: whatever Debian's linux-image-amd64 currently points at.
resolve_abi() {
	local abi
	abi=$(apt-cache depends linux-image-amd64 2>/dev/null |
	      sed -n 's/.*Depends: linux-image-\(.*\)$/\1/p' | head -n1)
	if [ -z "$abi" ]; then
		apt_update
		abi=$(apt-cache depends linux-image-amd64 |
		      sed -n 's/.*Depends: linux-image-\(.*\)$/\1/p' | head -n1)
	fi
	printf '%s\n' "$abi"
}

# Uncompressed vmlinux out of a bzImage: find the xz stream and decompress
# it (the logic of scripts/extract-vmlinux, for the one format Debian uses).
extract_vmlinux() {
	local img=$1 out=$2 off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$img" | head -n1 | cut -d: -f1)
	[ -n "$off" ] || { log "no xz payload in $img"; return 1; }
	tail -c +$((off + 1)) "$img" | xz -dc --single-stream >"$out.tmp" 2>/dev/null || true
	if ! LC_ALL=C head -c 4 "$out.tmp" | grep -q ELF; then
		log "xz payload of $img is not an ELF vmlinux"
		rm -f "$out.tmp"
		return 1
	fi
	mv "$out.tmp" "$out"
}

if [ -n "${KERNEL:-}" ]; then
	# A user's own kernel: they give the image, the build tree and modules.
	kernel=$KERNEL
	kdir=${KDIR:?KERNEL= needs KDIR= (a configured build tree)}
	moddir=${MODDIR:-}
	kver=$(make -s -C "$kdir" kernelrelease 2>/dev/null || true)
	[ -n "$kver" ] || kver=$(cat "$kdir/include/config/kernel.release")
else
	abi=$(resolve_abi)
	[ -n "$abi" ] || { log "cannot resolve linux-image-amd64"; exit 1; }
	kver=$abi
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
	kdir=${KDIR:-/usr/src/linux-headers-$kver}
	if [ ! -e "$kdir/Makefile" ]; then
		log "installing linux-headers-$kver"
		apt_update
		apt_wait
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
			install -y -qq --no-install-recommends "linux-headers-$kver" >/dev/null
	fi
fi

# Headers of Debian's newest stock kernel (6.12 from bookworm-security), to
# prove the compat layer builds there too.
kdir_new=
meta_new=linux-headers-6.12-amd64
abi_new=$(apt-cache depends "$meta_new" 2>/dev/null |
	  sed -n 's/.*Depends: linux-headers-\(.*\)$/\1/p' | head -n1)
if [ -z "$abi_new" ]; then
	apt_update
	abi_new=$(apt-cache depends "$meta_new" |
		  sed -n 's/.*Depends: linux-headers-\(.*\)$/\1/p' | head -n1)
fi
if [ -n "$abi_new" ]; then
	kdir_new=/usr/src/linux-headers-$abi_new
	if [ ! -e "$kdir_new/Makefile" ]; then
		log "installing linux-headers-$abi_new"
		apt_update
		apt_wait
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 \
			install -y -qq --no-install-recommends "linux-headers-$abi_new" >/dev/null
	fi
else
	log "no $meta_new in the package lists: skipping the 6.12 build"
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
KDIR_NEW := $kdir_new
KSFT_DIR := $ksft/tools/testing/selftests
CHECKPATCH := $ksft/scripts/checkpatch.pl
EOF
mv "$build/config.mk.tmp" "$build/config.mk"
log "guest kernel $kver ready"
