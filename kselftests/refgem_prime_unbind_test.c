// SPDX-License-Identifier: GPL-2.0
/*
 * Take a refgem device away while its BOs are shared through dma-bufs:
 * with another refgem device as importer or exporter, with vgem, udmabuf
 * or a DMA heap as the exporter, and closing what is left in different orders afterwards. Only
 * the mappings of the device that went away may go; the other side keeps
 * working and every CPU mapping keeps its data (see refgem_ksft.h for the
 * oracles every test checks).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-heap.h>
#include <linux/udmabuf.h>

#include "kselftest_harness.h"
#include "refgem_ksft.h"

#define BO_SIZE		(256 * 1024)
#define SMALL_SIZE	(64 * 1024)

FIXTURE(prime) {
	struct rk_oracle o;
	char bdf[2][32];
	int fd[2];		/* [0] the exporter, [1] the importer */
	int vgem;
	int memfd;		/* udmabuf's backing memory */
	int dmabuf[2];
	void *dmabuf_map[2];
	uint64_t dmabuf_size[2];
	struct rk_bo bo[2];	/* [0] on fd[0] (or vgem), [1] on fd[1] */
};

FIXTURE_VARIANT(prime) {
	const char *name;
	enum rk_how how;
};

RK_TAKEAWAY_VARIANTS(prime);

FIXTURE_SETUP(prime)
{
	int i, n;

	self->vgem = self->memfd = -1;
	for (i = 0; i < 2; i++)
		self->fd[i] = self->dmabuf[i] = -1;
	if (!rk_begin(_metadata, &self->o, variant->name))
		return;
	n = gemlib_count_devices(REFGEM_DRIVER_NAME);
	if (n < 2)
		SKIP(return, "needs two refgem devices, found %d", n);
	for (i = 0; i < 2; i++) {
		self->fd[i] = rk_open_device(i, self->bdf[i],
					     sizeof(self->bdf[i]));
		ASSERT_LE(0, self->fd[i]) TH_LOG("refgem device %d: %s", i,
						 strerror(-self->fd[i]));
	}
}

