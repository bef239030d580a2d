// SPDX-License-Identifier: GPL-2.0-only
/*
 * refgem: a reference GEM shmem driver for QEMU's edu PCI device.
 *
 * The edu device gives refgem real bus semantics (sysfs unbind/bind, PCI
 * remove/rescan, hot-unplug) and a real DMA engine. remove() unplugs the DRM
 * device, so every later ioctl fails with ENODEV while CPU mappings that
 * userspace already holds stay valid, then revokes every DMA mapping the
 * device holds (refgem_sgt.c) and tears down its driver-owned table.
 */
#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/sizes.h>

#include <drm/drm_drv.h>
#include <drm/drm_file.h>
#include <drm/drm_gem.h>
#include <drm/drm_ioctl.h>
#include <drm/drm_managed.h>
#include <drm/drm_prime.h>
#include <kunit/visibility.h>

#include "refgem_compat.h"
#include "refgem_drv.h"
#include <drm/refgem_drm.h>

/* What debugfs shows and sets (refgem_debugfs.c documents each). */
struct refgem_counters refgem_stats;
EXPORT_SYMBOL_IF_KUNIT(refgem_stats);
u32 refgem_dma_delay_ms;

#define EDU_VENDOR_ID		0x1234
#define EDU_DEVICE_ID		0x11e8
#define EDU_REG_IDENT		0x00
/* Major version 1 in the top byte, "ed" in the low 16 bits. */
#define EDU_IDENT_MASK		0xff00ffff
#define EDU_IDENT		0x010000ed
/* Two swiotlb segments (256 KiB each) when every mapping bounces. */
#define REFGEM_SCRATCH_SIZE	SZ_512K

static const struct drm_ioctl_desc refgem_ioctls[] = {
	DRM_IOCTL_DEF_DRV(REFGEM_GEM_CREATE, refgem_ioctl_gem_create,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(REFGEM_GEM_MMAP_OFFSET, refgem_ioctl_gem_mmap_offset,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(REFGEM_SGT_MAP, refgem_ioctl_sgt_map,
			  DRM_RENDER_ALLOW),
	DRM_IOCTL_DEF_DRV(REFGEM_DMA, refgem_ioctl_dma, DRM_RENDER_ALLOW),
};

DEFINE_DRM_GEM_FOPS(refgem_fops);

static const struct drm_driver refgem_driver = {
	.driver_features = DRIVER_GEM | DRIVER_RENDER,
	.fops = &refgem_fops,
	.open = refgem_client_open,
	.postclose = refgem_client_close,
	.ioctls = refgem_ioctls,
	.num_ioctls = ARRAY_SIZE(refgem_ioctls),
	.gem_create_object = refgem_gem_create_object,
	REFGEM_PRIME_HOOKS
	.dumb_create = refgem_dumb_create,
	.gem_prime_import = refgem_gem_prime_import,
	.gem_prime_import_sg_table = refgem_gem_prime_import_sg_table,
	.debugfs_init = refgem_debugfs_init,
	.name = REFGEM_NAME,
	.desc = "Reference GEM shmem driver for QEMU edu",
	.date = "20261121",
	.major = 1,
	.minor = 0,
};

static void refgem_scratch_fini(void *data)
{
	struct refgem_device *rdev = data;

	refgem_owned_sgt_fini(&rdev->scratch, rdev->drm.dev);
	refgem_count(rdev, REFGEM_C_OWNED_MAPS_LIVE, -1);
}

static int refgem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct refgem_device *rdev;
	u32 ident;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), REFGEM_NAME);
	if (ret)
		return ret;
	/* QEMU's edu must be created with dma_mask=0xffffffffffffffff. */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	/*
	 * The edu engine and the software engine take any segment length;
	 * PCI's 64 KiB default would make every longer segment of a shmem or
	 * scratch table a DMA-API violation.
	 */
	dma_set_max_seg_size(&pdev->dev, UINT_MAX);
	pci_set_master(pdev);

	rdev = devm_drm_dev_alloc(&pdev->dev, &refgem_driver,
				  struct refgem_device, drm);
	if (IS_ERR(rdev))
		return PTR_ERR(rdev);
	rdev->pdev = pdev;
	rdev->mmio = pcim_iomap_table(pdev)[0];

	ident = ioread32(rdev->mmio + EDU_REG_IDENT);
	if ((ident & EDU_IDENT_MASK) != EDU_IDENT) {
		pci_err(pdev, "not an edu device (ident %#x)\n", ident);
		return -ENODEV;
	}

	INIT_LIST_HEAD(&rdev->maps);
	ret = drmm_mutex_init(&rdev->drm, &rdev->maps_lock);
	if (ret)
		return ret;
	ret = drmm_mutex_init(&rdev->drm, &rdev->edu_lock);
	if (ret)
		return ret;

	ret = refgem_owned_sgt_init(&rdev->scratch, &pdev->dev,
				    REFGEM_SCRATCH_SIZE);
	if (ret)
		return ret;
	refgem_count(rdev, REFGEM_C_OWNED_MAPS_LIVE, 1);
	ret = devm_add_action_or_reset(&pdev->dev, refgem_scratch_fini, rdev);
	if (ret)
		return ret;
	/* Registered after the scratch table, so it runs before its fini. */
	ret = devm_add_action_or_reset(&pdev->dev, refgem_revoke_all, rdev);
	if (ret)
		return ret;

	pci_set_drvdata(pdev, rdev);
	return drm_dev_register(&rdev->drm, 0);
}

