/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What refgem's kselftests share: the ways to take a device away (one
 * FIXTURE_VARIANT each) and the oracles every test checks. Include it after
 * kselftest_harness.h: the checks are the harness's EXPECT/ASSERT, so every
 * helper takes the test's _metadata.
 *
 * Oracles, read through lib's raw readers:
 * - refgem's module-wide counters: at take-away maps_live falls back to its
 *   start (plus what other devices hold), maps_revoked rises by exactly the
 *   mappings held, late_unmaps never moves, owned_maps_live drops by one;
 *   after the last close bos_alive and pages_pinned are back at their start;
 * - swiotlb's io_tlb_used (swiotlb=force only): right after take-away it is
 *   its start minus the device's 256-slot driver-owned table (plus what
 *   other devices still map), not only once everything is closed;
 * - gem_ksft.h's, driver-agnostic: the kernel log from the test's start
 *   (no WARNING, BUG, DMA-API, DMAR fault, lockdep, KASAN, ... report),
 *   no new taint bit but O and E, swiotlb back at its start at the end.
 */
#ifndef REFGEM_KSFT_H
#define REFGEM_KSFT_H

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "gem_ksft.h"
#include "refgem.h"

/*
 * Per-test timeout (TEST_F_TIMEOUT): well above lib's 30 s wait for a
 * hot-(un)plug, so that a stuck request fails the test with teardown run
 * (the harness kills a test that times out, teardown included).
 */
#define RK_TIMEOUT		60
/* How long a device may take to show its DRM nodes again. */
#define RK_WAIT_MS		10000
/* Each device's 512 KiB driver-owned table, in 2 KiB swiotlb slots. */
#define RK_SCRATCH_SLOTS	256
#define RK_DMA_DELAY_PATH	"/sys/kernel/debug/refgem/dma_delay_ms"

enum rk_how { RK_UNBIND, RK_REMOVE, RK_UNPLUG };

/*
 * Every fixture is run once per way to take a device away. Its
 * FIXTURE_VARIANT needs the fields .name (the harness does not pass the
 * variant's name on) and .how.
 */
#define RK_TAKEAWAY_VARIANTS(f)						\
	FIXTURE_VARIANT_ADD(f, unbind) {				\
		.name = "unbind", .how = RK_UNBIND,			\
	};								\
	FIXTURE_VARIANT_ADD(f, remove) {				\
		.name = "remove", .how = RK_REMOVE,			\
	};								\
	FIXTURE_VARIANT_ADD(f, unplug) {				\
		.name = "unplug", .how = RK_UNPLUG,			\
	}

static inline const char *rk_how_name(enum rk_how how)
{
	switch (how) {
	case RK_UNBIND:
		return "sysfs unbind";
	case RK_REMOVE:
		return "PCI remove";
	default:
		return "hot-unplug";
	}
}

#define rk_now_ms	gk_now_ms
#define rk_sleep_ms	gk_sleep_ms

/* Device handling: no assertions, errnos only (teardown uses them too). */

/* A render node of refgem device @i, and its PCI address in @bdf. */
static inline int rk_open_device(int i, char *bdf, size_t len)
{
	int fd = gemlib_open_driver(REFGEM_DRIVER_NAME, GEMLIB_NODE_RENDER, i);
	int ret;

	if (fd < 0)
		return fd;
	ret = gemlib_fd_bdf(fd, bdf, len);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static inline int rk_take_away(const char *bdf, enum rk_how how)
{
	char path[PATH_MAX];

	/* Breadcrumbs in the kernel log: where a hang in between stopped. */
	gemlib_kmsg("refgem-ksft: %s of %s", rk_how_name(how), bdf);
	switch (how) {
	case RK_UNBIND:
		return gemlib_pci_unbind(REFGEM_DRIVER_NAME, bdf);
	case RK_REMOVE:
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove",
			 bdf);
		return gemlib_sysfs_write(path, "1");
	default:
		return gemlib_vm_unplug(bdf);
	}
}