FIXTURE_TEARDOWN(prime)
{
	int i, ret;

	for (i = 0; i < 2; i++) {
		rk_bo_unmap(&self->bo[i]);
		if (self->dmabuf_map[i])
			munmap(self->dmabuf_map[i], self->dmabuf_size[i]);
		if (self->dmabuf[i] >= 0)
			close(self->dmabuf[i]);
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	}
	if (self->vgem >= 0)
		close(self->vgem);
	if (self->memfd >= 0)
		close(self->memfd);
	for (i = 0; i < 2; i++) {
		if (!self->bdf[i][0])
			continue;
		ret = rk_restore(self->bdf[i], variant->how);
		EXPECT_EQ(0, ret) TH_LOG("rebinding %s: %s", self->bdf[i],
					 strerror(-ret));
	}
	rk_check_kernel(_metadata, &self->o);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void unmap(void **map, uint64_t size)
{
	if (*map)
		munmap(*map, size);
	*map = NULL;
}

/* mmap dma-buf @i (whole) into dmabuf_map[i]. */
static void map_dmabuf(struct __test_metadata *_metadata,
		       FIXTURE_DATA(prime) *self, int i, uint64_t size)
{
	int ret;

	self->dmabuf_size[i] = size;
	ret = gemlib_mmap(self->dmabuf[i], 0, size, PROT_READ | PROT_WRITE,
			  &self->dmabuf_map[i]);
	ASSERT_EQ(0, ret) TH_LOG("mmap of a dma-buf: %s", strerror(-ret));
}

/*
 * The exporter's BO on device 0, mapped there, exported, imported by
 * device 1 (which maps it at import). Returns the import's handle; the
 * swiotlb slots each side's mapping took go to @slots.
 */
static uint32_t share_bo(struct __test_metadata *_metadata,
			 FIXTURE_DATA(prime) *self, uint32_t seed,
			 long slots[2])
{
	uint32_t imported;
	long before, dev_maps;

	rk_bo_new(_metadata, self->fd[0], BO_SIZE, seed, &self->bo[0]);
	slots[0] = rk_sgt_map(_metadata, self->fd[0], self->bo[0].handle,
			      true);
	ASSERT_EQ(0, gemlib_prime_export(self->fd[0], self->bo[0].handle,
					 O_CLOEXEC | O_RDWR,
					 &self->dmabuf[0]));
	before = rk_io();
	ASSERT_EQ(0, gemlib_prime_import(self->fd[1], self->dmabuf[0],
					 &imported));
	slots[1] = before < 0 ? 0 : rk_io() - before;
	/* Mapped at import already: this call only reports it. */
	rk_sgt_map(_metadata, self->fd[1], imported, false);
	/* Each mapping is listed on its own device. */
	ASSERT_EQ(0, refgem_device_counter(self->fd[0], REFGEM_C_MAPS_LIVE,
					   &dev_maps));
	EXPECT_EQ(1, dev_maps);
	ASSERT_EQ(0, refgem_device_counter(self->fd[1], REFGEM_C_MAPS_LIVE,
					   &dev_maps));
	EXPECT_EQ(1, dev_maps);
	rk_check_device_view(_metadata, self->fd[1], imported, BO_SIZE, seed,
			     REFGEM_ENGINE_SW);
	map_dmabuf(_metadata, self, 0, BO_SIZE);
	RK_EXPECT_PATTERN(self->dmabuf_map[0], BO_SIZE, seed,
			  "dma-buf mmap before the take-away");
	return imported;
}

/*
 * Scenario 3a: the exporter goes. Its own mapping is revoked; the
 * importer's mapping (of the same pages) lives on and works.
 */
TEST_F_TIMEOUT(prime, exporter_gone, RK_TIMEOUT)
{
	struct rk_held held = { 0 };
	struct drm_refgem_sgt_map m;
	uint32_t imported;
	long slots[2];
	void *again;

	if (_metadata->skip)
		return;
	imported = share_bo(_metadata, self, 0xe0e0, slots);
	rk_held_add(&held, 1, "exporter's BO handle %u (own sg_table)",
		    self->bo[0].handle);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf[0], variant->how);
	/* The importer's mapping is no mapping of the exporter's device. */
	rk_check_taken(_metadata, &self->o, &held, 1, slots[1], variant->how);
	EXPECT_EQ(-ENODEV, refgem_sgt_map(self->fd[0], self->bo[0].handle, -1,
					  &m));

	/* The importer still reads and writes the pages through its mapping. */
	rk_check_device_view(_metadata, self->fd[1], imported, BO_SIZE, 0xe0e0,
			     REFGEM_ENGINE_SW);
	rk_device_write(_metadata, self->fd[1], imported, BO_SIZE, 0xe1e1);
	rk_check_device_view(_metadata, self->fd[1], imported,
			     REFGEM_EDU_MAX_LEN, 0xe1e1, REFGEM_ENGINE_EDU);
	RK_EXPECT_PATTERN(self->dmabuf_map[0], BO_SIZE, 0xe1e1,
			  "dma-buf mmap after the importer's DMA");
	RK_EXPECT_PATTERN(self->bo[0].map, BO_SIZE, 0xe1e1,
			  "exporter's mmap after the importer's DMA");
	/* A new mmap of the dma-buf works once its exporter is gone. */
	ASSERT_EQ(0, gemlib_mmap(self->dmabuf[0], 0, BO_SIZE, PROT_READ,
				 &again));
	RK_EXPECT_PATTERN(again, BO_SIZE, 0xe1e1, "new dma-buf mmap");
	munmap(again, BO_SIZE);

	/* The importer lets go: its mapping is released, not late. */
	EXPECT_EQ(0, gemlib_gem_close(self->fd[1], imported));
	rk_check_closed(_metadata, &self->o, 1, BO_SIZE / 4096, 0);
	close_fd(&self->dmabuf[0]);
	unmap(&self->dmabuf_map[0], BO_SIZE);
	rk_bo_unmap(&self->bo[0]);
	close_fd(&self->fd[0]);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf[0], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * Scenario 3b: the importer goes. Its attachment's mapping is revoked; the
 * exporter's BO, its mapping and every CPU mapping (the importer's too)
 * keep working.
 */
