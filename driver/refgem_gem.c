// SPDX-License-Identifier: GPL-2.0-only
/*
 * refgem buffer objects: GEM shmem objects with refgem's own create and
 * mmap-offset ioctls, mapped write-combined like vgem's.
 */
#include <linux/dma-buf.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_prime.h>
#include <kunit/visibility.h>

#include "refgem_compat.h"
#include "refgem_drv.h"
#include <drm/refgem_drm.h>

/*
 * shmem backs objects up to what an int page count can index; a BO larger
 * than the machine's RAM could never be mapped, and would only take the
 * device's mmap offset space (1 TiB, shared by all its clients) from others.
 */
static u64 refgem_bo_max_size(void)
{
	return min_t(u64, (u64)INT_MAX, totalram_pages()) << PAGE_SHIFT;
}

/*
 * A sixteenth of the 1 TiB mmap offset space per file: far more than any
 * client can map, and sixteen clients at their bound still leave room.
 */
unsigned long long refgem_file_bo_max = 16 * SZ_4G;
module_param_named(file_bo_max, refgem_file_bo_max, ullong, 0444);
MODULE_PARM_DESC(file_bo_max,
		 "Bytes of live BOs one DRM file may have created (default 64 GiB): its share of the device's mmap offset space");

int refgem_client_open(struct drm_device *drm, struct drm_file *file)
{
	struct refgem_client *client;

	client = kzalloc(sizeof(*client), GFP_KERNEL);
	if (!client)
		return -ENOMEM;
	kref_init(&client->ref);
	file->driver_priv = client;
	return 0;
}

static void refgem_client_release(struct kref *ref)
{
	kfree(container_of(ref, struct refgem_client, ref));
}

void refgem_client_put(struct refgem_client *client)
{
	kref_put(&client->ref, refgem_client_release);
}

void refgem_client_close(struct drm_device *drm, struct drm_file *file)
{
	refgem_client_put(file->driver_priv);
}

/* Add @size to a client's @used: EDQUOT, and nothing added, past @max. */
int refgem_client_charge(atomic64_t *used, u64 size, u64 max)
{
	if (atomic64_add_return(size, used) > max) {
		atomic64_sub(size, used);
		return -EDQUOT;
	}
	return 0;
}

static void refgem_gem_free(struct drm_gem_object *obj)
{
	struct refgem_device *rdev = to_refgem(obj->dev);
	struct refgem_bo *bo = to_refgem_bo(obj);
	/* drm_gem_shmem_free() frees @bo: keep what is needed after it. */
	struct dma_buf *revoked_dmabuf = bo->revoked_dmabuf;

	refgem_bo_unmap_at_free(bo);
	if (bo->client) {
		atomic64_sub(obj->size, &bo->client->bo_bytes);
		refgem_client_put(bo->client);
	}
	mutex_destroy(&bo->map_lock);
	drm_gem_shmem_free(&bo->base);
	if (revoked_dmabuf)
		dma_buf_put(revoked_dmabuf);
	refgem_count(rdev, REFGEM_C_BOS_ALIVE, -1);
}

/*
 * The shmem helper's fault handler (6.1 to at least 6.12) indexes pages from
 * the VMA's start, which is wrong for a mapping whose head was unmapped and
 * for a dma-buf mapped at an offset: both then show the object's first
 * pages. Index from the object's fake offset instead.
 */
static vm_fault_t refgem_gem_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct drm_gem_object *obj = vma->vm_private_data;
	struct drm_gem_shmem_object *shmem = to_drm_gem_shmem_obj(obj);
	pgoff_t page = vmf->pgoff - drm_vma_node_start(&obj->vma_node);
	vm_fault_t ret;

	refgem_shmem_lock(shmem);
	if (page >= obj->size >> PAGE_SHIFT || !shmem->pages ||
	    shmem->madv < 0)
		ret = VM_FAULT_SIGBUS;
	else
		ret = vmf_insert_pfn(vma, vmf->address,
				     page_to_pfn(shmem->pages[page]));
	refgem_shmem_unlock(shmem);
	return ret;
}

/* The helper's open/close take and drop the pages the mapping uses. */
static void refgem_gem_vm_open(struct vm_area_struct *vma)
{
	drm_gem_shmem_vm_ops.open(vma);
}

static void refgem_gem_vm_close(struct vm_area_struct *vma)
{
	drm_gem_shmem_vm_ops.close(vma);
}

static const struct vm_operations_struct refgem_gem_vm_ops = {
	.fault = refgem_gem_fault,
	.open = refgem_gem_vm_open,
	.close = refgem_gem_vm_close,
};

