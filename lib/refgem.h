/* SPDX-License-Identifier: MIT */
/*
 * librefgem's refgem half: refgem's ioctls and debugfs counters, on top of
 * the driver-agnostic gemlib.h (same conventions: 0 or a negative errno).
 */
#ifndef REFGEM_LIB_H
#define REFGEM_LIB_H

#include "gemlib.h"
#include "refgem_drm.h"

#define REFGEM_DRIVER_NAME "refgem"

/* refgem's ioctls (lib/refgem_ioctl.c) */

/* refgem's own create ioctl; writes the new handle to @handle. */
int refgem_bo_create(int fd, uint64_t size, uint32_t flags,
		     uint32_t *handle);

/* refgem's mmap-offset ioctl. */
int refgem_bo_mmap_offset(int fd, uint32_t handle, uint64_t *offset);

/*
 * refgem's sg_table mapping for @handle; @device_fd -1 names the BO's own
 * device. Fills @out (may be NULL).
 */
int refgem_sgt_map(int fd, uint32_t handle, int device_fd,
		   struct drm_refgem_sgt_map *out);

/*
 * Device DMA through the BO's mapping: @op REFGEM_DMA_TO_USER reads the BO
 * as the device sees it into @buf, REFGEM_DMA_FROM_USER writes @buf into it.
 */
int refgem_dma(int fd, uint32_t handle, uint32_t op, uint32_t engine,
	       uint64_t offset, uint64_t len, void *buf);

/* Oracles (lib/counters.c) */

#define REFGEM_COUNTERS_PATH "/sys/kernel/debug/refgem/counters"

/*
 * refgem's counters are the uAPI header's enum refgem_counter (REFGEM_C_*,
 * in the order its debugfs files print them); refgem_counter_names[] are
 * their names, from the same header's list.
 */
extern const char *const refgem_counter_names[REFGEM_C_NR];

/* A snapshot of every counter, read from the file at once. */
struct refgem_counters {
	long v[REFGEM_C_NR];
};

/* The id of counter @name, or -ENOENT. */
int refgem_counter_id(const char *name);

/* Module-wide; -ENOENT when a counter is missing, -errno when unreadable. */
int refgem_counters_read(struct refgem_counters *c);

/* One device's, the device behind DRM fd @fd; gone once the device is. */
int refgem_device_counters_read(int fd, struct refgem_counters *c);

/* One counter of a fresh snapshot of the device behind @fd. */
int refgem_device_counter(int fd, enum refgem_counter id, long *val);

#endif /* REFGEM_LIB_H */
