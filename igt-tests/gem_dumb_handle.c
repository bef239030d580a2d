// SPDX-License-Identifier: MIT
/*
 * GEM handle semantics on any GEM driver, through dumb buffers, flink and
 * PRIME: what the DRM core promises every driver's userspace.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "gem_igt.h"

IGT_TEST_DESCRIPTION("GEM handle semantics of any GEM driver, through dumb buffers, flink and PRIME.");

#define BO_SIZE (16 << 10)
#define MANY_BOS 4096
/* A handle no test ever creates: handles count up from 1. */
#define UNUSED_HANDLE 0x7ffffff0u

static void test_create_close(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	uint64_t offset;

	igt_assert(handle);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_double_close(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), -EINVAL);
}

static void test_closed_handle(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE), name;
	uint64_t offset;
	int dmabuf;

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), -ENOENT);
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      -ENOENT);
	igt_assert_eq(gem_igt_flink(fd, handle, &name), -ENOENT);
}

static void test_unused_handle(int fd)
{
	uint64_t offset;
	uint32_t name;
	int dmabuf;

	/* Lookups say ENOENT; GEM_CLOSE says EINVAL for any bad handle. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, UNUSED_HANDLE, &offset),
		      -ENOENT);
	igt_assert_eq(gemlib_prime_export(fd, UNUSED_HANDLE, DRM_CLOEXEC,
					  &dmabuf), -ENOENT);
	igt_assert_eq(gem_igt_flink(fd, UNUSED_HANDLE, &name), -ENOENT);
	igt_assert_eq(gemlib_gem_close(fd, UNUSED_HANDLE), -EINVAL);
	igt_assert_eq(gemlib_gem_close(fd, 0), -EINVAL);
}

static void test_handle_reuse(int fd)
{
	uint32_t first, second;
	void *ptr;

	first = gem_igt_dumb(fd, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, first, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 1);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, first), 0);

	/* The core hands out the lowest free handle again... */
	second = gem_igt_dumb(fd, 2 * BO_SIZE);
	igt_assert_eq_u32(second, first);
	/* ...naming the new object: its size and its (zeroed) pages. */
	ptr = gem_igt_dumb_map(fd, second, 2 * BO_SIZE);
	gem_igt_check_zero(ptr, 2 * BO_SIZE, "reused handle");
	igt_assert_eq(munmap(ptr, 2 * BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, second), 0);
}

static void test_private_handles(int fd)
{
	int fd2 = gem_igt_reopen(fd);
	uint32_t handle, other;
	uint64_t offset;
	void *ptr, *ptr2;
	int dmabuf;

	handle = gem_igt_dumb(fd, BO_SIZE);

	/* fd2 is another client: the handle means nothing there. */
	igt_assert_eq(gemlib_dumb_mmap_offset(fd2, handle, &offset), -ENOENT);
	igt_assert_eq(gemlib_prime_export(fd2, handle, DRM_CLOEXEC, &dmabuf),
		      -ENOENT);
	igt_assert_eq(gemlib_gem_close(fd2, handle), -EINVAL);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);

	/* Its own first handle may have the same number: another object. */
	other = gem_igt_dumb(fd2, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	ptr2 = gem_igt_dumb_map(fd2, other, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 10);
	gem_igt_fill(ptr2, BO_SIZE, 0, 20);
	gem_igt_check(ptr, BO_SIZE, 0, 10, "first client's object");
	gem_igt_check(ptr2, BO_SIZE, 0, 20, "second client's object");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(munmap(ptr2, BO_SIZE), 0);

	igt_assert_eq(gemlib_gem_close(fd2, other), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(fd2);
}

/* flink needs an authenticated primary client: skip when we are not one. */
static uint32_t require_flink(int fd, uint32_t handle)
{
	uint32_t name = 0;
	int ret = gem_igt_flink(fd, handle, &name);

	igt_require_f(ret != -EACCES,
		      "flink refused: not an authenticated primary client\n");
	igt_assert_eq(ret, 0);
	igt_assert(name);
	return name;
}

static void test_flink_open(int fd)
{
	int fd2 = gem_igt_reopen(fd), fd3 = gem_igt_reopen(fd);
	uint32_t handle, name, name2, h2, h3;
	uint64_t size;
	void *ptr;

	handle = gem_igt_dumb(fd, BO_SIZE);
	name = require_flink(fd, handle);
	igt_assert_eq(gem_igt_flink(fd, handle, &name2), 0);
	igt_assert_eq_u32(name2, name);

	igt_assert_eq(gem_igt_open_name(fd2, name, &h2, &size), 0);
	igt_assert_lte_u64(BO_SIZE, size);
	igt_assert_eq(gem_igt_open_name(fd3, name, &h3, NULL), 0);

	/* One object behind three handles in three files. */
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 30);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	ptr = gem_igt_dumb_map(fd2, h2, BO_SIZE);
	gem_igt_check(ptr, BO_SIZE, 0, 30, "flink-opened handle");
	gem_igt_fill(ptr, BO_SIZE, 0, 31);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd2, h2), 0);

	ptr = gem_igt_dumb_map(fd3, h3, BO_SIZE);
	gem_igt_check(ptr, BO_SIZE, 0, 31, "second flink-opened handle");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd3, h3), 0);

	/* The name dies with the last handle. */
	igt_assert_eq(gem_igt_open_name(fd2, name, &h2, NULL), -ENOENT);
	close(fd3);
	close(fd2);
}

