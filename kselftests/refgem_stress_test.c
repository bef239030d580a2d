// SPDX-License-Identifier: GPL-2.0
/*
 * Take a refgem device away under load: threads hammering its ioctls,
 * thousands of mapped BOs, and a hundred take-away/give-back cycles with a
 * BO of each kind outstanding (see refgem_ksft.h for the oracles every test
 * checks). REFGEM_KSFT_CYCLES and REFGEM_KSFT_BOS scale the last two.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define HAMMER_THREADS	4
#define HAMMER_SIZE	(16 * 1024)
/* BOs a hammer thread leaves open, so that the take-away revokes some. */
#define HAMMER_KEEP	16
#define MANY_BOS	4096
#define MANY_SIZE	4096
/* Every MANY_MMAP_EVERY-th of them also gets a CPU mapping. */
#define MANY_MMAP_EVERY	256
#define CYCLES		100
#define CYCLE_SIZE	(64 * 1024)

FIXTURE(stress) {
	struct rk_oracle o;
	char bdf[2][32];
	int fd[2];
	int ndev;
};

FIXTURE_VARIANT(stress) {
	const char *name;
	enum rk_how how;
};

RK_TAKEAWAY_VARIANTS(stress);

FIXTURE_SETUP(stress)
{
	int i;

	self->fd[0] = self->fd[1] = -1;
	if (!rk_begin(_metadata, &self->o, variant->name))
		return;
	self->ndev = gemlib_count_devices(REFGEM_DRIVER_NAME);
	if (self->ndev < 1)
		SKIP(return, "no refgem device");
	if (self->ndev > 2)
		self->ndev = 2;
	for (i = 0; i < self->ndev; i++) {
		self->fd[i] = rk_open_device(i, self->bdf[i],
					     sizeof(self->bdf[i]));
		ASSERT_LE(0, self->fd[i]) TH_LOG("refgem device %d: %s", i,
						 strerror(-self->fd[i]));
	}
}

