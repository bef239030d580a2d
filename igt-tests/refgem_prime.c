// SPDX-License-Identifier: MIT
/*
 * PRIME with refgem: between its two devices and with vgem, checked
 * through the importing device's own DMA view, and object lifetimes under
 * export/import racing GEM_CLOSE, checked by refgem's counters.
 */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "refgem_igt.h"

IGT_TEST_DESCRIPTION("PRIME between refgem devices and with vgem, checked by device DMA and refgem's counters.");

/* Several swiotlb segments, the last one partial. */
#define BO_SIZE ((1 << 20) + (8 << 10))
#define RACE_SECONDS 2
#define RACE_CHILDREN 2

static int open_vgem(void)
{
	int fd = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);

	igt_require_f(fd >= 0, "vgem is not loaded (modprobe vgem)\n");
	return fd;
}

static void test_cross_device_sw(int fd)
{
	int other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY), dmabuf;
	struct refgem_counters before;
	uint32_t handle, imported;
	void *ptr, *buf;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 600);

	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(other, dmabuf);
	close(dmabuf);
	/* A second object on the importer, mapped for the importer. */
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 2);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);

	buf = malloc(BO_SIZE);
	igt_assert(buf);
	refgem_igt_dma(other, imported, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW,
		       0, BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 600, "importing device's read");

	gem_igt_fill(buf, BO_SIZE, 0, 601);
	refgem_igt_dma(other, imported, REFGEM_DMA_FROM_USER,
		       REFGEM_ENGINE_SW, 0, BO_SIZE, buf);
	gem_igt_check(ptr, BO_SIZE, 0, 601, "exporter's mapping");

	free(buf);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(other, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(other);
	refgem_igt_counters_settled(&before);
}

static void test_cross_device_edu(int fd)
{
	int other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY), dmabuf;
	const uint64_t off = 200 * 4096 + 8, len = 3000;
	struct refgem_counters before;
	uint32_t handle, imported;
	char buf[3000];
	char *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 610);
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(other, dmabuf);
	close(dmabuf);

	/* The importer's edu engine, through the import's mapping. */
	refgem_igt_dma(other, imported, REFGEM_DMA_TO_USER, REFGEM_ENGINE_EDU,
		       off, len, buf);
	igt_assert_f(!memcmp(buf, ptr + off, len),
		     "importer's edu read differs from the exporter's mmap\n");
	gemlib_pattern_fill(buf, len, 611);
	refgem_igt_dma(other, imported, REFGEM_DMA_FROM_USER,
		       REFGEM_ENGINE_EDU, off, len, buf);
	igt_assert_f(!memcmp(ptr + off, buf, len),
		     "exporter's mmap misses the importer's edu write\n");

	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(other, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(other);
	refgem_igt_counters_settled(&before);
}

static void test_same_device_import(int fd)
{
	struct refgem_counters before;
	int fd2 = gem_igt_reopen(fd), dmabuf;
	uint32_t handle, imported;
	long created;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	igt_assert_eq(refgem_sgt_map(fd, handle, -1, NULL), 0);
	created = refgem_igt_counter(REFGEM_C_MAPS_CREATED);

	/* Within one device an import is the object itself: no copy. */
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(fd2, dmabuf);
	close(dmabuf);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_CREATED), created);

	igt_assert_eq(gemlib_gem_close(fd2, imported), 0);
	close(fd2);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	refgem_igt_counters_settled(&before);
}

static void test_vgem_to_refgem(int fd)
{
	struct refgem_counters before;
	int vgem = open_vgem(), dmabuf;
	uint32_t vhandle, imported;
	uint64_t offset;
	void *ptr, *buf;

	refgem_igt_counters_get(&before);
	igt_assert_eq(gemlib_dumb_create(vgem, BO_SIZE, &vhandle, NULL), 0);
	igt_assert_eq(gemlib_dumb_mmap_offset(vgem, vhandle, &offset), 0);
	igt_assert_eq(gemlib_mmap(vgem, offset, BO_SIZE,
				  PROT_READ | PROT_WRITE, &ptr), 0);
	gem_igt_fill(ptr, BO_SIZE, 0, 620);

	dmabuf = gem_igt_export(vgem, vhandle, DRM_CLOEXEC);
	imported = gem_igt_import(fd, dmabuf);
	close(dmabuf);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);

	buf = malloc(BO_SIZE);
	igt_assert(buf);
	refgem_igt_dma(fd, imported, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 620, "refgem's read of vgem's object");
	gem_igt_fill(buf, BO_SIZE, 0, 621);
	refgem_igt_dma(fd, imported, REFGEM_DMA_FROM_USER, REFGEM_ENGINE_SW,
		       0, BO_SIZE, buf);
	gem_igt_check(ptr, BO_SIZE, 0, 621, "vgem's mapping");

	free(buf);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(fd, imported), 0);
	igt_assert_eq(gemlib_gem_close(vgem, vhandle), 0);
	close(vgem);
	refgem_igt_counters_settled(&before);
}