static void refgem_remove(struct pci_dev *pdev)
{
	struct refgem_device *rdev = pci_get_drvdata(pdev);

	/*
	 * Unplug, not unregister: ioctls on open fds must fail with ENODEV
	 * and CPU mappings of the device's BOs must be zapped (drm-uapi
	 * "Device Hot-Unplug").
	 */
	drm_dev_unplug(&rdev->drm);
	/*
	 * No ioctl runs any more: unmap every mapping now, before remove()
	 * returns, rather than at devres time after the bus has let go.
	 */
	devm_release_action(&pdev->dev, refgem_revoke_all, rdev);
	devm_release_action(&pdev->dev, refgem_scratch_fini, rdev);
}

static const struct pci_device_id refgem_pci_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR_ID, EDU_DEVICE_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, refgem_pci_ids);

static struct pci_driver refgem_pci_driver = {
	.name = REFGEM_NAME,
	.id_table = refgem_pci_ids,
	.probe = refgem_probe,
	.remove = refgem_remove,
};

#if IS_ENABLED(CONFIG_KUNIT)
static int refgem_match_any(struct device *dev, const void *data)
{
	return 1;
}

/**
 * refgem_kunit_device - a bound refgem device for the KUnit suite
 * @skip: how many bound devices to pass over
 *
 * Returns the device with a reference on its DRM device (drm_dev_put() it)
 * and on its PCI device (pci_dev_put() it), or NULL.
 */
struct refgem_device *refgem_kunit_device(unsigned int skip)
{
	struct refgem_device *rdev = NULL;
	struct device *dev, *from = NULL;

	do {
		dev = driver_find_device(&refgem_pci_driver.driver, from, NULL,
					 refgem_match_any);
		put_device(from);
		from = dev;
	} while (dev && skip--);
	if (dev) {
		rdev = pci_get_drvdata(to_pci_dev(dev));
		drm_dev_get(&rdev->drm);
	}
	return rdev;
}
EXPORT_SYMBOL_IF_KUNIT(refgem_kunit_device);
#endif

static int __init refgem_init(void)
{
	int ret;

	refgem_debugfs_module_init();
	ret = pci_register_driver(&refgem_pci_driver);
	if (ret)
		refgem_debugfs_module_exit();
	return ret;
}

static void __exit refgem_exit(void)
{
	pci_unregister_driver(&refgem_pci_driver);
	refgem_debugfs_module_exit();
}

module_init(refgem_init);
module_exit(refgem_exit);

MODULE_DESCRIPTION("Reference GEM shmem driver for QEMU's edu device");
MODULE_LICENSE("GPL");
REFGEM_IMPORT_NS_DMA_BUF;
