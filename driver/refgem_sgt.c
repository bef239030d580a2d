// SPDX-License-Identifier: GPL-2.0-only
/*
 * Revocable sg_tables: the C counterpart of the Rust shmem::Object::sg_table()
 * series. A BO's pages are DMA-mapped once, on demand, for the BO's own
 * device only; every live mapping is listed on its device, and unbind,
 * PCI remove or hot-unplug unmaps them all before remove() returns, even
 * while userspace still holds the BO. Locking is described in refgem_drv.h.
 */
#include <linux/dma-buf.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/file.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/refgem_drm.h>
#include <kunit/visibility.h>

#include "refgem_compat.h"
#include "refgem_drv.h"

bool refgem_revoke = true;
module_param_named(revoke, refgem_revoke, bool, 0444);
MODULE_PARM_DESC(revoke,
		 "Unmap every DMA mapping at unbind (default: on). Off is a negative control for the test suites only: mappings then outlive their device.");

/*
 * Three quarters of Linux's default swiotlb pool (64 MiB), where every
 * mapping may bounce: a client at its bound leaves a quarter of a default
 * pool to the others.
 */
unsigned long long refgem_file_map_max = 48 * SZ_1M;
module_param_named(file_map_max, refgem_file_map_max, ullong, 0444);
MODULE_PARM_DESC(file_map_max,
		 "Bytes of BO mappings one DRM file's calls may have made (default 48 MiB): its share of the device's DMA space");

/*
 * Segments whose DMA address is a bounce buffer: without a translating
 * IOMMU the device reaches dma_to_phys(), which differs from the page's
 * own address only when swiotlb bounced it.
 */
static u32 refgem_sgt_bounced(struct device *dev, struct sg_table *sgt)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
	struct scatterlist *sg;
	u32 n = 0;
	int i;

	if (dom && (dom->type & __IOMMU_DOMAIN_PAGING))
		return 0;
	for_each_sgtable_dma_sg(sgt, sg, i)
		if (sg_page(sg) &&
		    dma_to_phys(dev, sg_dma_address(sg)) != sg_phys(sg))
			n++;
	return n;
}

/* List @sgt as @bo's live mapping and publish it to the fast path. */
static void refgem_bo_publish(struct refgem_bo *bo, struct sg_table *sgt,
			      unsigned long pinned)
{
	struct refgem_device *rdev = to_refgem(bo->base.base.dev);
	struct scatterlist *sg;
	u64 len = 0;
	int i;

	lockdep_assert_held(&bo->map_lock);
	for_each_sgtable_dma_sg(sgt, sg, i)
		len += sg_dma_len(sg);
	bo->nents = sgt->nents;
	bo->dma_len = len;
	bo->bounced = refgem_sgt_bounced(rdev->drm.dev, sgt);
	bo->pinned = pinned;

	mutex_lock(&rdev->maps_lock);
	/* Callers are in a drm_dev_enter() section: revocation is not done. */
	WARN_ON(rdev->revoked);
	list_add_tail(&bo->map_link, &rdev->maps);
	mutex_unlock(&rdev->maps_lock);

	refgem_count(rdev, REFGEM_C_MAPS_LIVE, 1);
	refgem_count(rdev, REFGEM_C_MAPS_CREATED, 1);
	refgem_count(rdev, REFGEM_C_BOUNCED_SEGMENTS, bo->bounced);
	refgem_count(rdev, REFGEM_C_PAGES_PINNED, pinned);
	/* Pairs with refgem_bo_map()'s fast path: all of the above first. */
	smp_store_release(&bo->sgt, sgt);
}

/*
 * Pin the pages (until the BO is freed) and map them for the BO's device,
 * as drm_gem_shmem_get_pages_sgt() does but without a CPU sync: every
 * transfer syncs the range it moves (refgem_sync_range()). A BO shared
 * through PRIME is legitimately mapped by its importers too (the core maps
 * attachments this way), and DMA-API debug, whose cacheline tracking spans
 * devices, reports such an overlap only for a mapping that asks the DMA API
 * to sync at map time.
 */
static struct sg_table *refgem_sgt_make(struct drm_gem_shmem_object *shmem)
{
	struct device *dev = shmem->base.dev->dev;
	struct sg_table *sgt;
	int ret;

	ret = drm_gem_shmem_pin(shmem);
	if (ret)
		return ERR_PTR(ret);
	sgt = drm_gem_shmem_get_sg_table(shmem);
	if (IS_ERR(sgt))
		goto unpin;
	ret = dma_map_sgtable(dev, sgt, DMA_BIDIRECTIONAL,
			      DMA_ATTR_SKIP_CPU_SYNC);
	if (ret) {
		sg_free_table(sgt);
		kfree(sgt);
		sgt = ERR_PTR(ret);
		goto unpin;
	}
	refgem_shmem_lock(shmem);
	shmem->sgt = sgt;
	refgem_shmem_unlock(shmem);
	return sgt;
unpin:
	drm_gem_shmem_unpin(shmem);
	return sgt;
}

