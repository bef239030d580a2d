// SPDX-License-Identifier: GPL-2.0
/*
 * The soak (`make soak`, not a gate test): REFGEM_SOAK_CYCLES take-away and
 * give-back cycles of the first refgem device (default 1000), the way
 * rotating through sysfs unbind, PCI remove and hot-unplug, each with
 * PRIME held both ways with vgem and with the second refgem device:
 *
 *   A  an own BO, CPU-mapped and DMA-mapped;
 *   B  an own BO exported, imported (so mapped) by the second device and
 *      by vgem;
 *   I  the second device's BO C imported here (one for the whole soak);
 *   V  vgem's BO imported here (one for the whole soak).
 *
 * Every cycle is judged as stress.*.cycles judges one (refgem_ksft.h: the
 * counters and swiotlb right after the take-away and after the closes,
 * the data, the kernel log). Every REFGEM_SOAK_SAMPLE cycles (100) it
 * records MemFree, Slab and swiotlb's slots, and on a kernel with kmemleak
 * scans for leaks (any unreferenced object fails the soak). At the end
 * the samples are judged: slab memory that grew at every sample since the
 * first (the first 100 cycles warm the caches) and by more than
 * SOAK_SLAB_KIB in all is a leak, as is free memory that fell at every
 * sample by more than SOAK_FREE_KIB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define SOAK_CYCLES	1000
#define SOAK_SAMPLE	100
#define SOAK_MAX_SAMPLES	1024
#define SOAK_SIZE	(64 * 1024)
/* What steady growth over the soak may add up to before it is a leak. */
#define SOAK_SLAB_KIB	1024
#define SOAK_FREE_KIB	(16 * 1024)
/* The harness's own limit; the runner ends a soak that stops printing. */
#define SOAK_TIMEOUT	(6 * 3600)

/* The figures judged for drift, from /proc/meminfo. */
enum soak_figure { SOAK_FREE, SOAK_SLAB, SOAK_FIGURES };

struct soak_sample {
	long cycle;
	long kib[SOAK_FIGURES];	/* MemFree, Slab */
	long io;
};

FIXTURE(soak) {
	struct rk_oracle o;
	char bdf[2][32];
	int fd[2];
	int vgem;
	struct soak_sample s[SOAK_MAX_SAMPLES];
	int ns;
};

FIXTURE_SETUP(soak)
{
	int i;

	self->fd[0] = self->fd[1] = self->vgem = -1;
	if (!rk_begin(_metadata, &self->o, ""))
		return;
	if (gemlib_count_devices(REFGEM_DRIVER_NAME) < 2)
		SKIP(return, "needs two refgem devices");
	for (i = 0; i < 2; i++) {
		self->fd[i] = rk_open_device(i, self->bdf[i],
					     sizeof(self->bdf[i]));
		ASSERT_LE(0, self->fd[i]) TH_LOG("refgem device %d: %s", i,
						 strerror(-self->fd[i]));
	}
	self->vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	if (self->vgem < 0)
		SKIP(return, "no vgem device (modprobe vgem): %s",
		     strerror(-self->vgem));
}

