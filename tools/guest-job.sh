#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The job tools/refgem-targets gives the guest: load refgem and its
# dependencies, then run the runner with this script's arguments; the
# runner writes the results directory incrementally. With "--exec PROGRAM
# ARG..." it runs that program instead (tools/refgem-bench).
#
# Environment: TOP (checkout), MODDIR, KVER, GUEST_MODULES (the guest
# kernel's modules to load first), REFGEM_KO (the module built for this
# kernel; empty: no refgem, as on the vgem target and in the runner's own
# self-test), REFGEM_PARAMS (its parameters).
set -u
cd "$TOP" || exit 125

# Modules of the guest kernel live in MODDIR, not in /lib/modules; with no
# MODDIR they are built in.
if [ -n "${GUEST_MODULES:-}" ] && [ -n "$MODDIR" ]; then
	# shellcheck disable=SC2086
	modprobe -d "$MODDIR" -S "$KVER" -a $GUEST_MODULES || exit 125
fi
if [ -n "${REFGEM_KO:-}" ]; then
	# Tests that unload refgem load it back from here, with these
	# parameters.
	export REFGEM_KO REFGEM_PARAMS
	# shellcheck disable=SC2086
	insmod "$REFGEM_KO" $REFGEM_PARAMS || exit 125
fi

if [ "${1:-}" = --exec ]; then
	shift
	exec "$@"
fi

# -B: the root is read-only (refgem-targets compiles the bytecode on the
# host); -S: the runner needs only the standard library, and site costs
# ~0.2 s under TCG.
exec /usr/bin/python3 -B -S tools/refgem-run-tests "$@"
