// SPDX-License-Identifier: GPL-2.0
/*
 * Take a refgem device away (sysfs unbind, PCI remove, QEMU hot-unplug)
 * while userspace holds one of its BOs: ioctls fail with ENODEV, CPU
 * mappings keep their contents, and every DMA mapping of the device is gone
 * right away, even with a transfer in flight (see refgem_ksft.h for the
 * oracles every test checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define BO_SIZE		(64 * 1024)
#define MAPPED_SIZE	(256 * 1024)
/* dma_in_flight: how long the driver stalls the transfer. */
#define DMA_DELAY_MS	500

FIXTURE(held_bo) {
	struct rk_oracle o;
	char bdf[32];
	int fd;
	int new_fd;
	int dmabuf;
	struct rk_bo bo;
	struct rk_bo new_bo;
	bool delay_set;
};

FIXTURE_VARIANT(held_bo) {
	const char *name;
	enum rk_how how;
};

RK_TAKEAWAY_VARIANTS(held_bo);

/* Open the first refgem device; @name: the variant's, or "". */
static void held_open(struct __test_metadata *_metadata,
		      FIXTURE_DATA(held_bo) *self, const char *name)
{
	/* Before any SKIP: teardown runs after a skipped setup too. */
	self->fd = -1;
	self->new_fd = -1;
	self->dmabuf = -1;
	if (!rk_begin(_metadata, &self->o, name))
		return;
	self->fd = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_RENDER,
				      0);
	if (self->fd < 0)
		SKIP(return, "no refgem device: %s", strerror(-self->fd));
	ASSERT_EQ(0, gemlib_fd_bdf(self->fd, self->bdf, sizeof(self->bdf)));
}

