/* SPDX-License-Identifier: MIT */
/*
 * librefgem: helpers shared by refgem's IGT tests and kselftests.
 *
 * Device discovery, sysfs bind/unbind and BO/mmap/PRIME helpers over libdrm.
 * It knows neither IGT nor the kselftest harness and holds no test logic.
 * Every function that can fail returns 0 (or a valid fd) on success and a
 * negative errno on failure, so callers can assert on exact errnos.
 */
#ifndef REFGEM_LIB_H
#define REFGEM_LIB_H

#include <stddef.h>
#include <stdint.h>

#include "refgem_drm.h"

#define REFGEM_DRIVER_NAME "refgem"

enum refgem_node {
	REFGEM_NODE_PRIMARY,
	REFGEM_NODE_RENDER,
};

/* Discovery (lib/device.c) */

/*
 * Open the @index-th DRM node (in PCI/sysfs order) of @type whose kernel
 * driver is @driver. Returns the fd, or -ENOENT when there is none.
 */
int refgem_open_driver(const char *driver, enum refgem_node type,
		       unsigned int index);

/* Number of DRM devices bound to @driver (counting primary nodes). */
int refgem_count_devices(const char *driver);

/* Write the name of the driver behind @fd into @name. */
int refgem_fd_driver(int fd, char *name, size_t len);

/*
 * Write the parent device's bus id (for PCI "0000:01:00.0") behind @fd into
 * @bdf. -ENODEV when the device is gone.
 */
int refgem_fd_bdf(int fd, char *bdf, size_t len);

/* sysfs (lib/sysfs.c) */

/* Write @val to @path; the exact errno of write(2) on failure. */
int refgem_sysfs_write(const char *path, const char *val);

/* Read up to @len - 1 bytes of @path into @buf, NUL-terminated. */
int refgem_sysfs_read(const char *path, char *buf, size_t len);

/* /sys/bus/pci/drivers/<driver>/{unbind,bind} <- @bdf */
int refgem_pci_unbind(const char *driver, const char *bdf);
int refgem_pci_bind(const char *driver, const char *bdf);

/* 1 when @bdf is bound to @driver, 0 when not, negative errno on error. */
int refgem_pci_is_bound(const char *driver, const char *bdf);

/*
 * Wait up to @timeout_ms for a DRM node of @type to appear under @bdf and
 * open it. Returns the fd or a negative errno (-ETIMEDOUT).
 */
int refgem_open_bdf(const char *bdf, enum refgem_node type, int timeout_ms);

/*
 * QEMU hot-unplug and re-plug of the PCI device at @bdf, asked of the host
 * through the guest launcher (lib/vmctl.c). Returns once the guest has
 * removed (or probed again) the device; -ENOTSUP when not in a refgem-vm
 * guest (REFGEM_VMCTL unset).
 */
int refgem_vm_unplug(const char *bdf);
int refgem_vm_replug(const char *bdf);

/* Buffer objects (lib/bo.c) */

/* refgem's own create ioctl; writes the new handle to @handle. */
int refgem_bo_create(int fd, uint64_t size, uint32_t flags,
		     uint32_t *handle);

/* Driver-agnostic: a dumb buffer of @size bytes (width*height*bpp). */
int refgem_dumb_create(int fd, uint64_t size, uint32_t *handle,
		       uint64_t *real_size);

/* refgem's mmap-offset ioctl / the dumb-buffer one. */
int refgem_bo_mmap_offset(int fd, uint32_t handle, uint64_t *offset);
int refgem_dumb_mmap_offset(int fd, uint32_t handle, uint64_t *offset);

/* GEM_CLOSE through libdrm. */
int refgem_bo_close(int fd, uint32_t handle);

/*
 * mmap(MAP_SHARED) @size bytes at fake @offset of the DRM fd. Returns the
 * address in @ptr, or a negative errno with *@ptr untouched.
 */
int refgem_mmap(int fd, uint64_t offset, uint64_t size, int prot, void **ptr);

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

