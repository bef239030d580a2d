// SPDX-License-Identifier: GPL-2.0-only
/*
 * Device DMA through a BO's mapping, so tests can prove the mapping points
 * at the BO's pages (bounce buffers and IOVAs included).
 *
 * The software engine walks the mapping by DMA address and touches what the
 * device would: the page behind an IOVA when an IOMMU translates, else the
 * dma-direct address (a swiotlb slot when bounced). The edu engine makes the
 * device's own DMA engine move the data, bouncing through the driver-owned
 * scratch table. Both run in a drm_dev_enter() section, which holds off
 * revocation until they are done.
 */
#include <linux/delay.h>
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/iopoll.h>
#include <linux/uaccess.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/refgem_drm.h>

#include "refgem_drv.h"

#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		BIT(0)
#define EDU_DMA_TO_RAM		BIT(1)
/* The device's 4 KiB buffer, as the DMA engine addresses it. */
#define EDU_DMA_BUF		0x40000
/* One transfer takes ~100 ms under QEMU; 2 s means the device is stuck. */
#define EDU_DMA_TIMEOUT_US	(2 * USEC_PER_SEC)

/* The physical address the device reaches at @dma; 0 when untranslated. */
static phys_addr_t refgem_dma_phys(struct device *dev,
				   struct iommu_domain *dom, dma_addr_t dma)
{
	if (dom)
		return iommu_iova_to_phys(dom, dma);
	return dma_to_phys(dev, dma);
}

static int refgem_sw_copy(struct device *dev, struct sg_table *sgt,
			  u64 offset, u64 len, void __user *ubuf, bool to_user)
{
	struct iommu_domain *dom = iommu_get_domain_for_dev(dev);
	struct scatterlist *sg;
	u64 pos = 0;
	int i;

	if (dom && !(dom->type & __IOMMU_DOMAIN_PAGING))
		dom = NULL;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 seg = sg_dma_len(sg), skip;
		dma_addr_t dma;

		if (offset >= pos + seg) {
			pos += seg;
			continue;
		}
		skip = offset - pos;
		dma = sg_dma_address(sg) + skip;
		seg -= skip;
		while (seg && len) {
			phys_addr_t phys = refgem_dma_phys(dev, dom, dma);
			size_t chunk, left;
			void *vaddr;

			if (!phys || !pfn_valid(PHYS_PFN(phys)))
				return -EIO;
			chunk = min3(len, seg,
				     (u64)(PAGE_SIZE - offset_in_page(phys)));
			vaddr = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));
			if (to_user)
				left = copy_to_user(ubuf,
						    vaddr + offset_in_page(phys),
						    chunk);
			else
				left = copy_from_user(vaddr +
						      offset_in_page(phys),
						      ubuf, chunk);
			kunmap_local(vaddr);
			if (left)
				return -EFAULT;
			ubuf += chunk;
			dma += chunk;
			seg -= chunk;
			len -= chunk;
			offset += chunk;
		}
		pos = offset;
		if (!len)
			return 0;
	}
	return len ? -EINVAL : 0;
}

/*
 * Sync only [offset, offset + len) of @sgt's DMA view, a segment's part at
 * a time: a transfer pays for the bytes it moves, not for the BO's size
 * (under swiotlb a whole-table sync copies every bounce slot).
 */
static void refgem_sync_range(struct device *dev, struct sg_table *sgt,
			      u64 offset, u64 len, bool for_device)
{
	struct scatterlist *sg;
	u64 pos = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		u64 seg = sg_dma_len(sg), start, end;

		if (offset + len <= pos)
			break;
		if (offset < pos + seg) {
			start = max(offset, pos) - pos;
			end = min(offset + len, pos + seg) - pos;
			if (for_device)
				dma_sync_single_for_device(dev,
							   sg_dma_address(sg) + start,
							   end - start,
							   DMA_BIDIRECTIONAL);
			else
				dma_sync_single_for_cpu(dev,
							sg_dma_address(sg) + start,
							end - start,
							DMA_BIDIRECTIONAL);
		}
		pos += seg;
	}
}

static int refgem_sw_dma(struct refgem_device *rdev, struct sg_table *sgt,
			 struct drm_refgem_dma *args)
{
	struct device *dev = rdev->drm.dev;
	int ret;

	/* Hand the range to the "device": swiotlb copies it to the bounce. */
	refgem_sync_range(dev, sgt, args->offset, args->length, true);
	ret = refgem_sw_copy(dev, sgt, args->offset, args->length,
			     u64_to_user_ptr(args->user_ptr),
			     args->op == REFGEM_DMA_TO_USER);
	/* And back: what the device wrote reaches the pages. */
	refgem_sync_range(dev, sgt, args->offset, args->length, false);
	return ret;
}