/* Wait until @bdf has a render node again. */
static inline int rk_wait_node(const char *bdf)
{
	int fd = gemlib_open_bdf(bdf, GEMLIB_NODE_RENDER, RK_WAIT_MS);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* Undo rk_take_away(): the device is bound and has its nodes again. */
static inline int rk_give_back(const char *bdf, enum rk_how how)
{
	int ret;

	gemlib_kmsg("refgem-ksft: undoing %s of %s", rk_how_name(how), bdf);
	switch (how) {
	case RK_UNBIND:
		ret = gemlib_pci_bind(REFGEM_DRIVER_NAME, bdf);
		break;
	case RK_REMOVE:
		ret = gemlib_sysfs_write("/sys/bus/pci/rescan", "1");
		break;
	default:
		ret = gemlib_vm_replug(bdf);
		break;
	}
	return ret ? ret : rk_wait_node(bdf);
}

/* Whatever state a failed test left @bdf in, bind it again. */
static inline int rk_restore(const char *bdf, enum rk_how how)
{
	char path[PATH_MAX];
	int ret;

	if (gemlib_pci_is_bound(REFGEM_DRIVER_NAME, bdf) == 1)
		return rk_wait_node(bdf);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (!access(path, F_OK))
		ret = gemlib_pci_bind(REFGEM_DRIVER_NAME, bdf);
	else if (how == RK_UNPLUG && !gemlib_vm_replug(bdf))
		ret = 0;
	else
		ret = gemlib_sysfs_write("/sys/bus/pci/rescan", "1");
	return ret ? ret : rk_wait_node(bdf);
}

/*
 * Take @bdf away. SKIPs with a return when this way is not available
 * (hot-unplug outside a refgem-vm guest): use it in a test body, or in a
 * helper that the body calls last.
 */
#define RK_TAKE_AWAY(bdf, how) do {					\
	int __rk = rk_take_away(bdf, how);				\
									\
	if (__rk == -ENOTSUP)						\
		SKIP(return, "%s needs a refgem-vm guest (REFGEM_VMCTL): %s", \
		     rk_how_name(how), strerror(-__rk));		\
	ASSERT_EQ(0, __rk)						\
		TH_LOG("%s of %s: %s", rk_how_name(how), bdf,		\
		       strerror(-__rk));				\
	ASSERT_EQ(0, gemlib_pci_is_bound(REFGEM_DRIVER_NAME, bdf))	\
		TH_LOG("%s is still bound after %s", bdf,		\
		       rk_how_name(how));				\
} while (0)

#define RK_GIVE_BACK(bdf, how) do {					\
	int __rk = rk_give_back(bdf, how);				\
									\
	ASSERT_EQ(0, __rk)						\
		TH_LOG("undoing %s of %s: %s", rk_how_name(how), bdf,	\
		       strerror(-__rk));				\
} while (0)

/* refgem's counters, in the order the driver prints them. */
#define RK_COUNTS(c) do {						\
	int __rk = refgem_counters_read(c);				\
									\
	ASSERT_EQ(0, __rk)						\
		TH_LOG("reading %s: %s", REFGEM_COUNTERS_PATH,		\
		       strerror(-__rk));				\
} while (0)

/* swiotlb's used slots, or -1 when there is no swiotlb (IOMMU profile). */
#define rk_io		gk_io

/* The mappings a device holds when it is taken away, for messages. */
struct rk_held {
	long maps;
	char what[512];
};

