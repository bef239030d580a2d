// SPDX-License-Identifier: GPL-2.0
/*
 * The take-away question asked of any GEM driver with dumb buffers: does a
 * DMA mapping of a BO's sg_table outlive its device when the device is
 * taken away (sysfs unbind, PCI remove, QEMU hot-unplug) while userspace
 * still holds the BO? The device under test is the first DRM device of the
 * driver GEM_KSFT_DRIVER names (as drmGetVersion() reports it, e.g.
 * "virtio_gpu"; default "refgem"); without one every test skips.
 *
 * Held across the take-away: a dumb BO (handle, mmap), a dma-buf of one
 * alone, 64 BOs, another device's BO imported into the device under test
 * (the mapping its import made), a BO of the device under test imported
 * into another device, and a BO in each of five take-away and
 * give-back cycles. Fixture unload: the driver's module cannot be unloaded
 * while a DRM file or a dma-buf is held.
 *
 * Oracles (gem_ksft.h's, nothing driver-specific):
 * - swiotlb's io_tlb_used (swiotlb=force only), THE take-away oracle:
 *   right after the take-away (once it settles, up to GT_SETTLE_MS, for
 *   work a driver finishes asynchronously) it is at most what it was before
 *   the test's BOs were created, and closing what the test held, the device
 *   still away, releases no slot: a slot released then belonged to a
 *   mapping that outlived its device (the second form also sees what the
 *   device's own mappings, released at the take-away, would hide from the
 *   first). The message gives the slots still held.
 * - a CPU mapping held across the take-away shows its data or raises
 *   SIGBUS (either is allowed: TH_LOG says which), never other data;
 * - an ioctl on the old fd returns 0 or ENODEV (below);
 * - once everything is closed and the device is back, a new device works
 *   and io_tlb_used is at its start; the kernel log and taint throughout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "kselftest_harness.h"
#include "gem_ksft.h"

#define GT_TIMEOUT	60
/* How long a device may take to show its DRM node again. */
#define GT_WAIT_MS	10000
/* How long swiotlb may take to settle (asynchronous completions). */
#define GT_SETTLE_MS	1000
/* held_bo, held_dmabuf: 512 swiotlb slots when the BO is mapped. */
#define BO_SIZE		(1024 * 1024)
/* many_bos: 64 BOs of 32 slots each. */
#define MANY_BOS	64
#define MANY_SIZE	(64 * 1024)
#define SEED		0x7a4e

enum gt_how { GT_UNBIND, GT_REMOVE, GT_UNPLUG };

static const char *gt_how_name(enum gt_how how)
{
	switch (how) {
	case GT_UNBIND:
		return "sysfs unbind";
	case GT_REMOVE:
		return "PCI remove";
	default:
		return "hot-unplug";
	}
}

/* The device under test, as sysfs knows it. */
struct gt_dev {
	const char *driver;	/* DRM driver name */
	char dev[PATH_MAX];	/* its device's sysfs directory */
	char drv[PATH_MAX];	/* the directory of that device's driver */
	char bdf[32];		/* the nearest PCI ancestor, or "" */
	bool taken;		/* taken away and not yet given back */
};

/* A held dumb BO and its CPU mapping. */
struct gt_bo {
	uint32_t handle;
	uint64_t size;
	void *map;
};

static const char *gt_driver(void)
{
	const char *d = getenv("GEM_KSFT_DRIVER");

	return d && *d ? d : "refgem";
}

/* Whether the device behind @fd is @d's device (same PCI ancestor or path). */
static bool gt_same_device(int fd, const struct gt_dev *d)
{
	char dev[PATH_MAX], bdf[32];

	if (gemlib_fd_sysfs_device(fd, dev, sizeof(dev)))
		return false;
	if (!d->bdf[0])
		return !strcmp(dev, d->dev);
	return !gemlib_sysfs_pci_ancestor(dev, bdf, sizeof(bdf)) &&
	       !strcmp(bdf, d->bdf);
}

/*
 * Another DRM device to share a BO with @d's device: one of driver
 * @first, else of vgem or refgem, else a second device of @d's driver.
 * Returns its primary node's fd (its driver's name in @name) or -ENOENT.
 */
static int gt_open_peer(const struct gt_dev *d, const char *first,
			const char **name)
{
	const char *drivers[] = { first, "vgem", "refgem", d->driver };
	unsigned int i, j;
	int fd;

	for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		for (j = 0;; j++) {
			fd = gemlib_open_driver(drivers[i], GEMLIB_NODE_PRIMARY,
						j);
			if (fd < 0)
				break;
			if (!gt_same_device(fd, d)) {
				*name = drivers[i];
				return fd;
			}
			close(fd);
		}
	}
	return -ENOENT;
}

