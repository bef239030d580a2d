// SPDX-License-Identifier: MIT
/*
 * Basic buffer-object tests for refgem, the GEM shmem driver for QEMU's edu
 * PCI device.
 */

#include <errno.h>
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

	igt_assert_eq(refgem_bo_close(fd, handle), 0);
	igt_assert_eq(refgem_bo_close(fd, handle), -EINVAL);
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

	igt_assert_eq(refgem_mmap(fd, offset, ROUNDTRIP_SIZE,
				  PROT_READ | PROT_WRITE, &ptr), 0);
	/* A seed per page: pages swapped or aliased do not check out. */
	for (off = 0; off < ROUNDTRIP_SIZE; off += page)
		refgem_pattern_fill((char *)ptr + off, page, off / page);
	igt_assert_eq(munmap(ptr, ROUNDTRIP_SIZE), 0);

	igt_assert_eq(refgem_mmap(fd, offset, ROUNDTRIP_SIZE, PROT_READ,
				  &ptr), 0);
	for (off = 0; off < ROUNDTRIP_SIZE; off += page) {
		size_t bad = refgem_pattern_check((char *)ptr + off, page,
						  off / page);

		igt_assert_f(bad == (size_t)-1,
			     "page %zu differs at byte %zu after remapping\n",
			     off / page, bad);
	}
	igt_assert_eq(munmap(ptr, ROUNDTRIP_SIZE), 0);

	igt_assert_eq(refgem_bo_close(fd, handle), 0);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(REFGEM_NODE_PRIMARY);
	}

	igt_describe("Check that a closed buffer object's handle is invalid.");
	igt_subtest("create-close")
		test_create_close(fd);

	igt_describe("Check that BO contents survive unmapping and remapping.");
	igt_subtest("mmap-roundtrip")
		test_mmap_roundtrip(fd);

	igt_fixture {
		close(fd);
	}
}
