/* SPDX-License-Identifier: MIT */
/*
 * What every IGT test of this project includes instead of igt.h, and the
 * helpers of the driver-agnostic GEM tests: opening the device under test
 * of the gem_dumb_* tests, other files and nodes of one device, dumb
 * buffers, and per-page data patterns.
 *
 * Built inside or against an IGT source tree (REFGEM_HAVE_IGT_TREE) it is
 * IGT's own igt.h; built against a distribution's libigt.so.0, which ships
 * no headers, it is our igt_decls.h. Test sources are the same either way,
 * so they may only use what igt_decls.h declares.
 */
#ifndef GEM_IGT_H
#define GEM_IGT_H

#ifdef REFGEM_HAVE_IGT_TREE
#include "igt.h"
#include "igt_device_scan.h"
#else
#include "igt_decls.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/dma-buf.h>
#include <xf86drm.h>

#include "gemlib.h"

/*
 * The driver the gem_dumb_* tests pick when the user chose none: this
 * project's gate runs them on refgem's devices (and on vgem by choice).
 */
#define GEM_IGT_DEFAULT_DRIVER "refgem"

/*
 * gem_igt_filtered_vgem - whether --device / IGT_DEVICE selects vgem
 *
 * IGT 1.27.1 opens a filtered device only when the chipset asked for
 * matches it, and DRIVER_ANY excludes vgem: the caller must ask for
 * DRIVER_VGEM to open the vgem node the user named.
 */