/*
 * Map an exported BO for one importer within that importer's limits. The
 * core's drm_gem_map_dma_buf() builds the table with the exporter's maximum
 * segment (drm_prime_pages_to_sg()), which can exceed what the importing
 * device declares (vgem's is 64 KiB). The attachment pinned the pages.
 */
static struct sg_table *refgem_map_dma_buf(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct drm_gem_object *obj = attach->dmabuf->priv;
	struct drm_gem_shmem_object *shmem = to_drm_gem_shmem_obj(obj);
	struct device *dev = attach->dev;
	size_t max = min3(dma_max_mapping_size(dev),
			  (size_t)dma_get_max_seg_size(dev), (size_t)UINT_MAX);
	struct sg_table *sgt;
	int ret;

	max = round_down(max, PAGE_SIZE);
	if (dir == DMA_NONE || !max || !shmem->pages)
		return ERR_PTR(-EINVAL);
	sgt = kmalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table_from_pages_segment(sgt, shmem->pages,
						obj->size >> PAGE_SHIFT, 0,
						obj->size, max, GFP_KERNEL);
	if (ret)
		goto free;
	/* As the core's: the importer syncs for itself. */
	ret = dma_map_sgtable(dev, sgt, dir, DMA_ATTR_SKIP_CPU_SYNC);
	if (!ret)
		return sgt;
	sg_free_table(sgt);
free:
	kfree(sgt);
	return ERR_PTR(ret);
}

/* The core's PRIME dma-buf operations but for the importer's mapping. */
static const struct dma_buf_ops refgem_dmabuf_ops = {
	.cache_sgt_mapping = true,
	.attach = drm_gem_map_attach,
	.detach = drm_gem_map_detach,
	.map_dma_buf = refgem_map_dma_buf,
	.unmap_dma_buf = drm_gem_unmap_dma_buf,
	.release = drm_gem_dmabuf_release,
	.mmap = drm_gem_dmabuf_mmap,
	.vmap = drm_gem_dmabuf_vmap,
	.vunmap = drm_gem_dmabuf_vunmap,
};

static struct dma_buf *refgem_gem_prime_export(struct drm_gem_object *obj,
					       int flags)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);

	exp_info.ops = &refgem_dmabuf_ops;
	exp_info.size = obj->size;
	exp_info.flags = flags;
	exp_info.priv = obj;
	exp_info.resv = obj->resv;
	return drm_gem_dmabuf_export(obj->dev, &exp_info);
}

static const struct drm_gem_object_funcs refgem_gem_funcs = {
	.free = refgem_gem_free,
	.export = refgem_gem_prime_export,
	.print_info = drm_gem_shmem_object_print_info,
	.pin = drm_gem_shmem_object_pin,
	.unpin = drm_gem_shmem_object_unpin,
	.get_sg_table = drm_gem_shmem_object_get_sg_table,
	.vmap = drm_gem_shmem_object_vmap,
	.vunmap = drm_gem_shmem_object_vunmap,
	.mmap = drm_gem_shmem_object_mmap,
	.vm_ops = &refgem_gem_vm_ops,
};

/*
 * drm_gem_shmem_create() allocates through this hook. Objects are counted
 * only once creation has succeeded (refgem_shmem_created()), because the
 * helper kfree()s a half-made object without calling .free.
 */
struct drm_gem_object *refgem_gem_create_object(struct drm_device *drm,
						size_t size)
{
	struct refgem_bo *bo;

	bo = kzalloc(sizeof(*bo), GFP_KERNEL);
	if (!bo)
		return ERR_PTR(-ENOMEM);
	bo->base.base.funcs = &refgem_gem_funcs;
	bo->base.map_wc = true;
	mutex_init(&bo->map_lock);
	INIT_LIST_HEAD(&bo->map_link);
	return &bo->base.base;
}

static void refgem_shmem_created(struct drm_device *drm)
{
	refgem_count(to_refgem(drm), REFGEM_C_BOS_ALIVE, 1);
	refgem_count(to_refgem(drm), REFGEM_C_BOS_CREATED, 1);
}

/*
 * Create a BO of @size (page aligned) charged to @file's client, and a
 * handle to it in @file.
 */