/* Close what the test left open and bind the device again if need be. */
static void held_release(struct __test_metadata *_metadata,
			 FIXTURE_DATA(held_bo) *self, enum rk_how how)
{
	int ret;

	if (self->delay_set)
		EXPECT_EQ(0, rk_dma_delay(0));
	rk_bo_unmap(&self->bo);
	rk_bo_unmap(&self->new_bo);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->new_fd >= 0)
		close(self->new_fd);
	if (self->fd >= 0)
		close(self->fd);
	/* Leave the device as we found it, even after a failed assert. */
	if (self->bdf[0]) {
		ret = rk_restore(self->bdf, how);
		EXPECT_EQ(0, ret) TH_LOG("rebinding %s: %s", self->bdf,
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

FIXTURE_SETUP(held_bo)
{
	held_open(_metadata, self, variant->name);
}

FIXTURE_TEARDOWN(held_bo)
{
	held_release(_metadata, self, variant->how);
}

/*
 * A BO in the CPU's and its own device's hands and exported, listed in
 * @held as what the take-away must leave alive.
 */
static void held_mapped_export(struct __test_metadata *_metadata,
			       FIXTURE_DATA(held_bo) *self, uint32_t seed,
			       struct rk_held *held)
{
	rk_bo_new(_metadata, self->fd, BO_SIZE, seed, &self->bo);
	rk_sgt_map(_metadata, self->fd, self->bo.handle, true);
	ASSERT_EQ(0, gemlib_prime_export(self->fd, self->bo.handle, O_CLOEXEC,
					 &self->dmabuf));
	rk_held_add(held, 1, "BO handle %u (own sg_table, exported)",
		    self->bo.handle);
}

/* Close the fd and the CPU mapping: the BO and its pinned pages go. */
static void close_all(struct __test_metadata *_metadata,
		      FIXTURE_DATA(held_bo) *self)
{
	rk_bo_unmap(&self->bo);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
}

TEST_F_TIMEOUT(held_bo, ioctls_enodev_mmap_survives, RK_TIMEOUT)
{
	uint32_t handle;
	uint64_t offset;
	struct rk_held held = { 0 };
	struct refgem_counters c;

	/* 6.1's harness runs the test body even when its setup skipped. */
	if (_metadata->skip)
		return;
	rk_bo_new(_metadata, self->fd, BO_SIZE, 0x5eed, &self->bo);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf, variant->how);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);

	EXPECT_EQ(-ENODEV, refgem_bo_create(self->fd, BO_SIZE, 0, &handle));
	EXPECT_EQ(-ENODEV, refgem_bo_mmap_offset(self->fd, self->bo.handle,
						 &offset));
	EXPECT_EQ(-ENODEV, gemlib_gem_close(self->fd, self->bo.handle));

	/* drm-uapi "Device Hot-Unplug": existing mappings keep working. */
	RK_EXPECT_PATTERN(self->bo.map, BO_SIZE, 0x5eed,
			  "mmap after take-away");
	gemlib_pattern_fill(self->bo.map, BO_SIZE, 0xf00d);
	RK_EXPECT_PATTERN(self->bo.map, BO_SIZE, 0xf00d,
			  "mmap written after take-away");

	/* The mapping and the fd hold the BO; the last close frees it. */
	RK_COUNTS(&c);
	EXPECT_EQ(self->o.start.v[REFGEM_C_BOS_ALIVE] + 1, c.v[REFGEM_C_BOS_ALIVE]);
	close_all(_metadata, self);
	RK_GIVE_BACK(self->bdf, variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/* Scenario 1: a BO with a live sg_table mapping and an open handle. */
TEST_F_TIMEOUT(held_bo, sgt_mapped, RK_TIMEOUT)
{
	struct drm_refgem_sgt_map m;
	struct rk_held held = { 0 };
	struct refgem_counters c;
	long dev_maps;

	if (_metadata->skip)
		return;
	rk_bo_new(_metadata, self->fd, MAPPED_SIZE, 0x1234, &self->bo);
	rk_sgt_map(_metadata, self->fd, self->bo.handle, true);
	/* A second call returns the same mapping. */
	ASSERT_EQ(0, refgem_sgt_map(self->fd, self->bo.handle, -1, &m));
	EXPECT_EQ(0u, m.status);
	EXPECT_EQ((uint64_t)MAPPED_SIZE, m.dma_len);
	ASSERT_EQ(0, refgem_device_counter(self->fd, REFGEM_C_MAPS_LIVE, &dev_maps));
	EXPECT_EQ(1, dev_maps);
	rk_check_device_view(_metadata, self->fd, self->bo.handle, MAPPED_SIZE,
			     0x1234, REFGEM_ENGINE_SW);
	rk_held_add(&held, 1, "BO handle %u (own sg_table, %u segments)",
		    self->bo.handle, m.nents);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf, variant->how);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	EXPECT_EQ(-ENODEV, refgem_sgt_map(self->fd, self->bo.handle, -1, &m));
	EXPECT_EQ(-ENODEV, refgem_dma(self->fd, self->bo.handle,
				      REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
				      4096, self->bo.map));
	RK_EXPECT_PATTERN(self->bo.map, MAPPED_SIZE, 0x1234,
			  "mmap after take-away");

	/* The fd goes first: the mmap alone keeps the BO and its pages. */
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	RK_COUNTS(&c);
	EXPECT_EQ(self->o.start.v[REFGEM_C_BOS_ALIVE] + 1, c.v[REFGEM_C_BOS_ALIVE]);
	EXPECT_EQ(self->o.start.v[REFGEM_C_PAGES_PINNED] + MAPPED_SIZE / 4096,
		  c.v[REFGEM_C_PAGES_PINNED]);
	rk_bo_unmap(&self->bo);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf, variant->how);
	rk_check_io_back(_metadata, &self->o);
}

struct cpu_user {
	struct rk_bo *bo;
	atomic_bool stop;
	atomic_bool taken;
	atomic_long iters;
	atomic_long iters_after;
	long bad_read;		/* first stale read (offset), or -1 */
	long bad_write;		/* first lost write (offset), or -1 */
	bool bad_after;		/* ... seen after the take-away */
};

