#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Run the suites for one gate target in fresh guests and gate the results.
# usage: run-target.sh TARGET
#
# The runner writes results.json after every test to a read-write share,
# so what a guest finished survives it. When a guest dies (refgem-vm exits
# 125: panic, reboot) or its watchdog fires (124), or the runner stops
# early (an IGT abort, a test that survives SIGKILL), and the run has not
# reached its end, the next guest resumes it (refgem-run-tests --resume):
# the test the dead guest was running becomes crash (died) or timeout
# (watchdog), and the run goes on after it. At most MAX_RESTARTS restarts,
# all boots within RUN_TIMEOUT; a run that cannot finish is recorded as cut
# short, keeps notrun for what it never reached, and fails the gate.
#
# Environment (from the Makefile): KERNEL_IMAGE MODDIR KVER, their *_NEW
# twins for Debian's 6.12 (the *_DEBUG ones of the debug kernel are read
# from build/debug-kernel.mk), and optionally
#   SHARD=I/N       run shard I of N only (CI_NODE_INDEX/CI_NODE_TOTAL);
#                   results in <target>-shard-I-of-N, see tools/refgem-merge
#   RESULTS_DIR     where <target>/ goes (default: results/)
#   VM_TIMEOUT      guest watchdog per boot, seconds (default 1200)
#   RUN_TIMEOUT     all boots of the run together, seconds (default 3600)
#   MAX_RESTARTS    guests booted to resume the run (default 3)
#   RUNNER_ARGS     more refgem-run-tests arguments (split on spaces)
#   KSELFTESTS      directory of the kselftest binaries (default
#                   build/kselftests)
#   DRIVER_DEBUG    directory of refgem.ko and refgem_kunit.ko for the
#                   debug targets (default build/driver-debug)
#   VM_ARGS         more refgem-vm arguments (split on spaces)
#   SUITES          "kselftest": only the kselftests (make kselftest);
#                   results in <target>-kselftest
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: run-target.sh TARGET}
results_root=${RESULTS_DIR:-$top/results}
vm_timeout=${VM_TIMEOUT:-1200}
run_timeout=${RUN_TIMEOUT:-3600}
max_restarts=${MAX_RESTARTS:-3}

# A target is a kernel, a guest profile, refgem's module parameters and the
# binaries to run.
ko=$top/driver/refgem.ko
# vgem is a foreign PRIME exporter/importer for refgem's PRIME tests.
modules="drm_shmem_helper vgem"
suite=refgem
igt_only=
runner=()
job_env=()
append=
debug=${DRIVER_DEBUG:-$top/build/driver-debug}
case $target in
refgem-swiotlb)	profile=swiotlb; params= ;;
refgem-iommu)	profile=iommu; params= ;;
# The kselftests' negative control: refgem leaves its mappings to the
# devices it is unbound from; the oracles must fail every test that holds
# one (expectations/refgem-norevoke-fails.txt).
refgem-norevoke) profile=swiotlb; params=revoke=0 ;;
refgem-6.12)	profile=swiotlb; params=
		KERNEL_IMAGE=$KERNEL_IMAGE_NEW MODDIR=$MODDIR_NEW KVER=$KVER_NEW
		ko=$top/build/driver-new/refgem.ko ;;
# The debug kernel (make debug-kernel driver-debug): its bug detectors
# judge every test (refgem-run-tests --detectors), refgem's KUnit suite
# and the fault-injection test run too. kasan_multi_shot: KASAN reports
# every bug, not only the first; a big log buffer keeps the whole boot.
# -norevoke is the negative control: refgem leaves its mappings to the
# devices it is unbound from, which DMA-API debug must report. -iommu is
# the iommu profile (not in make test: ~9 min more).
refgem-debug|refgem-debug-norevoke|refgem-debug-iommu)
		profile=swiotlb; params=
		case $target in
		*-norevoke) params=revoke=0 ;;
		*-iommu) profile=iommu ;;
		esac
		if [ -z "${KERNEL_IMAGE_DEBUG:-}" ]; then
			eval "$(sed -n 's/^\([A-Z_]*\) := \(.*\)$/\1="\2"/p' \
				"$top/build/debug-kernel.mk" 2>/dev/null)"
		fi
		KERNEL_IMAGE=${KERNEL_IMAGE_DEBUG:?make debug-kernel first}
		MODDIR=$MODDIR_DEBUG KVER=$KVER_DEBUG
		ko=$debug/refgem.ko
		append="kasan_multi_shot log_buf_len=4M"
		runner=(--detectors --kunit "$debug/refgem_kunit.ko")
		# Under TCG, KASAN and lockdep make every take-away cycle ~4x
		# slower: 100 unplug cycles outrun their 240 s harness timeout.
		job_env=(REFGEM_KSFT_CYCLES=20)
		vm_timeout=${VM_TIMEOUT:-2400} ;;
