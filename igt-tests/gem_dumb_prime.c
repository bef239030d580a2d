// SPDX-License-Identifier: MIT
/*
 * PRIME on any GEM driver, through dumb buffers: export and import between
 * files of one device, dma-buf mmap and CPU access syncs, llseek, and the
 * errors the DRM core and dma-buf promise.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gem_igt.h"

IGT_TEST_DESCRIPTION("PRIME export and import of GEM objects on any GEM driver, through dumb buffers.");

#define BO_SIZE (256 << 10)

static void *map_dmabuf(int dmabuf, size_t len, int prot)
{
	void *ptr = mmap(NULL, len, prot, MAP_SHARED, dmabuf, 0);

	igt_assert_f(ptr != MAP_FAILED, "mmap of the dma-buf: %s\n",
		     strerror(errno));
	return ptr;
}

static void test_export_import(int fd)
{
	int fd2 = gem_igt_reopen(fd), dmabuf;
	uint32_t handle, imported;
	void *ptr, *ptr2;

	handle = gem_igt_dumb(fd, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 200);

	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(fd2, dmabuf);
	close(dmabuf);

	ptr2 = gem_igt_dumb_map(fd2, imported, BO_SIZE);
	gem_igt_check(ptr2, BO_SIZE, 0, 200, "importer's mapping");
	gem_igt_fill(ptr2, BO_SIZE, 0, 201);
	gem_igt_check(ptr, BO_SIZE, 0, 201, "exporter's mapping");

	igt_assert_eq(munmap(ptr2, BO_SIZE), 0);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd2, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(fd2);
}

static void test_self_import(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);

	/* Importing into the exporting file finds the handle it has. */
	igt_assert_eq_u32(gem_igt_import(fd, dmabuf), handle);
	igt_assert_eq_u32(gem_igt_import(fd, dmabuf), handle);

	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_reimport(int fd)
{
	int fd2 = gem_igt_reopen(fd), dmabuf, again;
	uint32_t handle, first;

	handle = gem_igt_dumb(fd, BO_SIZE);
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);

	/* One object, one handle per file: a second import finds it. */
	first = gem_igt_import(fd2, dmabuf);
	igt_assert_eq_u32(gem_igt_import(fd2, dmabuf), first);
	/* Exporting again gives the same dma-buf, which imports the same. */
	again = gem_igt_export(fd, handle, DRM_CLOEXEC);
	igt_assert_eq_u32(gem_igt_import(fd2, again), first);

	close(again);
	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd2, first), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(fd2);
}

static void test_importer_keeps_bo(int fd)
{
	int fd2 = gem_igt_reopen(fd), dmabuf;
	uint32_t handle, imported;
	void *ptr;

	handle = gem_igt_dumb(fd, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 210);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);

	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(fd2, dmabuf);
	/* Drop the dma-buf and the exporter's handle and file. */
	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	ptr = gem_igt_dumb_map(fd2, imported, BO_SIZE);
	gem_igt_check(ptr, BO_SIZE, 0, 210, "importer's object");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd2, imported), 0);
	close(fd2);
}

static void test_render_import(int fd)
{
	int render = gem_igt_open_render(fd), dmabuf, again;
	uint32_t handle, imported, reimported;
	void *ptr, *ptr2;

	handle = gem_igt_dumb(fd, BO_SIZE);
	ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 220);

	/* PRIME is allowed on render nodes, and round-trips back. */
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(render, dmabuf);
	close(dmabuf);
	again = gem_igt_export(render, imported, DRM_CLOEXEC | DRM_RDWR);
	reimported = gem_igt_import(fd, again);
	igt_assert_eq_u32(reimported, handle);

	ptr2 = map_dmabuf(again, BO_SIZE, PROT_READ);
	gem_igt_check(ptr2, BO_SIZE, 0, 220, "render node's re-export");
	igt_assert_eq(munmap(ptr2, BO_SIZE), 0);
	close(again);

	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(render, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(render);
}

