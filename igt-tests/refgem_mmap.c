// SPDX-License-Identifier: MIT
/*
 * CPU mappings of refgem objects: refgem's mmap-offset ioctl, how long a
 * mapping keeps its object alive by refgem's counters, and the CPU's and
 * the device's views of an object staying coherent while both write.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refgem_igt.h"

IGT_TEST_DESCRIPTION("CPU mappings of refgem objects: offsets, lifetimes and coherency with device DMA.");

/* Several swiotlb segments, the last one partial. */
#define BO_SIZE ((1 << 20) + (8 << 10))
#define ROUNDS 3

static void test_offset_lookup(int fd)
{
	uint32_t a = refgem_igt_create(fd, BO_SIZE);
	uint32_t b = refgem_igt_create(fd, BO_SIZE);
	uint64_t off_a, again, dumb, off_b;

	igt_assert_eq(refgem_bo_mmap_offset(fd, a, &off_a), 0);
	igt_assert_eq(refgem_bo_mmap_offset(fd, a, &again), 0);
	igt_assert_eq(refgem_bo_mmap_offset(fd, b, &off_b), 0);
	igt_assert(off_a);
	igt_assert_eq_u64(off_a % gem_igt_page(), 0);
	igt_assert_eq_u64(again, off_a);
	igt_assert(off_b >= off_a + BO_SIZE || off_a >= off_b + BO_SIZE);

	/* refgem's ioctl and the dumb one name the same offset. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, a, &dumb), 0);
	igt_assert_eq_u64(dumb, off_a);

	igt_assert_eq(gemlib_gem_close(fd, a), 0);
	igt_assert_eq(gemlib_gem_close(fd, b), 0);
}

static void test_mapping_holds_bo(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	void *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	igt_assert_eq(refgem_sgt_map(fd, handle, -1, NULL), 0);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 500);

	/* No handle left: the mapping alone holds the object... */
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	gem_igt_check(ptr, BO_SIZE, 0, 500, "mapping without a handle");

	/* ...and munmap frees it, with its device mapping. */
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	refgem_igt_counters_settled(&before);
}

static void test_mapping_holds_device(int fd)
{
	struct refgem_counters before;
	int fd2 = gem_igt_reopen(fd);
	uint32_t handle;
	void *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd2, BO_SIZE);
	ptr = refgem_igt_map(fd2, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 510);

	/* Closing the file leaves the object to the mapping. */
	close(fd2);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 1);
	gem_igt_check(ptr, BO_SIZE, 0, 510, "mapping after close(fd)");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	refgem_igt_counters_settled(&before);
}

/*
 * CPU and device take turns writing the object; each must see the other's
 * latest bytes, never a stale copy (a bounce buffer or cache that was not
 * synced).
 */
static void test_interleaved_sw(int fd)
{
	struct refgem_counters before;
	uint32_t handle, seed;
	void *ptr, *buf;
	int round;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	buf = malloc(BO_SIZE);
	igt_assert(buf);

	for (round = 0; round < ROUNDS; round++) {
		seed = 520 + 2 * round;
		gem_igt_fill(ptr, BO_SIZE, 0, seed);
		refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER,
			       REFGEM_ENGINE_SW, 0, BO_SIZE, buf);
		gem_igt_check(buf, BO_SIZE, 0, seed, "device read");

		gem_igt_fill(buf, BO_SIZE, 0, seed + 1);
		refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER,
			       REFGEM_ENGINE_SW, 0, BO_SIZE, buf);
		gem_igt_check(ptr, BO_SIZE, 0, seed + 1, "CPU read");
	}

	free(buf);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static size_t first_difference(const char *a, const char *b, size_t len)
{
	size_t i = 0;

	while (i < len && a[i] == b[i])
		i++;
	return i;
}

/*
 * Transfers of part of the BO, each after the CPU rewrote all of it: the
 * device reads the CPU's latest bytes in its range, and its write changes
 * that range only. A sync of too little leaves stale bytes in the range;
 * one of too much, or of the wrong range, copies stale bounce bytes over
 * the CPU's.
 */