# The driver-agnostic IGT tests on a driver nobody here wrote: vgem,
# chosen the way IGT chooses (IGT_FORCE_DRIVER); no refgem, no kselftests.
vgem)		profile=none; params=; ko=; igt_only='^gem_dumb_'
		job_env=(IGT_FORCE_DRIVER=vgem) ;;
# The runner's own test: stand-ins that hang, flake and crash the guest
# (tools/tests/guest/README.md); no driver.
runner-selftest) profile=none; params=; ko=; modules=
		suite=$top/tools/tests/guest
		runner=(--timeout 2); vm_timeout=${VM_TIMEOUT:-120} ;;
*)		echo "run-target: unknown target $target" >&2; exit 2 ;;
esac

bins=()
if [ "$suite" = refgem ]; then
	# Every IGT binary of igt_runner's test list, every kselftest built.
	igt=$top/build/meson/igt-tests
	while read -r t; do
		[ -z "$t" ] || bins+=(--igt "$igt/$t")
	done < <(grep -vx -e TESTLIST -e 'END TESTLIST' "$igt/test-list.txt" \
		2>/dev/null | grep -E "${igt_only:-.}" || true)
	kselftests=${KSELFTESTS:-$top/build/kselftests}
	[ -z "$igt_only" ] || kselftests=
	if [ "${SUITES:-}" = kselftest ]; then
		bins=()
	elif [ -n "${SUITES:-}" ]; then
		echo "run-target: SUITES=$SUITES: only \"kselftest\" is known" >&2
		exit 2
	fi