/* Wait for @d's device to have a primary node of its driver again, open it. */
static int gt_open_again(const struct gt_dev *d)
{
	long end = gk_now_ms() + GT_WAIT_MS;
	unsigned int i;
	int fd;

	do {
		for (i = 0;; i++) {
			fd = gemlib_open_driver(d->driver, GEMLIB_NODE_PRIMARY,
						i);
			if (fd < 0)
				break;
			if (gt_same_device(fd, d))
				return fd;
			close(fd);
		}
		gk_sleep_ms(10);
	} while (gk_now_ms() < end);
	return -ETIMEDOUT;
}

/* Take @d's device away; -ENOTSUP when this way is not available. */
static int gt_take_away(struct gt_dev *d, enum gt_how how)
{
	char path[PATH_MAX];
	int ret;

	gemlib_kmsg("gem-ksft: %s of %s (%s)", gt_how_name(how), d->dev,
		    d->bdf[0] ? d->bdf : "no PCI ancestor");
	if (how != GT_UNBIND && !d->bdf[0])
		return -ENOTSUP;
	switch (how) {
	case GT_UNBIND:
		ret = gemlib_driver_unbind(d->drv, d->dev);
		break;
	case GT_REMOVE:
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove",
			 d->bdf);
		ret = gemlib_sysfs_write(path, "1");
		break;
	default:
		ret = gemlib_vm_unplug(d->bdf);
		break;
	}
	/* A refused unplug took nothing away: nothing to give back. */
	d->taken = how != GT_UNPLUG || ret != -ENOTSUP;
	return ret;
}

/*
 * A give-back that hangs in the kernel cannot be killed, nor report where
 * it hangs: after GT_HANG_MS a watchdog thread has the kernel print every
 * blocked task's stack (SysRq-W) at a console log level that shows it, so
 * the guest's serial log holds it.
 */
#define GT_HANG_MS	20000

struct gt_watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	bool fired;
	char printk[64];
};

