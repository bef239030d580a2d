// SPDX-License-Identifier: MIT
/*
 * Basic buffer-object tests for refgem, the GEM shmem driver for QEMU's edu
 * PCI device.
 */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "refgem_igt.h"

IGT_TEST_DESCRIPTION("Basic checks of refgem buffer objects and CPU mappings.");

#define ROUNDTRIP_SIZE (64 << 10)

static void test_create_close(int fd)
{
	uint64_t offset;
	uint32_t handle;

	igt_assert_eq(refgem_bo_create(fd, 4096, 0, &handle), 0);
	igt_assert(handle);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), -EINVAL);
	igt_assert_eq(refgem_bo_mmap_offset(fd, handle, &offset), -ENOENT);
}

static void test_mmap_roundtrip(int fd)
{
	const size_t page = sysconf(_SC_PAGESIZE);
	uint64_t offset;
	uint32_t handle;
	size_t off;
	void *ptr;

	igt_assert_eq(refgem_bo_create(fd, ROUNDTRIP_SIZE, 0, &handle), 0);
	igt_assert_eq(refgem_bo_mmap_offset(fd, handle, &offset), 0);

	igt_assert_eq(gemlib_mmap(fd, offset, ROUNDTRIP_SIZE,
				  PROT_READ | PROT_WRITE, &ptr), 0);
	/* A seed per page: pages swapped or aliased do not check out. */
	for (off = 0; off < ROUNDTRIP_SIZE; off += page)
		gemlib_pattern_fill((char *)ptr + off, page, off / page);
	igt_assert_eq(munmap(ptr, ROUNDTRIP_SIZE), 0);

	igt_assert_eq(gemlib_mmap(fd, offset, ROUNDTRIP_SIZE, PROT_READ,
				  &ptr), 0);
	for (off = 0; off < ROUNDTRIP_SIZE; off += page) {
		size_t bad = gemlib_pattern_check((char *)ptr + off, page,
						  off / page);

		igt_assert_f(bad == (size_t)-1,
			     "page %zu differs at byte %zu after remapping\n",
			     off / page, bad);
	}
	igt_assert_eq(munmap(ptr, ROUNDTRIP_SIZE), 0);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

/*
 * Every failing call of every ioctl, as data: a row names the ioctl, its
 * argument, the errno the uAPI header documents and which of the
 * argument's fields get a handle, a file or a user pointer from the
 * context. After each row nothing may have changed (objects, mappings,
 * pinned pages) and a file passed in the call must have been let go. A
 * new ioctl adds rows.
 */
enum err_handle { H_NONE, H_BO, H_CLOSED, H_IMPORT };
enum err_file {
	F_NONE,
	F_PIPE,		/* a pipe's write end: its reader sees EOF once let go */
	F_DMABUF,	/* a dma-buf holding the only reference to an object */
	F_OTHER,	/* another refgem device's node */
	F_VGEM,		/* another driver's node */
	F_BAD,		/* no file */
};
enum err_ptr { P_NONE, P_BUF, P_NULL, P_RO };

#define AT(type, field)	(offsetof(type, field) + 1)	/* 0: no such field */

struct err_row {
	const char *what;
	unsigned long request;
	int err;
	enum err_handle handle;
	enum err_file file;
	enum err_ptr ptr;
	size_t handle_at, file_at, ptr_at;
	union {
		struct drm_refgem_gem_create create;
		struct drm_refgem_gem_mmap_offset mmap;
		struct drm_refgem_sgt_map map;
		struct drm_refgem_dma dma;
		struct drm_gem_close close;
		struct drm_prime_handle prime;
	} arg;
};

#define ERR_SIZE (64 << 10)

#define MMAP_ROW(h) .request = DRM_IOCTL_REFGEM_GEM_MMAP_OFFSET, .handle = (h), \
	.handle_at = AT(struct drm_refgem_gem_mmap_offset, handle)
#define MAP_ROW(h, f) .request = DRM_IOCTL_REFGEM_SGT_MAP, .handle = (h), \
	.file = (f), .handle_at = AT(struct drm_refgem_sgt_map, handle), \
	.file_at = AT(struct drm_refgem_sgt_map, device_fd)
#define DMA_ROW(h, p) .request = DRM_IOCTL_REFGEM_DMA, .handle = (h), \
	.ptr = (p), .handle_at = AT(struct drm_refgem_dma, handle), \
	.ptr_at = AT(struct drm_refgem_dma, user_ptr)
#define DMA_ARG(o, e, off, len, f) .arg.dma = { .op = (o), .engine = (e), \
	.offset = (off), .length = (len), .flags = (f) }
#define TO_USER		REFGEM_DMA_TO_USER
#define SW		REFGEM_ENGINE_SW
#define EDU		REFGEM_ENGINE_EDU