FIXTURE_TEARDOWN(stress)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		if (!self->bdf[i][0])
			continue;
		ret = rk_restore(self->bdf[i], variant->how);
		EXPECT_EQ(0, ret) TH_LOG("rebinding %s: %s", self->bdf[i],
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

struct hammer {
	int fd;
	atomic_bool *stop;
	atomic_bool *taken;
	long ok_before, ok_after, enodev;
	long bad;		/* results other than success or ENODEV */
	const char *bad_op;
	int bad_errno;
	long wrong_data;
	uint32_t keep[HAMMER_KEEP];
	unsigned int nkeep;
};

/* Success or ENODEV, nothing else. */
static bool result(struct hammer *h, const char *op, int ret)
{
	if (!ret) {
		if (atomic_load(h->taken))
			h->ok_after++;
		else
			h->ok_before++;
		return true;
	}
	if (ret == -ENODEV) {
		h->enodev++;
	} else if (!h->bad++) {
		h->bad_op = op;
		h->bad_errno = -ret;
	}
	return false;
}

static void *hammer_fn(void *arg)
{
	struct hammer *h = arg;
	char out[HAMMER_SIZE], in[HAMMER_SIZE];
	uint32_t seed = 0;

	while (!atomic_load(h->stop)) {
		struct drm_refgem_sgt_map m;
		uint64_t offset;
		uint32_t handle;

		seed++;
		if (!result(h, "GEM_CREATE",
			    refgem_bo_create(h->fd, HAMMER_SIZE, 0, &handle)))
			continue;
		result(h, "MMAP_OFFSET", refgem_bo_mmap_offset(h->fd, handle,
							       &offset));
		result(h, "SGT_MAP", refgem_sgt_map(h->fd, handle, -1, &m));
		gemlib_pattern_fill(out, sizeof(out), seed);
		if (result(h, "DMA write",
			   refgem_dma(h->fd, handle, REFGEM_DMA_FROM_USER,
				      REFGEM_ENGINE_SW, 0, sizeof(out), out)) &&
		    result(h, "DMA read",
			   refgem_dma(h->fd, handle, REFGEM_DMA_TO_USER,
				      REFGEM_ENGINE_SW, 0, sizeof(in), in)) &&
		    memcmp(in, out, sizeof(in)))
			h->wrong_data++;
		/* Keep the last few open, close the one they push out. */
		if (h->nkeep == HAMMER_KEEP) {
			uint32_t *old = &h->keep[seed % HAMMER_KEEP];

			result(h, "GEM_CLOSE", gemlib_gem_close(h->fd, *old));
			*old = handle;
		} else {
			h->keep[h->nkeep++] = handle;
		}
	}
	return NULL;
}

/*
 * Scenario 6: threads hammer create, map, DMA and close while the device is
 * taken away. Every ioctl returns success or ENODEV; whatever mappings
 * exist at that moment are revoked, none leaks.
 */
TEST_F_TIMEOUT(stress, hammer, RK_TIMEOUT)
{
	struct hammer h[HAMMER_THREADS] = { 0 };
	pthread_t thread[HAMMER_THREADS];
	atomic_bool stop = false, taken = false;
	struct rk_held held = { 0 };
	struct refgem_counters c;
	int i, ret, own_fd;
	long held_maps;

	if (_metadata->skip)
		return;
	/* The last thread has a file of its own. */
	own_fd = gemlib_open_bdf(self->bdf[0], GEMLIB_NODE_RENDER, RK_WAIT_MS);
	ASSERT_LE(0, own_fd);
	for (i = 0; i < HAMMER_THREADS; i++) {
		h[i].fd = i == HAMMER_THREADS - 1 ? own_fd : self->fd[0];
		h[i].stop = &stop;
		h[i].taken = &taken;
		ASSERT_EQ(0, pthread_create(&thread[i], NULL, hammer_fn,
					    &h[i]));
	}
	rk_sleep_ms(300);
	ret = rk_take_away(self->bdf[0], variant->how);
	atomic_store(&taken, true);
	rk_sleep_ms(100);
	atomic_store(&stop, true);
	for (i = 0; i < HAMMER_THREADS; i++)
		pthread_join(thread[i], NULL);
	if (ret == -ENOTSUP) {
		close(own_fd);
		SKIP(return, "%s needs a refgem-vm guest (REFGEM_VMCTL): %s",
		     rk_how_name(variant->how), strerror(-ret));
	}
	ASSERT_EQ(0, ret) TH_LOG("%s of %s: %s", rk_how_name(variant->how),
				 self->bdf[0], strerror(-ret));

	for (i = 0; i < HAMMER_THREADS; i++) {
		EXPECT_EQ(0, h[i].bad)
			TH_LOG("thread %d: %ld ioctls failed otherwise than ENODEV, first %s: %s",
			       i, h[i].bad, h[i].bad_op,
			       strerror(h[i].bad_errno));
		EXPECT_EQ(0, h[i].wrong_data)
			TH_LOG("thread %d: %ld DMA round trips read back wrong data",
			       i, h[i].wrong_data);
		EXPECT_LT(0, h[i].ok_before)
			TH_LOG("thread %d: no ioctl succeeded before the take-away", i);
		EXPECT_LT(0, h[i].enodev)
			TH_LOG("thread %d: no ENODEV after the take-away", i);
	}
	/* What was mapped when the device went: all made, less all released. */
	RK_COUNTS(&c);
	held_maps = c.v[REFGEM_C_MAPS_CREATED] - self->o.start.v[REFGEM_C_MAPS_CREATED] -
		    (c.v[REFGEM_C_MAPS_RELEASED] - self->o.start.v[REFGEM_C_MAPS_RELEASED]);
	rk_held_add(&held, held_maps,
		    "the BOs %d threads held open (up to %d each)",
		    HAMMER_THREADS, HAMMER_KEEP);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);

	close(own_fd);
	close(self->fd[0]);
	self->fd[0] = -1;
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf[0], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/* Scenario 7: thousands of mapped BOs when the device goes. */
TEST_F_TIMEOUT(stress, many_bos, 120)
{
	long n = gk_env_long("REFGEM_KSFT_BOS", MANY_BOS), i;
	struct rk_held held = { 0 };
	uint32_t *handles;
	void **maps;
	long t0 = rk_now_ms(), dev_maps;
	uint64_t offset;

	if (_metadata->skip)
		return;
	handles = calloc(n, sizeof(*handles));
	maps = calloc(n, sizeof(*maps));
	ASSERT_NE(NULL, handles);
	ASSERT_NE(NULL, maps);
	for (i = 0; i < n; i++) {
		ASSERT_EQ(0, refgem_bo_create(self->fd[0], MANY_SIZE, 0,
					      &handles[i]))
			TH_LOG("BO %ld of %ld", i, n);
		ASSERT_EQ(0, refgem_sgt_map(self->fd[0], handles[i], -1, NULL))
			TH_LOG("mapping BO %ld of %ld", i, n);
		if (i % MANY_MMAP_EVERY)
			continue;
		ASSERT_EQ(0, refgem_bo_mmap_offset(self->fd[0], handles[i],
						   &offset));
		ASSERT_EQ(0, gemlib_mmap(self->fd[0], offset, MANY_SIZE,
					 PROT_READ | PROT_WRITE, &maps[i]));
		gemlib_pattern_fill(maps[i], MANY_SIZE, i);
	}
	ASSERT_EQ(0, refgem_device_counter(self->fd[0], REFGEM_C_MAPS_LIVE,
					   &dev_maps));
	EXPECT_EQ(n, dev_maps);
	rk_held_add(&held, n, "%ld BOs (handles %u..%u)", n, handles[0],
		    handles[n - 1]);
	TH_LOG("%ld BOs created and mapped in %ld ms", n, rk_now_ms() - t0);

	rk_pre(_metadata, &self->o);
	t0 = rk_now_ms();
	RK_TAKE_AWAY(self->bdf[0], variant->how);
	TH_LOG("%s with %ld mappings took %ld ms", rk_how_name(variant->how),
	       n, rk_now_ms() - t0);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);

	for (i = 0; i < n; i += MANY_MMAP_EVERY)
		RK_EXPECT_PATTERN(maps[i], MANY_SIZE, i, "a BO's mmap");
	ASSERT_EQ(0, close(self->fd[0]));
	self->fd[0] = -1;
	/*
	 * The mmaps keep the DRM file open, so every handle: all BOs and
	 * their pinned pages live until the last munmap.
	 */
	rk_check_closed(_metadata, &self->o, n, n * (MANY_SIZE / 4096), 0);
	for (i = 0; i < n; i += MANY_MMAP_EVERY)
		munmap(maps[i], MANY_SIZE);
	free(maps);
	free(handles);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf[0], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * Scenario 10: take the device away and give it back again and again, each
 * time with an own mapped BO, an exported dma-buf (imported by the other
 * device) and an import of the other device's BO outstanding.
 */
TEST_F_TIMEOUT(stress, cycles, 240)
{
	long n = gk_env_long("REFGEM_KSFT_CYCLES", CYCLES), cycle;
	uint32_t c_handle, other;
	int c_dmabuf, fd;
	long t0 = rk_now_ms();
	struct refgem_counters cnt;

	if (_metadata->skip)
		return;
	if (self->ndev < 2)
		SKIP(return, "needs two refgem devices, found %d", self->ndev);
	/* C: the other device's BO, shared for the whole test. */
	ASSERT_EQ(0, refgem_bo_create(self->fd[1], CYCLE_SIZE, 0, &c_handle));
	ASSERT_EQ(0, gemlib_prime_export(self->fd[1], c_handle,
					 O_CLOEXEC | O_RDWR, &c_dmabuf));
	fd = self->fd[0];
	self->fd[0] = -1;

	for (cycle = 0; cycle < n && _metadata->passed; cycle++) {
		struct rk_held held = { 0 };
		uint32_t b_handle, imported;
		struct rk_bo a;
		long other_slots;
		int b_dmabuf;

		if (fd < 0) {
			fd = gemlib_open_bdf(self->bdf[0], GEMLIB_NODE_RENDER,
					     RK_WAIT_MS);
			ASSERT_LE(0, fd) TH_LOG("cycle %ld", cycle);
		}
		/* A: own, mapped, CPU-mapped. */
		rk_bo_new(_metadata, fd, CYCLE_SIZE, cycle, &a);
		rk_sgt_map(_metadata, fd, a.handle, true);
		/* B: exported, imported (so mapped) by the other device. */
		ASSERT_EQ(0, refgem_bo_create(fd, CYCLE_SIZE, 0, &b_handle));
		ASSERT_EQ(0, gemlib_prime_export(fd, b_handle,
						 O_CLOEXEC | O_RDWR,
						 &b_dmabuf));
		other_slots = rk_io();
		ASSERT_EQ(0, gemlib_prime_import(self->fd[1], b_dmabuf,
						 &other));
		other_slots = other_slots < 0 ? 0 : rk_io() - other_slots;
		/* I: the other device's C, imported (mapped) here. */
		ASSERT_EQ(0, gemlib_prime_import(fd, c_dmabuf, &imported));
		rk_held_add(&held, 2, "BO handle %u (own) and import handle %u in cycle %ld",
			    a.handle, imported, cycle);

		rk_pre(_metadata, &self->o);
		RK_TAKE_AWAY(self->bdf[0], variant->how);
		rk_check_taken(_metadata, &self->o, &held, 1, other_slots,
			       variant->how);
		RK_EXPECT_PATTERN(a.map, CYCLE_SIZE, cycle, "own BO's mmap");

		EXPECT_EQ(0, gemlib_gem_close(self->fd[1], other));
		close(b_dmabuf);
		rk_bo_unmap(&a);
		close(fd);
		fd = -1;
		/* C is all that is left. */
		rk_check_closed(_metadata, &self->o, 1, 0, 0);
		RK_GIVE_BACK(self->bdf[0], variant->how);
		rk_check_io_back(_metadata, &self->o);
		rk_drain_kernel_log(_metadata, &self->o);
	}
	TH_LOG("%ld %s cycles in %ld ms", cycle, rk_how_name(variant->how),
	       rk_now_ms() - t0);
	EXPECT_EQ(n, cycle);
	close(c_dmabuf);
	EXPECT_EQ(0, gemlib_gem_close(self->fd[1], c_handle));
	RK_COUNTS(&cnt);
	EXPECT_EQ(self->o.start.v[REFGEM_C_OWNED_MAPS_LIVE],
		  cnt.v[REFGEM_C_OWNED_MAPS_LIVE]);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
}

TEST_HARNESS_MAIN