static void *gt_watchdog(void *arg)
{
	struct gt_watch *w = arg;
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += GT_HANG_MS / 1000;
	pthread_mutex_lock(&w->lock);
	while (!w->done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&w->cond, &w->lock, &ts);
	if (!w->done) {
		w->fired = true;
		gemlib_sysfs_read("/proc/sys/kernel/printk", w->printk,
				  sizeof(w->printk));
		gemlib_kmsg("gem-ksft: the give-back hangs: SysRq-W");
		gemlib_sysfs_write("/proc/sys/kernel/printk", "8");
		gemlib_sysfs_write("/proc/sysrq-trigger", "w");
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Undo gt_take_away(), whatever state it left: returns the new device's fd. */
static int __gt_give_back(struct gt_dev *d, enum gt_how how)
{
	char drv[PATH_MAX];
	int ret, fd;

	gemlib_kmsg("gem-ksft: undoing %s of %s", gt_how_name(how), d->dev);
	if (!access(d->dev, F_OK)) {
		/* Unbound (or never unbound: a failed take-away). */
		ret = gemlib_sysfs_device_driver(d->dev, drv, sizeof(drv));
		if (ret)
			ret = gemlib_driver_bind(d->drv, d->dev);
	} else if (how == GT_UNPLUG && !gemlib_vm_replug(d->bdf)) {
		ret = 0;
	} else {
		ret = gemlib_sysfs_write("/sys/bus/pci/rescan", "1");
	}
	if (ret)
		return ret;
	fd = gt_open_again(d);
	if (fd >= 0)
		d->taken = false;
	return fd;
}

static int gt_give_back(struct gt_dev *d, enum gt_how how)
{
	struct gt_watch w = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};
	pthread_t thread;
	bool watching;
	int fd;

	watching = !pthread_create(&thread, NULL, gt_watchdog, &w);
	fd = __gt_give_back(d, how);
	if (watching) {
		pthread_mutex_lock(&w.lock);
		w.done = true;
		pthread_cond_signal(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(thread, NULL);
		if (w.fired && w.printk[0])
			gemlib_sysfs_write("/proc/sys/kernel/printk",
					   w.printk);
	}
	return fd;
}

#define GT_TAKE_AWAY(d, how) do {					\
	char __drv[PATH_MAX];						\
	int __gt = gt_take_away(d, how);				\
									\
	if (__gt == -ENOTSUP)						\
		SKIP(return, "%s of %.256s needs %s", gt_how_name(how),	\
		     (d)->dev, !(d)->bdf[0] ? "a PCI ancestor" :	\
		     getenv("REFGEM_VMCTL") ?				\
		     "a device QEMU can hot-unplug (see refgem-vm above)" : \
		     "a refgem-vm guest (REFGEM_VMCTL)");		\
	ASSERT_EQ(0, __gt)						\
		TH_LOG("%s of %s: %s", gt_how_name(how), (d)->dev,	\
		       strerror(-__gt));				\
	ASSERT_NE(0, gemlib_sysfs_device_driver((d)->dev, __drv,	\
						sizeof(__drv)))		\
		TH_LOG("%s is still bound after %s", (d)->dev,		\
		       gt_how_name(how));				\
} while (0)

/* io_tlb_used once it stops changing, or -1 without swiotlb. */
static long gt_io_settled(void)
{
	long end = gk_now_ms() + GT_SETTLE_MS;
	long io = gk_io(), prev;

	do {
		prev = io;
		gk_sleep_ms(20);
		io = gk_io();
	} while (io != prev && gk_now_ms() < end);
	return io;
}

/*
 * THE oracle, right after the take-away: swiotlb holds no more slots than
 * before the test's BOs existed (@io_before). Returns io_tlb_used then
 * (once it stops changing: a driver may release a mapping from
 * asynchronous work), or -1 without swiotlb.
 */
static long gt_check_slots(struct __test_metadata *_metadata,
			   const struct gk_oracle *o, long io_before,
			   long io_with, const char *what, enum gt_how how)
{
	long io;

	if (o->io_start < 0) {
		TH_LOG("no swiotlb pool: whether %s's mappings outlived the device is not measured",
		       what);
		return -1;
	}
	io = gt_io_settled();
	TH_LOG("io_tlb_used %ld before %s, %ld with it, %ld right after %s",
	       io_before, what, io_with, io, gt_how_name(how));
	EXPECT_LE(io, io_before)
		TH_LOG("io_tlb_used %ld right after %s, above its %ld before %s: %ld slots of a DMA mapping outlived the device",
		       io, gt_how_name(how), io_before, what, io - io_before);
	return io;
}

/*
 * The same oracle, once what the test held is closed (the device still
 * away): a device that is gone can hold no mapping, and the driver's own
 * ones it releases at the take-away. Slots that the last close released
 * were a mapping of the held objects that outlived the device; measured
 * this way, the device's own mappings released at the take-away cannot
 * hide them. @io_held: io_tlb_used with the device away and @what still
 * held, last before the close (gt_check_slots()'s, or -1: not measured).
 */
static void gt_check_slots_closed(struct __test_metadata *_metadata,
				  long io_held, const char *what,
				  enum gt_how how)
{
	long io;

	if (io_held < 0)
		return;
	io = gt_io_settled();
	TH_LOG("io_tlb_used %ld once %s %s closed, the device still away",
	       io, what, strstr(what, "BOs") ? "are" : "is");
	EXPECT_LE(io_held, io)
		TH_LOG("%ld swiotlb slots still held right after %s: closing %s released them, so its DMA mapping outlived its device",
		       io_held - io, gt_how_name(how), what);
}

static sigjmp_buf gt_jmp;

static void gt_sigbus(int sig)
{
	(void)sig;
	siglongjmp(gt_jmp, 1);
}

/*
 * Read a CPU mapping held across the take-away: its data or SIGBUS are
 * both allowed (said in TH_LOG); other data is not. Returns 1 when it
 * raised SIGBUS, 0 when it read.
 */
static int gt_read_held(struct __test_metadata *_metadata, const void *map,
			size_t len, uint32_t seed, const char *what,
			bool quiet)
{
	struct sigaction sa = { .sa_handler = gt_sigbus }, old;
	volatile size_t bad = (size_t)-1;
	volatile int bus = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	if (sigsetjmp(gt_jmp, 1))
		bus = 1;
	else
		bad = gemlib_pattern_check(map, len, seed);
	sigaction(SIGBUS, &old, NULL);
	if (!quiet)
		TH_LOG("%s after the take-away: %s", what,
		       bus ? "SIGBUS" : bad == (size_t)-1 ? "its data" :
		       "other data");
	EXPECT_EQ((size_t)-1, bad)
		TH_LOG("%s after the take-away: wrong data at offset %zu (neither its data nor SIGBUS)",
		       what, bad);
	return bus;
}

/*
 * An ioctl on the fd of a device that is gone: ENODEV is drm_ioctl()'s
 * answer once the driver has called drm_dev_unplug(), and what drm-uapi's
 * "Device Hot-Unplug" asks for; 0 is allowed for a call that needs no
 * device (a GEM_CLOSE, or an export of an existing object, can complete in
 * memory). Anything else (EINVAL, ENOENT, EIO, EFAULT, ...) means the call
 * ran on into a torn-down device.
 */
#define GT_EXPECT_CLEAN(ret, what) do {					\
	int __r = (ret);						\
									\
	TH_LOG("%s on the old fd: %s", what, __r ? strerror(-__r) : "0"); \
	EXPECT_TRUE(__r == 0 || __r == -ENODEV)				\
		TH_LOG("%s on the old fd: %s, expected 0 or ENODEV",	\
		       what, strerror(-__r));				\
} while (0)

