/* SPDX-License-Identifier: MIT */
/*
 * gemlib: the driver-agnostic half of the suites' helper library.
 *
 * Device discovery, sysfs bind/unbind, hot-unplug, GEM/dumb/mmap/PRIME
 * helpers over libdrm, the kernel log and kernel state for oracles: what a
 * test of any DRM driver needs. refgem.h builds refgem's own ioctls and
 * counters on top. It knows neither IGT nor the kselftest harness and
 * holds no test logic. Every function that can fail returns 0 (or a valid
 * fd) on success and a negative errno on failure, so callers can assert on
 * exact errnos.
 */
#ifndef GEMLIB_H
#define GEMLIB_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gemlib_node {
	GEMLIB_NODE_PRIMARY,
	GEMLIB_NODE_RENDER,
};

/* Discovery (lib/device.c) */

/*
 * Open the @index-th DRM node (in PCI/sysfs order) of @type whose kernel
 * driver is @driver. Returns the fd, or -ENOENT when there is none.
 */
int gemlib_open_driver(const char *driver, enum gemlib_node type,
		       unsigned int index);

/* Number of DRM devices bound to @driver (counting primary nodes). */
int gemlib_count_devices(const char *driver);

/* Write the name of the driver behind @fd into @name. */
int gemlib_fd_driver(int fd, char *name, size_t len);

/*
 * Write the parent device's bus id (for PCI "0000:01:00.0") behind @fd into
 * @bdf. -ENODEV when the device is gone.
 */
int gemlib_fd_bdf(int fd, char *bdf, size_t len);

/* sysfs (lib/sysfs.c) */

/* Write @val to @path; the exact errno of write(2) on failure. */
int gemlib_sysfs_write(const char *path, const char *val);

/* Read up to @len - 1 bytes of @path into @buf, NUL-terminated. */
int gemlib_sysfs_read(const char *path, char *buf, size_t len);

/* /sys/bus/pci/drivers/<driver>/{unbind,bind} <- @bdf */
int gemlib_pci_unbind(const char *driver, const char *bdf);
int gemlib_pci_bind(const char *driver, const char *bdf);

/* 1 when @bdf is bound to @driver, 0 when not, negative errno on error. */
int gemlib_pci_is_bound(const char *driver, const char *bdf);

/*
 * Any DRM device, not only PCI ones: the sysfs directory (resolved, under
 * /sys/devices) of the device behind DRM fd @fd, the parent of its DRM
 * minor (for virtio-gpu ".../0000:03:00.0/virtio0"). -ENODEV when the
 * device is gone.
 */
int gemlib_fd_sysfs_device(int fd, char *path, size_t len);

/*
 * The resolved sysfs directory of the driver bound to device @dev;
 * -ENOENT when none is.
 */
int gemlib_sysfs_device_driver(const char *dev, char *drv, size_t len);

/*
 * The bus address of the nearest PCI device at or above sysfs device
 * directory @dev (@dev itself for a PCI device); -ENOENT when there is none.
 */
int gemlib_sysfs_pci_ancestor(const char *dev, char *bdf, size_t len);

/* <@drv>/unbind, <@drv>/bind <- the name of device @dev (a path or a name). */
int gemlib_driver_unbind(const char *drv, const char *dev);
int gemlib_driver_bind(const char *drv, const char *dev);

/*
 * Wait up to @timeout_ms for a DRM node of @type to appear under @bdf and
 * open it. Returns the fd or a negative errno: the last open()'s when the
 * node is there but does not open, else -ETIMEDOUT.
 */
int gemlib_open_bdf(const char *bdf, enum gemlib_node type, int timeout_ms);

/*
 * QEMU hot-unplug and re-plug of the PCI device at @bdf, asked of the host
 * through the guest launcher (lib/vmctl.c). Returns once the guest has
 * removed the device (or bound a driver to it again); -ENOTSUP when not
 * in a refgem-vm guest (REFGEM_VMCTL unset) or when QEMU cannot hot-unplug
 * that device (the launcher says why on stderr).
 */
int gemlib_vm_unplug(const char *bdf);
int gemlib_vm_replug(const char *bdf);

/* GEM buffer objects (lib/bo.c) */

/* drmIoctl(), errno-normalised: 0 or -errno. */
int gemlib_ioctl(int fd, unsigned long req, void *arg);

/* A dumb buffer of @size bytes (width*height*bpp). */
int gemlib_dumb_create(int fd, uint64_t size, uint32_t *handle,
		       uint64_t *real_size);

/* The dumb buffer's fake mmap offset. */
int gemlib_dumb_mmap_offset(int fd, uint32_t handle, uint64_t *offset);

/* GEM_CLOSE through libdrm. */
int gemlib_gem_close(int fd, uint32_t handle);