static void test_dmabuf_mmap_sync(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC | DRM_RDWR);
	void *gem = gem_igt_dumb_map(fd, handle, BO_SIZE);
	void *buf = map_dmabuf(dmabuf, BO_SIZE, PROT_READ | PROT_WRITE);

	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_START |
					  DMA_BUF_SYNC_WRITE), 0);
	gem_igt_fill(buf, BO_SIZE, 0, 230);
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_END |
					  DMA_BUF_SYNC_WRITE), 0);
	gem_igt_check(gem, BO_SIZE, 0, 230, "GEM mapping after dma-buf writes");

	gem_igt_fill(gem, BO_SIZE, 0, 231);
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_START |
					  DMA_BUF_SYNC_RW), 0);
	gem_igt_check(buf, BO_SIZE, 0, 231, "dma-buf mapping after GEM writes");
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_END |
					  DMA_BUF_SYNC_RW), 0);

	igt_assert_eq(munmap(buf, BO_SIZE), 0);
	igt_assert_eq(munmap(gem, BO_SIZE), 0);
	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_sync_bad_flags(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC | DRM_RDWR);

	/* Neither READ nor WRITE. */
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, 0), -EINVAL);
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_END), -EINVAL);
	/* Bits outside DMA_BUF_SYNC_VALID_FLAGS_MASK. */
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_RW | 1u << 3),
		      -EINVAL);
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, ~0ull), -EINVAL);
	igt_assert_eq(gem_igt_dmabuf_sync(dmabuf, DMA_BUF_SYNC_RW |
					  1ull << 63), -EINVAL);

	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_dmabuf_readonly(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	void *ptr;

	/* Without DRM_RDWR the dma-buf file is read-only. */
	ptr = map_dmabuf(dmabuf, BO_SIZE, PROT_READ);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	ptr = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, dmabuf,
		   0);
	igt_assert(ptr == MAP_FAILED);
	igt_assert_eq(errno, EACCES);

	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_dmabuf_mmap_offset(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, 4 * page);
	void *gem = gem_igt_dumb_map(fd, handle, 4 * page);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC | DRM_RDWR);
	char *ptr;

	gem_igt_fill(gem, 4 * page, 0, 235);

	/* dma-buf mmap takes an offset into the buffer: pages 1 and 2. */
	ptr = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, dmabuf, page);
	igt_assert_f(ptr != MAP_FAILED, "mmap of the dma-buf at %zu: %s\n",
		     page, strerror(errno));
	if (gemlib_pattern_check(ptr, page, 235) == (size_t)-1)
		igt_info("the mapping shows the object's page 0: the fault handler indexes from the mapping, not the object\n");
	gem_igt_check(ptr, 2 * page, 1, 235, "dma-buf mapped at an offset");

	igt_assert_eq(munmap(ptr, 2 * page), 0);
	igt_assert_eq(munmap(gem, 4 * page), 0);
	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_dmabuf_mmap_beyond(int fd)
{
	const size_t page = gem_igt_page();
	uint32_t handle = gem_igt_dumb(fd, 4 * page);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	void *ptr;

	/* Past the end, from the start or from an offset. */
	ptr = mmap(NULL, 5 * page, PROT_READ, MAP_SHARED, dmabuf, 0);
	igt_assert(ptr == MAP_FAILED);
	igt_assert_eq(errno, EINVAL);
	ptr = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, dmabuf, 3 * page);
	igt_assert(ptr == MAP_FAILED);
	igt_assert_eq(errno, EINVAL);

	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_llseek_size(int fd)
{
	const size_t page = gem_igt_page();
	int i, dmabuf;

	for (i = 0; i < 8; i++) {
		uint64_t size = (uint64_t)page << i;
		uint32_t handle = gem_igt_dumb(fd, size);

		dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
		igt_assert_eq(gemlib_gem_close(fd, handle), 0);
		igt_assert_eq_s64(lseek(dmabuf, 0, SEEK_END), size);
		/* SEEK_SET to 0 stays allowed, for SEEK_END-then-rewind. */
		igt_assert_eq_s64(lseek(dmabuf, 0, SEEK_SET), 0);
		close(dmabuf);
	}
}

static void expect_lseek_einval(int dmabuf, off_t offset, int whence)
{
	errno = 0;
	igt_assert_eq_s64(lseek(dmabuf, offset, whence), -1);
	igt_assert_eq(errno, EINVAL);
}

static void test_llseek_bad(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	expect_lseek_einval(dmabuf, -1, SEEK_END);
	expect_lseek_einval(dmabuf, 1, SEEK_END);
	expect_lseek_einval(dmabuf, 1, SEEK_SET);
	expect_lseek_einval(dmabuf, BO_SIZE - 1, SEEK_SET);
	expect_lseek_einval(dmabuf, BO_SIZE, SEEK_SET);
	expect_lseek_einval(dmabuf, BO_SIZE + 1, SEEK_SET);
	expect_lseek_einval(dmabuf, 0, SEEK_CUR);
	close(dmabuf);
}

static void test_close_keeps_bo(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	void *ptr = gem_igt_dumb_map(fd, handle, BO_SIZE);
	int dmabuf;

	gem_igt_fill(ptr, BO_SIZE, 0, 240);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC | DRM_RDWR);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	/* The dma-buf alone holds the object now. */
	ptr = map_dmabuf(dmabuf, BO_SIZE, PROT_READ | PROT_WRITE);
	gem_igt_check(ptr, BO_SIZE, 0, 240, "dma-buf after GEM_CLOSE");
	gem_igt_fill(ptr, BO_SIZE, 0, 241);
	gem_igt_check(ptr, BO_SIZE, 0, 241, "dma-buf after GEM_CLOSE");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	close(dmabuf);
}

