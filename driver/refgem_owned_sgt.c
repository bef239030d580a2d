// SPDX-License-Identifier: GPL-2.0-only
/*
 * A driver-owned sg_table (the seed's SGTable<Owned>): vmalloc pages built
 * into a table split at the device's maximum mapping size, DMA-mapped for
 * the device's lifetime and torn down at unbind in the only safe order:
 * unmap, free the table, free the pages.
 */
#include <linux/dma-mapping.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "refgem_drv.h"

/* The bound sg_alloc_table_from_pages_segment() splits segments at. */
static unsigned int refgem_max_segment(struct device *dev)
{
	size_t max = dma_max_mapping_size(dev);

	return max >= UINT_MAX ? rounddown(UINT_MAX, PAGE_SIZE) :
				 rounddown(max, PAGE_SIZE);
}

int refgem_owned_sgt_init(struct refgem_owned_sgt *o, struct device *dev,
			  size_t size)
{
	unsigned int i, n = size >> PAGE_SHIFT;
	int ret;

	o->vaddr = vzalloc(size);
	if (!o->vaddr)
		return -ENOMEM;
	o->size = size;
	o->pages = kvmalloc_array(n, sizeof(*o->pages), GFP_KERNEL);
	if (!o->pages) {
		ret = -ENOMEM;
		goto err_vfree;
	}
	for (i = 0; i < n; i++)
		o->pages[i] = vmalloc_to_page(o->vaddr + i * PAGE_SIZE);

	ret = sg_alloc_table_from_pages_segment(&o->sgt, o->pages, n, 0, size,
						refgem_max_segment(dev),
						GFP_KERNEL);
	if (ret)
		goto err_pages;
	ret = dma_map_sgtable(dev, &o->sgt, DMA_BIDIRECTIONAL, 0);
	if (ret)
		goto err_table;
	o->mapped = true;
	return 0;

err_table:
	sg_free_table(&o->sgt);
err_pages:
	kvfree(o->pages);
err_vfree:
	vfree(o->vaddr);
	o->vaddr = NULL;
	return ret;
}

void refgem_owned_sgt_fini(struct refgem_owned_sgt *o, struct device *dev)
{
	if (!o->vaddr)
		return;
	if (o->mapped)
		dma_unmap_sgtable(dev, &o->sgt, DMA_BIDIRECTIONAL, 0);
	o->mapped = false;
	sg_free_table(&o->sgt);
	kvfree(o->pages);
	vfree(o->vaddr);
	o->vaddr = NULL;
}