/**
 * refgem_bo_map - the BO's DMA mapping for @drm, made on first use
 * @bo: a BO of a device in a drm_dev_enter() section
 * @drm: the device to map for; only the BO's own device is valid
 * @client: charged with a mapping this call makes (NULL: none is)
 * @created: set when this call made the mapping
 *
 * As the seed's sg_table(): another device is EINVAL and initialises
 * nothing, so a later call for the right device still creates the mapping.
 *
 * Returns the mapped table or an ERR_PTR.
 */
struct sg_table *refgem_bo_map(struct refgem_bo *bo, struct drm_device *drm,
			       struct refgem_client *client, bool *created)
{
	struct drm_gem_shmem_object *shmem = &bo->base;
	struct sg_table *sgt;
	int ret;

	*created = false;
	if (drm != shmem->base.dev) {
		refgem_count(to_refgem(shmem->base.dev),
			     REFGEM_C_WRONG_DEVICE, 1);
		return ERR_PTR(-EINVAL);
	}
	/* Fast path, lock-free: pairs with refgem_bo_publish(). */
	sgt = smp_load_acquire(&bo->sgt);
	if (sgt)
		return sgt;

	mutex_lock(&bo->map_lock);
	/* Someone may have mapped it while we waited. */
	sgt = bo->sgt;
	if (sgt)
		goto out;
	/* Imports are listed with their attachment's mapping at import. */
	if (shmem->base.import_attach) {
		sgt = ERR_PTR(-EINVAL);
		goto out;
	}
	if (client) {
		ret = refgem_client_charge(&client->map_bytes, shmem->base.size,
					   READ_ONCE(refgem_file_map_max));
		if (ret) {
			sgt = ERR_PTR(ret);
			goto out;
		}
	}
	sgt = refgem_sgt_make(shmem);
	if (IS_ERR(sgt)) {
		if (client)
			atomic64_sub(shmem->base.size, &client->map_bytes);
		goto out;
	}
	if (client)
		kref_get(&client->ref);
	bo->map_client = client;
	refgem_bo_publish(bo, sgt, shmem->base.size >> PAGE_SHIFT);
	*created = true;
out:
	mutex_unlock(&bo->map_lock);
	return sgt;
}
EXPORT_SYMBOL_IF_KUNIT(refgem_bo_map);

/* An import's mapping is its attachment's, mapped for us at import. */
void refgem_bo_register_import(struct refgem_bo *bo)
{
	mutex_lock(&bo->map_lock);
	if (!bo->sgt && bo->base.sgt)
		refgem_bo_publish(bo, bo->base.sgt, 0);
	mutex_unlock(&bo->map_lock);
}

/*
 * Unmap and free a BO's own mapping. Its pages stay pinned until the BO is
 * freed (refgem_bo_unmap_at_free()).
 *
 * No CPU sync: every refgem transfer syncs for the CPU when it is done, so
 * a swiotlb bounce buffer holds nothing newer than the pages, while the CPU
 * may have written the pages through mmap since. Copying the bounce buffer
 * back, as a plain bidirectional unmap does, would undo those writes.
 */
static void refgem_sgt_drop(struct refgem_bo *bo)
{
	struct drm_gem_shmem_object *shmem = &bo->base;
	struct device *dev = shmem->base.dev->dev;

	refgem_shmem_lock(shmem);
	if (shmem->sgt) {
		dma_unmap_sgtable(dev, shmem->sgt, DMA_BIDIRECTIONAL,
				  DMA_ATTR_SKIP_CPU_SYNC);
		sg_free_table(shmem->sgt);
		kfree(shmem->sgt);
		shmem->sgt = NULL;
	}
	refgem_shmem_unlock(shmem);
	if (bo->map_client) {
		atomic64_sub(shmem->base.size, &bo->map_client->map_bytes);
		refgem_client_put(bo->map_client);
		bo->map_client = NULL;
	}
}

/*
 * Unmap an import's attachment. Exporters that cache the attachment's
 * mapping (DRM's own PRIME ops do) only really unmap it at detach, so
 * detach now and keep the dma-buf reference for refgem_gem_free().
 */