FIXTURE_TEARDOWN(soak)
{
	int i, ret;

	if (self->vgem >= 0)
		close(self->vgem);
	for (i = 0; i < 2; i++) {
		if (self->fd[i] >= 0)
			close(self->fd[i]);
		if (!self->bdf[i][0])
			continue;
		ret = rk_restore(self->bdf[i], RK_UNPLUG);
		EXPECT_EQ(0, ret) TH_LOG("giving back %s: %s", self->bdf[i],
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

/* A /proc/meminfo field in KiB, or -1. */
static long meminfo_kib(const char *field)
{
	long kib;

	return gemlib_meminfo_kib(field, &kib) ? -1 : kib;
}

struct soak_leaks {
	struct __test_metadata *_metadata;
	int shown;
};

static void soak_leak(const char *report, void *arg)
{
	struct soak_leaks *l = arg;
	struct __test_metadata *_metadata = l->_metadata;

	if (l->shown++ < 4)
		TH_LOG("kmemleak: %.200s", report);
}

/*
 * kmemleak's scan, where the kernel has it: the unreferenced objects it
 * reports (the first few shown), 0, or -1 without kmemleak.
 */
static int soak_kmemleak(struct __test_metadata *_metadata)
{
	struct soak_leaks l = { _metadata, 0 };
	int n = gemlib_kmemleak(1, NULL, soak_leak, &l);

	if (gemlib_kmemleak_absent(n))
		return -1;
	EXPECT_LE(0, n) TH_LOG("reading kmemleak: %s", strerror(-n));
	if (n < 0)
		return -1;
	/* Report each leak once. */
	gemlib_kmemleak_clear();
	return n;
}

static void soak_sample(struct __test_metadata *_metadata,
			FIXTURE_DATA(soak) *self, long cycle)
{
	struct soak_sample *s;
	int leaks;

	if (self->ns == SOAK_MAX_SAMPLES)
		return;
	s = &self->s[self->ns++];
	s->cycle = cycle;
	s->kib[SOAK_FREE] = meminfo_kib("MemFree");
	s->kib[SOAK_SLAB] = meminfo_kib("Slab");
	s->io = rk_io();
	/* Not judged, for the figures: where memory went if MemFree fell. */
	TH_LOG("cycle %ld: MemFree %ld KiB, Slab %ld KiB, io_tlb_used %ld; Cached %ld, VmallocUsed %ld, Percpu %ld, PageTables %ld KiB",
	       cycle, s->kib[SOAK_FREE], s->kib[SOAK_SLAB], s->io, meminfo_kib("Cached"),
	       meminfo_kib("VmallocUsed"), meminfo_kib("Percpu"),
	       meminfo_kib("PageTables"));
	leaks = soak_kmemleak(_metadata);
	EXPECT_GE(0, leaks)
		TH_LOG("kmemleak found %d unreferenced objects by cycle %ld",
		       leaks, cycle);
}

/*
 * Growth at every sample since the first, by more than @limit in all:
 * @sign 1 for a figure that a leak raises, -1 for one it lowers.
 */
static bool soak_drifts(const struct soak_sample *s, int ns,
			enum soak_figure f, int sign, long limit)
{
	long first, prev, v;
	int i;

	if (ns < 3)
		return false;
	first = prev = s[1].kib[f];
	for (i = 2; i < ns; i++) {
		v = s[i].kib[f];
		if (sign * (v - prev) <= 0)
			return false;
		prev = v;
	}
	return sign * (prev - first) > limit;
}

TEST_F_TIMEOUT(soak, cycles, SOAK_TIMEOUT)
{
	static const enum rk_how ways[] = { RK_UNBIND, RK_REMOVE, RK_UNPLUG };
	long n = gk_env_long("REFGEM_SOAK_CYCLES", SOAK_CYCLES);
	long every = gk_env_long("REFGEM_SOAK_SAMPLE", SOAK_SAMPLE);
	unsigned int nways = 3;
	uint32_t c_handle, v_handle;
	int c_dmabuf, v_dmabuf, fd, ret;
	long cycle, t0 = rk_now_ms();

	if (self->vgem < 0)
		return;
	ASSERT_LT(0, every);
	/* C and V: the other devices' BOs, imported here every cycle. */
	ASSERT_EQ(0, refgem_bo_create(self->fd[1], SOAK_SIZE, 0, &c_handle));
	ASSERT_EQ(0, gemlib_prime_export(self->fd[1], c_handle,
					 O_CLOEXEC | O_RDWR, &c_dmabuf));
	ASSERT_EQ(0, gemlib_dumb_create(self->vgem, SOAK_SIZE, &v_handle,
					NULL));
	ASSERT_EQ(0, gemlib_prime_export(self->vgem, v_handle,
					 O_CLOEXEC | O_RDWR, &v_dmabuf));
	fd = self->fd[0];
	self->fd[0] = -1;
	soak_sample(_metadata, self, 0);

	for (cycle = 0; cycle < n && _metadata->passed; cycle++) {
		enum rk_how how = ways[cycle % nways];
		struct rk_held held = { 0 };
		uint32_t b_handle, b_other, b_vgem, imp_c, imp_v;
		long other_slots;
		struct rk_bo a;
		int b_dmabuf;

		if (fd < 0) {
			fd = gemlib_open_bdf(self->bdf[0], GEMLIB_NODE_RENDER,
					     RK_WAIT_MS);
			ASSERT_LE(0, fd) TH_LOG("cycle %ld", cycle);
		}
		/* A: own, CPU- and DMA-mapped. */
		rk_bo_new(_metadata, fd, SOAK_SIZE, cycle, &a);
		rk_sgt_map(_metadata, fd, a.handle, true);
		/* B: exported to the second device and to vgem. */
		ASSERT_EQ(0, refgem_bo_create(fd, SOAK_SIZE, 0, &b_handle));
		ASSERT_EQ(0, gemlib_prime_export(fd, b_handle,
						 O_CLOEXEC | O_RDWR,
						 &b_dmabuf));
		other_slots = rk_io();
		ASSERT_EQ(0, gemlib_prime_import(self->fd[1], b_dmabuf,
						 &b_other));
		ASSERT_EQ(0, gemlib_prime_import(self->vgem, b_dmabuf,
						 &b_vgem));
		other_slots = other_slots < 0 ? 0 : rk_io() - other_slots;
		/* I and V: the others' BOs, imported (mapped) here. */
		ASSERT_EQ(0, gemlib_prime_import(fd, c_dmabuf, &imp_c));
		ASSERT_EQ(0, gemlib_prime_import(fd, v_dmabuf, &imp_v));
		rk_held_add(&held, 3, "own BO %u, imports %u (refgem) and %u (vgem) in cycle %ld",
			    a.handle, imp_c, imp_v, cycle);

		rk_pre(_metadata, &self->o);
		ret = rk_take_away(self->bdf[0], how);
		if (ret == -ENOTSUP && how == RK_UNPLUG) {
			TH_LOG("no hot-unplug here (not a refgem-vm guest): unbind and remove only");
			nways = 2;
			how = RK_UNBIND;
			ret = rk_take_away(self->bdf[0], how);
		}
		ASSERT_EQ(0, ret) TH_LOG("cycle %ld: %s of %s: %s", cycle,
					 rk_how_name(how), self->bdf[0],
					 strerror(-ret));
		rk_check_taken(_metadata, &self->o, &held, 1, other_slots, how);
		RK_EXPECT_PATTERN(a.map, SOAK_SIZE, cycle, "own BO's mmap");

		EXPECT_EQ(0, gemlib_gem_close(self->fd[1], b_other));
		EXPECT_EQ(0, gemlib_gem_close(self->vgem, b_vgem));
		close(b_dmabuf);
		rk_bo_unmap(&a);
		close(fd);
		fd = -1;
		/* C is all of refgem's that is left. */
		rk_check_closed(_metadata, &self->o, 1, 0, 0);
		ret = rk_give_back(self->bdf[0], how);
		ASSERT_EQ(0, ret) TH_LOG("cycle %ld: undoing %s of %s: %s",
					 cycle, rk_how_name(how), self->bdf[0],
					 strerror(-ret));
		rk_check_io_back(_metadata, &self->o);
		rk_drain_kernel_log(_metadata, &self->o);
		if ((cycle + 1) % every == 0)
			soak_sample(_metadata, self, cycle + 1);
	}
	TH_LOG("%ld cycles in %ld s", cycle, (rk_now_ms() - t0) / 1000);
	EXPECT_EQ(n, cycle);
	close(c_dmabuf);
	close(v_dmabuf);
	EXPECT_EQ(0, gemlib_gem_close(self->fd[1], c_handle));
	EXPECT_EQ(0, gemlib_gem_close(self->vgem, v_handle));
	rk_check_closed(_metadata, &self->o, 0, 0, 0);

	EXPECT_FALSE(soak_drifts(self->s, self->ns, SOAK_SLAB, 1,
				 SOAK_SLAB_KIB))
		TH_LOG("Slab grew at every sample, from %ld to %ld KiB: kernel objects leak",
		       self->s[1].kib[SOAK_SLAB],
		       self->s[self->ns - 1].kib[SOAK_SLAB]);
	EXPECT_FALSE(soak_drifts(self->s, self->ns, SOAK_FREE, -1,
				 SOAK_FREE_KIB))
		TH_LOG("MemFree fell at every sample, from %ld to %ld KiB: memory leaks",
		       self->s[1].kib[SOAK_FREE],
		       self->s[self->ns - 1].kib[SOAK_FREE]);
}

TEST_HARNESS_MAIN