/*
 * mmap(MAP_SHARED) @size bytes at fake @offset of the DRM fd. Returns the
 * address in @ptr, or a negative errno with *@ptr untouched.
 */
int gemlib_mmap(int fd, uint64_t offset, uint64_t size, int prot, void **ptr);

/* PRIME through libdrm, errno-normalised. */
int gemlib_prime_export(int fd, uint32_t handle, uint32_t flags, int *dmabuf);
int gemlib_prime_import(int fd, int dmabuf, uint32_t *handle);

/* Data patterns (lib/pattern.c): fill/verify a per-word pattern seeded by @seed. */
void gemlib_pattern_fill(void *ptr, size_t len, uint32_t seed);
/* Returns the byte offset of the first mismatch, or (size_t)-1 when intact. */
size_t gemlib_pattern_check(const void *ptr, size_t len, uint32_t seed);

/* The kernel log (lib/kmsg.c) */

/* Write a marker line to /dev/kmsg for per-test dmesg splits. */
int gemlib_kmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct gemlib_kmsg_record {
	int level;		/* 0 (emerg) .. 7 (debug) */
	int facility;		/* 0: the kernel; else written from userspace */
	unsigned long long seq;
	char text[1024];	/* the first line of the message */
};

/* Open /dev/kmsg (non-blocking) for the records logged from now on. */
int gemlib_kmsg_open(void);

/*
 * Read the next record from @fd into @rec: 1 when one was read, 0 when none
 * is left, -EPIPE when unread records were overwritten (the next call goes
 * on with the oldest left), another negative errno on error.
 */
int gemlib_kmsg_next(int fd, struct gemlib_kmsg_record *rec);

/*
 * The kernel-log rules (lib/kernel-log.rules, whose header says what they
 * mean): which records count against a test and which taint bits it may
 * gain. Parse the file's @text; on a bad line, -EINVAL with the line and
 * why in @err.
 */
struct gemlib_klog_rules;

int gemlib_klog_rules_parse(const char *text, struct gemlib_klog_rules **rules,
			    char *err, size_t errlen);
void gemlib_klog_rules_free(struct gemlib_klog_rules *rules);

/*
 * Whether @rec counts against the test whose whole name is @test (NULL:
 * unknown, so scoped allow entries do not apply): a kernel record at level
 * warning or worse that no allow entry matches.
 */
bool gemlib_klog_counts(const struct gemlib_klog_rules *rules,
			const struct gemlib_kmsg_record *rec, const char *test);

/* The taint bits a test may gain. */
unsigned long gemlib_klog_ignored_taint(const struct gemlib_klog_rules *rules);

/* Kernel state for oracles (lib/kernel.c): raw readers, no judgement. */

/* The decimal number that @path holds (sysfs, debugfs, procfs). */
int gemlib_read_long(const char *path, long *val);

/* /proc/sys/kernel/tainted. */
int gemlib_taint(unsigned long *taint);

/* swiotlb's used 2 KiB slots; -ENOENT when there is no swiotlb pool. */
int gemlib_swiotlb_used(long *slots);
/* swiotlb's 2 KiB slots in all; -ENOENT when there is no swiotlb pool. */
int gemlib_swiotlb_slots(long *slots);

/* Field @field ("MemFree", "Slab", ...) of /proc/meminfo, in KiB. */
int gemlib_meminfo_kib(const char *field, long *kib);
/* MemTotal of /proc/meminfo (the kernel's totalram), in bytes. */
int gemlib_mem_total(uint64_t *bytes);

/*
 * kmemleak: scan @scans times, then hand each report of an unreferenced
 * object (its lines, each ending in '\n') that names process @comm (NULL:
 * every report) to @report. Returns how many it handed, or -errno (no
 * kmemleak: -ENOENT or -EACCES; -ENOMEM rather than a report cut short).
 * Reports stay until cleared.
 */
typedef void (*gemlib_leak_fn)(const char *report, void *arg);
int gemlib_kmemleak(int scans, const char *comm, gemlib_leak_fn report,
		    void *arg);

/* Whether gemlib_kmemleak()'s -errno @err says there is no kmemleak. */
static inline bool gemlib_kmemleak_absent(int err)
{
	return err == -ENOENT || err == -EACCES;
}
int gemlib_kmemleak_clear(void);

/* 1 when loadable module @name is loaded, 0 when not. */
int gemlib_module_loaded(const char *name);

/* delete_module(2) without waiting: -EAGAIN or -EBUSY while in use. */
int gemlib_module_unload(const char *name);

/* finit_module(2) of the .ko at @path with @params ("a=1 b=2" or NULL). */
int gemlib_module_load(const char *path, const char *params);

#endif /* GEMLIB_H */
