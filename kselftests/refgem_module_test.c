// SPDX-License-Identifier: GPL-2.0
/*
 * Unload refgem after one of its devices was taken away: refused while an
 * fd, a dma-buf or a CPU mapping still holds the module, done once they are
 * gone; then load it again (the .ko named by REFGEM_KO) with the parameters
 * it had, and both devices come back (see refgem_ksft.h for the oracles
 * every test checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define BO_SIZE		(64 * 1024)
#define MAX_DEVS	8

enum holder { HOLD_FD, HOLD_DMABUF, HOLD_MMAP };

FIXTURE(module) {
	struct rk_oracle o;
	const char *ko;
	char params[64];
	char bdf[MAX_DEVS][32];
	int ndev;
	int fd;
	int dmabuf;
	struct rk_bo bo;
};

FIXTURE_VARIANT(module) {
	const char *name;
	enum rk_how how;
};

RK_TAKEAWAY_VARIANTS(module);

FIXTURE_SETUP(module)
{
	char buf[16];
	int i, fd, ret;

	self->fd = -1;
	self->dmabuf = -1;
	if (!rk_begin(_metadata, &self->o, variant->name))
		return;
	self->ko = getenv("REFGEM_KO");
	if (!self->ko || !*self->ko)
		SKIP(return, "REFGEM_KO (the refgem.ko to load again) is not set");
	if (access(self->ko, R_OK))
		SKIP(return, "REFGEM_KO=%s: %s", self->ko, strerror(errno));
	if (gemlib_module_loaded(REFGEM_DRIVER_NAME) != 1)
		SKIP(return, "refgem is not a loaded module");
	ret = gemlib_sysfs_read("/sys/module/refgem/refcnt", buf, sizeof(buf));
	if (ret || atoi(buf))
		SKIP(return, "refgem is in use before the test (refcnt %s)",
		     ret ? strerror(-ret) : buf);
	/* Load it again as it is now. */
	ret = gemlib_sysfs_read("/sys/module/refgem/parameters/revoke", buf,
				sizeof(buf));
	if (ret)
		SKIP(return, "cannot read refgem's revoke parameter: %s",
		     strerror(-ret));
	snprintf(self->params, sizeof(self->params), "revoke=%c", buf[0]);

	self->ndev = gemlib_count_devices(REFGEM_DRIVER_NAME);
	if (self->ndev < 1)
		SKIP(return, "no refgem device");
	if (self->ndev > MAX_DEVS)
		self->ndev = MAX_DEVS;
	for (i = 0; i < self->ndev; i++) {
		fd = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_RENDER,
					i);
		ASSERT_LE(0, fd);
		ret = gemlib_fd_bdf(fd, self->bdf[i], sizeof(self->bdf[i]));
		close(fd);
		ASSERT_EQ(0, ret);
	}
	self->fd = gemlib_open_bdf(self->bdf[0], GEMLIB_NODE_RENDER, 0);
	ASSERT_LE(0, self->fd);
}

/* Load refgem again, bring the taken device back, wait for every node. */
static int bring_back(FIXTURE_DATA(module) *self, enum rk_how how)
{
	int i, ret;

	if (gemlib_module_loaded(REFGEM_DRIVER_NAME) != 1) {
		ret = gemlib_module_load(self->ko, self->params);
		if (ret)
			return ret;
	}
	for (i = 0; i < self->ndev; i++) {
		ret = rk_restore(self->bdf[i], how);
		if (ret)
			return ret;
	}
	return 0;
}