else
	for t in "$suite"/igt/*; do
		bins+=(--igt "$t")
	done
	kselftests=$suite/kselftest
fi
# The guest sees the host's root read-only, but its /tmp is its own: the
# checkout and what is outside it are shared (the kernel's modules only
# from /tmp, e.g. REFGEM_CACHE=/tmp/...).
shares=()
case ${MODDIR:-}/ in
/tmp/*) shares+=(--ro "$MODDIR") ;;
esac
for d in ${kselftests:+"$kselftests"} ${ko:+"$(dirname "$ko")"}; do
	case $d/ in
	"$top"/*) ;;
	*) shares+=(--ro "$d") ;;
	esac
done
for t in ${kselftests:+"$kselftests"/*}; do
	if [ -f "$t" ] && [ -x "$t" ]; then
		bins+=(--kselftest "$t")
	fi
done
case $target in
refgem-debug*) bins+=(--kselftest "$top/tools/tests/guest-debug/refgem_fault")
	       if [ ! -f "$ko" ]; then
		       echo "run-target: no $ko (make driver-debug)" >&2
		       exit 2
	       fi ;;
esac
case " ${bins[*]} " in
*" --igt "*" --kselftest "*) ;;
*" --igt "*) [ -z "$kselftests" ] ||
	{ echo "run-target: no kselftest binaries (make build?)" >&2; exit 2; } ;;
*" --kselftest "*) [ "${SUITES:-}" = kselftest ] ||
	{ echo "run-target: no IGT binaries (make build?)" >&2; exit 2; } ;;
*) echo "run-target: no test binaries (make build?)" >&2; exit 2 ;;
esac

name=$target${SUITES:+-$SUITES}
if [ -n "${SHARD:-}" ]; then
	if ! [[ $SHARD =~ ^([0-9]+)/([0-9]+)$ ]] ||
		[ "${BASH_REMATCH[1]}" -lt 1 ] ||
		[ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
		echo "run-target: SHARD=$SHARD is not I/N with 1 <= I <= N" >&2
		exit 2
	fi
	name=$name-shard-${BASH_REMATCH[1]}-of-${BASH_REMATCH[2]}
	runner+=(--shard "$SHARD")
fi
exp=$top/expectations/$target
if [ -f "$exp-skips.txt" ]; then
	runner+=(--skips "$exp-skips.txt")
fi
if [ -f "$exp-flakes.txt" ]; then
	runner+=(--flakes "$exp-flakes.txt")
fi
read -ra extra <<<"${RUNNER_ARGS:-}"
read -ra vm_args <<<"${VM_ARGS:-}"

results=$results_root/$name
state=$top/build/vm/$name
rm -rf "$results"
mkdir -p "$results" "$state"

deadline=$(($(date +%s) + run_timeout))
boot=1
resume=()
cut=
while :; do
	# The last boot gets what is left of RUN_TIMEOUT.
	timeout=$((deadline - $(date +%s)))
	if [ "$timeout" -gt "$vm_timeout" ]; then
		timeout=$vm_timeout
	fi
	echo "== $name: boot $boot: $(basename "$KERNEL_IMAGE") ($KVER)," \
		"profile $profile${resume[0]:+, resuming the run}"
	# The runner's --console finds the last boot by this header.
	echo "==== boot $boot ($name) ====" >>"$results/serial.log"
	rc=0
	"$top/tools/refgem-vm" --kernel "$KERNEL_IMAGE" --moddir "$MODDIR" \
		--kver "$KVER" --profile "$profile" --state "$state" \
		--ro "$top" "${shares[@]}" --rw "$results" --cwd "$top" \
		--timeout "$timeout" ${append:+--append "$append"} \
		"${vm_args[@]}" -- \
		env TOP="$top" MODDIR="$MODDIR" KVER="$KVER" \
		GUEST_MODULES="$modules" REFGEM_KO="$ko" \
		REFGEM_PARAMS="$params" "${job_env[@]}" \
		/bin/sh tools/guest-job.sh \
		--results "$results" --name "$target" "${bins[@]}" \
		"${runner[@]}" "${extra[@]}" "${resume[@]}" || rc=$?
	# The guest's logs belong with its results, whatever happened.
	cat "$state/serial.log" >>"$results/serial.log" 2>/dev/null || true
	if [ -f "$state/dmesg.txt" ]; then
		{ echo "==== boot $boot ($name) ===="; cat "$state/dmesg.txt"; } \
			>>"$results/dmesg.txt"
	fi

	complete=0
	"$top/tools/refgem-report" --is-complete "$results" || complete=$?
	case $complete in
	0) break ;;
	1) ;;
	*) echo "== $name: no results: the guest job ended with status $rc" \
		"before the runner started (see $results/serial.log)"
	   break ;;
	esac
	case $rc in
	0)   why="the runner stopped early"; as=crash ;;
	124) why="the guest watchdog fired"; as=timeout ;;
	125) why="the guest died"; as=crash ;;
	*)   cut="the guest job failed with status $rc in boot $boot"
	     break ;;
	esac
	if [ "$(date +%s)" -ge "$deadline" ] ||
		{ [ "$rc" = 124 ] && [ "$timeout" -lt "$vm_timeout" ]; }; then
		cut="$why in boot $boot: overall timeout, RUN_TIMEOUT=${run_timeout}s"
		break
	fi
	if [ "$boot" -gt "$max_restarts" ]; then
		cut="$why in boot $boot, after MAX_RESTARTS=$max_restarts"
		cut+=" restarts"
		break
	fi
	echo "== $name: $why in boot $boot (status $rc); resuming the run in a" \
		"fresh guest"
	boot=$((boot + 1))
	resume=(--resume "$as" --console "$results/serial.log")
done

if [ -f "$results/results.json" ]; then
	if [ -n "$cut" ]; then
		echo "== $name: the run was cut short: $cut"
		"$top/tools/refgem-report" --cut-short "$cut" "$results" || true
	elif [ "$rc" != 0 ]; then
		# Complete, but the guest ended badly after its last test.
		"$top/tools/refgem-report" "$results" || true
	else
		"$top/tools/refgem-report" --quiet "$results" || true
	fi
fi

gate=0
"$top/tools/refgem-gate" --results "$results" --target "$target" || gate=$?
if [ -z "$cut" ] && [ "$rc" != 0 ] && [ -f "$results/results.json" ]; then
	# Every test has a result, but a guest that dies after its last test
	# is a kernel problem no test owns: never a pass.
	echo "== $name: the guest of boot $boot ended with status $rc after" \
		"the run completed (logs in $results)"
	[ "$gate" != 0 ] || gate=1
fi
exit "$gate"
