#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The job tools/run-target.sh gives the guest: load refgem and its
# dependencies, then run the suites with the runner, which writes the
# results directory incrementally.
#
# Environment: TOP (checkout), RESULTS, TARGET, MODDIR, KVER,
# REFGEM_PARAMS (module parameters), RUNNER_ARGS.
set -u
cd "$TOP" || exit 125

# Modules of the guest kernel live in MODDIR, not in /lib/modules.
if [ -n "$MODDIR" ]; then
	modprobe -d "$MODDIR" -S "$KVER" drm_shmem_helper || exit 125
fi
# shellcheck disable=SC2086
insmod "$TOP/driver/refgem.ko" $REFGEM_PARAMS || exit 125

# shellcheck disable=SC2086
exec /usr/bin/python3 -B tools/refgem-run-tests --results "$RESULTS" \
	--name "$TARGET" $RUNNER_ARGS