static void test_partial_sw(int fd)
{
	/* Unaligned, across the first swiotlb segment's end (256 KiB). */
	const uint64_t first = (256 << 10) - 5000, len = 12345;
	struct refgem_counters before;
	char *ptr, *ref, *buf;
	uint32_t handle;
	uint64_t off;
	int round;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	ref = malloc(BO_SIZE);
	buf = malloc(BO_SIZE);
	igt_assert(ref && buf);
	/* Mapped from here on: what the CPU writes next is not in it yet. */
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);

	for (round = 0; round < ROUNDS; round++) {
		off = first + round * 70 * 4096;
		gemlib_pattern_fill(ref, BO_SIZE, 540 + 2 * round);
		memcpy(ptr, ref, BO_SIZE);
		refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER,
			       REFGEM_ENGINE_SW, off, len, buf);
		igt_assert_f(!memcmp(buf, ref + off, len),
			     "round %d: the device's read of [%" PRIu64 ", +%" PRIu64 ") misses the CPU's write at byte %zu\n",
			     round, off, len,
			     first_difference(buf, ref + off, len));

		gemlib_pattern_fill(buf, len, 541 + 2 * round);
		refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER,
			       REFGEM_ENGINE_SW, off, len, buf);
		memcpy(ref + off, buf, len);
		igt_assert_f(!memcmp(ptr, ref, BO_SIZE),
			     "round %d: after the device wrote [%" PRIu64 ", +%" PRIu64 "), the CPU's view differs at byte %zu\n",
			     round, off, len, first_difference(ptr, ref, BO_SIZE));
	}

	free(buf);
	free(ref);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_interleaved_edu(int fd)
{
	/* A page in the second swiotlb segment. */
	const uint64_t off = 70 * 4096 + 64, len = 2048;
	struct refgem_counters before;
	char cpu[2048], dev[2048];
	uint32_t handle;
	int round;
	char *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);

	for (round = 0; round < 2; round++) {
		gemlib_pattern_fill(cpu, len, 530 + 2 * round);
		memcpy(ptr + off, cpu, len);
		refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER,
			       REFGEM_ENGINE_EDU, off, len, dev);
		igt_assert_f(!memcmp(dev, cpu, len),
			     "round %d: edu read misses the CPU's write\n",
			     round);

		gemlib_pattern_fill(dev, len, 531 + 2 * round);
		refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER,
			       REFGEM_ENGINE_EDU, off, len, dev);
		igt_assert_f(!memcmp(ptr + off, dev, len),
			     "round %d: mmap misses the edu write\n", round);
	}

	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_two_mappings_device(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	void *a, *b, *buf;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	a = refgem_igt_map(fd, handle, BO_SIZE);
	b = refgem_igt_map(fd, handle, BO_SIZE);
	buf = malloc(BO_SIZE);
	igt_assert(buf);

	/* Three views of one object: two CPU mappings and the device. */
	gem_igt_fill(a, BO_SIZE, 0, 540);
	gem_igt_check(b, BO_SIZE, 0, 540, "second mapping");
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 540, "device read");

	gem_igt_fill(buf, BO_SIZE, 0, 541);
	refgem_igt_dma(fd, handle, REFGEM_DMA_FROM_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);
	gem_igt_check(a, BO_SIZE, 0, 541, "first mapping");
	gem_igt_check(b, BO_SIZE, 0, 541, "second mapping");

	free(buf);
	igt_assert_eq(munmap(a, BO_SIZE), 0);
	igt_assert_eq(munmap(b, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_fork_device(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	void *ptr, *buf;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	buf = malloc(BO_SIZE);
	igt_assert(buf);

	/* A forked child's writes through the shared mapping reach the device. */
	igt_fork(child, 1)
		gem_igt_fill(ptr, BO_SIZE, 0, 550);
	igt_waitchildren();
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 550, "device read of the child's writes");

	free(buf);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(GEMLIB_NODE_PRIMARY);
		refgem_igt_require_counters();
	}

	igt_describe("Check refgem's mmap offset: aligned, stable, distinct, the dumb ioctl's.");
	igt_subtest("offset-lookup")
		test_offset_lookup(fd);

	igt_describe("Check that a mapping keeps the object and its device mapping after GEM_CLOSE, and munmap frees them.");
	igt_subtest("mapping-holds-bo")
		test_mapping_holds_bo(fd);

	igt_describe("Check that a mapping keeps the object after its DRM file is closed.");
	igt_subtest("mapping-outlives-fd")
		test_mapping_holds_device(fd);

	igt_describe("CPU and device (software engine) take turns writing every page; each sees the other's writes.");
	igt_subtest("interleaved-cpu-device-sw")
		test_interleaved_sw(fd);

	igt_describe("CPU and device (software engine) take turns: the CPU rewrites the BO, the device reads, then writes, part of it; each sees the other's latest bytes, and nothing outside the part changes.");
	igt_subtest("partial-transfers-sw")
		test_partial_sw(fd);

	igt_describe("CPU and the edu DMA engine take turns writing a spot; each sees the other's writes.");
	igt_subtest("interleaved-cpu-device-edu")
		test_interleaved_edu(fd);

	igt_describe("Check that two mappings and the device see one object.");
	igt_subtest("two-mappings-device")
		test_two_mappings_device(fd);

	igt_describe("Check that a forked child's writes through an inherited mapping reach the device.");
	igt_subtest("fork-device")
		test_fork_device(fd);

	igt_fixture {
		close(fd);
	}
}
