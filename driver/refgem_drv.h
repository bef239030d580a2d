/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * refgem: a reference GEM shmem driver for QEMU's edu PCI device.
 *
 * Locking, outermost first:
 *
 *   bo->map_lock        serialises creating one BO's device mapping (the
 *                       slow path of refgem_bo_map()); never held across
 *                       another BO's.
 *   rdev->maps_lock     the device's list of live mappings, rdev->revoked,
 *                       and tearing a listed mapping down (revoke or free).
 *   shmem pages lock    (6.1: shmem->pages_lock, 6.12: the BO's dma_resv)
 *                       taken by the shmem helpers and by refgem_sgt_drop().
 *   rdev->edu_lock      the edu DMA engine, which runs one transfer at a
 *                       time; innermost, held across a transfer only.
 *
 * A client's charges (struct refgem_client) are atomics, taken and given
 * back without a lock.
 *
 * bo->sgt is published once with smp_store_release() after the mapping is
 * listed, and read lock-free with smp_load_acquire() inside a
 * drm_dev_enter() section: revocation runs only after drm_dev_unplug() has
 * waited for every such section, so a reader never sees it torn down.
 */
#ifndef REFGEM_DRV_H
#define REFGEM_DRV_H

#include <linux/atomic.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>

#include <drm/drm_device.h>
#include <drm/drm_gem_shmem_helper.h>
#include <drm/refgem_drm.h>

#define REFGEM_NAME	"refgem"

/* enum refgem_counter (uAPI). Lock-free: atomics, read by debugfs without any lock. */
struct refgem_counters {
	atomic_long_t v[REFGEM_C_NR];
};

/* Module-wide: outlives every device, so tests read it after unbind. */
extern struct refgem_counters refgem_stats;

/*
 * The seed's SGTable<Owned>: a driver-owned buffer of vmalloc pages, built
 * into a table split at the device's maximum mapping size and DMA-mapped.
 * The edu engine bounces through it. Torn down at unbind: unmap, free the
 * table, free the pages.
 */
struct refgem_owned_sgt {
	void *vaddr;
	size_t size;
	struct page **pages;
	struct sg_table sgt;
	bool mapped;
};

struct refgem_device {
	struct drm_device drm;
	struct pci_dev *pdev;
	void __iomem *mmio;
	struct refgem_counters stats;

	/* Guards maps, revoked and listed mappings' teardown. */
	struct mutex maps_lock;
	/* Live mappings (struct refgem_bo.map_link), under maps_lock. */
	struct list_head maps;
	/* Set under maps_lock when the device is taken away. */
	bool revoked;

	/* The edu DMA engine: one transfer at a time. */
	struct mutex edu_lock;
	struct refgem_owned_sgt scratch;
};

static inline struct refgem_device *to_refgem(struct drm_device *drm)
{
	return container_of(drm, struct refgem_device, drm);
}

/*
 * One DRM file's share of what its device's clients share, so that no
 * client can take all of it: the bytes of the live BOs it created (the
 * shmem helper gives every BO its size of the device's mmap offset space,
 * 1 TiB for all clients, at create; refgem_file_bo_max), and of the BO
 * mappings its calls made (DMA space, such as swiotlb's small shared pool;
 * refgem_file_map_max). A BO may outlive the file that made it or mapped
 * it (PRIME, flink): it holds a reference.
 */
struct refgem_client {
	struct kref ref;
	atomic64_t bo_bytes;
	atomic64_t map_bytes;
};

struct refgem_bo {
	struct drm_gem_shmem_object base;
	/* Charged with this BO's size (refgem_file_bo_max); NULL if none is. */
	struct refgem_client *client;
	/* Serialises creating the mapping (refgem_bo_map()'s slow path). */
	struct mutex map_lock;
	/* The device mapping; see the locking notes above. */
	struct sg_table *sgt;
	/*
	 * Charged with the mapping (refgem_file_map_max) until it is
	 * unmapped; set under map_lock before it is listed, cleared under
	 * rdev->maps_lock when it is dropped. NULL if none is.
	 */
	struct refgem_client *map_client;
	/* In rdev->maps while the mapping is live; under rdev->maps_lock. */
	struct list_head map_link;
	u32 nents;
	u32 bounced;
	u64 dma_len;
	/* Pages this BO's own mapping pins until free (0 for imports). */
	unsigned long pinned;
	/*
	 * An import whose attachment was revoked: the dma-buf reference that
	 * drm_prime_gem_destroy() would have dropped at free.
	 */
	struct dma_buf *revoked_dmabuf;
};

static inline struct refgem_bo *to_refgem_bo(struct drm_gem_object *obj)
{
	return container_of(obj, struct refgem_bo, base.base);
}

static inline void refgem_count(struct refgem_device *rdev,
				enum refgem_counter c, long delta)
{
	atomic_long_add(delta, &refgem_stats.v[c]);
	if (rdev)
		atomic_long_add(delta, &rdev->stats.v[c]);
}

extern bool refgem_revoke;
extern unsigned long long refgem_file_bo_max;
extern unsigned long long refgem_file_map_max;
extern u32 refgem_dma_delay_ms;

/* refgem_gem.c */
int refgem_client_open(struct drm_device *drm, struct drm_file *file);
void refgem_client_close(struct drm_device *drm, struct drm_file *file);
void refgem_client_put(struct refgem_client *client);
int refgem_client_charge(atomic64_t *used, u64 size, u64 max);
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
struct drm_gem_object *refgem_gem_prime_import(struct drm_device *drm,
					       struct dma_buf *dmabuf);

/* For the KUnit suite (refgem_kunit.c) */
struct refgem_device *refgem_kunit_device(unsigned int skip);
struct refgem_bo *refgem_kunit_bo_create(struct drm_device *drm, size_t size);

/* refgem_sgt.c */
struct sg_table *refgem_bo_map(struct refgem_bo *bo, struct drm_device *drm,
			       struct refgem_client *client, bool *created);
void refgem_bo_register_import(struct refgem_bo *bo);
void refgem_bo_unmap_at_free(struct refgem_bo *bo);
void refgem_revoke_all(void *data);
int refgem_ioctl_sgt_map(struct drm_device *drm, void *data,
			 struct drm_file *file);

/* refgem_owned_sgt.c */
int refgem_owned_sgt_init(struct refgem_owned_sgt *o, struct device *dev,
			  size_t size);
void refgem_owned_sgt_fini(struct refgem_owned_sgt *o, struct device *dev);

/* refgem_dma.c */
int refgem_ioctl_dma(struct drm_device *drm, void *data,
		     struct drm_file *file);

/* refgem_debugfs.c */
void refgem_debugfs_module_init(void);
void refgem_debugfs_module_exit(void);
void refgem_debugfs_init(struct drm_minor *minor);

#endif /* REFGEM_DRV_H */
