#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Drop refgem's kselftests into a kernel tree, self-contained:
#	tools/ksft-dropin.sh KTREE
#	make -C KTREE/tools/testing/selftests TARGETS=drivers/gpu/refgem run_tests
# KTREE/tools/testing/selftests/drivers/gpu/refgem gets kselftests/'s
# git-tracked files, lib/'s sources and kernel-log rules in lib/ and the
# uAPI header in include/;
# kselftests/Makefile finds those two by itself. Rerunning replaces the copy
# (files gone from the repository and built binaries go with it).
set -euo pipefail

die() {
	echo "ksft-dropin: $*" >&2
	exit 1
}

[ $# -eq 1 ] || { echo "usage: $0 KTREE" >&2; exit 2; }
ktree=$1
[ -d "$ktree" ] || die "$ktree: no such directory"
[ -f "$ktree/tools/testing/selftests/lib.mk" ] ||
	die "$ktree is not a kernel tree (no tools/testing/selftests/lib.mk)"

top=$(cd "$(dirname "$0")/.." && pwd)
git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	die "$top is not a git checkout (the files to copy come from git ls-files)"

dest=$ktree/tools/testing/selftests/drivers/gpu/refgem
# Never replace a directory this script did not write.
if [ -e "$dest" ] && [ ! -f "$dest/refgem_ksft.h" ]; then
	die "$dest exists and is not a refgem drop-in; not replacing it"
fi

# Copy into a sibling and swap: an interrupted run leaves the old copy whole.
stage=$dest.new
rm -rf "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/include"

# -z and xargs -0: any file name survives; git's paths are relative to -C.
git -C "$top/kselftests" ls-files -z . |
	(cd "$top/kselftests" && xargs -0 -r cp --parents -t "$stage")
git -C "$top/lib" ls-files -z -- '*.c' '*.h' '*.rules' |
	(cd "$top/lib" && xargs -0 -r cp -t "$stage/lib")
cp "$top/driver/include/uapi/drm/refgem_drm.h" "$stage/include/"

for f in Makefile refgem_ksft.h lib/gemlib.h lib/refgem.h; do
	[ -f "$stage/$f" ] || die "$f was not copied: is it tracked by git?"
done

rm -rf "$dest"
mv "$stage" "$dest"
trap - EXIT
echo "ksft-dropin: refgem's kselftests are in $dest"
echo "ksft-dropin: make -C $ktree/tools/testing/selftests TARGETS=drivers/gpu/refgem run_tests"