TEST_F_TIMEOUT(prime, importer_gone, RK_TIMEOUT)
{
	struct rk_held held = { 0 };
	struct drm_refgem_sgt_map m;
	uint32_t imported;
	long slots[2];

	if (_metadata->skip)
		return;
	imported = share_bo(_metadata, self, 0x1e1e, slots);
	rk_held_add(&held, 1, "import handle %u (attachment of the exporter's dma-buf)",
		    imported);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf[1], variant->how);
	rk_check_taken(_metadata, &self->o, &held, 1, slots[0], variant->how);
	EXPECT_EQ(-ENODEV, refgem_sgt_map(self->fd[1], imported, -1, &m));
	EXPECT_EQ(-ENODEV, refgem_dma(self->fd[1], imported,
				      REFGEM_DMA_TO_USER, REFGEM_ENGINE_SW, 0,
				      4096, self->bo[0].map));

	/* What the dma-buf's mmap writes, the exporter's device sees. */
	RK_EXPECT_PATTERN(self->dmabuf_map[0], BO_SIZE, 0x1e1e,
			  "dma-buf mmap after the take-away");
	gemlib_pattern_fill(self->dmabuf_map[0], BO_SIZE, 0x2e2e);
	rk_check_device_view(_metadata, self->fd[0], self->bo[0].handle,
			     BO_SIZE, 0x2e2e, REFGEM_ENGINE_SW);
	rk_device_write(_metadata, self->fd[0], self->bo[0].handle, BO_SIZE,
			0x3e3e);
	rk_check_device_view(_metadata, self->fd[0], self->bo[0].handle,
			     REFGEM_EDU_MAX_LEN, 0x3e3e, REFGEM_ENGINE_EDU);
	RK_EXPECT_PATTERN(self->dmabuf_map[0], BO_SIZE, 0x3e3e,
			  "dma-buf mmap after the exporter's DMA");
	RK_EXPECT_PATTERN(self->bo[0].map, BO_SIZE, 0x3e3e,
			  "exporter's mmap after its DMA");

	/* The import goes with the importer's fd, without a late unmap. */
	close_fd(&self->fd[1]);
	rk_check_closed(_metadata, &self->o, 1, BO_SIZE / 4096, 1);
	close_fd(&self->dmabuf[0]);
	unmap(&self->dmabuf_map[0], BO_SIZE);
	rk_bo_unmap(&self->bo[0]);
	EXPECT_EQ(0, gemlib_gem_close(self->fd[0], self->bo[0].handle));
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf[1], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/*
 * Scenario 4: a dma-buf of another exporter, imported and mapped by
 * refgem; self->dmabuf[0] is it, self->bo[0].map its pages as the CPU
 * sees them. The import's mapping is revoked; the exporter's buffer and
 * its mappings stay. DRM exporters (and udmabuf, on these kernels) let the dma-buf
 * core cache an attachment's mapping and drop it at detach; a DMA heap's
 * exporter maps when asked and unmaps only when asked. So only with the
 * latter does a revocation that detaches without unmapping leak the
 * mapping. The pages keep their data throughout.
 */
