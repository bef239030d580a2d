// SPDX-License-Identifier: MIT
/*
 * CPU mappings of GEM objects on any GEM driver, through dumb buffers: the
 * fake-offset lookup, what a mapping shows and how long it lives, and the
 * mappings the DRM core refuses.
 */

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gem_igt.h"

IGT_TEST_DESCRIPTION("CPU mappings of GEM objects on any GEM driver, through dumb buffers.");

#define BO_SIZE (1 << 20)
#define SMALL_PAGES 4

static void *map_at(int fd, uint64_t offset, size_t len, int flags, int *err)
{
	void *ptr = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, offset);

	*err = ptr == MAP_FAILED ? -errno : 0;
	return ptr;
}

static void test_map_offset(int fd)
{
	uint32_t a = gem_igt_dumb(fd, BO_SIZE), b = gem_igt_dumb(fd, BO_SIZE);
	uint64_t off_a, again, off_b;

	igt_assert_eq(gemlib_dumb_mmap_offset(fd, a, &off_a), 0);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, a, &again), 0);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, b, &off_b), 0);

	igt_assert(off_a);
	igt_assert_eq_u64(off_a % gem_igt_page(), 0);
	igt_assert_eq_u64(again, off_a);
	/* Two objects never share fake offsets. */
	igt_assert(off_b >= off_a + BO_SIZE || off_a >= off_b + BO_SIZE);

	igt_assert_eq(gemlib_gem_close(fd, a), 0);
	igt_assert_eq(gemlib_gem_close(fd, b), 0);
}