static void test_export_closed(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int dmabuf = -1;

	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(gemlib_prime_export(fd, handle, DRM_CLOEXEC, &dmabuf),
		      -ENOENT);
	igt_assert_eq(gemlib_prime_export(fd, 0x7ffffff0u, DRM_CLOEXEC,
					  &dmabuf), -ENOENT);
	igt_assert_eq(dmabuf, -1);
}

static void test_export_bad_flags(int fd)
{
	uint32_t handle = gem_igt_dumb(fd, BO_SIZE);
	int bit, dmabuf = -1;

	/* Only DRM_CLOEXEC and DRM_RDWR are export flags. */
	for (bit = 0; bit < 32; bit++) {
		uint32_t flag = 1u << bit;

		if (flag & (DRM_CLOEXEC | DRM_RDWR))
			continue;
		igt_assert_f(gemlib_prime_export(fd, handle, flag, &dmabuf) ==
			     -EINVAL, "export flag %#x was not refused\n",
			     flag);
	}
	igt_assert_eq(dmabuf, -1);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

static void test_import_bad_fd(int fd)
{
	uint32_t handle = 0;
	int pipefd[2];

	igt_assert_eq(gemlib_prime_import(fd, -1, &handle), -EBADF);
	/* A file that is not a dma-buf, the DRM file included. */
	igt_assert_eq(pipe(pipefd), 0);
	igt_assert_eq(gemlib_prime_import(fd, pipefd[0], &handle), -EINVAL);
	igt_assert_eq(gemlib_prime_import(fd, fd, &handle), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = gem_igt_open();
		gem_igt_require_dumb(fd);
		gem_igt_require_prime(fd);
	}

	igt_describe("Export an object and import it into another file: both see one object.");
	igt_subtest("export-import")
		test_export_import(fd);

	igt_describe("Check that importing into the exporting file gives back its own handle.");
	igt_subtest("self-import")
		test_self_import(fd);

	igt_describe("Check that importing the same object twice into a file gives the same handle.");
	igt_subtest("reimport-same-handle")
		test_reimport(fd);

	igt_describe("Check that an importer keeps the object after the exporter dropped it.");
	igt_subtest("importer-keeps-bo")
		test_importer_keeps_bo(fd);

	igt_describe("Import on a render node of the device and export back.");
	igt_subtest("render-import")
		test_render_import(fd);

	igt_describe("Write and read through a dma-buf mapping, bracketed by DMA_BUF_IOCTL_SYNC.");
	igt_subtest("dmabuf-mmap-sync")
		test_dmabuf_mmap_sync(fd);

	igt_describe("Check that a dma-buf mapped at an offset shows the pages at that offset.");
	igt_subtest("dmabuf-mmap-offset")
		test_dmabuf_mmap_offset(fd);

	igt_describe("Check that mapping a dma-buf past its end fails with EINVAL.");
	igt_subtest("dmabuf-mmap-beyond-size")
		test_dmabuf_mmap_beyond(fd);

	igt_describe("Check that DMA_BUF_IOCTL_SYNC refuses bad flags with EINVAL.");
	igt_subtest("dmabuf-sync-bad-flags")
		test_sync_bad_flags(fd);

	igt_describe("Check that a dma-buf exported without DRM_RDWR cannot be mapped writable.");
	igt_subtest("dmabuf-mmap-readonly")
		test_dmabuf_readonly(fd);

	igt_describe("Check that lseek(SEEK_END) on a dma-buf gives its size.");
	igt_subtest("llseek-size")
		test_llseek_size(fd);

	igt_describe("Check that every other lseek on a dma-buf fails with EINVAL.");
	igt_subtest("llseek-bad")
		test_llseek_bad(fd);

	igt_describe("Check that the dma-buf keeps the object after its last handle is closed.");
	igt_subtest("close-handle-keeps-bo")
		test_close_keeps_bo(fd);

	igt_describe("Check that exporting a closed or never-used handle fails with ENOENT.");
	igt_subtest("export-closed-handle")
		test_export_closed(fd);

	igt_describe("Check that unknown export flags fail with EINVAL.");
	igt_subtest("export-bad-flags")
		test_export_bad_flags(fd);

	igt_describe("Check that importing a bad or non-dma-buf fd fails with EBADF or EINVAL.");
	igt_subtest("import-bad-fd")
		test_import_bad_fd(fd);

	igt_fixture {
		close(fd);
	}
}
