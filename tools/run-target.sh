#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run the suites for one gate target in a fresh guest and gate the results.
# usage: run-target.sh TARGET
# Environment (from the Makefile): KERNEL_IMAGE MODDIR KVER, their *_NEW
# twins for Debian's 6.12, and optionally
# RESULTS_DIR, VM_TIMEOUT, RUNNER_ARGS, VM_ARGS.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: run-target.sh TARGET}
results_root=${RESULTS_DIR:-$top/results}

# A target is a kernel, a guest profile and refgem's module parameters.
ko=$top/driver/refgem.ko
case $target in
refgem-swiotlb)	profile=swiotlb; params= ;;
refgem-iommu)	profile=iommu; params= ;;
refgem-6.12)	profile=swiotlb; params=
		KERNEL_IMAGE=$KERNEL_IMAGE_NEW MODDIR=$MODDIR_NEW KVER=$KVER_NEW
		ko=$top/build/driver-new/refgem.ko ;;
*)		echo "run-target: unknown target $target" >&2; exit 2 ;;
esac

results=$results_root/$target
state=$top/build/vm/$target
rm -rf "$results"
mkdir -p "$results" "$state"

echo "== $target: booting $(basename "$KERNEL_IMAGE") ($KVER), profile $profile"
rc=0
# shellcheck disable=SC2086
"$top/tools/refgem-vm" --kernel "$KERNEL_IMAGE" --moddir "$MODDIR" \
	--kver "$KVER" --profile "$profile" --state "$state" \
	--ro "$top" --rw "$results" --cwd "$top" \
	--timeout "${VM_TIMEOUT:-1200}" ${VM_ARGS:-} -- \
	env TOP="$top" RESULTS="$results" TARGET="$target" \
	MODDIR="$MODDIR" KVER="$KVER" REFGEM_KO="$ko" REFGEM_PARAMS="$params" \
	RUNNER_ARGS="${RUNNER_ARGS:-}" /bin/sh tools/guest-job.sh || rc=$?
# The guest's logs belong with its results, whatever happened.
cp "$state/serial.log" "$results/serial.log" 2>/dev/null || true
cp "$state/dmesg.txt" "$results/dmesg.txt" 2>/dev/null || true
# After a guest crash the runner could not write its reports.
if [ -f "$results/results.json" ] && [ ! -f "$results/summary.txt" ]; then
	"$top/tools/refgem-report" "$results" || true
fi

gate=0
"$top/tools/refgem-gate" --results "$results" --target "$target" || gate=$?
if [ "$rc" != 0 ]; then
	# Results written before a crash are gated above, but a run that did
	# not finish is never a pass.
	echo "== $target: guest job ended with status $rc (logs in $results)"
	[ "$gate" != 0 ] || gate=1
fi
exit "$gate"
