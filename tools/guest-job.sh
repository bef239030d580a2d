#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The job tools/run-target.sh gives the guest: load refgem and its
# dependencies, then run the suites with the runner, which writes the
# results directory incrementally.
#
# Environment: TOP (checkout), RESULTS, TARGET, MODDIR, KVER, REFGEM_KO
# (the module built for this kernel), REFGEM_PARAMS (its parameters),
# RUNNER_ARGS.
set -u
cd "$TOP" || exit 125

# Modules of the guest kernel live in MODDIR, not in /lib/modules.
if [ -n "$MODDIR" ]; then
	# vgem is a foreign PRIME exporter/importer for the PRIME tests.
	modprobe -d "$MODDIR" -S "$KVER" -a drm_shmem_helper vgem || exit 125
fi
# Tests that unload refgem load it back from here, with these parameters.
export REFGEM_KO=${REFGEM_KO:-$TOP/driver/refgem.ko} REFGEM_PARAMS
# shellcheck disable=SC2086
insmod "$REFGEM_KO" $REFGEM_PARAMS || exit 125

# Every IGT binary of igt_runner's test list, every kselftest binary built.
args=
igt=$TOP/build/meson/igt-tests
for t in $(grep -vx -e TESTLIST -e 'END TESTLIST' "$igt/test-list.txt"); do
	args="$args --igt $igt/$t"
done
for t in "$TOP"/build/kselftests/*; do
	[ -f "$t" ] && [ -x "$t" ] && args="$args --kselftest $t"
done
case $args in
*--igt*--kselftest*) ;;
*) echo "guest-job: no IGT or no kselftest binaries found" >&2; exit 125 ;;
esac

# shellcheck disable=SC2086
exec /usr/bin/python3 -B tools/refgem-run-tests --results "$RESULTS" \
	--name "$TARGET" $args $RUNNER_ARGS