/* One transfer of the edu engine; QEMU aborts on a bad length, so check. */
static int refgem_edu_xfer(struct refgem_device *rdev, u64 src, u64 dst,
			   u64 len, bool to_ram)
{
	u32 cmd;
	int ret;

	lockdep_assert_held(&rdev->edu_lock);
	if (WARN_ON(!len || len > REFGEM_EDU_MAX_LEN))
		return -EINVAL;
	writeq(src, rdev->mmio + EDU_REG_DMA_SRC);
	writeq(dst, rdev->mmio + EDU_REG_DMA_DST);
	writeq(len, rdev->mmio + EDU_REG_DMA_COUNT);
	writel(EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0),
	       rdev->mmio + EDU_REG_DMA_CMD);
	ret = readl_poll_timeout(rdev->mmio + EDU_REG_DMA_CMD, cmd,
				 !(cmd & EDU_DMA_START), 1000,
				 EDU_DMA_TIMEOUT_US);
	refgem_count(rdev, REFGEM_C_DMA_TRANSFERS, 1);
	return ret;
}

/* The DMA address of [offset, offset + len) if it lies in one segment. */
static int refgem_sgt_dma_addr(struct sg_table *sgt, u64 offset, u64 len,
			       dma_addr_t *dma)
{
	struct scatterlist *sg;
	u64 pos = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (offset < pos + sg_dma_len(sg)) {
			if (offset + len > pos + sg_dma_len(sg))
				return -EINVAL;
			*dma = sg_dma_address(sg) + (offset - pos);
			return 0;
		}
		pos += sg_dma_len(sg);
	}
	return -EINVAL;
}

static int refgem_edu_dma(struct refgem_device *rdev, struct sg_table *sgt,
			  struct drm_refgem_dma *args)
{
	struct refgem_owned_sgt *scratch = &rdev->scratch;
	void __user *ubuf = u64_to_user_ptr(args->user_ptr);
	struct device *dev = rdev->drm.dev;
	dma_addr_t bo_dma, scratch_dma;
	int ret;

	if (args->length > REFGEM_EDU_MAX_LEN)
		return -E2BIG;
	ret = refgem_sgt_dma_addr(sgt, args->offset, args->length, &bo_dma);
	if (ret)
		return ret;
	scratch_dma = sg_dma_address(scratch->sgt.sgl);

	mutex_lock(&rdev->edu_lock);
	if (args->op == REFGEM_DMA_TO_USER) {
		refgem_sync_range(dev, sgt, args->offset, args->length, true);
		ret = refgem_edu_xfer(rdev, bo_dma, EDU_DMA_BUF, args->length,
				      false);
		refgem_sync_range(dev, &scratch->sgt, 0, args->length, true);
		if (!ret)
			ret = refgem_edu_xfer(rdev, EDU_DMA_BUF, scratch_dma,
					      args->length, true);
		refgem_sync_range(dev, &scratch->sgt, 0, args->length, false);
		refgem_sync_range(dev, sgt, args->offset, args->length, false);
		if (!ret && copy_to_user(ubuf, scratch->vaddr, args->length))
			ret = -EFAULT;
	} else {
		if (copy_from_user(scratch->vaddr, ubuf, args->length)) {
			ret = -EFAULT;
			goto unlock;
		}
		refgem_sync_range(dev, &scratch->sgt, 0, args->length, true);
		ret = refgem_edu_xfer(rdev, scratch_dma, EDU_DMA_BUF,
				      args->length, false);
		refgem_sync_range(dev, &scratch->sgt, 0, args->length, false);
		refgem_sync_range(dev, sgt, args->offset, args->length, true);
		if (!ret)
			ret = refgem_edu_xfer(rdev, EDU_DMA_BUF, bo_dma,
					      args->length, true);
		refgem_sync_range(dev, sgt, args->offset, args->length, false);
	}
unlock:
	mutex_unlock(&rdev->edu_lock);
	return ret;
}

int refgem_ioctl_dma(struct drm_device *drm, void *data,
		     struct drm_file *file)
{
	struct refgem_device *rdev = to_refgem(drm);
	struct drm_refgem_dma *args = data;
	struct drm_gem_object *obj;
	struct sg_table *sgt;
	bool created;
	int idx, ret;

	if (args->flags || !args->length ||
	    (args->op != REFGEM_DMA_TO_USER &&
	     args->op != REFGEM_DMA_FROM_USER) ||
	    (args->engine != REFGEM_ENGINE_SW &&
	     args->engine != REFGEM_ENGINE_EDU))
		return -EINVAL;
	if (!drm_dev_enter(drm, &idx))
		return -ENODEV;
	obj = drm_gem_object_lookup(file, args->handle);
	if (!obj) {
		ret = -ENOENT;
		goto exit;
	}
	if (args->offset > obj->size || args->length > obj->size - args->offset) {
		ret = -EINVAL;
		goto put;
	}
	sgt = refgem_bo_map(to_refgem_bo(obj), drm, file->driver_priv,
			    &created);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
		goto put;
	}
	/* A stall on purpose: unbind must wait for this section to end. */
	if (READ_ONCE(refgem_dma_delay_ms))
		msleep(READ_ONCE(refgem_dma_delay_ms));
	if (args->engine == REFGEM_ENGINE_SW)
		ret = refgem_sw_dma(rdev, sgt, args);
	else
		ret = refgem_edu_dma(rdev, sgt, args);
put:
	drm_gem_object_put(obj);
exit:
	drm_dev_exit(idx);
	return ret;
}