static void test_refgem_to_vgem(int fd)
{
	struct refgem_counters before;
	int vgem = open_vgem(), dmabuf, again;
	uint32_t handle, vhandle;
	struct stat st, st2;
	void *ptr;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 630);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);

	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC | DRM_RDWR);
	vhandle = gem_igt_import(vgem, dmabuf);
	igt_assert_eq(fstat(dmabuf, &st), 0);
	close(dmabuf);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	/* vgem alone holds refgem's object now. */
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 1);

	/* vgem exports it back as the same dma-buf, contents intact. */
	again = gem_igt_export(vgem, vhandle, DRM_CLOEXEC);
	igt_assert_eq(fstat(again, &st2), 0);
	igt_assert_eq_u64(st2.st_ino, st.st_ino);
	ptr = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, again, 0);
	igt_assert(ptr != MAP_FAILED);
	gem_igt_check(ptr, BO_SIZE, 0, 630, "refgem's object through vgem");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	close(again);

	igt_assert_eq(gemlib_gem_close(vgem, vhandle), 0);
	close(vgem);
	refgem_igt_counters_settled(&before);
}

/*
 * The object's importers (the other refgem device and vgem) map its pages
 * before its own device does: three mappings of the same pages, which is
 * what PRIME is for. The exporter's own mapping must not count as an
 * overlapping one (DMA-API debug's cacheline tracking spans devices: the
 * debug targets' detectors judge it), and every device sees the CPU's data.
 */
static void test_own_map_after_import(int fd)
{
	int other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY);
	int vgem = open_vgem(), dmabuf;
	struct refgem_counters before;
	uint32_t handle, imported, vhandle;
	struct drm_refgem_sgt_map m;
	void *ptr, *buf;

	refgem_igt_counters_get(&before);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 640);

	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	imported = gem_igt_import(other, dmabuf);
	vhandle = gem_igt_import(vgem, dmabuf);
	close(dmabuf);
	igt_assert_eq(refgem_sgt_map(fd, handle, -1, &m), 0);
	igt_assert_eq(m.status, REFGEM_SGT_CREATED);

	buf = malloc(BO_SIZE);
	igt_assert(buf);
	refgem_igt_dma(fd, handle, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
		       BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 640, "exporter's own read");
	refgem_igt_dma(other, imported, REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW,
		       0, BO_SIZE, buf);
	gem_igt_check(buf, BO_SIZE, 0, 640, "importing device's read");

	free(buf);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(gemlib_gem_close(vgem, vhandle), 0);
	igt_assert_eq(gemlib_gem_close(other, imported), 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	close(vgem);
	close(other);
	refgem_igt_counters_settled(&before);
}

static void test_close_keeps_bo(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	long released;
	int dmabuf;
	void *ptr;

	refgem_igt_counters_get(&before);
	released = refgem_igt_counter(REFGEM_C_MAPS_RELEASED);
	handle = refgem_igt_create(fd, BO_SIZE);
	ptr = refgem_igt_map(fd, handle, BO_SIZE);
	gem_igt_fill(ptr, BO_SIZE, 0, 640);
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);
	igt_assert_eq(refgem_sgt_map(fd, handle, -1, NULL), 0);
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);

	/* The dma-buf holds the object and its device mapping... */
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_BOS_ALIVE), before.v[REFGEM_C_BOS_ALIVE] + 1);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_LIVE), before.v[REFGEM_C_MAPS_LIVE] + 1);
	ptr = mmap(NULL, BO_SIZE, PROT_READ, MAP_SHARED, dmabuf, 0);
	igt_assert(ptr != MAP_FAILED);
	gem_igt_check(ptr, BO_SIZE, 0, 640, "dma-buf after GEM_CLOSE");
	igt_assert_eq(munmap(ptr, BO_SIZE), 0);

	/* ...until it goes: then both are freed. */
	close(dmabuf);
	igt_assert_eq(refgem_igt_counter(REFGEM_C_MAPS_RELEASED), released + 1);
	refgem_igt_counters_settled(&before);
}