/*
 * Reads the first half (which must keep the pattern written before the
 * take-away) and writes then re-reads the second half, again and again.
 */
static void *cpu_user_fn(void *arg)
{
	struct cpu_user *u = arg;
	size_t half = u->bo->size / 2, bad;
	char *map = u->bo->map;
	uint32_t seed = 1;

	while (!atomic_load(&u->stop)) {
		bool taken = atomic_load(&u->taken);

		bad = gemlib_pattern_check(map, half, 0xb0b0);
		if (bad != (size_t)-1 && u->bad_read < 0) {
			u->bad_read = bad;
			u->bad_after = taken;
		}
		gemlib_pattern_fill(map + half, half, seed);
		bad = gemlib_pattern_check(map + half, half, seed);
		if (bad != (size_t)-1 && u->bad_write < 0) {
			u->bad_write = half + bad;
			u->bad_after = taken;
		}
		seed++;
		atomic_fetch_add(&u->iters, 1);
		if (taken)
			atomic_fetch_add(&u->iters_after, 1);
	}
	return NULL;
}

/*
 * Scenario 2: a mapped BO whose CPU mapping is read and written during and
 * after the take-away. What the CPU wrote after the BO was mapped (and so
 * after the device's copy was made) must survive revocation.
 */
TEST_F_TIMEOUT(held_bo, mmap_during_unbind, RK_TIMEOUT)
{
	struct cpu_user u = { .bad_read = -1, .bad_write = -1 };
	struct rk_held held = { 0 };
	pthread_t thread;
	long waited;

	if (_metadata->skip)
		return;
	rk_bo_new(_metadata, self->fd, MAPPED_SIZE, 0xa0a0, &self->bo);
	rk_sgt_map(_metadata, self->fd, self->bo.handle, true);
	rk_check_device_view(_metadata, self->fd, self->bo.handle, MAPPED_SIZE,
			     0xa0a0, REFGEM_ENGINE_SW);
	/* Newer than the device's (bounce) copy: revocation must keep it. */
	gemlib_pattern_fill(self->bo.map, MAPPED_SIZE, 0xb0b0);
	rk_held_add(&held, 1, "BO handle %u (own sg_table)", self->bo.handle);

	u.bo = &self->bo;
	ASSERT_EQ(0, pthread_create(&thread, NULL, cpu_user_fn, &u));
	rk_sleep_ms(20);
	rk_pre(_metadata, &self->o);
	{
		int ret = rk_take_away(self->bdf, variant->how);

		atomic_store(&u.taken, true);
		for (waited = 0; !ret && waited < 2000 &&
		     atomic_load(&u.iters_after) < 3; waited++)
			rk_sleep_ms(1);
		atomic_store(&u.stop, true);
		pthread_join(thread, NULL);
		if (ret == -ENOTSUP)
			SKIP(return, "%s needs a refgem-vm guest (REFGEM_VMCTL): %s",
			     rk_how_name(variant->how), strerror(-ret));
		ASSERT_EQ(0, ret) TH_LOG("%s of %s: %s",
					 rk_how_name(variant->how), self->bdf,
					 strerror(-ret));
	}
	EXPECT_EQ(-1, u.bad_read)
		TH_LOG("the CPU read stale data at offset %ld %s the take-away",
		       u.bad_read, u.bad_after ? "after" : "during");
	EXPECT_EQ(-1, u.bad_write)
		TH_LOG("a CPU write was lost at offset %ld %s the take-away",
		       u.bad_write, u.bad_after ? "after" : "during");
	EXPECT_GE(atomic_load(&u.iters_after), 3)
		TH_LOG("the CPU user made only %ld passes after the take-away",
		       atomic_load(&u.iters_after));
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);

	RK_EXPECT_PATTERN(self->bo.map, MAPPED_SIZE / 2, 0xb0b0,
			  "data written before the take-away");
	gemlib_pattern_fill(self->bo.map, MAPPED_SIZE, 0xc0c0);
	RK_EXPECT_PATTERN(self->bo.map, MAPPED_SIZE, 0xc0c0,
			  "mmap written after the take-away");
	close_all(_metadata, self);
	RK_GIVE_BACK(self->bdf, variant->how);
	rk_check_io_back(_metadata, &self->o);
}