static void test_open_bad_name(int fd)
{
	uint32_t handle;

	igt_assert_eq(gem_igt_open_name(fd, 0, &handle, NULL), -ENOENT);
	igt_assert_eq(gem_igt_open_name(fd, 0x7ffffff0u, &handle, NULL),
		      -ENOENT);
}

static void test_render_flink(int fd)
{
	uint32_t handle, imported, name, h;
	int render, dmabuf;

	gem_igt_require_prime(fd);
	render = gem_igt_open_render(fd);
	handle = gem_igt_dumb(fd, BO_SIZE);
	name = require_flink(fd, handle);

	/* Give the render client a real handle to the same object. */
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);
	igt_assert_eq(gemlib_prime_import(render, dmabuf, &imported), 0);
	close(dmabuf);

	igt_assert_eq(gem_igt_flink(render, imported, &name), -EACCES);
	igt_assert_eq(gem_igt_open_name(render, name, &h, NULL), -EACCES);

	igt_assert_eq(gemlib_gem_close(render, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(render);
}

static void test_close_exported(int fd)
{
	uint32_t handle, again;
	uint64_t offset;
	void *ptr;
	int dmabuf;

	gem_igt_require_prime(fd);
	handle = gem_igt_dumb(fd, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 40);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      0);

	/* Closing an exported handle is allowed and ends that handle... */
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), -ENOENT);

	/* ...while the dma-buf keeps the object, contents and all. */
	igt_assert_eq(gemlib_prime_import(fd, dmabuf, &again), 0);
	close(dmabuf);
	ptr = gem_igt_dumb_map(fd, again, BO_SIZE);
	gem_igt_check(ptr, BO_SIZE, 0, 40, "object re-imported after close");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, again), 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void test_many_bos(int fd)
{
	uint32_t *handles = calloc(MANY_BOS, sizeof(*handles));
	uint32_t *sorted = calloc(MANY_BOS, sizeof(*sorted));
	uint64_t offset;
	int i;

	igt_assert(handles && sorted);
	for (i = 0; i < MANY_BOS; i++)
		handles[i] = gem_igt_dumb(fd, 4096);

	memcpy(sorted, handles, MANY_BOS * sizeof(*sorted));
	qsort(sorted, MANY_BOS, sizeof(*sorted), cmp_u32);
	for (i = 1; i < MANY_BOS; i++)
		igt_assert_f(sorted[i] != sorted[i - 1],
			     "handle %u handed out twice\n", sorted[i]);

	for (i = 0; i < MANY_BOS; i++)
		igt_assert_eq(gemlib_gem_close(fd, handles[i]), 0);
	for (i = 0; i < MANY_BOS; i += MANY_BOS / 64)
		igt_assert_eq(gemlib_dumb_mmap_offset(fd, handles[i], &offset),
			      -ENOENT);
	free(sorted);
	free(handles);
}

static int dumb_create_raw(int fd, uint32_t width, uint32_t height,
			   uint32_t bpp)
{
	struct drm_mode_create_dumb arg = {
		.width = width,
		.height = height,
		.bpp = bpp,
	};
	int ret = drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &arg) ? -errno : 0;

	/* Never leave an object behind, whatever the outcome. */
	if (!ret)
		gemlib_gem_close(fd, arg.handle);
	return ret;
}