static inline void __attribute__((format(printf, 3, 4)))
rk_held_add(struct rk_held *h, long maps, const char *fmt, ...)
{
	size_t len = strlen(h->what);
	va_list ap;

	if (len && len < sizeof(h->what) - 2) {
		strcpy(h->what + len, ", ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(h->what + len, sizeof(h->what) - len, fmt, ap);
	va_end(ap);
	h->maps += maps;
}

struct rk_oracle {
	struct gk_oracle g;	/* kernel log, taint, swiotlb baseline */
	struct refgem_counters start;	/* at the test's start */
	struct refgem_counters pre;	/* right before the take-away */
};

/*
 * First thing in every FIXTURE_SETUP: the marker the runner splits the
 * kernel log on, then the oracles' starting points; @variant is "" for a
 * fixture without variants. Returns false after SKIPping when an oracle
 * cannot be read.
 */
static inline bool rk_begin(struct __test_metadata *_metadata,
			    struct rk_oracle *o, const char *variant)
{
	int ret;

	if (!gk_begin_kernel(_metadata, &o->g, variant))
		return false;
	ret = refgem_counters_read(&o->start);
	if (ret)
		SKIP(return false, "cannot read %s (debugfs mounted, refgem loaded?): %s",
		     REFGEM_COUNTERS_PATH, strerror(-ret));
	o->pre = o->start;
	return gk_begin_io(_metadata, &o->g);
}

/* Right before the take-away: what maps_revoked is measured from. */
static inline void rk_pre(struct __test_metadata *_metadata,
			  struct rk_oracle *o)
{
	RK_COUNTS(&o->pre);
}

/*
 * Right after the device was taken away while it held @held's mappings;
 * other devices still hold @other_maps mappings using @other_slots swiotlb
 * slots.
 */
static inline void rk_check_taken(struct __test_metadata *_metadata,
				  struct rk_oracle *o,
				  const struct rk_held *held,
				  long other_maps, long other_slots,
				  enum rk_how how)
{
	const char *what = held->what[0] ? held->what : "nothing";
	struct refgem_counters c;
	long leaked, revoked, io;

	RK_COUNTS(&c);
	leaked = c.v[REFGEM_C_MAPS_LIVE] - o->start.v[REFGEM_C_MAPS_LIVE] - other_maps;
	EXPECT_EQ(0, leaked)
		TH_LOG("maps_live still %ld after %s: mapping of %s leaked",
		       leaked, rk_how_name(how), what);
	revoked = c.v[REFGEM_C_MAPS_REVOKED] - o->pre.v[REFGEM_C_MAPS_REVOKED];
	EXPECT_EQ(held->maps, revoked)
		TH_LOG("maps_revoked rose by %ld at %s, but %ld mappings were held (%s)",
		       revoked, rk_how_name(how), held->maps, what);
	EXPECT_EQ(o->start.v[REFGEM_C_LATE_UNMAPS], c.v[REFGEM_C_LATE_UNMAPS])
		TH_LOG("late_unmaps moved: a mapping was unmapped after its device was gone");
	EXPECT_EQ(o->pre.v[REFGEM_C_OWNED_MAPS_LIVE] - 1, c.v[REFGEM_C_OWNED_MAPS_LIVE])
		TH_LOG("owned_maps_live %ld after %s, was %ld: the driver-owned table outlived its device",
		       c.v[REFGEM_C_OWNED_MAPS_LIVE], rk_how_name(how),
		       o->pre.v[REFGEM_C_OWNED_MAPS_LIVE]);
	if (o->g.io_start < 0)
		return;
	io = rk_io();
	EXPECT_EQ(o->g.io_start - RK_SCRATCH_SLOTS + other_slots, io)
		TH_LOG("io_tlb_used %ld right after %s, expected %ld: %ld swiotlb slots still mapped (%s)",
		       io, rk_how_name(how),
		       o->g.io_start - RK_SCRATCH_SLOTS + other_slots,
		       io - (o->g.io_start - RK_SCRATCH_SLOTS + other_slots),
		       what);
}

/*
 * After closing: BOs, pinned pages and mappings are back at their start
 * but for @bos, @pages and @maps that the test still holds on purpose.
 */
static inline void rk_check_closed(struct __test_metadata *_metadata,
				   struct rk_oracle *o, long bos, long pages,
				   long maps)
{
	struct refgem_counters c;

	RK_COUNTS(&c);
	EXPECT_EQ(o->start.v[REFGEM_C_BOS_ALIVE] + bos, c.v[REFGEM_C_BOS_ALIVE])
		TH_LOG("bos_alive %ld, expected %ld: a BO outlived its last reference or was freed early",
		       c.v[REFGEM_C_BOS_ALIVE], o->start.v[REFGEM_C_BOS_ALIVE] + bos);
	EXPECT_EQ(o->start.v[REFGEM_C_PAGES_PINNED] + pages, c.v[REFGEM_C_PAGES_PINNED])
		TH_LOG("pages_pinned %ld, expected %ld",
		       c.v[REFGEM_C_PAGES_PINNED],
		       o->start.v[REFGEM_C_PAGES_PINNED] + pages);
	EXPECT_EQ(o->start.v[REFGEM_C_MAPS_LIVE] + maps, c.v[REFGEM_C_MAPS_LIVE])
		TH_LOG("maps_live %ld, expected %ld", c.v[REFGEM_C_MAPS_LIVE],
		       o->start.v[REFGEM_C_MAPS_LIVE] + maps);
	EXPECT_EQ(o->start.v[REFGEM_C_LATE_UNMAPS], c.v[REFGEM_C_LATE_UNMAPS])
		TH_LOG("late_unmaps rose by %ld: mappings were unmapped at free, after their device was gone",
		       c.v[REFGEM_C_LATE_UNMAPS] - o->start.v[REFGEM_C_LATE_UNMAPS]);
}

/* Everything is closed and every device is back: swiotlb is as it was. */
static inline void rk_check_io_back(struct __test_metadata *_metadata,
				    struct rk_oracle *o)
{
	gk_check_io_back(_metadata, &o->g);
}

/* Read the kernel log up to now (gk_drain_kernel_log()). */
static inline void rk_drain_kernel_log(struct __test_metadata *_metadata,
				       struct rk_oracle *o)
{
	gk_drain_kernel_log(_metadata, &o->g);
}

/* Last thing in every FIXTURE_TEARDOWN: the kernel log and taint. */
static inline void rk_check_kernel(struct __test_metadata *_metadata,
				   struct rk_oracle *o)
{
	gk_check_kernel(_metadata, &o->g);
}

/* dma_delay_ms: stall every DMA ioctl inside its drm_dev_enter section. */
static inline int rk_dma_delay(unsigned int ms)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", ms);
	return gemlib_sysfs_write(RK_DMA_DELAY_PATH, buf);
}

/* A BO with a CPU mapping. */
struct rk_bo {
	uint32_t handle;
	uint64_t size;
	void *map;
};

/* Create a @size BO on @fd, mmap it and fill it with @seed's pattern. */
static inline void rk_bo_new(struct __test_metadata *_metadata, int fd,
			     uint64_t size, uint32_t seed, struct rk_bo *bo)
{
	uint64_t offset;

	bo->size = size;
	ASSERT_EQ(0, refgem_bo_create(fd, size, 0, &bo->handle));
	ASSERT_EQ(0, refgem_bo_mmap_offset(fd, bo->handle, &offset));
	ASSERT_EQ(0, gemlib_mmap(fd, offset, size, PROT_READ | PROT_WRITE,
				 &bo->map));
	gemlib_pattern_fill(bo->map, size, seed);
}

static inline void rk_bo_unmap(struct rk_bo *bo)
{
	if (bo->map)
		munmap(bo->map, bo->size);
	bo->map = NULL;
}

/*
 * SGT_MAP @handle on @fd; @created: whether this call must be the one that
 * maps. Returns the swiotlb slots the mapping took (0 without swiotlb).
 */
static inline long rk_sgt_map(struct __test_metadata *_metadata, int fd,
			      uint32_t handle, bool created)
{
	struct drm_refgem_sgt_map m;
	long before = rk_io();
	int ret;

	ret = refgem_sgt_map(fd, handle, -1, &m);
	ASSERT_EQ(0, ret) TH_LOG("SGT_MAP of handle %u: %s", handle,
				 strerror(-ret));
	EXPECT_EQ(created ? REFGEM_SGT_CREATED : 0u, m.status)
		TH_LOG("SGT_MAP of handle %u: status %u", handle, m.status);
	return before < 0 ? 0 : rk_io() - before;
}

/* The device's view of the BO, through its mapping, holds @seed's pattern. */
static inline void rk_check_device_view(struct __test_metadata *_metadata,
					int fd, uint32_t handle, uint64_t size,
					uint32_t seed, uint32_t engine)
{
	void *buf = malloc(size);
	size_t bad;
	int ret;

	ASSERT_NE(NULL, buf);
	ret = refgem_dma(fd, handle, REFGEM_DMA_TO_USER, engine, 0, size, buf);
	EXPECT_EQ(0, ret) TH_LOG("DMA read of handle %u: %s", handle,
				 strerror(-ret));
	if (!ret) {
		/* The edu engine moves less than a page: a prefix. */
		bad = gemlib_pattern_check(buf, size & ~3ull, seed);
		EXPECT_EQ((size_t)-1, bad)
			TH_LOG("the device sees stale data in handle %u at offset %zu",
			       handle, bad);
	}
	free(buf);
}

/* Write @seed's pattern into the BO through the device's mapping. */
static inline void rk_device_write(struct __test_metadata *_metadata, int fd,
				   uint32_t handle, uint64_t size,
				   uint32_t seed)
{
	void *buf = malloc(size);
	int ret;

	ASSERT_NE(NULL, buf);
	gemlib_pattern_fill(buf, size, seed);
	ret = refgem_dma(fd, handle, REFGEM_DMA_FROM_USER, REFGEM_ENGINE_SW, 0,
			 size, buf);
	free(buf);
	ASSERT_EQ(0, ret) TH_LOG("DMA write of handle %u: %s", handle,
				 strerror(-ret));
}

/* A CPU mapping still holds @seed's pattern. */
#define RK_EXPECT_PATTERN	GK_EXPECT_PATTERN

#endif /* REFGEM_KSFT_H */
