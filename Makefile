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
# Debian's kernels, refgem's negative control and the driver-agnostic tests
# on vgem.
RUN_TARGETS := refgem-swiotlb refgem-iommu refgem-6.12 refgem-norevoke vgem
# The debug kernel's targets: its build takes ~8-17 min once, then it is
# cached, so `make run` leaves them to TARGETS=; `make test` runs them.
DEBUG_TARGETS := refgem-debug refgem-debug-norevoke refgem-debug-iommu
TEST_TARGETS := $(or $(TARGETS),$(RUN_TARGETS) $(DEBUG_TARGETS))
TARGETS ?= $(RUN_TARGETS)
# make kselftest's target (a gate target's kernel, profile and refgem).
KSELFTEST_TARGET ?= refgem-swiotlb
# What the debug targets need beyond `make build`.
debug-deps = $(if $(filter refgem-debug%,$(1)),driver-debug)

# -Werror for userspace in CI (CI=true), warnings only otherwise.
WERROR := $(if $(filter true 1,$(CI)),true,false)

-include $(BUILD)/config.mk
export KERNEL_IMAGE MODDIR KVER KERNEL_IMAGE_NEW MODDIR_NEW KVER_NEW

.PHONY: all setup build driver driver-new userspace kselftests run test clean \
	debug-kernel driver-debug kselftest ksft-dropin

all: build

# Idempotent: installs what is missing and writes build/config.mk.
setup:
	@bash tools/setup.sh

build: setup
	@$(MAKE) --no-print-directory driver driver-new userspace kselftests

driver:
	$(MAKE) -C driver KDIR=$(KDIR) W=1

# The same sources for Debian's 6.12, in a copy: Kbuild builds in place.
driver-new:
	@rm -rf $(BUILD)/driver-new && mkdir -p $(BUILD)/driver-new
	@git ls-files driver | sed 's|^driver/||' | \
		(cd driver && xargs cp --parents -t $(BUILD)/driver-new)
	$(MAKE) -C $(BUILD)/driver-new KDIR=$(KDIR_NEW) W=1

# refgem's debug kernel (kernel/debug.config), cached after the first build;
# writes build/debug-kernel.mk.
debug-kernel:
	@bash tools/build-debug-kernel.sh

# refgem.ko and refgem_kunit.ko for the debug kernel, in a copy like
# driver-new. KDIR_DEBUG comes from the file debug-kernel just wrote.
driver-debug: debug-kernel
	@rm -rf $(BUILD)/driver-debug && mkdir -p $(BUILD)/driver-debug
	@git ls-files driver | sed 's|^driver/||' | \
		(cd driver && xargs cp --parents -t $(BUILD)/driver-debug)
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

# SHARD=I/N runs shard I of N of each target (tools/refgem-merge joins them).
run: build $(call debug-deps,$(TARGETS))
	@rc=0; for t in $(TARGETS); do \
		SHARD=$(SHARD) tools/run-target.sh $$t || rc=1; \
	done; exit $$rc

# The kselftests alone: in a guest of KSELFTEST_TARGET, judged and gated
# like `make run` (results in results/<target>-kselftest), or with
# ON_HOST=1 by lib.mk's runner on the running kernel (TAP on stdout; needs
# root and refgem bound to both edu devices; unplug variants skip).
kselftest: $(if $(filter 1 true,$(ON_HOST)),kselftests,build \
		$(call debug-deps,$(KSELFTEST_TARGET)))
ifeq ($(filter 1 true,$(ON_HOST)),)
	@SUITES=kselftest tools/run-target.sh $(KSELFTEST_TARGET)
else
	$(MAKE) -C kselftests OUTPUT=$(BUILD)/kselftests KSFT_DIR=$(KSFT_DIR) \
		run_tests
endif

# Copy the kselftests, self-contained, into the kernel tree KTREE=.
ksft-dropin:
	tools/ksft-dropin.sh "$(or $(KTREE),$(error KTREE= names the kernel tree))"

# The debug kernel and driver-debug are project-tests stages of their own.
test: build
	@TARGETS="$(TEST_TARGETS)" tools/project-tests

clean:
	-$(MAKE) -C driver KDIR=$(KDIR) clean
	rm -rf $(BUILD) results