static void test_bad_dimensions(int fd)
{
	/* drm_mode_create_dumb()'s checks, common to every driver. */
	igt_assert_eq(dumb_create_raw(fd, 0, 16, 32), -EINVAL);
	igt_assert_eq(dumb_create_raw(fd, 16, 0, 32), -EINVAL);
	igt_assert_eq(dumb_create_raw(fd, 16, 16, 0), -EINVAL);
	/* width * cpp, pitch * height and the page rounding overflow. */
	igt_assert_eq(dumb_create_raw(fd, 0xffffffffu, 1, 32), -EINVAL);
	igt_assert_eq(dumb_create_raw(fd, 1, 1, 0xffffffffu), -EINVAL);
	igt_assert_eq(dumb_create_raw(fd, 1 << 16, 1 << 16, 32), -EINVAL);
	igt_assert_eq(dumb_create_raw(fd, 4095, 1048832, 8), -EINVAL);
}

/*
 * Dimensions that drm_mode_create_dumb() accepts (width * cpp and the
 * pitch times the height fit in 32 bits) but whose width * bpp does not.
 * A driver may refuse them (EINVAL, E2BIG, ENOMEM) or make a buffer that
 * holds them, never one whose rows are shorter than the width.
 */
static void test_pitch_covers_width(int fd)
{
	static const struct {
		uint32_t width, height, bpp;
	} dims[] = {
		{ (1u << 27) + 1, 1, 32 },	/* width * bpp: 2^32 + 32 */
		{ 0x2aaaaaab, 1, 24 },		/* width * bpp: 2^34 + 8 */
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dims); i++) {
		struct drm_mode_create_dumb arg = {
			.width = dims[i].width,
			.height = dims[i].height,
			.bpp = dims[i].bpp,
		};
		uint64_t row = ((uint64_t)arg.width * arg.bpp + 7) / 8;
		bool holds;
		int ret;

		ret = drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &arg) ? -errno : 0;
		if (ret) {
			igt_assert_f(ret == -EINVAL || ret == -E2BIG ||
				     ret == -ENOMEM,
				     "%ux%u at %u bpp: %s\n", arg.width,
				     arg.height, arg.bpp, strerror(-ret));
			continue;
		}
		holds = arg.pitch >= row &&
			arg.size >= (uint64_t)arg.pitch * arg.height;
		igt_assert_eq(gemlib_gem_close(fd, arg.handle), 0);
		igt_assert_f(holds,
			     "%ux%u at %u bpp: pitch %u, size %llu, but a row takes %llu bytes\n",
			     arg.width, arg.height, arg.bpp, arg.pitch,
			     (unsigned long long)arg.size,
			     (unsigned long long)row);
	}
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = gem_igt_open();
		gem_igt_require_dumb(fd);
	}

	igt_describe("Create a dumb buffer, look it up and close its handle.");
	igt_subtest("create-close")
		test_create_close(fd);

	igt_describe("Check that closing a handle twice fails with EINVAL.");
	igt_subtest("double-close")
		test_double_close(fd);

	igt_describe("Check that lookups of a closed handle fail with ENOENT.");
	igt_subtest("closed-handle")
		test_closed_handle(fd);

	igt_describe("Check that a never-used handle is ENOENT to lookups and EINVAL to GEM_CLOSE.");
	igt_subtest("unused-handle")
		test_unused_handle(fd);

	igt_describe("Check that a closed handle's number is reused for a new object, with new contents.");
	igt_subtest("handle-reuse")
		test_handle_reuse(fd);

	igt_describe("Check that handles are private to the file that created them.");
	igt_subtest("private-handles")
		test_private_handles(fd);

	igt_describe("Check that flink/open give many files handles to one object.");
	igt_subtest("flink-open")
		test_flink_open(fd);

	igt_describe("Check that opening an unknown flink name fails with ENOENT.");
	igt_subtest("open-bad-name")
		test_open_bad_name(fd);

	igt_describe("Check that render nodes refuse flink and open.");
	igt_subtest("render-flink-refused")
		test_render_flink(fd);

	igt_describe("Check that closing a handle that is still exported keeps the object in its dma-buf.");
	igt_subtest("close-exported")
		test_close_exported(fd);

	igt_describe("Create thousands of objects with distinct handles, then close them all.");
	igt_subtest("many-bos")
		test_many_bos(fd);

	igt_describe("Check that zero and overflowing dumb-buffer dimensions fail with EINVAL.");
	igt_subtest("bad-dimensions")
		test_bad_dimensions(fd);

	igt_describe("Check that a dumb buffer whose width * bpp passes 32 bits is refused or holds its rows.");
	igt_subtest("pitch-covers-width")
		test_pitch_covers_width(fd);

	igt_fixture {
		close(fd);
	}
}