static void test_fresh_zeroed(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);

	gem_igt_check_zero(ptr, BO_SIZE, "new object");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_every_page(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);

	gem_igt_fill(ptr, BO_SIZE, 0, 100);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);

	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_check(ptr, BO_SIZE, 0, 100, "new mapping");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_two_mappings(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *a = gem_igt_dumb_map(fd, handle, BO_SIZE);
	void *b = gem_igt_dumb_map(fd, handle, BO_SIZE);

	igt_assert(a != b);
	gem_igt_fill(a, BO_SIZE, 0, 110);
	gem_igt_check(b, BO_SIZE, 0, 110, "second mapping");
	gem_igt_fill(b, BO_SIZE, 0, 111);
	gem_igt_check(a, BO_SIZE, 0, 111, "first mapping");

	igt_assert_eq(munmap(a, BO_SIZE), 0);
	igt_assert_eq(munmap(b, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_outlives_close(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);

	gem_igt_fill(ptr, BO_SIZE / 2, 0, 120);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	/* The mapping holds the object: old pages and new faults work. */
	gem_igt_check(ptr, BO_SIZE / 2, 0, 120, "mapping after GEM_CLOSE");
	gem_igt_fill(ptr, BO_SIZE, 0, 121);
	gem_igt_check(ptr, BO_SIZE, 0, 121, "mapping after GEM_CLOSE");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
}

static void test_outlives_fd_close(int fd)
{
	int fd2 = gem_igt_reopen(fd);
	uint32_t handle = gem_igt_dumb(fd2, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd2, handle, BO_SIZE);

	gem_igt_fill(ptr, BO_SIZE / 2, 0, 130);
	close(fd2);

	gem_igt_check(ptr, BO_SIZE / 2, 0, 130, "mapping after close(fd)");
	gem_igt_fill(ptr, BO_SIZE, 0, 131);
	gem_igt_check(ptr, BO_SIZE, 0, 131, "mapping after close(fd)");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
}

static void test_bad_offset(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, page);
	uint64_t stale;
	int err;

	/* Offsets that name no object. */
	map_at(fd, 0, page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
	map_at(fd, 1ull << 44, page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);

	/* An object's offset dies with the object. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &stale), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	map_at(fd, stale, page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
}

static void test_beyond_size(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, SMALL_PAGES * page);
	uint64_t offset;
	int err;

	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	map_at(fd, offset, (SMALL_PAGES + 1) * page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
	map_at(fd, offset, 64 * SMALL_PAGES * page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_offset_inside(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, SMALL_PAGES * page);
	uint64_t offset;
	int err;

	/* GEM maps whole objects from their start: the lookup is exact. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	map_at(fd, offset + page, page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
	map_at(fd, offset + page, (SMALL_PAGES - 1) * page, MAP_SHARED, &err);
	igt_assert_eq(err, -EINVAL);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_partial(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, SMALL_PAGES * page);
	uint64_t offset;
	void *full, *part;
	int err;

	full = gem_igt_dumb_map(fd, handle, SMALL_PAGES * page);
	gem_igt_fill(full, SMALL_PAGES * page, 0, 140);
	igt_assert_eq(munmap(full, SMALL_PAGES * page), 0);

	/* A mapping of the first pages only shows exactly those. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	part = map_at(fd, offset, 2 * page, MAP_SHARED, &err);
	igt_assert_eq(err, 0);
	gem_igt_check(part, 2 * page, 0, 140, "partial mapping");
	gem_igt_fill(part, 2 * page, 0, 141);
	igt_assert_eq(munmap(part, 2 * page), 0);

	full = gem_igt_dumb_map(fd, handle, SMALL_PAGES * page);
	gem_igt_check(full, 2 * page, 0, 141, "pages written through it");
	gem_igt_check((char *)full + 2 * page, (SMALL_PAGES - 2) * page, 2,
		      140, "pages outside it");
	igt_assert_eq(munmap(full, SMALL_PAGES * page), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_split(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, SMALL_PAGES * page);
	char *ptr;

	ptr = gem_igt_dumb_map(fd, handle, SMALL_PAGES * page);
	gem_igt_fill(ptr, SMALL_PAGES * page, 0, 150);
	igt_assert_eq(munmap(ptr, SMALL_PAGES * page), 0);

	/*
	 * Unmap the head of a mapping before touching it: the rest now
	 * starts at page 1 of the object, and its first fault must find
	 * page 1, not page 0.
	 */
	ptr = gem_igt_dumb_map(fd, handle, SMALL_PAGES * page);
	igt_assert_eq(munmap(ptr, page), 0);
	if (gemlib_pattern_check(ptr + page, page, 150) == (size_t)-1)
		igt_info("the tail shows the object's page 0: the fault handler indexes from the mapping, not the object\n");
	gem_igt_check(ptr + page, (SMALL_PAGES - 1) * page, 1, 150,
		      "mapping whose head was unmapped");
	igt_assert_eq(munmap(ptr + page, (SMALL_PAGES - 1) * page), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_fork(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);

	gem_igt_fill(ptr, BO_SIZE, 0, 160);
	igt_fork(child, 1) {
		gem_igt_check(ptr, BO_SIZE, 0, 160, "child's inherited mapping");
		gem_igt_fill(ptr, BO_SIZE, 0, 161);
	}
	igt_waitchildren();
	gem_igt_check(ptr, BO_SIZE, 0, 161, "parent after the child wrote");

	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_private_refused(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, page);
	uint64_t offset;
	void *ptr;
	int err;

	/*
	 * Copy-on-write mappings of GEM objects are refused (the shmem
	 * helpers say EINVAL): a private copy would silently stop following
	 * the object.
	 */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	map_at(fd, offset, page, MAP_PRIVATE, &err);
	igt_assert_eq(err, -EINVAL);
	ptr = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, offset);
	igt_assert(ptr == MAP_FAILED);
	igt_assert_eq(errno, EINVAL);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_other_client(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, page);
	int fd2 = gem_igt_reopen(fd);
	uint64_t offset;
	int err;

	/* Another client may not map an object it holds no handle to. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	map_at(fd2, offset, page, MAP_SHARED, &err);
	igt_assert_eq(err, -EACCES);

	close(fd2);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_other_client_import(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle, imported;
	uint64_t offset;
	int fd2, dmabuf, err;
	void *ptr, *ptr2;

	gem_igt_require_prime(fd);
	handle = gem_igt_dumb(fd, page);
	fd2 = gem_igt_reopen(fd);

	/* Once it holds a handle, the same offset is its to map. */
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);
	igt_assert_eq(gemlib_prime_import(fd2, dmabuf, &imported), 0);
	close(dmabuf);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	ptr2 = map_at(fd2, offset, page, MAP_SHARED, &err);
	igt_assert_eq(err, 0);

	ptr = gem_igt_dumb_map(fd, handle, page);
	gem_igt_fill(ptr, page, 0, 170);
	gem_igt_check(ptr2, page, 0, 170, "other client's mapping");
	igt_assert_eq(munmap(ptr, page), 0);
	igt_assert_eq(munmap(ptr2, page), 0);

	igt_assert_eq(gemlib_gem_close(fd2, imported), 0);
	close(fd2);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = gem_igt_open();
		gem_igt_require_dumb(fd);
	}

	igt_describe("Check the fake mmap offset: page aligned, stable, one range per object.");
	igt_subtest("map-offset")
		test_map_offset(fd);

	igt_describe("Check that a new object maps as zeroes.");
	igt_subtest("fresh-bo-zeroed")
		test_fresh_zeroed(fd);

	igt_describe("Write every page through one mapping, read it through another.");
	igt_subtest("every-page")
		test_every_page(fd);

	igt_describe("Check that two mappings of one object see each other's writes.");
	igt_subtest("two-mappings")
		test_two_mappings(fd);

	igt_describe("Check that a mapping keeps working after its handle is closed.");
	igt_subtest("outlives-close")
		test_outlives_close(fd);

	igt_describe("Check that a mapping keeps working after its DRM file is closed.");
	igt_subtest("outlives-fd-close")
		test_outlives_fd_close(fd);

	igt_describe("Check that mmap of an offset naming no object fails with EINVAL.");
	igt_subtest("bad-offset")
		test_bad_offset(fd);

	igt_describe("Check that mmap past the end of an object fails with EINVAL.");
	igt_subtest("beyond-size")
		test_beyond_size(fd);

	igt_describe("Check that mmap starting inside an object fails with EINVAL.");
	igt_subtest("offset-inside-bo")
		test_offset_inside(fd);

	igt_describe("Check that a mapping of an object's first pages shows exactly those.");
	igt_subtest("partial-mapping")
		test_partial(fd);

	igt_describe("Check that a mapping whose head was unmapped still shows the right pages.");
	igt_subtest("split-mapping")
		test_split(fd);

	igt_describe("Check that a forked child shares the parent's mapping both ways.");
	igt_subtest("fork-shared")
		test_fork(fd);

	igt_describe("Check that private (copy-on-write) mappings are refused with EINVAL.");
	igt_subtest("map-private-refused")
		test_private_refused(fd);

	igt_describe("Check that another client cannot map an object it has no handle to.");
	igt_subtest("other-client-offset")
		test_other_client(fd);

	igt_describe("Check that another client may map an object once it imported it.");
	igt_subtest("other-client-offset-imported")
		test_other_client_import(fd);

	igt_fixture {
		close(fd);
	}
}
