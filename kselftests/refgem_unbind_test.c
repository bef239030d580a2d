// SPDX-License-Identifier: GPL-2.0
/*
 * Take a refgem device away (sysfs unbind, PCI remove) while userspace still
 * holds a BO, a CPU mapping of it and the DRM fd: ioctls must fail with
 * ENODEV, the mapping must keep its contents, and the last close must free
 * the BO.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem.h"

#define BO_SIZE		(64 * 1024)
#define REBIND_MS	5000

enum takeaway { TAKE_UNBIND, TAKE_REMOVE };

FIXTURE(held_bo) {
	char bdf[32];
	int fd;
	uint32_t handle;
	void *map;
	long bos_start;
};

FIXTURE_VARIANT(held_bo) {
	/* The harness does not pass variant names on: keep our own. */
	const char *name;
	enum takeaway how;
};

FIXTURE_VARIANT_ADD(held_bo, unbind) {
	.name = "unbind",
	.how = TAKE_UNBIND,
};

FIXTURE_VARIANT_ADD(held_bo, remove) {
	.name = "remove",
	.how = TAKE_REMOVE,
};

static int take_away(const char *bdf, enum takeaway how)
{
	char path[PATH_MAX];

	if (how == TAKE_UNBIND)
		return refgem_pci_unbind(REFGEM_DRIVER_NAME, bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
	return refgem_sysfs_write(path, "1");
}

/* Undo take_away(): the device is rebound and has a node again. */
static int give_back(const char *bdf, enum takeaway how)
{
	int ret, fd;

	if (how == TAKE_UNBIND)
		ret = refgem_pci_bind(REFGEM_DRIVER_NAME, bdf);
	else
		ret = refgem_sysfs_write("/sys/bus/pci/rescan", "1");
	if (ret)
		return ret;
	fd = refgem_open_bdf(bdf, REFGEM_NODE_RENDER, REBIND_MS);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

FIXTURE_SETUP(held_bo)
{
	uint64_t offset;
	int ret;

	/* Lets the runner split the kernel log per test (its TAP name). */
	refgem_kmsg("refgem-ksft: starting %s.%s.%s", _metadata->fixture->name,
		    variant->name, _metadata->name);
	if (geteuid())
		SKIP(return, "needs root to unbind a device");
	ret = refgem_counter("bos_alive", &self->bos_start);
	if (ret)
		SKIP(return, "cannot read %s: %s", REFGEM_COUNTERS_PATH,
		     strerror(-ret));
	self->fd = refgem_open_driver(REFGEM_DRIVER_NAME, REFGEM_NODE_RENDER, 0);
	if (self->fd < 0)
		SKIP(return, "no refgem device: %s", strerror(-self->fd));
	ASSERT_EQ(0, refgem_fd_bdf(self->fd, self->bdf, sizeof(self->bdf)));

	ASSERT_EQ(0, refgem_bo_create(self->fd, BO_SIZE, 0, &self->handle));
	ASSERT_EQ(0, refgem_bo_mmap_offset(self->fd, self->handle, &offset));
	ASSERT_EQ(0, refgem_mmap(self->fd, offset, BO_SIZE,
				 PROT_READ | PROT_WRITE, &self->map));
	refgem_pattern_fill(self->map, BO_SIZE, 0x5eed);
}

FIXTURE_TEARDOWN(held_bo)
{
	if (self->map)
		munmap(self->map, BO_SIZE);
	if (self->fd > 0)
		close(self->fd);
	/* Leave the device as we found it, even after a failed assert. */
	if (self->bdf[0] && !refgem_pci_is_bound(REFGEM_DRIVER_NAME, self->bdf))
		EXPECT_EQ(0, give_back(self->bdf, variant->how));
}

TEST_F(held_bo, ioctls_enodev_mmap_survives)
{
	uint32_t handle;
	uint64_t offset;
	long bos;

	/* 6.1's harness runs the test body even when its setup skipped. */
	if (_metadata->skip)
		return;
	ASSERT_EQ(0, take_away(self->bdf, variant->how));
	ASSERT_EQ(0, refgem_pci_is_bound(REFGEM_DRIVER_NAME, self->bdf));

	EXPECT_EQ(-ENODEV, refgem_bo_create(self->fd, BO_SIZE, 0, &handle));
	EXPECT_EQ(-ENODEV, refgem_bo_mmap_offset(self->fd, self->handle,
						 &offset));
	EXPECT_EQ(-ENODEV, refgem_bo_close(self->fd, self->handle));

	/* drm-uapi "Device Hot-Unplug": existing mappings keep working. */
	EXPECT_EQ((size_t)-1, refgem_pattern_check(self->map, BO_SIZE, 0x5eed));
	refgem_pattern_fill(self->map, BO_SIZE, 0xf00d);
	EXPECT_EQ((size_t)-1, refgem_pattern_check(self->map, BO_SIZE, 0xf00d));

	/* The mapping and the fd hold the BO; the last close frees it. */
	ASSERT_EQ(0, refgem_counter("bos_alive", &bos));
	EXPECT_EQ(self->bos_start + 1, bos);
	ASSERT_EQ(0, munmap(self->map, BO_SIZE));
	self->map = NULL;
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, refgem_counter("bos_alive", &bos));
	EXPECT_EQ(self->bos_start, bos);

	ASSERT_EQ(0, give_back(self->bdf, variant->how));
}

TEST_HARNESS_MAIN