static const struct err_row err_rows[] = {
	{ "GEM_CREATE of 0 bytes", DRM_IOCTL_REFGEM_GEM_CREATE, EINVAL,
	  .arg.create = { .size = 0 } },
	{ "GEM_CREATE with flags", DRM_IOCTL_REFGEM_GEM_CREATE, EINVAL,
	  .arg.create = { .size = 4096, .flags = 1 } },
	{ "GEM_CREATE that overflows", DRM_IOCTL_REFGEM_GEM_CREATE, E2BIG,
	  .arg.create = { .size = ~0ull } },
	{ "MMAP_OFFSET of a closed handle", .err = ENOENT, MMAP_ROW(H_CLOSED) },
	{ "MMAP_OFFSET with pad", .err = EINVAL, MMAP_ROW(H_BO),
	  .arg.mmap = { .pad = 1 } },
	{ "MMAP_OFFSET of an import", .err = EINVAL, MMAP_ROW(H_IMPORT) },
	{ "SGT_MAP of a closed handle", .err = ENOENT, MAP_ROW(H_CLOSED, F_NONE),
	  .arg.map = { .device_fd = -1 } },
	{ "SGT_MAP with flags", .err = EINVAL, MAP_ROW(H_BO, F_NONE),
	  .arg.map = { .device_fd = -1, .flags = 1 } },
	{ "SGT_MAP for a pipe", .err = EINVAL, MAP_ROW(H_BO, F_PIPE) },
	{ "SGT_MAP for a dma-buf", .err = EINVAL, MAP_ROW(H_BO, F_DMABUF) },
	{ "SGT_MAP for another device", .err = EINVAL, MAP_ROW(H_BO, F_OTHER) },
	{ "SGT_MAP for another driver", .err = EINVAL, MAP_ROW(H_BO, F_VGEM) },
	{ "SGT_MAP for no file", .err = EBADF, MAP_ROW(H_BO, F_BAD) },
	{ "DMA on a closed handle", .err = ENOENT, DMA_ROW(H_CLOSED, P_BUF),
	  DMA_ARG(TO_USER, SW, 0, 64, 0) },
	{ "DMA with a bad op", .err = EINVAL, DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(2, SW, 0, 64, 0) },
	{ "DMA with a bad engine", .err = EINVAL, DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(TO_USER, 2, 0, 64, 0) },
	{ "DMA with flags", .err = EINVAL, DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(TO_USER, SW, 0, 64, 1) },
	{ "DMA of 0 bytes", .err = EINVAL, DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(TO_USER, SW, 0, 0, 0) },
	{ "DMA past the end", .err = EINVAL, DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(TO_USER, SW, ERR_SIZE - 32, 64, 0) },
	{ "DMA to a NULL user pointer", .err = EFAULT, DMA_ROW(H_BO, P_NULL),
	  DMA_ARG(TO_USER, SW, 0, 64, 0) },
	{ "DMA to read-only user memory", .err = EFAULT, DMA_ROW(H_BO, P_RO),
	  DMA_ARG(TO_USER, SW, 0, 64, 0) },
	{ "DMA from a NULL user pointer", .err = EFAULT, DMA_ROW(H_BO, P_NULL),
	  DMA_ARG(REFGEM_DMA_FROM_USER, SW, 0, 64, 0) },
	{ "edu DMA to read-only user memory", .err = EFAULT,
	  DMA_ROW(H_BO, P_RO), DMA_ARG(TO_USER, EDU, 0, 64, 0) },
	{ "edu DMA longer than the engine moves", .err = E2BIG,
	  DMA_ROW(H_BO, P_BUF),
	  DMA_ARG(TO_USER, EDU, 0, REFGEM_EDU_MAX_LEN + 1, 0) },
	{ "GEM_CLOSE of a closed handle", DRM_IOCTL_GEM_CLOSE, EINVAL,
	  .handle = H_CLOSED, .handle_at = AT(struct drm_gem_close, handle) },
	{ "PRIME export of a closed handle", DRM_IOCTL_PRIME_HANDLE_TO_FD,
	  ENOENT, .handle = H_CLOSED,
	  .handle_at = AT(struct drm_prime_handle, handle),
	  .arg.prime = { .flags = DRM_CLOEXEC } },
	{ "PRIME import of a pipe", DRM_IOCTL_PRIME_FD_TO_HANDLE, EINVAL,
	  .file = F_PIPE, .file_at = AT(struct drm_prime_handle, fd) },
	{ "PRIME import of no file", DRM_IOCTL_PRIME_FD_TO_HANDLE, EBADF,
	  .file = F_BAD, .file_at = AT(struct drm_prime_handle, fd) },
};

struct err_ctx {
	int fd, other, vgem;
	uint32_t bo, closed, import;
	char buf[4096];
	void *ro;
};

static void put32(struct err_row *row, size_t at, uint32_t val)
{
	memcpy((char *)&row->arg + at - 1, &val, sizeof(val));
}