static void gt_bo_new(struct __test_metadata *_metadata, int fd,
		      uint64_t size, uint32_t seed, struct gt_bo *bo)
{
	uint64_t offset;
	int ret;

	ret = gemlib_dumb_create(fd, size, &bo->handle, &bo->size);
	ASSERT_EQ(0, ret) TH_LOG("DUMB_CREATE of %llu bytes: %s",
				 (unsigned long long)size, strerror(-ret));
	ASSERT_LE(size, bo->size);
	ret = gemlib_dumb_mmap_offset(fd, bo->handle, &offset);
	ASSERT_EQ(0, ret) TH_LOG("MAP_DUMB: %s", strerror(-ret));
	ret = gemlib_mmap(fd, offset, bo->size, PROT_READ | PROT_WRITE,
			  &bo->map);
	ASSERT_EQ(0, ret) TH_LOG("mmap of the dumb BO: %s", strerror(-ret));
	gemlib_pattern_fill(bo->map, bo->size, seed);
}

/* Export @bo as a dma-buf and, with @map, mmap the dma-buf. */
static void gt_bo_export(struct __test_metadata *_metadata, int fd,
			 const struct gt_bo *bo, int *dmabuf, void **map)
{
	int ret;

	ret = gemlib_prime_export(fd, bo->handle, DRM_CLOEXEC | DRM_RDWR,
				  dmabuf);
	ASSERT_EQ(0, ret) TH_LOG("PRIME export: %s", strerror(-ret));
	if (!map)
		return;
	ret = gemlib_mmap(*dmabuf, 0, bo->size, PROT_READ | PROT_WRITE, map);
	ASSERT_EQ(0, ret) TH_LOG("mmap of the dma-buf: %s", strerror(-ret));
}

static void gt_bo_unmap(struct gt_bo *bo)
{
	if (bo->map)
		munmap(bo->map, bo->size);
	bo->map = NULL;
}

/* The device given back works: a new dumb BO holds what is written. */
static void gt_check_new_device(struct __test_metadata *_metadata, int fd)
{
	struct gt_bo bo = { 0 };

	gt_bo_new(_metadata, fd, BO_SIZE, SEED ^ 0xffff, &bo);
	GK_EXPECT_PATTERN(bo.map, bo.size, SEED ^ 0xffff,
			  "a dumb BO of the device given back");
	gt_bo_unmap(&bo);
	EXPECT_EQ(0, gemlib_gem_close(fd, bo.handle));
}

FIXTURE(takeaway) {
	struct gk_oracle o;
	struct gt_dev d;
	int fd;
	int new_fd;
	int dmabuf;
	void *dmabuf_map;
	uint64_t dmabuf_size;
	int peer_fd;
	struct gt_bo bos[MANY_BOS];
};

FIXTURE_VARIANT(takeaway) {
	const char *name;
	enum gt_how how;
};

FIXTURE_VARIANT_ADD(takeaway, unbind) {
	.name = "unbind", .how = GT_UNBIND,
};

FIXTURE_VARIANT_ADD(takeaway, remove) {
	.name = "remove", .how = GT_REMOVE,
};

FIXTURE_VARIANT_ADD(takeaway, unplug) {
	.name = "unplug", .how = GT_UNPLUG,
};

/*
 * Open the device under test's first primary node and find its device,
 * driver and PCI ancestor in sysfs. Returns the fd, or -1 after a SKIP or a
 * failed check.
 */
static int gt_dev_find(struct __test_metadata *_metadata, struct gt_dev *d)
{
	int fd, ret;

	d->driver = gt_driver();
	fd = gemlib_open_driver(d->driver, GEMLIB_NODE_PRIMARY, 0);
	if (fd < 0)
		SKIP(return -1, "no DRM device of driver %s (GEM_KSFT_DRIVER): %s",
		     d->driver, strerror(-fd));
	ret = gemlib_fd_sysfs_device(fd, d->dev, sizeof(d->dev));
	if (!ret)
		ret = gemlib_sysfs_device_driver(d->dev, d->drv,
						 sizeof(d->drv));
	EXPECT_EQ(0, ret) TH_LOG("the sysfs device and driver of %s's DRM node: %s",
				 d->driver, strerror(-ret));
	if (ret) {
		close(fd);
		return -1;
	}
	if (gemlib_sysfs_pci_ancestor(d->dev, d->bdf, sizeof(d->bdf)))
		d->bdf[0] = '\0';
	TH_LOG("%s device %s (driver %s, PCI %s)", d->driver, d->dev, d->drv,
	       d->bdf[0] ? d->bdf : "none");
	return fd;
}

FIXTURE_SETUP(takeaway)
{
	/* Before any SKIP: teardown runs after a skipped setup too. */
	self->fd = -1;
	self->new_fd = -1;
	self->dmabuf = -1;
	self->peer_fd = -1;
	if (!gk_begin(_metadata, &self->o, variant->name))
		return;
	self->fd = gt_dev_find(_metadata, &self->d);
}