static void refgem_import_drop(struct refgem_bo *bo)
{
	struct drm_gem_object *obj = &bo->base.base;
	struct dma_buf_attachment *attach = obj->import_attach;
	struct dma_buf *dmabuf = attach->dmabuf;

	if (attach->sgt != bo->base.sgt)
		refgem_dma_buf_unmap_attachment(attach, bo->base.sgt,
						DMA_BIDIRECTIONAL);
	dma_buf_detach(dmabuf, attach);
	obj->import_attach = NULL;
	bo->base.sgt = NULL;
	bo->revoked_dmabuf = dmabuf;
}

/**
 * refgem_revoke_all - unmap every DMA mapping of a device that goes away
 * @data: the struct refgem_device
 *
 * A devm action, released from remove() after drm_dev_unplug(): no ioctl
 * or import is in flight any more and none can start.
 */
void refgem_revoke_all(void *data)
{
	struct refgem_device *rdev = data;
	struct refgem_bo *bo, *tmp;

	mutex_lock(&rdev->maps_lock);
	rdev->revoked = true;
	if (!refgem_revoke) {
		mutex_unlock(&rdev->maps_lock);
		return;
	}
	list_for_each_entry_safe(bo, tmp, &rdev->maps, map_link) {
		if (bo->base.base.import_attach)
			refgem_import_drop(bo);
		else
			refgem_sgt_drop(bo);
		WRITE_ONCE(bo->sgt, NULL);
		list_del_init(&bo->map_link);
		refgem_count(rdev, REFGEM_C_MAPS_LIVE, -1);
		refgem_count(rdev, REFGEM_C_MAPS_REVOKED, 1);
	}
	mutex_unlock(&rdev->maps_lock);
}

/*
 * Called first when a BO is freed: the mapping goes before the shmem object
 * is released, as in the seed. A mapping still listed on a device that was
 * already taken away (revocation off) is a late unmap.
 */
void refgem_bo_unmap_at_free(struct refgem_bo *bo)
{
	struct refgem_device *rdev = to_refgem(bo->base.base.dev);

	mutex_lock(&rdev->maps_lock);
	if (!list_empty(&bo->map_link)) {
		list_del_init(&bo->map_link);
		if (rdev->revoked)
			refgem_count(rdev, REFGEM_C_LATE_UNMAPS, 1);
		refgem_count(rdev, REFGEM_C_MAPS_LIVE, -1);
		refgem_count(rdev, REFGEM_C_MAPS_RELEASED, 1);
		/* drm_prime_gem_destroy() unmaps and detaches imports. */
		if (!bo->base.base.import_attach)
			refgem_sgt_drop(bo);
	}
	mutex_unlock(&rdev->maps_lock);
	/* The pin refgem_sgt_make() took; revocation leaves it. */
	if (bo->pinned)
		drm_gem_shmem_unpin(&bo->base);
	refgem_count(rdev, REFGEM_C_PAGES_PINNED, -(long)bo->pinned);
}

/*
 * The device named by @device_fd, one of its refgem DRM nodes (-1: @own),
 * with a reference. A file that is not a refgem node is EINVAL.
 */
static struct drm_device *refgem_fd_device(struct drm_device *own,
					   int device_fd)
{
	struct drm_device *drm;
	struct drm_file *other;
	struct file *f;

	if (device_fd == -1) {
		drm_dev_get(own);
		return own;
	}
	f = fget(device_fd);
	if (!f)
		return ERR_PTR(-EBADF);
	if (f->f_op != own->driver->fops) {
		fput(f);
		return ERR_PTR(-EINVAL);
	}
	other = f->private_data;
	drm = other->minor->dev;
	drm_dev_get(drm);
	fput(f);
	return drm;
}

int refgem_ioctl_sgt_map(struct drm_device *drm, void *data,
			 struct drm_file *file)
{
	struct drm_refgem_sgt_map *args = data;
	struct drm_device *target;
	struct drm_gem_object *obj;
	struct refgem_bo *bo;
	struct sg_table *sgt;
	bool created;
	int idx, ret;

	if (args->flags)
		return -EINVAL;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj) {
		ret = -ENOENT;
		goto exit;
	}
	target = refgem_fd_device(drm, args->device_fd);
	if (IS_ERR(target)) {
		ret = PTR_ERR(target);
		goto put;
	}
	bo = to_refgem_bo(obj);
	sgt = refgem_bo_map(bo, target, file->driver_priv, &created);
	drm_dev_put(target);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto put;
	}
	args->status = created ? REFGEM_SGT_CREATED : 0;
	args->nents = bo->nents;
	args->bounced = bo->bounced;
	args->dma_len = bo->dma_len;
	args->max_segment = dma_max_mapping_size(drm->dev);
put:
	drm_gem_object_put(obj);
exit:
	drm_dev_exit(idx);
	return ret;
}
