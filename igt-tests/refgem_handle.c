// SPDX-License-Identifier: MIT
/*
 * refgem's own object ioctls: GEM_CREATE and GEM_MMAP_OFFSET argument
 * checks as refgem_drm.h documents them, and object lifetimes as refgem's
 * debugfs counters see them.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "refgem_igt.h"

IGT_TEST_DESCRIPTION("refgem's create and mmap-offset ioctls: errnos and object lifetimes.");

#define MANY_BOS 4096

/* The size refgem gave the object, as its dma-buf reports it. */
static uint64_t bo_size(int fd, uint32_t handle)
{
	int dmabuf = -1;
	off_t size;

	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);
	size = lseek(dmabuf, 0, SEEK_END);
	close(dmabuf);
	igt_assert_lt_s64(0, size);
	return size;
}

static void test_size_rounding(int fd)
{
	const uint64_t page = gem_igt_page();
	const uint64_t sizes[] = { 1, page - 1, page, page + 1, 16 * page + 1 };
	struct refgem_counters before;
	unsigned int i;

	refgem_igt_counters_get(&before);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint32_t handle = refgem_igt_create(fd, sizes[i]);

		igt_assert_eq_u64(bo_size(fd, handle), ALIGN(sizes[i], page));
		igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	}
	refgem_igt_counters_settled(&before);
}

/* A create that must fail with @err and create nothing. */
static void expect_create_error(int fd, uint64_t size, uint32_t flags,
				int err)
{
	long created = refgem_igt_counter(REFGEM_C_BOS_CREATED);
	uint32_t handle = 0;
	int ret;

	ret = refgem_bo_create(fd, size, flags, &handle);
	if (!ret)
		gemlib_gem_close(fd, handle);
	igt_assert_f(ret == err,
		     "create(size %#llx, flags %#x) gave %d, expected %d\n",
		     (unsigned long long)size, flags, ret, err);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_CREATED), created);
}

static void test_zero_size(int fd)
{
	expect_create_error(fd, 0, 0, -EINVAL);
}

static void test_huge_size(int fd)
{
	const uint64_t page = gem_igt_page();

	/* Overflows when rounded up to a page. */
	expect_create_error(fd, UINT64_MAX, 0, -E2BIG);
	expect_create_error(fd, UINT64_MAX - page + 2, 0, -E2BIG);
	/* Far beyond what shmem can back. */
	expect_create_error(fd, 1ull << 63, 0, -E2BIG);
	expect_create_error(fd, 1ull << 62, 0, -E2BIG);
}

/*
 * Up to the machine's RAM, and not a page more: a larger BO could never be
 * mapped, and would take the device's shared mmap offset space (1 TiB)
 * from every other client. Creating one costs no memory (shmem is lazy).
 */