FIXTURE_TEARDOWN(takeaway)
{
	unsigned int i;
	int fd;

	for (i = 0; i < MANY_BOS; i++)
		gt_bo_unmap(&self->bos[i]);
	if (self->dmabuf_map)
		munmap(self->dmabuf_map, self->dmabuf_size);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->new_fd >= 0)
		close(self->new_fd);
	if (self->fd >= 0)
		close(self->fd);
	if (self->peer_fd >= 0)
		close(self->peer_fd);
	/* Leave the device as we found it, even after a failed assert. */
	if (self->d.taken) {
		fd = gt_give_back(&self->d, variant->how);
		EXPECT_LE(0, fd) TH_LOG("giving back %s: %s", self->d.dev,
					strerror(-fd));
		if (fd >= 0)
			close(fd);
	}
	gk_check_kernel(_metadata, &self->o);
}

/*
 * Everything is closed: give the device back, see that it works, and that
 * swiotlb is as it was at the start.
 */
static void gt_finish(struct __test_metadata *_metadata,
		      FIXTURE_DATA(takeaway) *self, enum gt_how how)
{
	self->new_fd = gt_give_back(&self->d, how);
	ASSERT_LE(0, self->new_fd)
		TH_LOG("undoing %s of %s: %s", gt_how_name(how), self->d.dev,
		       strerror(-self->new_fd));
	gt_check_new_device(_metadata, self->new_fd);
	close(self->new_fd);
	self->new_fd = -1;
	gt_io_settled();
	gk_check_io_back(_metadata, &self->o);
}

/* A 1 MiB dumb BO, its handle, its mmap and the fd held across the take-away. */
TEST_F_TIMEOUT(takeaway, held_bo, GT_TIMEOUT)
{
	struct gt_bo *bo = &self->bos[0];
	long io_before, io_with, io_taken;
	uint64_t offset;
	uint32_t handle;
	int ret, dmabuf;

	/* 6.1's harness runs the body even when its setup skipped or failed. */
	if (self->fd < 0)
		return;
	io_before = gt_io_settled();
	gt_bo_new(_metadata, self->fd, BO_SIZE, SEED, bo);
	io_with = gt_io_settled();

	GT_TAKE_AWAY(&self->d, variant->how);
	io_taken = gt_check_slots(_metadata, &self->o, io_before, io_with,
				  "the held BO", variant->how);
	gt_read_held(_metadata, bo->map, bo->size, SEED, "the BO's mmap",
		     false);

	ret = gemlib_dumb_create(self->fd, 4096, &handle, NULL);
	GT_EXPECT_CLEAN(ret, "DUMB_CREATE");
	if (!ret)
		gemlib_gem_close(self->fd, handle);
	GT_EXPECT_CLEAN(gemlib_dumb_mmap_offset(self->fd, bo->handle, &offset),
			"MODE_MAP_DUMB");
	ret = gemlib_prime_export(self->fd, bo->handle, DRM_CLOEXEC | DRM_RDWR,
				  &dmabuf);
	GT_EXPECT_CLEAN(ret, "PRIME export");
	if (!ret)
		close(dmabuf);
	GT_EXPECT_CLEAN(gemlib_gem_close(self->fd, bo->handle), "GEM_CLOSE");

	gt_bo_unmap(bo);
	close(self->fd);
	self->fd = -1;
	gt_check_slots_closed(_metadata, io_taken, "the held BO",
			      variant->how);
	gt_finish(_metadata, self, variant->how);
}

static int gt_dmabuf_sync(int dmabuf, uint64_t flags)
{
	struct dma_buf_sync sync = { .flags = flags };

	return ioctl(dmabuf, DMA_BUF_IOCTL_SYNC, &sync) ? -errno : 0;
}

/* Only a dma-buf of the BO (and an mmap of it) held across the take-away. */
TEST_F_TIMEOUT(takeaway, held_dmabuf, GT_TIMEOUT)
{
	struct gt_bo *bo = &self->bos[0];
	long io_before, io_with, io_taken;

	if (self->fd < 0)
		return;
	io_before = gt_io_settled();
	gt_bo_new(_metadata, self->fd, BO_SIZE, SEED, bo);
	self->dmabuf_size = bo->size;
	gt_bo_export(_metadata, self->fd, bo, &self->dmabuf,
		     &self->dmabuf_map);
	GK_EXPECT_PATTERN(self->dmabuf_map, bo->size, SEED,
			  "the dma-buf's mmap");
	/* Only the dma-buf holds the BO from here. */
	gt_bo_unmap(bo);
	ASSERT_EQ(0, gemlib_gem_close(self->fd, bo->handle));
	close(self->fd);
	self->fd = -1;
	io_with = gt_io_settled();

	GT_TAKE_AWAY(&self->d, variant->how);
	io_taken = gt_check_slots(_metadata, &self->o, io_before, io_with,
				  "the BO held by its dma-buf", variant->how);
	GT_EXPECT_CLEAN(gt_dmabuf_sync(self->dmabuf, DMA_BUF_SYNC_START |
				       DMA_BUF_SYNC_READ),
			"DMA_BUF_IOCTL_SYNC start");
	gt_read_held(_metadata, self->dmabuf_map, self->dmabuf_size, SEED,
		     "the dma-buf's mmap", false);
	GT_EXPECT_CLEAN(gt_dmabuf_sync(self->dmabuf, DMA_BUF_SYNC_END |
				       DMA_BUF_SYNC_READ),
			"DMA_BUF_IOCTL_SYNC end");

	munmap(self->dmabuf_map, self->dmabuf_size);
	self->dmabuf_map = NULL;
	close(self->dmabuf);
	self->dmabuf = -1;
	gt_check_slots_closed(_metadata, io_taken, "the BO held by its dma-buf",
			      variant->how);
	gt_finish(_metadata, self, variant->how);
}