static void test_error_paths(int fd)
{
	struct refgem_counters before;
	struct drm_refgem_sgt_map m;
	struct err_ctx c = { .fd = fd };
	unsigned int i, tried = 0;
	int dmabuf;

	c.bo = refgem_igt_create(fd, ERR_SIZE);
	/* Mapped first: a failing transfer must not be what maps it. */
	igt_assert_eq(refgem_sgt_map(fd, c.bo, -1, &m), 0);
	c.other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY);
	c.vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	if (c.other >= 0) {
		uint32_t theirs = refgem_igt_create(c.other, 4096);

		dmabuf = gem_igt_export(c.other, theirs, DRM_CLOEXEC);
		c.import = gem_igt_import(fd, dmabuf);
		close(dmabuf);
		igt_assert_eq(gemlib_gem_close(c.other, theirs), 0);
	}
	/* Last, as handles are reused: nothing else has this one now. */
	c.closed = refgem_igt_create(fd, 4096);
	igt_assert_eq(gemlib_gem_close(fd, c.closed), 0);
	c.ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	igt_assert(c.ro != MAP_FAILED);

	for (i = 0; i < ARRAY_SIZE(err_rows); i++) {
		struct err_row row = err_rows[i];
		int passed = -1, pipefd[2] = { -1, -1 }, ret;
		uint32_t handle = 0;
		uint64_t ptr = 0;
		char byte;

		switch (row.handle) {
		case H_NONE:
			break;
		case H_BO:
			handle = c.bo;
			break;
		case H_CLOSED:
			handle = c.closed;
			break;
		case H_IMPORT:
			handle = c.import;
			break;
		}
		if (row.handle == H_IMPORT && !c.import) {
			igt_info("%s: not tried, no second refgem device\n",
				 row.what);
			continue;
		}
		if (row.handle_at)
			put32(&row, row.handle_at, handle);

		switch (row.file) {
		case F_NONE:
			break;
		case F_PIPE:
			igt_assert_eq(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
			passed = pipefd[1];
			break;
		case F_DMABUF: {
			uint32_t h = refgem_igt_create(fd, 4096);

			passed = gem_igt_export(fd, h, DRM_CLOEXEC);
			igt_assert_eq(gemlib_gem_close(fd, h), 0);
			break;
		}
		case F_OTHER:
			passed = c.other;
			break;
		case F_VGEM:
			passed = c.vgem;
			break;
		case F_BAD:
			passed = -2;
			break;
		}
		if ((row.file == F_OTHER || row.file == F_VGEM) &&
		    passed < 0) {
			igt_info("%s: not tried, no such node\n", row.what);
			continue;
		}
		if (row.file_at)
			put32(&row, row.file_at, passed);

		if (row.ptr == P_BUF)
			ptr = (uintptr_t)c.buf;
		else if (row.ptr == P_RO)
			ptr = (uintptr_t)c.ro;
		if (row.ptr_at)
			memcpy((char *)&row.arg + row.ptr_at - 1, &ptr,
			       sizeof(ptr));

		refgem_igt_counters_get(&before);
		ret = drmIoctl(fd, row.request, &row.arg) ? errno : 0;
		igt_assert_f(ret == row.err, "%s: %s, documented %s\n",
			     row.what, ret ? strerror(ret) : "success",
			     strerror(row.err));

		/* The file passed is let go as the call fails. */
		if (row.file == F_PIPE) {
			close(pipefd[1]);
			igt_assert_f(read(pipefd[0], &byte, 1) == 0,
				     "%s: the pipe's write end is still held (%m)\n",
				     row.what);
			close(pipefd[0]);
		} else if (row.file == F_DMABUF) {
			/* Its object goes with it, unless the call kept it. */
			close(passed);
			before.v[REFGEM_C_BOS_ALIVE]--;
		}
		refgem_igt_counters_settled(&before);
		tried++;
	}
	igt_info("%u of %zu error cases tried\n", tried, ARRAY_SIZE(err_rows));

	/* The object the rows aimed at still works. */
	refgem_igt_dma(fd, c.bo, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       sizeof(c.buf), c.buf);
	munmap(c.ro, 4096);
	if (c.import)
		igt_assert_eq(gemlib_gem_close(fd, c.import), 0);
	if (c.vgem >= 0)
		close(c.vgem);
	if (c.other >= 0)
		close(c.other);
	igt_assert_eq(gemlib_gem_close(fd, c.bo), 0);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(GEMLIB_NODE_PRIMARY);
	}

	igt_describe("Check that a closed buffer object's handle is invalid.");
	igt_subtest("create-close")
		test_create_close(fd);

	igt_describe("Check that BO contents survive unmapping and remapping.");
	igt_subtest("mmap-roundtrip")
		test_mmap_roundtrip(fd);

	igt_describe("Check that every documented error of every ioctl changes nothing and lets go of the files passed.");
	igt_subtest("error-paths")
		test_error_paths(fd);

	igt_fixture {
		close(fd);
	}
}
