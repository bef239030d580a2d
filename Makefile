# SPDX-License-Identifier: MIT
#
# refgem's entry points. On a fresh Debian 12 machine:
#   make run    build everything, boot Debian's kernel under QEMU, run the
#               IGT tests and kselftests, gate the results
#   make test   the project's own tests (includes `make run`)
#   make kselftest  the kselftests alone, in a guest (ON_HOST=1: on the
#               running kernel, refgem loaded)
# See README.md for the variables (KERNEL=, KDIR=, MODDIR=, TARGETS=, ...).

TOP := $(CURDIR)
BUILD := $(TOP)/build
# Gate targets to run: names or groups of targets.toml (empty: group
# "run" for make run, "test" for make test). The table is their one
# definition; tools/refgem-targets reads it.
TARGETS ?=
# make kselftest's target (a gate target's kernel, profile and refgem).
KSELFTEST_TARGET ?= refgem-swiotlb

# -Werror for userspace in CI (CI=true), warnings only otherwise.
WERROR := $(if $(filter true 1,$(CI)),true,false)

# The set-up's paths (KDIR, KSFT_DIR, ...). In a fresh clone make runs the
# set-up to write this file, then starts over with it read, so every
# recipe sees them, whatever the first command is.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
include $(BUILD)/config.mk
else
-include $(BUILD)/config.mk
endif

.PHONY: all setup build driver driver-new userspace kselftests run bench soak test \
	clean \
	debug-kernel driver-debug kselftest ksft-dropin

all: build

# Idempotent: installs what is missing and writes build/config.mk.
setup $(BUILD)/config.mk:
	@bash tools/setup.sh

build: setup
	@$(MAKE) --no-print-directory driver driver-new userspace kselftests

driver:
	$(MAKE) -C driver KDIR=$(KDIR) W=1

# A copy of the driver's sources in $(1), for another kernel: Kbuild
# builds in place. Copies keep their times, so a rebuild is incremental.
copy-driver = mkdir -p $(1) && git ls-files driver | sed 's|^driver/||' | \
	(cd driver && xargs cp -p -u --parents -t $(1))

# The same sources for Debian's 6.12.
driver-new:
	@$(call copy-driver,$(BUILD)/driver-new)
	$(MAKE) -C $(BUILD)/driver-new KDIR=$(KDIR_NEW) W=1

# refgem's debug kernel (kernel/debug.config), cached after the first build;
# writes build/debug-kernel.mk.
debug-kernel:
	@bash tools/build-debug-kernel.sh

# refgem.ko and refgem_kunit.ko for the debug kernel, in a copy like
# driver-new. KDIR_DEBUG comes from the file debug-kernel just wrote.
driver-debug: debug-kernel
	@$(call copy-driver,$(BUILD)/driver-debug)
	$(MAKE) -C $(BUILD)/driver-debug W=1 \
		KDIR=$$(sed -n 's/^KDIR_DEBUG := //p' $(BUILD)/debug-kernel.mk)

userspace:
	@if [ ! -f $(BUILD)/meson/build.ninja ]; then \
		meson setup $(BUILD)/meson -Dwerror=$(WERROR) >/dev/null; \
	else \
		meson configure $(BUILD)/meson -Dwerror=$(WERROR); \
	fi
	ninja -C $(BUILD)/meson

kselftests:
	@mkdir -p $(BUILD)/kselftests
	$(MAKE) -C kselftests OUTPUT=$(BUILD)/kselftests KSFT_DIR=$(KSFT_DIR) \
		CFLAGS="$(if $(filter true,$(WERROR)),-Werror)"

# SHARD=I/N runs shard I of N of each target (tools/refgem-merge joins
# them); JOBS=N runs N guests at a time (default: the cores + 1).
# Targets on a kernel that refgem builds (the debug kernel) make it first.
run: build
	@SHARD=$(SHARD) tools/refgem-targets run $(TARGETS)

# The soak (outside make test): the targets of group "soak", or TARGETS=
# (e.g. refgem-debug-soak); results/<target>/ as for make run.
soak: build
	@tools/refgem-targets run $(or $(TARGETS),soak)

# Benchmarks (bench/refgem_bench) in a guest per target of group "bench":
# results/bench/<target>/bench.{json,txt}. COMPARE=DIR (a copy of an
# earlier results/bench) adds each figure's ratio to that run's; SCALE=S
# scales the iterations.
bench: build
	@tools/refgem-bench --scale $(or $(SCALE),1) \
		$(if $(COMPARE),--compare $(COMPARE))

# The kselftests alone: in a guest of KSELFTEST_TARGET, judged and gated
# like `make run` (results in results/<target>-kselftest), or with
# ON_HOST=1 by lib.mk's runner on the running kernel (TAP on stdout; needs
# root and refgem bound to both edu devices; unplug variants skip).
kselftest: $(if $(filter 1 true,$(ON_HOST)),kselftests,build)
ifeq ($(filter 1 true,$(ON_HOST)),)
	@SUITES=kselftest tools/refgem-targets run $(KSELFTEST_TARGET)
else
	$(MAKE) -C kselftests OUTPUT=$(BUILD)/kselftests KSFT_DIR=$(KSFT_DIR) \
		run_tests
endif

# Copy the kselftests, self-contained, into the kernel tree KTREE=.
ksft-dropin:
	tools/ksft-dropin.sh "$(or $(KTREE),$(error KTREE= names the kernel tree))"

# The debug kernel and driver-debug are project-tests stages of their own.
test: build
	@TARGETS="$(TARGETS)" tools/project-tests

clean:
	-$(MAKE) -C driver KDIR=$(KDIR) clean
	rm -rf $(BUILD) results