/* 64 BOs, their handles and mmaps held across one take-away. */
TEST_F_TIMEOUT(takeaway, many_bos, GT_TIMEOUT)
{
	long io_before, io_with, io_taken;
	unsigned int i, bus = 0, closed = 0;
	int ret;

	if (self->fd < 0)
		return;
	io_before = gt_io_settled();
	for (i = 0; i < MANY_BOS; i++)
		gt_bo_new(_metadata, self->fd, MANY_SIZE, SEED + i,
			  &self->bos[i]);
	io_with = gt_io_settled();

	GT_TAKE_AWAY(&self->d, variant->how);
	io_taken = gt_check_slots(_metadata, &self->o, io_before, io_with,
				  "the 64 held BOs", variant->how);
	for (i = 0; i < MANY_BOS; i++)
		bus += gt_read_held(_metadata, self->bos[i].map,
				    self->bos[i].size, SEED + i, "a BO's mmap",
				    true);
	TH_LOG("the BOs' mmaps after the take-away: %u of %u raised SIGBUS",
	       bus, MANY_BOS);
	for (i = 0; i < MANY_BOS; i++) {
		ret = gemlib_gem_close(self->fd, self->bos[i].handle);
		EXPECT_TRUE(ret == 0 || ret == -ENODEV)
			TH_LOG("GEM_CLOSE of BO %u on the old fd: %s, expected 0 or ENODEV",
			       i, strerror(-ret));
		closed += !ret;
	}
	TH_LOG("GEM_CLOSE on the old fd: %u of %u returned 0, the rest ENODEV",
	       closed, MANY_BOS);

	for (i = 0; i < MANY_BOS; i++)
		gt_bo_unmap(&self->bos[i]);
	close(self->fd);
	self->fd = -1;
	gt_check_slots_closed(_metadata, io_taken, "the 64 held BOs",
			      variant->how);
	gt_finish(_metadata, self, variant->how);
}

/*
 * Another device's BO imported into the device under test and held by its
 * handle there: the import maps the exporter's pages for the device under
 * test (drm_gem_prime_import() maps the attachment), a mapping its driver
 * must give up when its device goes although the pages are not its own.
 * The exporter stays; its data must too. Skips when the driver imports no
 * foreign dma-buf.
 */
TEST_F_TIMEOUT(takeaway, held_import, GT_TIMEOUT)
{
	struct gt_bo *peer = &self->bos[1];
	long io_before, io_with, io_taken;
	const char *peer_name = NULL;
	uint32_t handle;
	int ret;

	if (self->fd < 0)
		return;
	self->peer_fd = gt_open_peer(&self->d, "vgem", &peer_name);
	if (self->peer_fd < 0)
		SKIP(return, "no other DRM device (vgem, refgem, a second %s) to export a BO",
		     self->d.driver);
	io_before = gt_io_settled();
	gt_bo_new(_metadata, self->peer_fd, BO_SIZE, SEED, peer);
	ret = gemlib_prime_export(self->peer_fd, peer->handle,
				  DRM_CLOEXEC | DRM_RDWR, &self->dmabuf);
	ASSERT_EQ(0, ret) TH_LOG("PRIME export from %s: %s", peer_name,
				 strerror(-ret));
	ret = gemlib_prime_import(self->fd, self->dmabuf, &handle);
	if (ret)
		SKIP(return, "%s does not import a dma-buf of %s: %s",
		     self->d.driver, peer_name, strerror(-ret));
	io_with = gt_io_settled();
	if (io_with >= 0)
		TH_LOG("%s's import of a 1 MiB BO of %s holds %ld swiotlb slots",
		       self->d.driver, peer_name, io_with - io_before);

	GT_TAKE_AWAY(&self->d, variant->how);
	io_taken = gt_check_slots(_metadata, &self->o, io_before, io_with,
				  "the imported BO", variant->how);
	GK_EXPECT_PATTERN(peer->map, peer->size, SEED,
			  "the exporter's mmap after the take-away");
	GT_EXPECT_CLEAN(gemlib_gem_close(self->fd, handle),
			"GEM_CLOSE of the import");
	close(self->fd);
	self->fd = -1;
	gt_check_slots_closed(_metadata, io_taken, "the imported BO",
			      variant->how);

	gt_bo_unmap(peer);
	close(self->dmabuf);
	self->dmabuf = -1;
	close(self->peer_fd);
	self->peer_fd = -1;
	gt_finish(_metadata, self, variant->how);
}