/* PRIME through libdrm, errno-normalised. */
int refgem_prime_export(int fd, uint32_t handle, uint32_t flags, int *dmabuf);
int refgem_prime_import(int fd, int dmabuf, uint32_t *handle);

/* Data patterns (lib/pattern.c): fill/verify a per-word pattern seeded by @seed. */
void refgem_pattern_fill(void *ptr, size_t len, uint32_t seed);
/* Returns the byte offset of the first mismatch, or (size_t)-1 when intact. */
size_t refgem_pattern_check(const void *ptr, size_t len, uint32_t seed);

/* Oracles (lib/counters.c) */

#define REFGEM_COUNTERS_PATH "/sys/kernel/debug/refgem/counters"

/*
 * refgem's counters, in the order its debugfs files print them (the
 * driver's enum refgem_counter, documented in driver/refgem_debugfs.c).
 * refgem_counter_names[] is their one list of names on this side.
 */
enum refgem_counter_id {
	REFGEM_C_BOS_ALIVE,
	REFGEM_C_BOS_CREATED,
	REFGEM_C_MAPS_LIVE,
	REFGEM_C_MAPS_CREATED,
	REFGEM_C_MAPS_REVOKED,
	REFGEM_C_MAPS_RELEASED,
	REFGEM_C_LATE_UNMAPS,
	REFGEM_C_WRONG_DEVICE,
	REFGEM_C_DMA_TRANSFERS,
	REFGEM_C_BOUNCED_SEGMENTS,
	REFGEM_C_PAGES_PINNED,
	REFGEM_C_OWNED_MAPS_LIVE,
	REFGEM_NR_COUNTERS
};

extern const char *const refgem_counter_names[REFGEM_NR_COUNTERS];

/* A snapshot of every counter, read from the file at once. */
struct refgem_counters {
	long v[REFGEM_NR_COUNTERS];
};

/* The id of counter @name, or -ENOENT. */
int refgem_counter_id(const char *name);

/* Module-wide; -ENOENT when a counter is missing, -errno when unreadable. */
int refgem_counters_read(struct refgem_counters *c);

/* One device's, the device behind DRM fd @fd; gone once the device is. */
int refgem_device_counters_read(int fd, struct refgem_counters *c);

/* One counter of a fresh snapshot of the device behind @fd. */
int refgem_device_counter(int fd, enum refgem_counter_id id, long *val);

/* The kernel log (lib/kmsg.c) */

/* Write a marker line to /dev/kmsg for per-test dmesg splits. */
int refgem_kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct refgem_kmsg_record {
	int level;		/* 0 (emerg) .. 7 (debug) */
	int facility;		/* 0: the kernel; else written from userspace */
	unsigned long long seq;
	char text[1024];	/* the first line of the message */
};

/* Open /dev/kmsg (non-blocking) for the records logged from now on. */
int refgem_kmsg_open(void);

/*
 * Read the next record from @fd into @rec: 1 when one was read, 0 when none
 * is left, -EPIPE when unread records were overwritten (the next call goes
 * on with the oldest left), another negative errno on error.
 */
int refgem_kmsg_next(int fd, struct refgem_kmsg_record *rec);

/* Kernel state for oracles (lib/kernel.c): raw readers, no judgement. */

/* /proc/sys/kernel/tainted. */
int refgem_taint(unsigned long *taint);

/* swiotlb's used 2 KiB slots; -ENOENT when there is no swiotlb pool. */
int refgem_swiotlb_used(long *slots);
/* swiotlb's 2 KiB slots in all; -ENOENT when there is no swiotlb pool. */
int refgem_swiotlb_slots(long *slots);

/* MemTotal of /proc/meminfo (the kernel's totalram), in bytes. */
int refgem_mem_total(uint64_t *bytes);

/* 1 when loadable module @name is loaded, 0 when not. */
int refgem_module_loaded(const char *name);

/* delete_module(2) without waiting: -EAGAIN or -EBUSY while in use. */
int refgem_module_unload(const char *name);

/* finit_module(2) of the .ko at @path with @params ("a=1 b=2" or NULL). */
int refgem_module_load(const char *path, const char *params);

#endif /* REFGEM_LIB_H */