static void foreign_import(struct __test_metadata *_metadata,
			   FIXTURE_DATA(prime) *self,
			   const FIXTURE_VARIANT(prime) *variant,
			   const char *what)
{
	struct rk_held held = { 0 };
	uint32_t imported;
	long before, slots;
	void *again;

	gemlib_pattern_fill(self->bo[0].map, BO_SIZE, 0x7d7d);
	before = rk_io();
	ASSERT_EQ(0, gemlib_prime_import(self->fd[0], self->dmabuf[0],
					 &imported));
	slots = before < 0 ? 0 : rk_io() - before;
	TH_LOG("the mapping of the %s import holds %ld swiotlb slots", what,
	       slots);
	rk_sgt_map(_metadata, self->fd[0], imported, false);
	rk_check_device_view(_metadata, self->fd[0], imported, BO_SIZE, 0x7d7d,
			     REFGEM_ENGINE_SW);
	rk_device_write(_metadata, self->fd[0], imported, BO_SIZE, 0x7e7e);
	RK_EXPECT_PATTERN(self->bo[0].map, BO_SIZE, 0x7e7e,
			  "the exporter's pages after refgem's DMA");
	rk_held_add(&held, 1, "import handle %u of a %s", imported, what);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf[0], variant->how);
	/* The attachment's mapping is gone now, not at the last close. */
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);

	RK_EXPECT_PATTERN(self->bo[0].map, BO_SIZE, 0x7e7e,
			  "the exporter's pages after the take-away");
	gemlib_pattern_fill(self->bo[0].map, BO_SIZE, 0x7f7f);
	ASSERT_EQ(0, gemlib_mmap(self->dmabuf[0], 0, BO_SIZE, PROT_READ,
				 &again));
	RK_EXPECT_PATTERN(again, BO_SIZE, 0x7f7f, "a new mmap of the dma-buf");
	munmap(again, BO_SIZE);

	close_fd(&self->fd[0]);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	close_fd(&self->dmabuf[0]);
	rk_bo_unmap(&self->bo[0]);
	close_fd(&self->memfd);
	close_fd(&self->vgem);
	RK_GIVE_BACK(self->bdf[0], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

/* A vgem dumb BO, mapped for the CPU through vgem. */
TEST_F_TIMEOUT(prime, vgem_import, RK_TIMEOUT)
{
	uint64_t offset, size;
	uint32_t vhandle;

	if (_metadata->skip)
		return;
	self->vgem = gemlib_open_driver("vgem", GEMLIB_NODE_PRIMARY, 0);
	if (self->vgem < 0)
		SKIP(return, "no vgem device (modprobe vgem): %s",
		     strerror(-self->vgem));
	ASSERT_EQ(0, gemlib_dumb_create(self->vgem, BO_SIZE, &vhandle, &size));
	ASSERT_LE((uint64_t)BO_SIZE, size);
	ASSERT_EQ(0, gemlib_dumb_mmap_offset(self->vgem, vhandle, &offset));
	ASSERT_EQ(0, gemlib_mmap(self->vgem, offset, BO_SIZE,
				 PROT_READ | PROT_WRITE, &self->bo[0].map));
	self->bo[0].size = BO_SIZE;
	ASSERT_EQ(0, gemlib_prime_export(self->vgem, vhandle,
					 O_CLOEXEC | O_RDWR,
					 &self->dmabuf[0]));
	foreign_import(_metadata, self, variant, "vgem dma-buf");
}

/* A udmabuf: memfd pages, the memfd mapped for the CPU. */
TEST_F_TIMEOUT(prime, udmabuf_import, RK_TIMEOUT)
{
	struct udmabuf_create create = {
		.flags = UDMABUF_FLAGS_CLOEXEC,
		.size = BO_SIZE,
	};
	int dev;

	if (_metadata->skip)
		return;
	dev = open("/dev/udmabuf", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		SKIP(return, "no /dev/udmabuf (CONFIG_UDMABUF): %s",
		     strerror(errno));
	self->memfd = memfd_create("refgem-udmabuf",
				   MFD_ALLOW_SEALING | MFD_CLOEXEC);
	ASSERT_LE(0, self->memfd) TH_LOG("memfd_create: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(self->memfd, BO_SIZE));
	/* udmabuf wants the memfd unable to shrink under it. */
	ASSERT_EQ(0, fcntl(self->memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	create.memfd = self->memfd;
	self->dmabuf[0] = ioctl(dev, UDMABUF_CREATE, &create);
	close(dev);
	ASSERT_LE(0, self->dmabuf[0]) TH_LOG("UDMABUF_CREATE: %s",
					     strerror(errno));
	self->bo[0].size = BO_SIZE;
	self->bo[0].map = mmap(NULL, BO_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, self->memfd, 0);
	ASSERT_NE(MAP_FAILED, self->bo[0].map) {
		self->bo[0].map = NULL;
	}
	foreign_import(_metadata, self, variant, "udmabuf");
}

/* A buffer of the system DMA heap, mapped for the CPU through its dma-buf. */
TEST_F_TIMEOUT(prime, heap_import, RK_TIMEOUT)
{
	struct dma_heap_allocation_data alloc = {
		.len = BO_SIZE,
		.fd_flags = O_RDWR | O_CLOEXEC,
	};
	int heap;

	if (_metadata->skip)
		return;
	heap = open("/dev/dma_heap/system", O_RDONLY | O_CLOEXEC);
	if (heap < 0)
		SKIP(return, "no /dev/dma_heap/system (CONFIG_DMABUF_HEAPS_SYSTEM): %s",
		     strerror(errno));
	ASSERT_EQ(0, ioctl(heap, DMA_HEAP_IOCTL_ALLOC, &alloc)) {
		close(heap);
	}
	close(heap);
	self->dmabuf[0] = alloc.fd;
	ASSERT_EQ(0, gemlib_mmap(self->dmabuf[0], 0, BO_SIZE,
				 PROT_READ | PROT_WRITE, &self->bo[0].map));
	self->bo[0].size = BO_SIZE;
	foreign_import(_metadata, self, variant, "DMA heap buffer");
}

/* Scenario 8: what is closed, in order, after the take-away. */
enum close_step {
	CLOSE_FD,	/* the device's DRM fd, with every handle on it */
	CLOSE_DMABUFS,	/* both dma-buf fds */
	CLOSE_MMAPS,	/* every CPU mapping */
};

/*
 * Device 0 holds its own mapped BO A (mmapped, exported, the dma-buf
 * mmapped) and an import I of device 1's BO C (whose dma-buf is mmapped).
 * After device 0 goes, close things in @order, checking after each step
 * that what is left still holds its data and that a BO goes exactly with
 * its last reference.
 */
static void close_in_order(struct __test_metadata *_metadata,
			   FIXTURE_DATA(prime) *self,
			   const FIXTURE_VARIANT(prime) *variant,
			   const enum close_step order[3])
{
	bool fd_open = true, dmabufs_open = true, maps = true;
	uint32_t imported, seed_a = 0xaaaa, seed_c = 0xcccc;
	struct rk_held held = { 0 };
	int step;

	/* C, filled through a mapping dropped right away. */
	rk_bo_new(_metadata, self->fd[1], SMALL_SIZE, 0xcccc, &self->bo[1]);
	rk_bo_unmap(&self->bo[1]);
	ASSERT_EQ(0, gemlib_prime_export(self->fd[1], self->bo[1].handle,
					 O_CLOEXEC | O_RDWR,
					 &self->dmabuf[1]));
	/*
	 * A. Its CPU mapping is the dma-buf's: one of the DRM fd would keep
	 * the file, and so every handle, open until the end.
	 */
	rk_bo_new(_metadata, self->fd[0], SMALL_SIZE, 0xaaaa, &self->bo[0]);
	rk_bo_unmap(&self->bo[0]);
	rk_sgt_map(_metadata, self->fd[0], self->bo[0].handle, true);
	ASSERT_EQ(0, gemlib_prime_export(self->fd[0], self->bo[0].handle,
					 O_CLOEXEC | O_RDWR,
					 &self->dmabuf[0]));
	map_dmabuf(_metadata, self, 0, SMALL_SIZE);
	rk_held_add(&held, 1, "BO handle %u (own sg_table)",
		    self->bo[0].handle);
	/* I */
	ASSERT_EQ(0, gemlib_prime_import(self->fd[0], self->dmabuf[1],
					 &imported));
	rk_check_device_view(_metadata, self->fd[0], imported, SMALL_SIZE,
			     seed_c, REFGEM_ENGINE_SW);
	map_dmabuf(_metadata, self, 1, SMALL_SIZE);
	rk_held_add(&held, 1, "import handle %u (of device 1's dma-buf)",
		    imported);

	rk_pre(_metadata, &self->o);
	RK_TAKE_AWAY(self->bdf[0], variant->how);
	rk_check_taken(_metadata, &self->o, &held, 0, 0, variant->how);
	EXPECT_EQ(-ENODEV, gemlib_gem_close(self->fd[0], self->bo[0].handle));
	EXPECT_EQ(-ENODEV, gemlib_gem_close(self->fd[0], imported));

	for (step = 0; step < 3; step++) {
		bool a_alive, i_alive;
		long bos;

		switch (order[step]) {
		case CLOSE_FD:
			close_fd(&self->fd[0]);
			fd_open = false;
			break;
		case CLOSE_DMABUFS:
			close_fd(&self->dmabuf[0]);
			close_fd(&self->dmabuf[1]);
			dmabufs_open = false;
			break;
		case CLOSE_MMAPS:
			unmap(&self->dmabuf_map[0], SMALL_SIZE);
			unmap(&self->dmabuf_map[1], SMALL_SIZE);
			maps = false;
			break;
		}
		/* C lives on with device 1's handle; A and I as they can. */
		a_alive = fd_open || dmabufs_open || maps;
		i_alive = fd_open;
		bos = 1 + a_alive + i_alive;
		rk_check_closed(_metadata, &self->o, bos,
				a_alive ? SMALL_SIZE / 4096 : 0, 0);
		if (!maps)
			continue;
		/* Whatever is left still holds the data, and takes writes. */
		RK_EXPECT_PATTERN(self->dmabuf_map[0], SMALL_SIZE, seed_a,
				  "A's dma-buf mmap");
		RK_EXPECT_PATTERN(self->dmabuf_map[1], SMALL_SIZE, seed_c,
				  "the imported dma-buf's mmap");
		seed_a++;
		seed_c++;
		gemlib_pattern_fill(self->dmabuf_map[0], SMALL_SIZE, seed_a);
		gemlib_pattern_fill(self->dmabuf_map[1], SMALL_SIZE, seed_c);
	}
	/* Device 1 sees what was written through the dma-buf's mmap. */
	rk_check_device_view(_metadata, self->fd[1], self->bo[1].handle,
			     SMALL_SIZE, seed_c, REFGEM_ENGINE_SW);
	close_fd(&self->fd[1]);
	rk_check_closed(_metadata, &self->o, 0, 0, 0);
	RK_GIVE_BACK(self->bdf[0], variant->how);
	rk_check_io_back(_metadata, &self->o);
}

TEST_F_TIMEOUT(prime, close_fd_first, RK_TIMEOUT)
{
	static const enum close_step order[3] = {
		CLOSE_FD, CLOSE_DMABUFS, CLOSE_MMAPS,
	};

	if (_metadata->skip)
		return;
	close_in_order(_metadata, self, variant, order);
}

TEST_F_TIMEOUT(prime, close_dmabufs_first, RK_TIMEOUT)
{
	static const enum close_step order[3] = {
		CLOSE_DMABUFS, CLOSE_FD, CLOSE_MMAPS,
	};

	if (_metadata->skip)
		return;
	close_in_order(_metadata, self, variant, order);
}

TEST_F_TIMEOUT(prime, close_mmaps_first, RK_TIMEOUT)
{
	static const enum close_step order[3] = {
		CLOSE_MMAPS, CLOSE_DMABUFS, CLOSE_FD,
	};

	if (_metadata->skip)
		return;
	close_in_order(_metadata, self, variant, order);
}

TEST_HARNESS_MAIN