/*
 * The other way round: the device under test's BO exported and imported
 * into another device (refgem, whose import maps the attachment for its
 * own device), the dma-buf, its mmap and the import held across the
 * take-away of the exporter's device. The importer's mapping rightly
 * stays (its device is there); the exporter's own must go. The importer
 * then lets go of its attachment with the exporter's device gone.
 */
TEST_F_TIMEOUT(takeaway, held_export, GT_TIMEOUT)
{
	struct gt_bo *bo = &self->bos[0];
	long io_before, io_own, io_with, io_taken, io;
	const char *peer_name = NULL;
	uint32_t handle;
	char what[128];
	int ret;

	if (self->fd < 0)
		return;
	self->peer_fd = gt_open_peer(&self->d, "refgem", &peer_name);
	if (self->peer_fd < 0)
		SKIP(return, "no other DRM device (refgem, vgem, a second %s) to import a BO",
		     self->d.driver);
	io_before = gt_io_settled();
	gt_bo_new(_metadata, self->fd, BO_SIZE, SEED, bo);
	self->dmabuf_size = bo->size;
	gt_bo_export(_metadata, self->fd, bo, &self->dmabuf,
		     &self->dmabuf_map);
	io_own = gt_io_settled();
	ret = gemlib_prime_import(self->peer_fd, self->dmabuf, &handle);
	if (ret)
		SKIP(return, "%s does not import a dma-buf of %s: %s",
		     peer_name, self->d.driver, strerror(-ret));
	io_with = gt_io_settled();
	snprintf(what, sizeof(what), "the exported BO (plus %ld slots of %s's import)",
		 io_with - io_own, peer_name);

	GT_TAKE_AWAY(&self->d, variant->how);
	io_taken = gt_check_slots(_metadata, &self->o,
				  io_before + io_with - io_own, io_with, what,
				  variant->how);
	gt_read_held(_metadata, self->dmabuf_map, self->dmabuf_size, SEED,
		     "the dma-buf's mmap", false);

	/* The importer detaches, its device still there: its slots go. */
	EXPECT_EQ(0, gemlib_gem_close(self->peer_fd, handle))
		TH_LOG("GEM_CLOSE of %s's import", peer_name);
	io = gt_io_settled();
	if (io >= 0)
		TH_LOG("io_tlb_used %ld once %s let go of its import", io,
		       peer_name);
	GT_EXPECT_CLEAN(gemlib_gem_close(self->fd, bo->handle), "GEM_CLOSE");
	close(self->fd);
	self->fd = -1;
	munmap(self->dmabuf_map, self->dmabuf_size);
	self->dmabuf_map = NULL;
	close(self->dmabuf);
	self->dmabuf = -1;
	gt_bo_unmap(bo);
	gt_check_slots_closed(_metadata, io_taken < 0 ? -1 : io,
			      "the exported BO", variant->how);
	close(self->peer_fd);
	self->peer_fd = -1;
	gt_finish(_metadata, self, variant->how);
}

/*
 * Rebind and use, GT_CYCLES times: a BO, its mmap and a dma-buf of it held
 * across each take-away, the next BO made on the device given back. Each
 * take-away must leave no mapping, whatever the cycles before left behind
 * or still had in flight. 5 cycles: every cycle is judged on its own, so
 * a leak shows in the first that leaks; long series are a soak's job.
 */
#define GT_CYCLES	5

TEST_F_TIMEOUT(takeaway, cycles, GT_TIMEOUT * 2)
{
	struct gt_bo *bo = &self->bos[0];
	long io_before, io_with, io_taken;
	unsigned int c;

	if (self->fd < 0)
		return;
	for (c = 0; c < GT_CYCLES && _metadata->passed; c++) {
		io_before = gt_io_settled();
		gt_bo_new(_metadata, self->fd, BO_SIZE, SEED + c, bo);
		gt_bo_export(_metadata, self->fd, bo, &self->dmabuf, NULL);
		io_with = gt_io_settled();

		GT_TAKE_AWAY(&self->d, variant->how);
		TH_LOG("cycle %u of %u", c + 1, GT_CYCLES);
		io_taken = gt_check_slots(_metadata, &self->o, io_before,
					  io_with, "the held BO", variant->how);
		gt_read_held(_metadata, bo->map, bo->size, SEED + c,
			     "the BO's mmap", false);
		GT_EXPECT_CLEAN(gemlib_gem_close(self->fd, bo->handle),
				"GEM_CLOSE");
		gt_bo_unmap(bo);
		close(self->dmabuf);
		self->dmabuf = -1;
		close(self->fd);
		self->fd = -1;
		gt_check_slots_closed(_metadata, io_taken, "the held BO",
				      variant->how);

		self->fd = gt_give_back(&self->d, variant->how);
		ASSERT_LE(0, self->fd)
			TH_LOG("cycle %u: undoing %s of %s: %s", c + 1,
			       gt_how_name(variant->how), self->d.dev,
			       strerror(-self->fd));
	}
	gt_check_new_device(_metadata, self->fd);
	close(self->fd);
	self->fd = -1;
	gt_io_settled();
	gk_check_io_back(_metadata, &self->o);
}