struct dma_user {
	int fd;
	uint32_t handle;
	void *buf;
	atomic_bool entering;
	atomic_int tid;
	int ret;
	long start_ms;
	long end_ms;
};

static void *dma_user_fn(void *arg)
{
	struct dma_user *d = arg;

	atomic_store(&d->tid, gettid());
	d->start_ms = rk_now_ms();
	atomic_store(&d->entering, true);
	d->ret = refgem_dma(d->fd, d->handle, REFGEM_DMA_FROM_USER,
			    REFGEM_ENGINE_SW, 0, BO_SIZE, d->buf);
	d->end_ms = rk_now_ms();
	return NULL;
}

/* 'D': the thread sleeps uninterruptibly, here in the driver's stall. */
static bool task_stalled(int tid)
{
	char path[64], stat[256], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	if (gemlib_sysfs_read(path, stat, sizeof(stat)))
		return false;
	p = strrchr(stat, ')');
	return p && p[1] == ' ' && p[2] == 'D';
}

/*
 * Scenario 5: a device transfer in flight during the take-away. The unbind
 * must wait for it, the transfer must complete, and afterwards nothing of
 * the device stays mapped.
 */
TEST_F_TIMEOUT(held_bo, dma_in_flight, RK_TIMEOUT)
{
	struct dma_user d = { .ret = INT_MIN };
	struct rk_held held = { 0 };
	long waited, t0, took;
	pthread_t thread;
	int ret;

	if (_metadata->skip)
		return;
	rk_bo_new(_metadata, self->fd, BO_SIZE, 0x1111, &self->bo);
	rk_sgt_map(_metadata, self->fd, self->bo.handle, true);
	rk_held_add(&held, 1, "BO handle %u (own sg_table, DMA in flight)",
		    self->bo.handle);
	d.buf = malloc(BO_SIZE);
	ASSERT_NE(NULL, d.buf);
	gemlib_pattern_fill(d.buf, BO_SIZE, 0xd0d0);
	d.fd = self->fd;
	d.handle = self->bo.handle;

	ret = rk_dma_delay(DMA_DELAY_MS);
	if (ret)
		SKIP(return, "cannot stall DMA (%s): %s", RK_DMA_DELAY_PATH,
		     strerror(-ret));
	self->delay_set = true;
	rk_pre(_metadata, &self->o);
	ASSERT_EQ(0, pthread_create(&thread, NULL, dma_user_fn, &d));
	for (waited = 0; waited < 3000; waited++) {
		if (atomic_load(&d.entering) &&
		    task_stalled(atomic_load(&d.tid)))
			break;
		rk_sleep_ms(1);
	}
	t0 = rk_now_ms();
	ret = rk_take_away(self->bdf, variant->how);
	took = rk_now_ms() - t0;
	pthread_join(thread, NULL);
	EXPECT_EQ(0, rk_dma_delay(0));
	self->delay_set = false;
	if (ret == -ENOTSUP)
		SKIP(return, "%s needs a refgem-vm guest (REFGEM_VMCTL): %s",
		     rk_how_name(variant->how), strerror(-ret));
	ASSERT_EQ(0, ret) TH_LOG("%s of %s: %s", rk_how_name(variant->how),
				 self->bdf, strerror(-ret));
	ASSERT_LT(waited, 3000)
		TH_LOG("the DMA thread never stalled in the driver");

	EXPECT_EQ(0, d.ret)
		TH_LOG("the in-flight transfer %s", d.ret == INT_MIN ?
		       "never returned (its thread died)" : strerror(-d.ret));
	if (d.ret != INT_MIN)
		EXPECT_GE(d.end_ms - d.start_ms, DMA_DELAY_MS - 50)
			TH_LOG("the transfer took %ld ms: it was not stalled",
			       d.end_ms - d.start_ms);
	/* It was caught early in its stall: the take-away had to wait. */
	EXPECT_GE(took, DMA_DELAY_MS / 2)
		TH_LOG("%s returned after %ld ms while a %d ms transfer was in flight: it did not wait for it",
		       rk_how_name(variant->how), took, DMA_DELAY_MS);
	free(d.buf);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	RK_EXPECT_PATTERN(self->bo.map, BO_SIZE, 0xd0d0,
			  "the in-flight transfer's data");
	close_all(_metadata, self);
	RK_GIVE_BACK(self->bdf, variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * Scenario 9: after the device comes back, the new one works fully
 * (create, map, DMA by software and by the edu engine, PRIME import of a
 * dma-buf the old one exported) and the old fd stays dead.
 */
TEST_F_TIMEOUT(held_bo, rebind_works, RK_TIMEOUT)
{
	struct drm_refgem_sgt_map m;
	struct rk_held held = { 0 };
	uint32_t handle, imported;
	long slots, dev_maps, before;
	uint64_t offset;
	int dmabuf;

	if (_metadata->skip)
		return;
	held_mapped_export(_metadata, self, 0x0bad, &held);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf, variant->how);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	RK_GIVE_BACK(self->bdf, variant->how);

	self->new_fd = gemlib_open_bdf(self->bdf, GEMLIB_NODE_RENDER,
				       RK_WAIT_MS);
	ASSERT_LE(0, self->new_fd);

	/* The old fd belongs to the device that went away. */
	EXPECT_EQ(-ENODEV, refgem_bo_create(self->fd, BO_SIZE, 0, &handle));
	EXPECT_EQ(-ENODEV, refgem_bo_mmap_offset(self->fd, self->bo.handle,
						 &offset));
	EXPECT_EQ(-ENODEV, refgem_sgt_map(self->fd, self->bo.handle, -1, &m));
	EXPECT_EQ(-ENODEV, refgem_dma(self->fd, self->bo.handle,
				      REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
				      4096, self->bo.map));
	EXPECT_EQ(-ENODEV, gemlib_prime_export(self->fd, self->bo.handle,
					       O_CLOEXEC, &dmabuf));
	EXPECT_EQ(-ENODEV, gemlib_prime_import(self->fd, self->dmabuf,
					       &handle));

	/* The new device: a BO, its mapping, both DMA engines, its mmap. */
	rk_bo_new(_metadata, self->new_fd, BO_SIZE, 0, &self->new_bo);
	slots = rk_sgt_map(_metadata, self->new_fd, self->new_bo.handle, true);
	rk_device_write(_metadata, self->new_fd, self->new_bo.handle, BO_SIZE,
			0x4e4e);
	rk_check_device_view(_metadata, self->new_fd, self->new_bo.handle,
			     BO_SIZE, 0x4e4e, REFGEM_ENGINE_SW);
	rk_check_device_view(_metadata, self->new_fd, self->new_bo.handle,
			     REFGEM_EDU_MAX_LEN, 0x4e4e, REFGEM_ENGINE_EDU);
	RK_EXPECT_PATTERN(self->new_bo.map, BO_SIZE, 0x4e4e,
			  "new device's BO written by DMA");

	/* The old device's dma-buf, imported (so mapped) by the new one. */
	before = rk_io();
	ASSERT_EQ(0, gemlib_prime_import(self->new_fd, self->dmabuf,
					 &imported));
	if (before >= 0)
		slots += rk_io() - before;
	rk_sgt_map(_metadata, self->new_fd, imported, false);
	rk_check_device_view(_metadata, self->new_fd, imported, BO_SIZE,
			     0x0bad, REFGEM_ENGINE_SW);
	ASSERT_EQ(0, refgem_device_counter(self->new_fd, REFGEM_C_MAPS_LIVE,
					   &dev_maps));
	EXPECT_EQ(2, dev_maps);
	if (self->o.g.io_start >= 0)
		EXPECT_EQ(self->o.g.io_start + slots, rk_io());

	rk_bo_unmap(&self->new_bo);
	ASSERT_EQ(0, close(self->new_fd));
	self->new_fd = -1;
	ASSERT_EQ(0, close(self->dmabuf));
	self->dmabuf = -1;
	close_all(_metadata, self);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * Scenario 12: the driver-owned (scratch) table goes at take-away: one
 * owned mapping less and, under swiotlb, its 256 slots back at once.
 */
TEST_F_TIMEOUT(held_bo, owned_table, RK_TIMEOUT)
{
	struct rk_held held = { 0 };
	struct refgem_counters c;

	if (_metadata->skip)
		return;
	ASSERT_LE(1, self->o.start.v[REFGEM_C_OWNED_MAPS_LIVE]);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf, variant->how);
	/* owned_maps_live - 1 and io_tlb_used - 256: */
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	RK_GIVE_BACK(self->bdf, variant->how);
	RK_COUNTS(&c);
	EXPECT_EQ(self->o.start.v[REFGEM_C_OWNED_MAPS_LIVE], c.v[REFGEM_C_OWNED_MAPS_LIVE]);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * A file keeps its DRM device, and with it the device's minors, after the
 * device was taken away; 6.1's DRM core has 64 minors of a kind. Hold a
 * file of every generation until a give-back fails for want of a minor:
 * the failed probe must leave nothing of the device behind (no mapping, no
 * scratch table, no swiotlb slot), the BO held from the first generation
 * must live on, and once every file is closed the device must come back
 * and work. REFGEM_KSFT_MINORS=0 skips it, for a target where it would
 * only repeat a negative control at a high price.
 */
#define GENS_MAX	128

FIXTURE(minors) {
	FIXTURE_DATA(held_bo) h;
	int gens[GENS_MAX];	/* a primary node of each generation */
	int n;
};

FIXTURE_SETUP(minors)
{
	held_open(_metadata, &self->h, "");
}

FIXTURE_TEARDOWN(minors)
{
	/* First: the device cannot come back while they are open. */
	while (self->n)
		close(self->gens[--self->n]);
	/* Bound on minors whose nodes do not open: probe it again. */
	if (self->h.bdf[0] &&
	    gemlib_pci_is_bound(REFGEM_DRIVER_NAME, self->h.bdf) == 1 &&
	    rk_wait_node(self->h.bdf))
		rk_take_away(self->h.bdf, RK_UNBIND);
	held_release(_metadata, &self->h, RK_UNBIND);
}

/*
 * One way of taking the device away is enough: the probe that fails is
 * the same whatever took the device before, and each way costs 40-110 s
 * on the debug kernel.
 */
TEST_F_TIMEOUT(minors, exhausted, 600)
{
	FIXTURE_DATA(held_bo) *h = &self->h;
	const enum rk_how how = RK_UNBIND;
	struct rk_held held = { 0 };
	struct refgem_counters c;
	bool bound = false;
	int fd, ret = 0;

	if (_metadata->skip)
		return;
	if (!gk_env_long("REFGEM_KSFT_MINORS", 1))
		SKIP(return, "REFGEM_KSFT_MINORS=0: not on this target");
	held_mapped_export(_metadata, h, 0x3e3e, &held);

	while (self->n < GENS_MAX) {
		rk_pre(_metadata, &h->o);
		RK_TAKE_AWAY(h->bdf, how);
		rk_check_taken(_metadata, &h->o,
			       self->n ? &(struct rk_held){ 0 } : &held, 0, 0,
			       how);
		ret = rk_give_back(h->bdf, how);
		if (ret)
			break;
		fd = gemlib_open_bdf(h->bdf, GEMLIB_NODE_PRIMARY, RK_WAIT_MS);
		ASSERT_LE(0, fd) TH_LOG("generation %d: %s", self->n + 1,
					strerror(-fd));
		self->gens[self->n++] = fd;
	}
	TH_LOG("%d generations held, then undoing %s of %s: %s", self->n,
	       rk_how_name(how), h->bdf, strerror(-ret));
	if (!ret)
		SKIP(goto close, "%d generations held and the device still came back: no minor limit to reach",
		     self->n);
	ASSERT_LT(0, self->n) TH_LOG("the first give-back failed: %s",
				     strerror(-ret));
	/*
	 * 6.12 goes on into an extended range once the first 64 of a kind
	 * are taken, past 255 in the end, while the core's character device
	 * covers 0-255 only: the device binds, its nodes fail with ENXIO.
	 */
	bound = gemlib_pci_is_bound(REFGEM_DRIVER_NAME, h->bdf) == 1;
	EXPECT_FALSE(bound)
		TH_LOG("%s came back after %d generations held, but its nodes do not open (%s): the DRM core gave it minors its character device does not cover",
		       h->bdf, self->n, strerror(-ret));
	if (bound)
		goto close;

	/* The failed probe undid itself: no scratch table, no mapping. */
	RK_COUNTS(&c);
	EXPECT_EQ(h->o.start.v[REFGEM_C_OWNED_MAPS_LIVE] - 1,
		  c.v[REFGEM_C_OWNED_MAPS_LIVE])
		TH_LOG("owned_maps_live %ld after the failed probe",
		       c.v[REFGEM_C_OWNED_MAPS_LIVE]);
	rk_check_closed(_metadata, &h->o, 1, BO_SIZE / 4096, 0);
	if (h->o.g.io_start >= 0)
		EXPECT_EQ(h->o.g.io_start - RK_SCRATCH_SLOTS, rk_io());
	RK_EXPECT_PATTERN(h->bo.map, BO_SIZE, 0x3e3e,
			  "held BO after the failed probe");

close:
	while (self->n)
		ASSERT_EQ(0, close(self->gens[--self->n]));
	ASSERT_EQ(0, close(h->dmabuf));
	h->dmabuf = -1;
	close_all(_metadata, h);
	if (!ret)
		return;
	/* Bound on unusable minors: a new probe takes the freed ones. */
	if (bound) {
		ret = rk_take_away(h->bdf, how);
		ASSERT_EQ(0, ret) TH_LOG("%s of %s: %s", rk_how_name(how),
					 h->bdf, strerror(-ret));
	}

	/* Every old device is gone now: the next probe finds its minors. */
	ret = rk_restore(h->bdf, how);
	ASSERT_EQ(0, ret) TH_LOG("binding %s after closing every file: %s",
				 h->bdf, strerror(-ret));
	h->new_fd = gemlib_open_bdf(h->bdf, GEMLIB_NODE_RENDER, RK_WAIT_MS);
	ASSERT_LE(0, h->new_fd);
	rk_bo_new(_metadata, h->new_fd, BO_SIZE, 0, &h->new_bo);
	rk_sgt_map(_metadata, h->new_fd, h->new_bo.handle, true);
	rk_device_write(_metadata, h->new_fd, h->new_bo.handle, BO_SIZE,
			0x5a5a);
	rk_check_device_view(_metadata, h->new_fd, h->new_bo.handle,
			     REFGEM_EDU_MAX_LEN, 0x5a5a, REFGEM_ENGINE_EDU);
	rk_bo_unmap(&h->new_bo);
	ASSERT_EQ(0, close(h->new_fd));
	h->new_fd = -1;
	rk_check_closed(_metadata, &h->o, 0, 0, 0);
	rk_check_io_back(_metadata, &h->o);
}

TEST_HARNESS_MAIN
