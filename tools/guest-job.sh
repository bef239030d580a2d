#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The job tools/run-target.sh gives the guest: load refgem and its
# dependencies, then run the runner with this script's arguments; the
# runner writes the results directory incrementally.
#
# Environment: TOP (checkout), MODDIR, KVER, REFGEM_KO (the module built
# for this kernel; empty: load nothing, as the runner's own self-test
# does), REFGEM_PARAMS (its parameters).
set -u
cd "$TOP" || exit 125

if [ -n "${REFGEM_KO:-}" ]; then
	# Modules of the guest kernel live in MODDIR, not in /lib/modules.
	if [ -n "$MODDIR" ]; then
		# vgem is a foreign PRIME exporter/importer for the PRIME tests.
		modprobe -d "$MODDIR" -S "$KVER" -a drm_shmem_helper vgem ||
			exit 125
	fi
	# Tests that unload refgem load it back from here, with these
	# parameters.
	export REFGEM_KO REFGEM_PARAMS
	# shellcheck disable=SC2086
	insmod "$REFGEM_KO" $REFGEM_PARAMS || exit 125
fi

exec /usr/bin/python3 -B tools/refgem-run-tests "$@"