static int refgem_create_with_handle(struct drm_device *drm,
				     struct drm_file *file, u64 size,
				     u32 *handle)
{
	struct refgem_client *client = file->driver_priv;
	struct drm_gem_shmem_object *shmem;
	int ret;

	ret = refgem_client_charge(&client->bo_bytes, size,
				   READ_ONCE(refgem_file_bo_max));
	if (ret)
		return ret;
	shmem = drm_gem_shmem_create(drm, size);
	if (IS_ERR(shmem)) {
		atomic64_sub(size, &client->bo_bytes);
		return PTR_ERR(shmem);
	}
	refgem_shmem_created(drm);
	kref_get(&client->ref);
	to_refgem_bo(&shmem->base)->client = client;

	ret = drm_gem_handle_create(file, &shmem->base, handle);
	/* The handle, if any, now holds the only reference. */
	drm_gem_object_put(&shmem->base);
	return ret;
}

#if IS_ENABLED(CONFIG_KUNIT)
/* A counted BO without a handle, for the KUnit suite; drm_gem_object_put() it. */
struct refgem_bo *refgem_kunit_bo_create(struct drm_device *drm, size_t size)
{
	struct drm_gem_shmem_object *shmem = drm_gem_shmem_create(drm, size);

	if (IS_ERR(shmem))
		return ERR_CAST(shmem);
	refgem_shmem_created(drm);
	return to_refgem_bo(&shmem->base);
}
EXPORT_SYMBOL_IF_KUNIT(refgem_kunit_bo_create);
#endif

/* Round @size up to whole pages; E2BIG past refgem_bo_max_size(). */
static int refgem_bo_size(u64 size, u64 *aligned)
{
	if (check_add_overflow(size, (u64)PAGE_SIZE - 1, aligned))
		return -E2BIG;
	*aligned = round_down(*aligned, PAGE_SIZE);
	return *aligned > refgem_bo_max_size() ? -E2BIG : 0;
}

int refgem_ioctl_gem_create(struct drm_device *drm, void *data,
			    struct drm_file *file)
{
	struct drm_refgem_gem_create *args = data;
	u64 size;
	int ret;

	if (args->flags & ~REFGEM_BO_FLAGS_MASK)
		return -EINVAL;
	if (!args->size)
		return -EINVAL;
	ret = refgem_bo_size(args->size, &size);
	if (ret)
		return ret;
	return refgem_create_with_handle(drm, file, size, &args->handle);
}

/*
 * Dumb buffers get the same counted path as the create ioctl, with the
 * pitch * height product checked for overflow.
 */
int refgem_dumb_create(struct drm_file *file, struct drm_device *drm,
		       struct drm_mode_create_dumb *args)
{
	u64 pitch, size;
	int ret;

	if (!args->width || !args->height || !args->bpp)
		return -EINVAL;
	pitch = DIV_ROUND_UP((u64)args->width * args->bpp, 8);
	if (pitch > U32_MAX)
		return -EINVAL;
	ret = refgem_bo_size(pitch * args->height, &size);
	if (ret)
		return ret;
	args->pitch = pitch;
	args->size = size;
	return refgem_create_with_handle(drm, file, size, &args->handle);
}

struct drm_gem_object *
refgem_gem_prime_import_sg_table(struct drm_device *drm,
				 struct dma_buf_attachment *attach,
				 struct sg_table *sgt)
{
	struct drm_gem_object *obj;

	obj = drm_gem_shmem_prime_import_sg_table(drm, attach, sgt);
	if (!IS_ERR(obj))
		refgem_shmem_created(drm);
	return obj;
}

/*
 * PRIME import maps the attachment for this device: list that mapping so
 * unbind revokes it. The SRCU section keeps revocation from running between
 * the core's import and the listing.
 */
struct drm_gem_object *refgem_gem_prime_import(struct drm_device *drm,
					       struct dma_buf *dmabuf)
{
	struct drm_gem_object *obj;
	int idx;

	if (!drm_dev_enter(drm, &idx))
		return ERR_PTR(-ENODEV);
	/*
	 * The core knows its own dma-buf operations only: an import of our
	 * own export is the object itself, as drm_gem_prime_import() does.
	 */
	obj = dmabuf->priv;
	if (dmabuf->ops == &refgem_dmabuf_ops && obj->dev == drm)
		drm_gem_object_get(obj);
	else
		obj = drm_gem_prime_import(drm, dmabuf);
	/* A self-import returns our own BO, which has no attachment. */
	if (!IS_ERR(obj) && obj->import_attach)
		refgem_bo_register_import(to_refgem_bo(obj));
	drm_dev_exit(idx);
	return obj;
}

int refgem_ioctl_gem_mmap_offset(struct drm_device *drm, void *data,
				 struct drm_file *file)
{
	struct drm_refgem_gem_mmap_offset *args = data;

	if (args->pad)
		return -EINVAL;
	return drm_gem_dumb_map_offset(file, drm, args->handle, &args->offset);
}