static void test_ram_bound(int fd)
{
	const uint64_t page = gem_igt_page();
	uint64_t ram;
	uint32_t handle;
	int ret;

	igt_assert_eq(gemlib_mem_total(&ram), 0);
	ram -= ram % page;
	expect_create_error(fd, ram + 1, 0, -E2BIG);
	expect_create_error(fd, 1ull << 40, 0, -E2BIG);
	ret = refgem_bo_create(fd, ram, 0, &handle);
	igt_assert_f(!ret, "create(size %#llx, RAM) gave %d\n",
		     (unsigned long long)ram, ret);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

/*
 * Every BO takes its size of the device's mmap offset space (1 TiB, shared
 * by all clients) at create. One file's live BOs are bounded by the module
 * parameter file_bo_max: an unprivileged client on a render node that
 * creates BOs up to its bound gets EDQUOT, and another client can still
 * create, map, import and DMA-map; a BO freed gives its share back.
 */
static void test_file_bo_quota(int fd)
{
	const uint64_t page = gem_igt_page();
	struct refgem_counters before;
	int greedy, other, peer;

	refgem_igt_counters_get(&before);
	greedy = gem_igt_open_render(fd);
	other = gem_igt_open_render(fd);
	peer = refgem_igt_open_other(fd, GEMLIB_NODE_RENDER);
	igt_fork(child, 1) {
		struct drm_refgem_sgt_map map;
		uint32_t handles[4096], handle, imported;
		uint64_t ram, size, offset;
		unsigned int n = 0;
		long quota;
		int ret, dmabuf;
		void *ptr;

		quota = refgem_igt_param("file_bo_max");
		igt_assert_eq(gemlib_mem_total(&ram), 0);
		size = ram - ram % page;
		if (size > (uint64_t)quota)
			size = quota;
		gem_igt_drop_root();

		/* Up to the bound, as nobody. */
		while ((ret = refgem_bo_create(greedy, size, 0, &handle)) == 0) {
			igt_assert_lt(n, ARRAY_SIZE(handles));
			handles[n++] = handle;
		}
		igt_info("%u BOs of %llu MiB, then %s; file_bo_max %ld MiB\n", n,
			 (unsigned long long)size >> 20, strerror(-ret),
			 quota >> 20);
		igt_assert_f(ret == -EDQUOT,
			     "create past the file's bound gave %s, expected EDQUOT\n",
			     strerror(-ret));
		igt_assert_lte_u64((uint64_t)n * size, quota);
		igt_assert_lt_u64(quota, (uint64_t)(n + 1) * size);

		/* The other client is not starved. */
		ret = refgem_bo_create(other, 1 << 20, 0, &handle);
		igt_assert_f(!ret, "another client's create: %s\n",
			     strerror(-ret));
		igt_assert_eq(refgem_bo_mmap_offset(other, handle, &offset), 0);
		igt_assert_eq(gemlib_mmap(other, offset, 1 << 20,
					  PROT_READ | PROT_WRITE, &ptr), 0);
		gem_igt_fill(ptr, 1 << 20, 0, 7);
		igt_assert_eq(refgem_sgt_map(other, handle, -1, &map), 0);
		gem_igt_check(ptr, 1 << 20, 0, 7, "the other client's BO");
		igt_assert_eq(munmap(ptr, 1 << 20), 0);
		igt_assert_eq(gemlib_gem_close(other, handle), 0);
		handle = refgem_igt_create(peer, 1 << 20);
		igt_assert_eq(gemlib_prime_export(peer, handle, DRM_CLOEXEC,
						  &dmabuf), 0);
		ret = gemlib_prime_import(other, dmabuf, &imported);
		igt_assert_f(!ret, "another client's PRIME import: %s\n",
			     strerror(-ret));
		close(dmabuf);
		igt_assert_eq(gemlib_gem_close(other, imported), 0);
		igt_assert_eq(gemlib_gem_close(peer, handle), 0);

		/* A BO freed gives its share back. */
		igt_assert_eq(gemlib_gem_close(greedy, handles[--n]), 0);
		igt_assert_eq(refgem_bo_create(greedy, size, 0, &handle), 0);
		igt_assert_eq(gemlib_gem_close(greedy, handle), 0);
		while (n)
			igt_assert_eq(gemlib_gem_close(greedy, handles[--n]), 0);
	}
	igt_waitchildren();
	close(peer);
	close(other);
	close(greedy);
	refgem_igt_counters_settled(&before);
}

static void test_bad_flags(int fd)
{
	int bit;

	/* REFGEM_BO_FLAGS_MASK is empty: every bit is unknown. */
	for (bit = 0; bit < 32; bit++)
		expect_create_error(fd, 4096, 1u << bit, -EINVAL);
	expect_create_error(fd, 4096, ~0u, -EINVAL);
}

static int mmap_offset_raw(int fd, uint32_t handle, uint32_t pad)
{
	struct drm_refgem_gem_mmap_offset arg = {
		.handle = handle,
		.pad = pad,
	};

	return drmIoctl(fd, DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET, &arg) ?
		-errno : 0;
}

static void test_offset_bad_pad(int fd)
{
	uint32_t handle = refgem_igt_create(fd, 4096);

	igt_assert_eq(mmap_offset_raw(fd, handle, 1), -EINVAL);
	igt_assert_eq(mmap_offset_raw(fd, handle, 0x80000000u), -EINVAL);
	igt_assert_eq(mmap_offset_raw(fd, handle, 0), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_offset_bad_handle(int fd)
{
	uint32_t handle = refgem_igt_create(fd, 4096);
	uint64_t offset;

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(refgem_bo_mmap_offset(fd, handle, &offset), -ENOENT);
	igt_assert_eq(refgem_bo_mmap_offset(fd, 0x7ffffff0u, &offset),
		      -ENOENT);
	igt_assert_eq(refgem_bo_mmap_offset(fd, 0, &offset), -ENOENT);
}

static void test_many_bos(int fd)
{
	uint32_t *handles = calloc(MANY_BOS, sizeof(*handles));
	struct refgem_counters before;
	long created;
	int i;

	igt_assert(handles);
	refgem_igt_counters_get(&before);
	created = refgem_igt_counter(REFGEM_C_BOS_CREATED);

	for (i = 0; i < MANY_BOS; i++)
		handles[i] = refgem_igt_create(fd, 4096);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE) - before.v[REFGEM_C_BOS_ALIVE],
		      MANY_BOS);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_CREATED) - created, MANY_BOS);

	for (i = 0; i < MANY_BOS; i++)
		igt_assert_eq(gemlib_gem_close(fd, handles[i]), 0);
	free(handles);
	refgem_igt_counters_settled(&before);
}

