// SPDX-License-Identifier: GPL-2.0-only
/*
 * refgem's debugfs oracles, one "name value" line per counter in a stable
 * order that the test suites parse:
 *   /sys/kernel/debug/refgem/counters            module-wide, survives unbind
 *   /sys/kernel/debug/dri/<minor>/refgem_counters one device, until unbind
 *
 * bos_alive        BOs not yet freed (own, dumb and imported)
 * bos_created      BOs ever created
 * maps_live        BO mappings listed on a device (own sg_tables, imports)
 * maps_created     mappings ever made
 * maps_revoked     mappings unmapped at unbind/remove/unplug
 * maps_released    mappings unmapped when their BO was freed
 * late_unmaps      of those, ones whose device was already gone (must be 0)
 * wrong_device     map requests rejected for naming another device
 * dma_transfers    transfers of the edu DMA engine
 * bounced_segments DMA segments that were swiotlb bounce buffers when mapped
 * pages_pinned     pages pinned by live or revoked BO mappings, until free
 * owned_maps_live  driver-owned (scratch) tables mapped
 *
 * /sys/kernel/debug/refgem/dma_delay_ms (read-write, default 0) stalls every
 * DMA ioctl that long inside its drm_dev_enter() section, before it moves
 * data, so a test can unbind while a transfer is in flight.
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include <drm/drm_file.h>

#include "refgem_drv.h"

static struct dentry *refgem_debugfs_root;

static const char *const refgem_counter_names[] = REFGEM_COUNTER_NAMES;
static_assert(ARRAY_SIZE(refgem_counter_names) == REFGEM_C_NR);

/* m->private: the counters to show, module-wide or one device's. */
static int refgem_counters_show(struct seq_file *m, void *unused)
{
	struct refgem_counters *c = m->private;
	int i;

	for (i = 0; i < REFGEM_C_NR; i++)
		seq_printf(m, "%s %ld\n", refgem_counter_names[i],
			   atomic_long_read(&c->v[i]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(refgem_counters);

void refgem_debugfs_module_init(void)
{
	refgem_debugfs_root = debugfs_create_dir(REFGEM_NAME, NULL);
	debugfs_create_file("counters", 0444, refgem_debugfs_root,
			    &refgem_stats, &refgem_counters_fops);
	/* Lets tests hold a transfer in flight while they unbind. */
	debugfs_create_u32("dma_delay_ms", 0644, refgem_debugfs_root,
			   &refgem_dma_delay_ms);
}

/* Per device, in each DRM minor's directory; gone with the device. */
void refgem_debugfs_init(struct drm_minor *minor)
{
	struct refgem_device *rdev = to_refgem(minor->dev);

	debugfs_create_file("refgem_counters", 0444, minor->debugfs_root,
			    &rdev->stats, &refgem_counters_fops);
}

void refgem_debugfs_module_exit(void)
{
	debugfs_remove_recursive(refgem_debugfs_root);
}