/* Export handle 1 while other children close it and create it anew. */
static void export_vs_close(int fd)
{
	igt_until_timeout(RACE_SECONDS) {
		uint32_t handle;
		int dmabuf = -1, ret;

		igt_assert_eq(refgem_bo_create(fd, 4096, 0, &handle), 0);
		if (handle != 1)
			igt_assert_eq(gemlib_gem_close(fd, handle), 0);

		ret = gemlib_prime_export(fd, 1, DRM_CLOEXEC, &dmabuf);
		igt_assert_f(ret == 0 || ret == -ENOENT,
			     "export: %s\n", strerror(-ret));
		ret = gemlib_gem_close(fd, 1);
		igt_assert_f(ret == 0 || ret == -EINVAL,
			     "close: %s\n", strerror(-ret));
		if (dmabuf >= 0)
			close(dmabuf);
	}
}

static void test_export_vs_close_race(int fd)
{
	struct refgem_counters before;
	int fd2;

	refgem_igt_counters_get(&before);
	/* A file of its own: whatever the race leaves dies with it. */
	fd2 = gem_igt_reopen(fd);
	igt_fork(child, RACE_CHILDREN)
		export_vs_close(fd2);
	igt_waitchildren();
	close(fd2);
	refgem_igt_counters_settled(&before);
}

/* Import @dmabuf into @fd and close the handle, against each other. */
static void import_vs_close(int fd, int dmabuf)
{
	igt_until_timeout(RACE_SECONDS) {
		uint32_t handle = 0;
		int ret;

		ret = gemlib_prime_import(fd, dmabuf, &handle);
		igt_assert_f(ret == 0, "import: %s\n", strerror(-ret));
		ret = gemlib_gem_close(fd, handle);
		igt_assert_f(ret == 0 || ret == -EINVAL,
			     "close: %s\n", strerror(-ret));
	}
}

static void test_reimport_vs_close_race(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	int fd2, dmabuf;

	refgem_igt_counters_get(&before);
	fd2 = gem_igt_reopen(fd);
	handle = refgem_igt_create(fd2, 4096);
	dmabuf = gem_igt_export(fd2, handle, DRM_CLOEXEC);

	igt_fork(child, RACE_CHILDREN)
		import_vs_close(fd2, dmabuf);
	igt_waitchildren();

	close(dmabuf);
	close(fd2);
	refgem_igt_counters_settled(&before);
}

static void test_cross_import_vs_close_race(int fd)
{
	struct refgem_counters before;
	uint32_t handle;
	int other, dmabuf;

	refgem_igt_counters_get(&before);
	other = refgem_igt_open_other(fd, GEMLIB_NODE_PRIMARY);
	handle = refgem_igt_create(fd, 4096);
	dmabuf = gem_igt_export(fd, handle, DRM_CLOEXEC);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);

	/*
	 * Each import attaches and maps for the other device; each close
	 * unmaps and detaches.
	 */
	igt_fork(child, RACE_CHILDREN)
		import_vs_close(other, dmabuf);
	igt_waitchildren();

	close(dmabuf);
	close(other);
	refgem_igt_counters_settled(&before);
}

igt_main
{
	int fd = -1;

	igt_fixture {
		fd = refgem_igt_open_driver(GEMLIB_NODE_PRIMARY);
		refgem_igt_require_counters();
	}

	igt_describe("Share an object with the other refgem device; its software DMA engine reads and writes it.");
	igt_subtest("cross-device-sw")
		test_cross_device_sw(fd);

	igt_describe("Share an object with the other refgem device; its edu DMA engine reads and writes a spot.");
	igt_subtest("cross-device-edu")
		test_cross_device_edu(fd);

	igt_describe("Check that an import within one device is the object itself, not a new one.");
	igt_subtest("same-device-import")
		test_same_device_import(fd);

	igt_describe("Import a vgem object into refgem; refgem's device reads and writes it.");
	igt_subtest("vgem-to-refgem")
		test_vgem_to_refgem(fd);

	igt_describe("Import a refgem object into vgem, which keeps it alive and exports it back.");
	igt_subtest("refgem-to-vgem")
		test_refgem_to_vgem(fd);

	igt_describe("Map an object for its own device after its importers did; no overlap report, same data everywhere.");
	igt_subtest("own-map-after-import")
		test_own_map_after_import(fd);

	igt_describe("Check that a dma-buf keeps the object and its device mapping after GEM_CLOSE.");
	igt_subtest("close-handle-keeps-bo")
		test_close_keeps_bo(fd);

	igt_describe("Race PRIME export against GEM_CLOSE of the same handle; nothing may leak.");
	igt_subtest("export-vs-close-race")
		test_export_vs_close_race(fd);

	igt_describe("Race PRIME import against GEM_CLOSE of the imported handle; nothing may leak.");
	igt_subtest("reimport-vs-close-race")
		test_reimport_vs_close_race(fd);

	igt_describe("Race import into the other refgem device against GEM_CLOSE; no object or mapping may leak.");
	igt_subtest("cross-import-vs-close-race")
		test_cross_import_vs_close_race(fd);

	igt_fixture {
		close(fd);
	}
}
