# SPDX-License-Identifier: MIT
#
# refgem's entry points. On a fresh Debian 12 machine:
#   make run    build everything, boot Debian's kernel under QEMU, run the
#               IGT tests and kselftests, gate the results
#   make test   the project's own tests (includes `make run`)
# See README.md for the variables (KERNEL=, KDIR=, MODDIR=, TARGETS=, ...).

TOP := $(CURDIR)
BUILD := $(TOP)/build
TARGETS ?= refgem-swiotlb refgem-iommu refgem-6.12

# -Werror for userspace in CI (CI=true), warnings only otherwise.
WERROR := $(if $(filter true 1,$(CI)),true,false)

-include $(BUILD)/config.mk
export KERNEL_IMAGE MODDIR KVER KERNEL_IMAGE_NEW MODDIR_NEW KVER_NEW

.PHONY: all setup build driver driver-new userspace kselftests run test clean

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
run: build
	@rc=0; for t in $(TARGETS); do \
		SHARD=$(SHARD) tools/run-target.sh $$t || rc=1; \
	done; exit $$rc

test: build
	@tools/project-tests

clean:
	-$(MAKE) -C driver KDIR=$(KDIR) clean
	rm -rf $(BUILD) results