/*
 * Module unload while userspace holds the device's objects. The DRM file
 * holds a reference on the driver's module (its fops' owner) and so does a
 * dma-buf of a BO (its exporter's owner): the reference count is above its
 * baseline while either is held, an unload is refused then, the dma-buf's
 * data is unharmed, and the count is back at its baseline once both are
 * closed. A module unloaded from under a dma-buf would leave its
 * operations dangling. The module is the one named after the DRM driver
 * (drmGetVersion()'s name, as for every upstream driver); an unload is
 * tried only while the count shows the test holds it, so a module the
 * test does not hold (a bus driver, say) is never unloaded, and none is
 * here: nothing could load it again with its parameters.
 */
FIXTURE(unload) {
	struct gk_oracle o;
	struct gt_dev d;
	int fd;
	int dmabuf;
	void *map;
	struct gt_bo bo;
	char refcnt[PATH_MAX];
	long start;	/* the module's reference count, nothing of ours open */
};

FIXTURE_SETUP(unload)
{
	int ret;

	self->fd = -1;
	self->dmabuf = -1;
	if (!gk_begin(_metadata, &self->o, ""))
		return;
	self->fd = gt_dev_find(_metadata, &self->d);
	if (self->fd < 0)
		return;
	snprintf(self->refcnt, sizeof(self->refcnt), "/sys/module/%s/refcnt",
		 self->d.driver);
	/* The baseline without our own file's reference. */
	close(self->fd);
	self->fd = -1;
	ret = gemlib_read_long(self->refcnt, &self->start);
	if (ret)
		SKIP(return, "no module %s (built in, or named unlike its DRM driver): %s",
		     self->d.driver, strerror(-ret));
	self->fd = gt_open_again(&self->d);
	ASSERT_LE(0, self->fd) TH_LOG("opening %s again: %s", self->d.dev,
				      strerror(-self->fd));
}

FIXTURE_TEARDOWN(unload)
{
	if (self->map)
		munmap(self->map, self->bo.size);
	gt_bo_unmap(&self->bo);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->fd >= 0)
		close(self->fd);
	gk_check_kernel(_metadata, &self->o);
}

/* What the test holds (@when) holds the module, and so an unload fails. */
static void gt_check_module_held(struct __test_metadata *_metadata,
				 FIXTURE_DATA(unload) *self, const char *when)
{
	const char *mod = self->d.driver;
	long now;
	int ret;

	ret = gemlib_read_long(self->refcnt, &now);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", self->refcnt, strerror(-ret));
	TH_LOG("%s's reference count %ld %s, %ld without", mod, now, when,
	       self->start);
	ASSERT_LT(self->start, now)
		TH_LOG("module %s's reference count did not rise %s: nothing held pins it, so it could be unloaded from under what is held",
		       mod, when);
	ret = gemlib_module_unload(mod);
	TH_LOG("unloading %s %s: %s", mod, when,
	       ret ? strerror(-ret) : "unloaded");
	ASSERT_EQ(-EWOULDBLOCK, ret)
		TH_LOG("unloading %s %s: %s, expected EWOULDBLOCK (in use)",
		       mod, when, ret ? strerror(-ret) : "unloaded");
}

TEST_F(unload, held)
{
	long now;
	int ret;

	if (self->fd < 0)
		return;
	gt_bo_new(_metadata, self->fd, BO_SIZE, SEED, &self->bo);
	gt_bo_export(_metadata, self->fd, &self->bo, &self->dmabuf,
		     &self->map);

	gt_check_module_held(_metadata, self, "with its DRM file open");
	gt_bo_unmap(&self->bo);
	EXPECT_EQ(0, gemlib_gem_close(self->fd, self->bo.handle));
	close(self->fd);
	self->fd = -1;
	gt_check_module_held(_metadata, self, "with a dma-buf of a BO held");
	GK_EXPECT_PATTERN(self->map, self->bo.size, SEED,
			  "the dma-buf's mmap after the refused unload");

	munmap(self->map, self->bo.size);
	self->map = NULL;
	close(self->dmabuf);
	self->dmabuf = -1;
	ret = gemlib_read_long(self->refcnt, &now);
	ASSERT_EQ(0, ret) TH_LOG("%s: %s", self->refcnt, strerror(-ret));
	EXPECT_EQ(self->start, now)
		TH_LOG("%s's reference count %ld once everything is closed, %ld at the start",
		       self->d.driver, now, self->start);
}

TEST_HARNESS_MAIN