static inline bool gem_igt_filtered_vgem(void)
{
	/* Room for the members later IGT releases append. */
	union {
		struct igt_device_card card;
		char room[4096];
	} u = {};
	drmVersionPtr version;
	bool vgem = false;
	int fd;

	if (!igt_device_card_match(igt_device_filter_get(0), &u.card) ||
	    !u.card.card[0])
		return false;
	fd = open(u.card.card, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	version = drmGetVersion(fd);
	if (version) {
		vgem = !strcmp(version->name, "vgem");
		drmFreeVersion(version);
	}
	close(fd);
	return vgem;
}

/*
 * gem_igt_open - open the primary node of the device under test
 *
 * The driver-agnostic tests run on any GEM driver with dumb buffers. The
 * device is chosen as for any IGT test: by driver name with
 * IGT_FORCE_DRIVER, or by node with --device / IGT_DEVICE (e.g.
 * drm:/dev/dri/card1). vgem needs DRIVER_VGEM in both cases (IGT 1.27.1's
 * DRIVER_ANY never matches it). With nothing chosen they run on
 * GEM_IGT_DEFAULT_DRIVER when it is bound, else on the first DRM device.
 *
 * Dumb buffers and flink need the primary node: their ioctls are not
 * allowed on render nodes.
 */
static inline int gem_igt_open(void)
{
	const char *forced = getenv("IGT_FORCE_DRIVER");
	bool filtered = igt_device_filter_count() > 0;

	if ((forced && !strcmp(forced, "vgem")) ||
	    (!forced && filtered && gem_igt_filtered_vgem()))
		return drm_open_driver(DRIVER_VGEM);
	if (!forced && !filtered &&
	    gemlib_count_devices(GEM_IGT_DEFAULT_DRIVER) > 0)
		__set_forced_driver(GEM_IGT_DEFAULT_DRIVER);
	return drm_open_driver(DRIVER_ANY);
}

/* Another open file (another client) of @fd's node. */
static inline int gem_igt_reopen(int fd)
{
	char *name = drmGetDeviceNameFromFd2(fd);
	int fd2;

	igt_assert_f(name, "no device node behind fd %d\n", fd);
	fd2 = open(name, O_RDWR | O_CLOEXEC);
	igt_assert_f(fd2 >= 0, "cannot open %s: %s\n", name, strerror(errno));
	free(name);
	return fd2;
}

/* A render node of @fd's device; skips when the device has none. */
static inline int gem_igt_open_render(int fd)
{
	char *name = drmGetRenderDeviceNameFromFd(fd);
	int fd2;

	igt_require_f(name, "the device has no render node\n");
	fd2 = open(name, O_RDWR | O_CLOEXEC);
	igt_assert_f(fd2 >= 0, "cannot open %s: %s\n", name, strerror(errno));
	free(name);
	return fd2;
}

/*
 * Become an unprivileged client, nobody's uid and gid (65534), as a render
 * node's ordinary user is: in a child (igt_fork()), for good.
 */
static inline void gem_igt_drop_root(void)
{
	igt_assert_eq(setgid(65534), 0);
	igt_assert_eq(setuid(65534), 0);
}

/* PRIME export of @handle; asserts success and returns the dma-buf fd. */
static inline int gem_igt_export(int fd, uint32_t handle, uint32_t flags)
{
	int dmabuf = -1;

	igt_assert_eq(gemlib_prime_export(fd, handle, flags, &dmabuf), 0);
	igt_assert_fd(dmabuf);
	return dmabuf;
}

/* PRIME import of @dmabuf; asserts success and returns the handle. */
static inline uint32_t gem_igt_import(int fd, int dmabuf)
{
	uint32_t handle = 0;

	igt_assert_eq(gemlib_prime_import(fd, dmabuf, &handle), 0);
	igt_assert(handle);
	return handle;
}

/* Skip unless the driver can create dumb buffers on @fd. */
static inline void gem_igt_require_dumb(int fd)
{
	uint32_t handle;
	int ret = gemlib_dumb_create(fd, 4096, &handle, NULL);

	igt_require_f(ret != -ENOSYS && ret != -EOPNOTSUPP,
		      "the driver has no dumb buffers\n");
	igt_assert_eq(ret, 0);
	igt_assert_eq(gemlib_gem_close(fd, handle), 0);
}

/* Skip unless the driver can PRIME-export and -import (DRM_CAP_PRIME). */
static inline void gem_igt_require_prime(int fd)
{
	uint64_t cap = 0;

	igt_require_f(!drmGetCap(fd, DRM_CAP_PRIME, &cap) &&
		      (cap & DRM_PRIME_CAP_EXPORT) &&
		      (cap & DRM_PRIME_CAP_IMPORT),
		      "the driver cannot both export and import dma-bufs\n");
}

/* A dumb buffer of @size bytes; returns the handle. */
static inline uint32_t gem_igt_dumb(int fd, uint64_t size)
{
	uint64_t real = 0;
	uint32_t handle;

	igt_assert_eq(gemlib_dumb_create(fd, size, &handle, &real), 0);
	igt_assert_lte_u64(size, real);
	return handle;
}

/* mmap(MAP_SHARED) @size bytes of a dumb buffer, read-write. */
static inline void *gem_igt_dumb_map(int fd, uint32_t handle, uint64_t size)
{
	uint64_t offset;
	void *ptr;

	igt_assert_eq(gemlib_dumb_mmap_offset(fd, handle, &offset), 0);
	igt_assert_eq(gemlib_mmap(fd, offset, size, PROT_READ | PROT_WRITE,
				  &ptr), 0);
	return ptr;
}

/* GEM_FLINK and GEM_OPEN: 0 or the exact negative errno. */
static inline int gem_igt_flink(int fd, uint32_t handle, uint32_t *name)
{
	struct drm_gem_flink arg = { .handle = handle };

	if (drmIoctl(fd, DRM_IOCTL_GEM_FLINK, &arg))
		return -errno;
	*name = arg.name;
	return 0;
}

static inline int gem_igt_open_name(int fd, uint32_t name, uint32_t *handle,
				    uint64_t *size)
{
	struct drm_gem_open arg = { .name = name };

	if (drmIoctl(fd, DRM_IOCTL_GEM_OPEN, &arg))
		return -errno;
	*handle = arg.handle;
	if (size)
		*size = arg.size;
	return 0;
}

/* DMA_BUF_IOCTL_SYNC: 0 or the exact negative errno. */
static inline int gem_igt_dmabuf_sync(int dmabuf, uint64_t flags)
{
	struct dma_buf_sync arg = { .flags = flags };

	return drmIoctl(dmabuf, DMA_BUF_IOCTL_SYNC, &arg) ? -errno : 0;
}

static inline size_t gem_igt_page(void)
{
	return sysconf(_SC_PAGESIZE);
}

/*
 * Fill every page of [ptr, ptr + len) with its own pattern (@seed plus the
 * page index), so pages that moved, aliased or went stale do not check out.
 * @first is the page index of @ptr within the object.
 */
static inline void gem_igt_fill(void *ptr, size_t len, size_t first,
				uint32_t seed)
{
	const size_t page = gem_igt_page();
	size_t off;

	for (off = 0; off < len; off += page)
		gemlib_pattern_fill((char *)ptr + off,
				    len - off < page ? len - off : page,
				    seed + first + off / page);
}

/* Assert what gem_igt_fill() wrote; @what names the view being checked. */
static inline void gem_igt_check(const void *ptr, size_t len, size_t first,
				 uint32_t seed, const char *what)
{
	const size_t page = gem_igt_page();
	size_t off, bad;

	for (off = 0; off < len; off += page) {
		bad = gemlib_pattern_check((const char *)ptr + off,
					   len - off < page ? len - off : page,
					   seed + first + off / page);
		igt_assert_f(bad == (size_t)-1,
			     "%s: page %zu differs at byte %zu\n",
			     what, first + off / page, bad);
	}
}

/* Assert that [ptr, ptr + len) reads as zeroes. */
static inline void gem_igt_check_zero(const void *ptr, size_t len,
				      const char *what)
{
	const uint8_t *p = ptr;
	size_t i;

	for (i = 0; i < len; i++)
		igt_assert_f(!p[i], "%s: byte %zu is %#x, not 0\n",
			     what, i, p[i]);
}

#endif /* GEM_IGT_H */
