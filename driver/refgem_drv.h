/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * refgem: a reference GEM shmem driver for QEMU's edu PCI device.
 */
#ifndef REFGEM_DRV_H
#define REFGEM_DRV_H

#include <linux/atomic.h>
#include <linux/pci.h>

#include <drm/drm_device.h>
#include <drm/drm_gem_shmem_helper.h>

#define REFGEM_NAME	"refgem"

/*
 * Module-wide counters: they outlive every device, so a test can read them
 * after unbind and after the last close. Lock-free atomics.
 */
struct refgem_counters {
	atomic_long_t bos_alive;
	atomic_long_t bos_created;
};

extern struct refgem_counters refgem_stats;

struct refgem_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *mmio;
};

static inline struct refgem_device *to_refgem(struct drm_device *drm)
{
	return container_of(drm, struct refgem_device, drm);
}

struct refgem_bo {
	struct drm_gem_shmem_object base;
};

/* refgem_gem.c */
struct drm_gem_object *refgem_gem_create_object(struct drm_device *drm,
						size_t size);
int refgem_ioctl_gem_create(struct drm_device *drm, void *data,
			    struct drm_file *file);
int refgem_ioctl_gem_mmap_offset(struct drm_device *drm, void *data,
				 struct drm_file *file);
int refgem_dumb_create(struct drm_file *file, struct drm_device *drm,
		       struct drm_mode_create_dumb *args);
struct drm_gem_object *
refgem_gem_prime_import_sg_table(struct drm_device *drm,
				 struct dma_buf_attachment *attach,
				 struct sg_table *sgt);

/* refgem_debugfs.c */
void refgem_debugfs_module_init(void);
void refgem_debugfs_module_exit(void);

#endif /* REFGEM_DRV_H */