static void test_fd_close_frees(int fd)
{
	struct refgem_counters before;
	int fd2 = gem_igt_reopen(fd);
	int i;

	refgem_igt_counters_get(&before);
	for (i = 0; i < 64; i++)
		refgem_igt_create(fd2, 4096);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE) - before.v[REFGEM_C_BOS_ALIVE], 64);

	/* Closing the file drops every handle it still holds. */
	close(fd2);
	refgem_igt_counters_settled(&before);
}

static void test_render_create(int fd)
{
	struct refgem_counters before;
	int render = gem_igt_open_render(fd);
	uint32_t handle;
	uint64_t offset;
	void *ptr;

	/* refgem's own ioctls are allowed on render nodes. */
	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(render, 4096);
	igt_assert_eq(refgem_bo_mmap_offset(render, handle, &offset), 0);
	igt_assert_eq(gemlib_mmap(render, offset, 4096,
				  PROT_READ | PROT_WRITE, &ptr), 0);
	gem_igt_fill(ptr, 4096, 0, 300);
	gem_igt_check(ptr, 4096, 0, 300, "render node's mapping");
	igt_assert_eq(munmap(ptr, 4096), 0);
	igt_assert_eq(gemlib_gem_close(render, handle), 0);
	close(render);
	refgem_igt_counters_settled(&before);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(GEMLIB_NODE_PRIMARY);
		refgem_igt_require_counters();
	}

	igt_describe("Check that object sizes are rounded up to whole pages.");
	igt_subtest("size-rounding")
		test_size_rounding(fd);

	igt_describe("Check that a zero-sized create fails with EINVAL and creates nothing.");
	igt_subtest("zero-size")
		test_zero_size(fd);

	igt_describe("Check that overflowing and huge sizes fail with E2BIG and create nothing.");
	igt_subtest("huge-size")
		test_huge_size(fd);

	igt_describe("Check that a BO may be as large as the machine's RAM and no larger (E2BIG).");
	igt_subtest("ram-bound")
		test_ram_bound(fd);

	igt_describe("Check that one client's BOs are bounded (EDQUOT) and cannot starve another client's create, map, import and DMA mapping.");
	igt_subtest("file-bo-quota")
		test_file_bo_quota(fd);

	igt_describe("Check that every unknown create flag fails with EINVAL.");
	igt_subtest("bad-flags")
		test_bad_flags(fd);

	igt_describe("Check that GEM_MMAP_OFFSET with a non-zero pad fails with EINVAL.");
	igt_subtest("mmap-offset-bad-pad")
		test_offset_bad_pad(fd);

	igt_describe("Check that GEM_MMAP_OFFSET of a closed or unknown handle fails with ENOENT.");
	igt_subtest("mmap-offset-bad-handle")
		test_offset_bad_handle(fd);

	igt_describe("Create thousands of objects, close them all, and check that none leaked.");
	igt_subtest("many-bos")
		test_many_bos(fd);

	igt_describe("Check that closing a DRM file frees the objects it still holds.");
	igt_subtest("fd-close-frees")
		test_fd_close_frees(fd);

	igt_describe("Create and map an object through a render node.");
	igt_subtest("render-create")
		test_render_create(fd);

	igt_fixture {
		close(fd);
	}
}
