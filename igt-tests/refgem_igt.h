/* SPDX-License-Identifier: MIT */
/*
 * What every refgem IGT test includes: the driver-agnostic gem_igt.h plus
 * helpers for refgem's devices, ioctls and counters.
 */
#ifndef REFGEM_IGT_H
#define REFGEM_IGT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gem_igt.h"
#include "refgem.h"

/*
 * refgem_igt_open_driver - open a refgem node through IGT's device selection
 * @node: GEMLIB_NODE_PRIMARY or GEMLIB_NODE_RENDER
 *
 * IGT has no DRIVER_* bit for refgem, so drm_open_driver(DRIVER_ANY) would
 * take the first card of any driver. When the user chose nothing
 * (no IGT_FORCE_DRIVER, no --device / IGT_DEVICE filter) narrow the choice to
 * refgem exactly as IGT_FORCE_DRIVER=refgem would; otherwise honour the
 * choice and skip, saying why, if it is not a refgem device.
 *
 * With no refgem device at all, skip before drm_open_driver(): on a failed
 * search IGT modprobes every driver in its table.
 *
 * Call it from an igt_fixture. Returns the fd.
 */
static inline int refgem_igt_open_driver(enum gemlib_node node)
{
	const char *forced = getenv("IGT_FORCE_DRIVER");
	char name[64] = "";
	int fd;

	igt_require_f(gemlib_count_devices(REFGEM_DRIVER_NAME) > 0,
		      "no DRM device is bound to the %s driver\n",
		      REFGEM_DRIVER_NAME);
	/* Without this, a failed search modprobes every driver IGT knows. */
	igt_require_f(!forced || !strcmp(forced, REFGEM_DRIVER_NAME),
		      "IGT_FORCE_DRIVER=%s: not a %s device\n", forced,
		      REFGEM_DRIVER_NAME);

	if (!forced && !igt_device_filter_count())
		__set_forced_driver(REFGEM_DRIVER_NAME);

	if (node == GEMLIB_NODE_RENDER)
		fd = drm_open_driver_render(DRIVER_ANY);
	else
		fd = drm_open_driver(DRIVER_ANY);

	igt_assert_eq(gemlib_fd_driver(fd, name, sizeof(name)), 0);
	if (strcmp(name, REFGEM_DRIVER_NAME))
		close(fd);
	igt_require_f(!strcmp(name, REFGEM_DRIVER_NAME),
		      "device selection picked %s, not %s: see IGT_FORCE_DRIVER, IGT_DEVICE, --device\n",
		      name, REFGEM_DRIVER_NAME);

	return fd;
}

/*
 * refgem_igt_open_other - open a node of another refgem device than @fd's
 *
 * For tests between the two devices (PRIME, wrong-device mappings); skips
 * when there is only one.
 */
static inline int refgem_igt_open_other(int fd, enum gemlib_node node)
{
	char bdf[32], other[32];
	int i, n, fd2;

	igt_assert_eq(gemlib_fd_bdf(fd, bdf, sizeof(bdf)), 0);
	n = gemlib_count_devices(REFGEM_DRIVER_NAME);
	for (i = 0; i < n; i++) {
		fd2 = gemlib_open_driver(REFGEM_DRIVER_NAME, node, i);
		if (fd2 < 0)
			continue;
		if (!gemlib_fd_bdf(fd2, other, sizeof(other)) &&
		    strcmp(bdf, other))
			return fd2;
		close(fd2);
	}
	igt_skip("needs a second %s device besides %s\n",
		 REFGEM_DRIVER_NAME, bdf);
}

/* A snapshot of refgem's module-wide counters (lib's, read at once). */
static inline void refgem_igt_counters_get(struct refgem_counters *c)
{
	int ret = refgem_counters_read(c);

	igt_assert_f(ret == 0, "cannot read %s: %s\n", REFGEM_COUNTERS_PATH,
		     strerror(-ret));
}

static inline long refgem_igt_counter(enum refgem_counter id)
{
	struct refgem_counters c;

	refgem_igt_counters_get(&c);
	return c.v[id];
}

/* For a fixture: skip, saying why, when the counters cannot be read. */
static inline void refgem_igt_require_counters(void)
{
	struct refgem_counters c;

	igt_require_f(refgem_counters_read(&c) == 0,
		      "%s is not readable (is debugfs mounted?)\n",
		      REFGEM_COUNTERS_PATH);
}

/*
 * Assert that what a refgem subtest must leave as it found it is back
 * where @before saw it: live objects, live DMA mappings and pinned pages;
 * and late_unmaps never moves (a mapping unmapped after its device went).
 */
static inline void
refgem_igt_counters_settled(const struct refgem_counters *before)
{
	static const struct {
		enum refgem_counter id;
		const char *why;
	} settle[] = {
		{ REFGEM_C_BOS_ALIVE, "objects leaked or lost" },
		{ REFGEM_C_MAPS_LIVE, "DMA mappings leaked" },
		{ REFGEM_C_PAGES_PINNED, "pages left pinned" },
		{ REFGEM_C_LATE_UNMAPS, "a mapping outlived its device" },
	};
	struct refgem_counters now;
	unsigned int i;

	refgem_igt_counters_get(&now);
	for (i = 0; i < ARRAY_SIZE(settle); i++)
		igt_assert_f(now.v[settle[i].id] == before->v[settle[i].id],
			     "%s %ld, was %ld: %s\n",
			     refgem_counter_names[settle[i].id],
			     now.v[settle[i].id], before->v[settle[i].id],
			     settle[i].why);
}

/* refgem's module parameter @name (file_bo_max, ...); asserts it reads. */
static inline long refgem_igt_param(const char *name)
{
	char path[128];
	long val;

	snprintf(path, sizeof(path), "/sys/module/refgem/parameters/%s", name);
	igt_assert_f(!gemlib_read_long(path, &val), "cannot read %s\n", path);
	return val;
}

/* A refgem object of @size bytes from GEM_CREATE; returns the handle. */
static inline uint32_t refgem_igt_create(int fd, uint64_t size)
{
	uint32_t handle = 0;

	igt_assert_eq(refgem_bo_create(fd, size, 0, &handle), 0);
	igt_assert(handle);
	return handle;
}

/* mmap(MAP_SHARED) @size bytes of a refgem object, read-write. */
static inline void *refgem_igt_map(int fd, uint32_t handle, uint64_t size)
{
	uint64_t offset;
	void *ptr;

	igt_assert_eq(refgem_bo_mmap_offset(fd, handle, &offset), 0);
	igt_assert_eq(gemlib_mmap(fd, offset, size, PROT_READ | PROT_WRITE,
				  &ptr), 0);
	return ptr;
}

/* Device DMA that must succeed (see refgem_dma()). */
static inline void refgem_igt_dma(int fd, uint32_t handle, uint32_t op,
				  uint32_t engine, uint64_t offset,
				  uint64_t len, void *buf)
{
	int ret = refgem_dma(fd, handle, op, engine, offset, len, buf);

	igt_assert_f(ret == 0, "%s engine %s [%#llx, +%#llx) failed: %s\n",
		     engine == REFGEM_ENGINE_EDU ? "edu" : "sw",
		     op == REFGEM_DMA_TO_USER ? "read of" : "write to",
		     (unsigned long long)offset, (unsigned long long)len,
		     strerror(-ret));
}

#endif /* REFGEM_IGT_H */