FIXTURE_TEARDOWN(module)
{
	int ret;

	rk_bo_unmap(&self->bo);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->fd >= 0)
		close(self->fd);
	if (self->ndev > 0 && self->ko) {
		ret = bring_back(self, variant->how);
		EXPECT_EQ(0, ret) TH_LOG("loading refgem and rebinding: %s",
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

static void expect_refused(struct __test_metadata *_metadata,
			   FIXTURE_DATA(module) *self, const char *holders)
{
	int ret = gemlib_module_unload(REFGEM_DRIVER_NAME);

	EXPECT_TRUE(ret == -EAGAIN || ret == -EBUSY)
		TH_LOG("unloading refgem while %s held it: %s", holders,
		       ret ? strerror(-ret) : "it unloaded");
	/* If it did unload, load it again before going on. */
	if (!ret)
		gemlib_module_load(self->ko, self->params);
}

/* Scenario 11, with @last the holder that goes last. */
static void unload(struct __test_metadata *_metadata,
		   FIXTURE_DATA(module) *self,
		   const FIXTURE_VARIANT(module) *variant, enum holder last)
{
	static const char *const names[] = {
		[HOLD_FD] = "the DRM fd",
		[HOLD_DMABUF] = "a dma-buf",
		[HOLD_MMAP] = "a CPU mapping",
	};
	struct rk_held held = { 0 };
	struct refgem_counters c;
	char buf[16];
	int i, ret;

	rk_bo_new(_metadata, self->fd, BO_SIZE, 0x6d6d, &self->bo);
	rk_sgt_map(_metadata, self->fd, self->bo.handle, true);
	ASSERT_EQ(0, gemlib_prime_export(self->fd, self->bo.handle,
					 O_CLOEXEC | O_RDWR, &self->dmabuf));
	rk_held_add(&held, 1, "BO handle %u (own sg_table, exported)",
		    self->bo.handle);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf[0], variant->how);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	expect_refused(_metadata, self, "the fd, a dma-buf and a CPU mapping");

	/* Everything but @last goes; @last alone still holds the module. */
	if (last != HOLD_MMAP)
		rk_bo_unmap(&self->bo);
	if (last != HOLD_DMABUF) {
		close(self->dmabuf);
		self->dmabuf = -1;
	}
	if (last != HOLD_FD) {
		close(self->fd);
		self->fd = -1;
	}
	expect_refused(_metadata, self, names[last]);
	if (last == HOLD_MMAP)
		RK_EXPECT_PATTERN(self->bo.map, BO_SIZE, 0x6d6d,
				  "the last CPU mapping");
	rk_bo_unmap(&self->bo);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	self->dmabuf = -1;
	if (self->fd >= 0)
		close(self->fd);
	self->fd = -1;
	/* The counters go with the module: judge them now. */
	rk_check_closed(_metadata, &self->o, 0, 0, 0);

	ret = gemlib_module_unload(REFGEM_DRIVER_NAME);
	ASSERT_EQ(0, ret) TH_LOG("unloading refgem once nothing held it: %s",
				 strerror(-ret));
	EXPECT_EQ(0, gemlib_module_loaded(REFGEM_DRIVER_NAME));
	/* Every device's driver-owned table went with it. */
	if (self->o.g.io_start >= 0)
		EXPECT_EQ(self->o.g.io_start - self->ndev * RK_SCRATCH_SLOTS,
			  rk_io());

	ret = gemlib_module_load(self->ko, self->params);
	ASSERT_EQ(0, ret) TH_LOG("loading %s %s: %s", self->ko, self->params,
				 strerror(-ret));
	ASSERT_EQ(0, gemlib_sysfs_read("/sys/module/refgem/parameters/revoke",
				       buf, sizeof(buf)));
	EXPECT_EQ(self->params[strlen("revoke=")], buf[0]);
	if (variant->how != RK_UNBIND)
		RK_GIVE_BACK(self->bdf[0], variant->how);
	for (i = 0; i < self->ndev; i++) {
		ret = rk_wait_node(self->bdf[i]);
		ASSERT_EQ(0, ret) TH_LOG("%s after reloading: %s",
					 self->bdf[i], strerror(-ret));
	}
	/* A fresh module: fresh counters, every device's table mapped. */
	RK_COUNTS(&c);
	EXPECT_EQ(0, c.v[REFGEM_C_BOS_ALIVE]);
	EXPECT_EQ(0, c.v[REFGEM_C_MAPS_LIVE]);
	EXPECT_EQ(self->ndev, c.v[REFGEM_C_OWNED_MAPS_LIVE]);
	self->o.start = c;
	rk_check_io_back(_metadata, &self->o);
}

TEST_F_TIMEOUT(module, held_by_fd, RK_TIMEOUT)
{
	if (_metadata->skip)
		return;
	unload(_metadata, self, variant, HOLD_FD);
}

TEST_F_TIMEOUT(module, held_by_dmabuf, RK_TIMEOUT)
{
	if (_metadata->skip)
		return;
	unload(_metadata, self, variant, HOLD_DMABUF);
}

TEST_F_TIMEOUT(module, held_by_mmap, RK_TIMEOUT)
{
	if (_metadata->skip)
		return;
	unload(_metadata, self, variant, HOLD_MMAP);
}

TEST_HARNESS_MAIN
